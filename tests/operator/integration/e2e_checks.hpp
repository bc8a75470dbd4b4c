// What the end-to-end tests check objects with: the real schemas, the
// relabeling Prometheus would do for a scraped pod, and `pgscope-operator
// render` as the deterministic statement of what a cluster should have.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgscope::e2e {

using json = nlohmann::json;

// Violations of the object's schema (reference CRDs, core kinds), one per
// line; "" when it validates. An unknown kind is a violation too.
std::string schema_problems(const json& object);

// The labels a target keeps after Prometheus applies `relabelings` (action
// replace, keep, drop, labelmap as prometheus-operator writes them, with its
// defaults: separator ";", regex "(.*)", replacement "$1") to the meta labels
// of `pod` discovered on `port`; labels starting with "__" are dropped at the
// end, except __address__ and __param_*, which are kept for the caller.
std::map<std::string, std::string> relabel_pod_target(const json& relabelings, const json& pod, int port);

// True when every field of `desired` is in `live` with the same value (maps:
// extra keys in live are fine; lists: same length, item by item; numbers
// compared as numbers).
bool contains(const json& live, const json& desired);

struct RenderRun {
  int exit_code = -1;
  std::string out;  // the YAML
  std::string err;
  std::vector<json> documents;  // parsed; empty when it does not parse
  std::string parse_error;
};
// `pgscope-operator render -f <file> <flags>`.
RenderRun run_render(const std::string& manifest_path, const std::vector<std::string>& flags);

// Compares the live objects the operator manages with what render printed
// for the same postgresql objects (written to a file in `dir`, with the same
// flags): every rendered object must be live and contain the rendered fields,
// and nothing else may be live. Also compares spec.sidecars of the live
// postgresqls with render's. Returns the problems, "" when identical.
std::string compare_with_render(const std::vector<json>& postgresqls, const std::vector<json>& live_managed,
                                const std::vector<std::string>& flags, const std::string& dir);

class E2eEnvironment;
// compare_with_render over the environment's postgresqls and managed
// objects, repeated until it finds nothing or `timeout` passes (the operator
// may still be converging); returns the last problems, "" when they match.
std::string matches_render(const E2eEnvironment& env, const std::vector<std::string>& flags = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace pgscope::e2e
