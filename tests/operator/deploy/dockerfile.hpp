// A Dockerfile read the way `docker build` reads it, as far as these tests
// need: stages, their instructions (continuations joined, comments dropped),
// the packages each stage installs with apt-get.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace pgscope::deploytest {

struct DockerInstruction {
  std::string keyword;    // upper case: RUN, COPY, ...
  std::string arguments;  // the rest, continuation lines joined with a space
  int line = 0;           // where it starts
};

struct DockerStage {
  std::string base_image;  // FROM's image
  std::string name;        // FROM ... AS name, or empty
  std::vector<DockerInstruction> instructions;

  // The instructions with this keyword, in order.
  std::vector<DockerInstruction> all(const std::string& keyword) const;
  // Every package named by an `apt-get install` in this stage's RUN lines.
  std::vector<std::string> apt_packages() const;
};

// Throws std::runtime_error naming the file and line on what it cannot read
// (an instruction before the first FROM, an empty file).
std::vector<DockerStage> read_dockerfile(const std::filesystem::path& file);

// ["a", "b"] (the exec form of ENTRYPOINT and CMD) as a list; throws on the
// shell form, which would run the binary under /bin/sh and not as PID 1.
std::vector<std::string> exec_form(const DockerInstruction& instruction);

// The packages scripts/setup installs: the words of its packages=( ... ) list.
std::set<std::string> setup_packages(const std::filesystem::path& setup_script);

}  // namespace pgscope::deploytest
