// The HTTP side: faults first (as the network or a proxy would have them),
// then authentication, URL parsing into (group, version, namespace, resource,
// name, subresource), authorization of the verb, and dispatch. Every answer
// that is not a success is a Status object.
#include <httplib.h>

#include <thread>

#include "support/kube_fake/server_impl.hpp"

namespace pgscope::kubefake {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool truthy(const httplib::Request& request, const char* name) {
  std::string value = request.get_param_value(name);
  return value == "true" || value == "1";
}

int non_negative(const httplib::Request& request, const char* name) {
  std::string text = request.get_param_value(name);
  bool digits = !text.empty() && text.size() < 10;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits)
    throw bad_request(std::string(name) + ": Invalid value: \"" + text +
                      "\": must be a non-negative integer");
  return std::stoi(text);
}

ReadQuery read_query(const httplib::Request& request, const ResourceType& type, const std::string& name) {
  ReadQuery query;
  query.labels = LabelSelector::parse(request.get_param_value("labelSelector"));
  std::string fields = request.get_param_value("fieldSelector");
  if (!name.empty()) fields = fields.empty() ? "metadata.name=" + name : fields + ",metadata.name=" + name;
  query.fields = FieldSelector::parse(fields, type.kind);
  if (request.has_param("resourceVersion"))
    query.resource_version = request.get_param_value("resourceVersion");
  query.resource_version_match = request.get_param_value("resourceVersionMatch");
  if (request.has_param("limit")) query.limit = static_cast<std::size_t>(non_negative(request, "limit"));
  query.continue_token = request.get_param_value("continue");
  query.bookmarks = truthy(request, "allowWatchBookmarks");
  query.send_initial_events = truthy(request, "sendInitialEvents");
  if (request.has_param("timeoutSeconds")) query.timeout_seconds = non_negative(request, "timeoutSeconds");
  return query;
}

DeleteOptions delete_options(const httplib::Request& request) {
  DeleteOptions options;
  if (!request.body.empty()) {
    json body;
    try {
      body = json::parse(request.body);
    } catch (const json::exception& e) {
      throw bad_request(std::string("DeleteOptions: json parse error: ") + e.what());
    }
    if (!body.is_object()) throw bad_request("DeleteOptions must be a JSON object");
    if (body.contains("propagationPolicy"))
      options.propagation = body["propagationPolicy"].get<std::string>();
    if (body.value("orphanDependents", false)) options.propagation = "Orphan";
    json preconditions = body.value("preconditions", json::object());
    if (preconditions.contains("uid")) options.uid = preconditions["uid"].get<std::string>();
    if (preconditions.contains("resourceVersion")) {
      options.resource_version = preconditions["resourceVersion"].get<std::string>();
    }
  }
  if (request.has_param("propagationPolicy"))
    options.propagation = request.get_param_value("propagationPolicy");
  return options;
}

std::string default_manager(const httplib::Request& request) {
  if (request.has_param("fieldManager")) return request.get_param_value("fieldManager");
  std::string agent = request.get_header_value("User-Agent");
  std::string prefix = agent.substr(0, agent.find('/'));
  return prefix.empty() ? "unknown" : prefix;
}

}  // namespace

void FakeApiServer::Impl::record(RequestRecord entry) {
  std::lock_guard<std::mutex> lock(log_mutex);
  if (entry.changed) ++writes_by_user[entry.user];
  log.push_back(std::move(entry));
}

void FakeApiServer::Impl::serve(const httplib::Request& request, httplib::Response& response) {
  RequestRecord entry;
  entry.method = request.method;
  entry.path = request.path;
  auto question = request.target.find('?');
  entry.query = question == std::string::npos ? "" : request.target.substr(question + 1);
  entry.content_type = request.get_header_value("Content-Type");
  entry.field_manager = request.get_param_value("fieldManager");
  entry.status = 0;
  auto answer = [&](int code, const json& body) {
    response.status = code;
    response.set_content(body.dump(), "application/json");
  };
  std::chrono::milliseconds delay_answer{0};
  try {
    int drop_after = -1;
    if (auto fault =
            faults.take(request.method, entry.path + (entry.query.empty() ? "" : "?" + entry.query))) {
      if (fault->delay.count() > 0) std::this_thread::sleep_for(fault->delay);
      if (fault->reset) {
        reset_connection(find_connection(request.local_port, request.remote_port));
        record(std::move(entry));
        return;
      }
      if (fault->status != 0) {
        json status = status_failure(fault->status, reason_for_code(fault->status),
                                     "injected fault: HTTP " + std::to_string(fault->status));
        if (fault->retry_after_seconds > 0) {
          response.set_header("Retry-After", std::to_string(fault->retry_after_seconds));
          status["details"]["retryAfterSeconds"] = fault->retry_after_seconds;
        }
        throw ApiError(status);
      }
      drop_after = fault->watch_events_then_drop;
      delay_answer = fault->delay_answer;
    }
    route(request, response, entry, drop_after);
  } catch (const ApiError& error) {
    answer(error.code(), error.status());
  } catch (const std::exception& error) {
    answer(500,
           status_failure(500, "InternalError", std::string("Internal error occurred: ") + error.what()));
  }
  entry.status = response.status;
  record(std::move(entry));
  if (delay_answer.count() > 0) std::this_thread::sleep_for(delay_answer);
}

