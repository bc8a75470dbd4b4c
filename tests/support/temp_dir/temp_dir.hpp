#pragma once

#include <string>

namespace pgscope::test {

// A directory of the test's own under $TMPDIR (else /tmp), named
// PREFIX.XXXXXX, removed with everything in it when this object goes.
class TempDir {
 public:
  // Throws std::runtime_error when the directory cannot be made.
  explicit TempDir(const std::string& prefix = "pgscope-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name, whether or not it exists.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes text to path()/name (making its directories) in one step, by a
  // rename, as a Secret or ConfigMap update lands; returns the file's path.
  // Throws std::runtime_error.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

}  // namespace pgscope::test
