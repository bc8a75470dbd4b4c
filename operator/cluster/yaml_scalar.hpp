// One rule for what a plain YAML scalar means, used both to read manifests
// and to decide which strings must be quoted when writing, so that what
// to_yaml writes reads back as the same JSON. Internal to the library.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace pgscope::op::yaml_scalar {

using json = nlohmann::json;

// A plain (unquoted) scalar as go-yaml v2 (Kubernetes' YAML library) reads
// it: null, YAML 1.1 booleans, integers (decimal, 0x, 0o, 0b, leading-0
// octal), floats (.inf, .nan too), else the string itself.
json resolve_plain(const std::string& text);

// The string as a YAML scalar on one line: plain when that reads back as the
// same string, else double-quoted with escapes.
std::string inline_string(const std::string& text);
// Whether `text` can be a literal block scalar (|, |-, |+) that reads back
// exactly.
bool literal_block_ok(const std::string& text);
// A number, true/false or null as YAML.
std::string inline_non_string(const json& value);

}  // namespace pgscope::op::yaml_scalar
