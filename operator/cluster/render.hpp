// YAML in and out for `pgscope-operator render`: manifests read the way
// kubectl reads them, and objects written deterministically so the output
// diffs cleanly in Git.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgscope::op {

using json = nlohmann::json;

// Unreadable manifests; the message starts with source:line.
class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Multi-document YAML, every document introduced by "---". Keys of an object
// come apiVersion, kind, metadata (name, namespace first), then the rest
// sorted; in list items "name" first. Strings that YAML would read as
// something else are double-quoted; multi-line strings (dashboard JSON) are
// literal blocks where that reads back exactly, else quoted. read_manifests
// (and yaml-cpp) give back the same JSON.
std::string to_yaml(const std::vector<json>& objects);
// One document's body, without "---".
std::string to_yaml_document(const json& value);

// Every non-empty document of `yaml_text` as JSON (items of a kind: List are
// expanded). Plain scalars resolve as Kubernetes' YAML library does (YAML
// 1.1 booleans such as yes/no/on/off, 0x/0o/octal integers, floats, null);
// quoted and block scalars are strings. Throws ManifestError
// "<source_name>:<line>: ..." on a syntax error, a duplicate key, or a
// document that is not a mapping.
std::vector<json> read_manifests(const std::string& yaml_text, const std::string& source_name);

}  // namespace pgscope::op
