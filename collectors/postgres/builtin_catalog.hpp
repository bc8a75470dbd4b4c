#pragma once

#include <string>
#include <vector>

namespace pgscope {

struct EmbeddedFile {
  const char* name;
  const char* text;
};

// The YAML files of collectors/postgres/catalog, compiled in (generated).
const std::vector<EmbeddedFile>& builtin_catalog_files();

}  // namespace pgscope
