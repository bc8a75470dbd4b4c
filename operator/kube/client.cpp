#include "operator/kube/client.hpp"

#include <algorithm>

#include "operator/kube/api_paths.hpp"
#include "operator/kube/api_status.hpp"
#include "operator/kube/http_transport.hpp"
#include "operator/kube/watch_stream.hpp"

namespace pgscope::kube {

namespace {

constexpr char kJson[] = "application/json";
constexpr char kMergePatch[] = "application/merge-patch+json";
constexpr char kApplyPatch[] = "application/apply-patch+yaml";

std::string metadata_string(const json& object, const char* field) {
  if (!object.is_object()) return "";
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  const auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

// Items of core-group lists come without kind and apiVersion; filling them
// in (as client-go's unstructured lists do) lets type_of() work on them.
void complete_type_meta(json& object, const ResourceType& type) {
  if (!object.is_object()) return;
  if (!object.contains("apiVersion")) object["apiVersion"] = type.api_version();
  if (!object.contains("kind")) object["kind"] = type.kind;
}

json parse_body(const HttpRequest& request, const HttpResponse& response, const Transport& transport) {
  if (response.body.empty()) return json::object();
  json parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_discarded()) {
    // Not the API server's answer (a proxy's page, a truncated body): as if
    // the connection had broken, so callers retry.
    throw transport_error(transport.describe(request) + ": HTTP " + std::to_string(response.status) +
                          " with a body that is not JSON: " + printable_excerpt(response.body));
  }
  return parsed;
}

}  // namespace

struct Client::Impl {
  explicit Impl(Config config) : transport(std::move(config)) {}

  // Performs the request; a non-2xx answer becomes ApiError.
  json call(const HttpRequest& request) {
    const HttpResponse response = transport.perform(request);
    if (response.status < 200 || response.status >= 300) {
      throw error_from_response(response.status, response.body, response.retry_after);
    }
    return parse_body(request, response, transport);
  }

  Transport transport;
};

Client::Client(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Client::~Client() = default;

const Config& Client::config() const { return impl_->transport.config(); }

json Client::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  return impl_->call({"GET", object_path(type, ns, name), "", ""});
}

ListResult Client::list(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  Query query;
  query.add("labelSelector", options.label_selector)
      .add("fieldSelector", options.field_selector)
      .add("resourceVersion", options.resource_version)
      .add("resourceVersionMatch", options.resource_version_match)
      .add("limit", options.limit)
      .add("continue", options.continue_token);
  json answer = impl_->call({"GET", collection_path(type, ns) + query.str(), "", ""});
  ListResult result;
  result.resource_version = metadata_string(answer, "resourceVersion");
  result.continue_token = metadata_string(answer, "continue");
  const auto items = answer.find("items");
  if (items != answer.end() && items->is_array()) {
    result.items.reserve(items->size());
    for (auto& item : *items) {
      complete_type_meta(item, type);
      result.items.push_back(std::move(item));
    }
  }
  return result;
}

ListResult Client::list_all(const ResourceType& type, const std::string& ns, const ListOptions& options,
                            int page_size) {
  ListOptions first = options;
  first.limit = std::max(page_size, 1);
  for (int restart = 0;; ++restart) {
    ListResult all = list(type, ns, first);
    ListOptions next = first;
    // Later pages carry only the continue token: it pins the snapshot, and a
    // resourceVersion beside it is a 400.
    next.resource_version.clear();
    next.resource_version_match.clear();
    try {
      while (!all.continue_token.empty()) {
        next.continue_token = all.continue_token;
        ListResult page = list(type, ns, next);
        all.items.insert(all.items.end(), std::make_move_iterator(page.items.begin()),
                         std::make_move_iterator(page.items.end()));
        all.continue_token = page.continue_token;
      }
      return all;
    } catch (const ApiError& error) {
      // The continue token outlived its snapshot (about 5 minutes by
      // default): start over once, at the newest state.
      if (!error.expired() || restart > 0) throw;
      first.resource_version.clear();
      first.resource_version_match.clear();
      first.continue_token.clear();
    }
  }
}

json Client::create(const ResourceType& type, const json& object) {
  const std::string ns = metadata_string(object, "namespace");
  if (type.namespaced && ns.empty()) {
    throw std::invalid_argument("create " + type.plural + ": the object has no metadata.namespace");
  }
  return impl_->call({"POST", collection_path(type, ns), kJson, object.dump()});
}

json Client::replace(const ResourceType& type, const json& object) {
  const std::string path =
      object_path(type, metadata_string(object, "namespace"), metadata_string(object, "name"));
  return impl_->call({"PUT", path, kJson, object.dump()});
}

json Client::merge_patch(const ResourceType& type, const std::string& ns, const std::string& name,
                         const json& patch) {
  return impl_->call({"PATCH", object_path(type, ns, name), kMergePatch, patch.dump()});
}

json Client::apply(const ResourceType& type, const json& object, const std::string& field_manager,
                   bool force) {
  if (field_manager.empty()) throw std::invalid_argument("server-side apply needs a field manager");
  const std::string path =
      object_path(type, metadata_string(object, "namespace"), metadata_string(object, "name"));
  json body = object;
  // The API server rejects applied configurations that carry managedFields;
  // an object that was read back from the server has them.
  if (body.contains("metadata") && body["metadata"].is_object()) body["metadata"].erase("managedFields");
  Query query;
  query.add("fieldManager", field_manager).add("force", force ? "true" : "");
  return impl_->call({"PATCH", path + query.str(), kApplyPatch, body.dump()});
}

void Client::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                    const DeleteOptions& options) {
  HttpRequest request{"DELETE", object_path(type, ns, name), "", ""};
  json body = json::object();
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (!body.empty()) {
    body["kind"] = "DeleteOptions";
    body["apiVersion"] = "v1";
    request.content_type = kJson;
    request.body = body.dump();
  }
  impl_->call(request);
}

void Client::watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                   const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>* stop) {
  Query query;
  query.add("watch", "true")
      .add("labelSelector", options.label_selector)
      .add("resourceVersion", options.resource_version)
      .add("allowWatchBookmarks", options.allow_bookmarks ? "true" : "")
      .add("timeoutSeconds", options.timeout_seconds);
  std::chrono::milliseconds idle = config().watch_idle_timeout;
  if (options.timeout_seconds > 0) {
    idle = std::min<std::chrono::milliseconds>(idle, std::chrono::seconds(options.timeout_seconds + 30));
  }
  const HttpRequest request{"GET", collection_path(type, ns) + query.str(), "", ""};
  run_watch(
      impl_->transport, request, idle,
      [&](const WatchEvent& event) {
        if (event.object.contains("apiVersion") && event.object.contains("kind")) return on_event(event);
        WatchEvent completed = event;
        complete_type_meta(completed.object, type);
        return on_event(completed);
      },
      stop);
}

std::vector<std::string> Client::discover(const std::string& group, const std::string& version) {
  json answer;
  try {
    answer = impl_->call({"GET", group_version_path(group, version), "", ""});
  } catch (const ApiError& error) {
    if (error.not_found()) return {};
    throw;
  }
  std::vector<std::string> plurals;
  const auto resources = answer.find("resources");
  if (resources == answer.end() || !resources->is_array()) return plurals;
  for (const auto& resource : *resources) {
    if (!resource.is_object() || !resource.contains("name") || !resource["name"].is_string()) continue;
    const std::string name = resource["name"].get<std::string>();
    // "servicemonitors/status" is a subresource, not a kind of its own.
    if (name.find('/') == std::string::npos) plurals.push_back(name);
  }
  return plurals;
}

}  // namespace pgscope::kube
