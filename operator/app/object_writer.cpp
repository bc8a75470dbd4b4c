#include "operator/app/object_writer.hpp"

#include <cstdint>
#include <cstdio>

namespace pgscope::op {

namespace {

// FNV-1a: a stable digest (the same on every run and platform), which is all
// the annotation needs; it is not a security boundary.
std::string digest(const std::string& text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

}  // namespace

nlohmann::json with_applied_digest(nlohmann::json desired) {
  if (desired["metadata"].contains("annotations"))
    desired["metadata"]["annotations"].erase(kAppliedDigestAnnotation);
  const std::string value = digest(desired.dump());
  desired["metadata"]["annotations"][kAppliedDigestAnnotation] = value;
  return desired;
}

bool contains(const nlohmann::json& live, const nlohmann::json& desired) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [key, value] : desired.items()) {
      const auto found = live.find(key);
      if (found == live.end() || !contains(*found, value)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!contains(live[i], desired[i])) return false;
    }
    return true;
  }
  // 1 and 1.0 are one value to the API server.
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return live == desired;
}

WriteOutcome ensure_object(kube::Client& client, Store& store, const nlohmann::json& desired) {
  const auto& metadata = desired.at("metadata");
  const std::string ns = metadata.value("namespace", "");
  const std::string name = metadata.at("name").get<std::string>();
  const auto live = store.get(ns, name);
  if (live && contains(*live, desired)) return WriteOutcome::kUnchanged;
  const auto answer = client.apply(kube::type_of(desired), desired, kFieldManager, true);
  store.apply_event_if_current(live ? "MODIFIED" : "ADDED", answer, live);
  return live ? WriteOutcome::kUpdated : WriteOutcome::kCreated;
}

std::string describe_object(const nlohmann::json& object) {
  const auto& metadata = object.at("metadata");
  const std::string ns = metadata.value("namespace", "");
  return object.value("kind", "object") + " " + (ns.empty() ? "" : ns + "/") + metadata.value("name", "");
}

}  // namespace pgscope::op
