#pragma once

// libjsonnet over the embedded mixin sources: imports resolve to
// embedded_mixin_sources() only, never to the file system.

#include <map>
#include <string>

namespace pgscope::op {

// Evaluates `code` (named `filename` in error messages and as the base of its
// relative imports: "entry.jsonnet" imports 'mixins/mixin.libsonnet'). Each
// ext_code entry is jsonnet code that std.extVar(name) returns. Returns the
// JSON text; throws std::runtime_error with jsonnet's message on an error.
std::string evaluate_jsonnet(const std::string& filename, const std::string& code,
                             const std::map<std::string, std::string>& ext_code);

// The same for code that yields an object of documents, as `jsonnet -m`
// writes them: file name -> JSON text ending in a line break.
std::map<std::string, std::string> evaluate_jsonnet_multi(const std::string& filename,
                                                          const std::string& code,
                                                          const std::map<std::string, std::string>& ext_code);

// An import path as libjsonnet hands it over (the importing file's directory
// and the imported path) resolved to a key of embedded_mixin_sources(): "."
// and ".." applied; "" when it leaves the tree.
std::string resolve_import_path(const std::string& base, const std::string& rel);

}  // namespace pgscope::op