void FakeApiServer::Impl::route(const httplib::Request& request, httplib::Response& response,
                                RequestRecord& entry, int drop_after) {
  auto answer = [&](int code, const json& body) {
    response.status = code;
    response.set_content(body.dump(), "application/json");
  };
  const std::string& path = request.path;
  if (path == "/healthz" || path == "/readyz" || path == "/livez") {
    response.status = 200;
    response.set_content("ok", "text/plain");
    return;
  }
  if (path == "/version") {
    return answer(200, {{"major", "1"},
                        {"minor", "30"},
                        {"gitVersion", "v1.30.0-pgscope-fake"},
                        {"platform", "linux/amd64"}});
  }
  entry.user = access.authenticate(request.get_header_value("Authorization"));

  std::vector<std::string> segments = split_path(path);
  std::string group, version;
  std::size_t rest_start;
  if (!segments.empty() && segments[0] == "api") {
    if (segments.size() == 1) return answer(200, registry.core_versions("127.0.0.1:" + std::to_string(port)));
    version = segments[1];
    rest_start = 2;
  } else if (!segments.empty() && segments[0] == "apis") {
    if (segments.size() == 1) return answer(200, registry.group_list());
    group = segments[1];
    if (segments.size() == 2) {
      auto document = registry.group(group);
      if (!document) throw generic_not_found();
      return answer(200, *document);
    }
    version = segments[2];
    rest_start = 3;
  } else {
    throw generic_not_found();
  }
  std::vector<std::string> rest(segments.begin() + static_cast<long>(rest_start), segments.end());
  if (rest.empty()) {
    auto document = registry.resource_list(group, version);
    if (!document) throw generic_not_found();
    if (request.method != "GET")
      throw method_not_allowed("the server does not allow this method on the requested resource");
    return answer(200, *document);
  }
  bool watch = truthy(request, "watch");
  if (rest[0] == "watch") {  // the deprecated /watch/ path form
    watch = true;
    rest.erase(rest.begin());
  }
  std::string ns;
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() >= 3) {
    ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) throw generic_not_found();
  const std::string plural = rest[0];
  const std::string name = rest.size() > 1 ? rest[1] : "";
  const std::string subresource = rest.size() > 2 ? rest[2] : "";
  ResourceTypePtr type = registry.by_path(group, version, plural);
  if (!type || (!type->namespaced && !ns.empty()) || (type->namespaced && !name.empty() && ns.empty())) {
    throw generic_not_found();
  }
  if (!subresource.empty() && (subresource != "status" || !type->status_subresource))
    throw generic_not_found();

  const std::string& method = request.method;
  std::string verb;
  if (method == "GET") {
    verb = watch ? "watch" : name.empty() ? "list" : "get";
  } else if (method == "POST") {
    verb = "create";
  } else if (method == "PUT") {
    verb = "update";
  } else if (method == "PATCH") {
    verb = "patch";
  } else if (method == "DELETE") {
    verb = "delete";
  } else {
    throw method_not_allowed("the server does not allow this method on the requested resource");
  }
  AccessRequest access_request{verb, group, subresource.empty() ? plural : plural + "/" + subresource, ns,
                               name};
  access.authorize(entry.user, access_request);

  if (method == "GET") {
    if (watch) {
      if (!subresource.empty()) throw method_not_allowed("watch is not supported on subresources");
      serve_watch(type, version, ns, read_query(request, *type, name), drop_after, request, response);
      return;
    }
    if (name.empty()) return answer(200, list_objects(*type, version, ns, read_query(request, *type, "")));
    return answer(200, get_object(*type, version, ns, name));
  }
  if (name.empty() == (method != "POST") || (method == "POST" && !subresource.empty())) {
    throw method_not_allowed("the server does not allow this method on the requested resource");
  }
  WriteTarget target;
  target.type = type;
  target.version = version;
  target.ns = ns;
  target.name = name;
  target.subresource = subresource;
  target.manager = method == "PATCH" ? request.get_param_value("fieldManager") : default_manager(request);
  if (method == "PATCH" && target.manager.empty() &&
      request.get_header_value("Content-Type").rfind("application/apply-patch+yaml", 0) != 0) {
    target.manager = default_manager(request);
  }
  target.strict_fields = request.get_param_value("fieldValidation") == "Strict";
  WriteResult result;
  auto body = [&] {
    try {
      return json::parse(request.body);
    } catch (const json::exception& e) {
      throw bad_request(std::string("couldn't get version/kind; json parse error: ") + e.what());
    }
  };
  if (method == "POST") {
    result = create_object(target, body());
  } else if (method == "PUT") {
    result = replace_object(target, body());
  } else if (method == "PATCH") {
    std::string force = request.get_param_value("force");
    result = patch_object(target, request.get_header_value("Content-Type"), request.body, force == "true");
  } else {
    result = delete_object(target, delete_options(request));
  }
  entry.changed = result.changed;
  answer(result.code, result.object);
}

}  // namespace pgscope::kubefake
