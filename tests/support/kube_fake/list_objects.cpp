// GET of one object and LIST with selectors, paging and the resourceVersion /
// resourceVersionMatch semantics of kube-apiserver (api-concepts, "Resource
// versions" and "Retrieving large results sets in chunks"): every page of a
// paged list is cut from the same snapshot revision, rebuilt from the event
// history, and a continue token older than the history is 410 Expired.
#include <cctype>
#include <cstdint>
#include <cstring>

#include "support/kube_fake/server_impl.hpp"

namespace pgscope::kubefake {

namespace {

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const std::string& data) {
  std::string out;
  // Unsigned: the accumulator's high bits overflow by design (only the low
  // bits still to be emitted matter), which is undefined for int.
  std::uint32_t value = 0;
  int bits = -6;
  for (unsigned char c : data) {
    value = (value << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kBase64[(value >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kBase64[((value << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

std::string base64_decode(const std::string& text) {
  std::string out;
  std::uint32_t value = 0;
  int bits = -8;
  for (unsigned char c : text) {
    if (c == '=') break;
    const char* position = std::strchr(kBase64, c);
    if (c == 0 || position == nullptr) throw std::invalid_argument("not base64");
    value = (value << 6) + static_cast<std::uint32_t>(position - kBase64);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((value >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// The token kube-apiserver's etcd3 store makes: {"v":"meta.k8s.io/v1","rv":R,"start":"<key>\u0000"}.
std::string encode_continue(std::uint64_t revision, const std::string& last_key) {
  json token = {{"v", "meta.k8s.io/v1"}, {"rv", revision}, {"start", last_key + std::string(1, '\0')}};
  return base64_encode(token.dump());
}

std::pair<std::uint64_t, std::string> decode_continue(const std::string& text) {
  try {
    json token = json::parse(base64_decode(text));
    if (token.value("v", "") != "meta.k8s.io/v1" || !token["rv"].is_number_unsigned())
      throw std::invalid_argument("");
    return {token["rv"].get<std::uint64_t>(), token["start"].get<std::string>()};
  } catch (const std::exception&) {
    throw bad_request(
        "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  }
}

std::uint64_t parse_revision(const std::string& text) {
  bool digits = !text.empty() && text.size() < 20;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits) {
    throw bad_request("resourceVersion: Invalid value: \"" + text + "\": strconv.ParseUint: parsing \"" +
                      text + "\": invalid syntax");
  }
  return std::stoull(text);
}

const char kContinueExpired[] =
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
    "the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were "
    "created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list.";

}  // namespace

json FakeApiServer::Impl::get_object(const ResourceType& type, const std::string& version,
                                     const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(store.mutex);
  auto object = store.find(type.key(), object_key(ns, name));
  if (!object) throw not_found(type.name_of(name));
  return as_version(type, version, *object);
}

json FakeApiServer::Impl::list_objects(const ResourceType& type, const std::string& version,
                                       const std::string& ns, const ReadQuery& query) {
  const std::string& rv = query.resource_version.value_or("");
  const std::string& match = query.resource_version_match;
  if (!match.empty() && match != "Exact" && match != "NotOlderThan") {
    throw bad_request("resourceVersionMatch: Unsupported value: \"" + match +
                      "\": supported values: \"Exact\", \"NotOlderThan\"");
  }
  if (!match.empty() && rv.empty()) {
    throw bad_request(
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
        "provided");
  }
  if (!query.continue_token.empty() && !match.empty()) {
    throw bad_request(
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided");
  }
  if (!query.continue_token.empty() && !rv.empty() && rv != "0") {
    throw bad_request("specifying resource version is not allowed when using continue");
  }
  if (match == "Exact" && rv == "0") {
    throw bad_request("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
  }

  std::lock_guard<std::mutex> lock(store.mutex);
  std::uint64_t snapshot = store.revision();
  std::string start_after;
  ObjectMap state;
  if (!query.continue_token.empty()) {
    auto [token_revision, start] = decode_continue(query.continue_token);
    if (token_revision < store.oldest_replayable()) throw expired(kContinueExpired);
    snapshot = token_revision;
    start_after = start.substr(0, start.find('\0'));
    state = store.state_at(type.key(), snapshot);
  } else if (!rv.empty() && rv != "0") {
    std::uint64_t requested = parse_revision(rv);
    if (requested > store.revision()) throw too_large_resource_version(requested, store.revision());
    bool exact = match == "Exact" || (match.empty() && query.limit > 0);
    if (exact) {
      snapshot = requested;
      state = store.state_at(type.key(), snapshot);
    } else {
      state = store.objects(type.key());
    }
  } else {
    state = store.objects(type.key());
  }

  bool selective = !query.labels.empty() || !query.fields.empty();
  json items = json::array();
  std::string last_key;
  std::size_t remaining = 0;
  std::string prefix = ns.empty() ? "" : ns + "/";
  for (auto it = start_after.empty() ? state.begin() : state.upper_bound(start_after); it != state.end();
       ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) continue;
    const json& object = *it->second;
    if (!query.labels.matches(object) || !query.fields.matches(object)) continue;
    if (query.limit > 0 && items.size() == query.limit) {
      ++remaining;
      continue;
    }
    items.push_back(as_version(type, version, object));
    last_key = it->first;
  }
  json metadata = {{"resourceVersion", std::to_string(snapshot)}};
  if (remaining > 0) {
    metadata["continue"] = encode_continue(snapshot, last_key);
    if (!selective) metadata["remainingItemCount"] = remaining;
  }
  return {{"kind", type.kind + "List"},
          {"apiVersion", type.api_version(version)},
          {"metadata", std::move(metadata)},
          {"items", std::move(items)}};
}

}  // namespace pgscope::kubefake
