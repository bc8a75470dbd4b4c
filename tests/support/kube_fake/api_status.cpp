#include "support/kube_fake/api_status.hpp"

namespace pgscope::kubefake {

ApiError::ApiError(json status)
    : std::runtime_error(status.value("message", "API error")), status_(std::move(status)) {}

int ApiError::code() const { return status_.value("code", 500); }

std::string ApiError::reason() const { return status_.value("reason", ""); }

std::string ResourceName::qualified() const { return group.empty() ? plural : plural + "." + group; }

json status_failure(int code, const std::string& reason, const std::string& message, json details) {
  json status = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                 {"status", "Failure"}, {"message", message}, {"reason", reason},
                 {"code", code}};
  if (!details.empty()) status["details"] = std::move(details);
  return status;
}

std::string reason_for_code(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

namespace {

json details_of(const ResourceName& what) {
  json details = {{"kind", what.plural}};
  if (!what.name.empty()) details["name"] = what.name;
  if (!what.group.empty()) details["group"] = what.group;
  return details;
}

}  // namespace

ApiError not_found(const ResourceName& what) {
  return ApiError(status_failure(404, "NotFound", what.qualified() + " \"" + what.name + "\" not found",
                                 details_of(what)));
}

ApiError already_exists(const ResourceName& what) {
  return ApiError(status_failure(
      409, "AlreadyExists", what.qualified() + " \"" + what.name + "\" already exists", details_of(what)));
}

ApiError conflict(const ResourceName& what, const std::string& why) {
  return ApiError(status_failure(
      409, "Conflict",
      "Operation cannot be fulfilled on " + what.qualified() + " \"" + what.name + "\": " + why,
      details_of(what)));
}

ApiError conflict_modified(const ResourceName& what) {
  // OptimisticLockErrorMsg of k8s.io/apiserver/pkg/registry/generic/registry.
  return conflict(
      what, "the object has been modified; please apply your changes to the latest version and try again");
}

ApiError invalid(const std::string& kind, const ResourceName& what, const std::vector<StatusCause>& causes) {
  json details = {{"name", what.name}, {"kind", kind}, {"causes", json::array()}};
  if (!what.group.empty()) details["group"] = what.group;
  std::string joined;
  for (const auto& cause : causes) {
    details["causes"].push_back(
        {{"reason", cause.reason}, {"message", cause.message}, {"field", cause.field}});
    if (!joined.empty()) joined += ", ";
    joined += cause.field.empty() ? cause.message : cause.field + ": " + cause.message;
  }
  if (causes.size() > 1) joined = "[" + joined + "]";
  std::string qualified_kind = what.group.empty() ? kind : kind + "." + what.group;
  return ApiError(status_failure(
      422, "Invalid", qualified_kind + " \"" + what.name + "\" is invalid: " + joined, std::move(details)));
}

ApiError bad_request(const std::string& message) {
  return ApiError(status_failure(400, "BadRequest", message));
}

ApiError expired(const std::string& message) { return ApiError(status_failure(410, "Expired", message)); }

ApiError unsupported_media_type(const std::string& content_type) {
  return ApiError(
      status_failure(415, "UnsupportedMediaType",
                     "the body of the request was in an unknown format - accepted media types include: "
                     "application/json-patch+json, application/merge-patch+json, "
                     "application/apply-patch+yaml (got \"" +
                         content_type + "\")"));
}

ApiError method_not_allowed(const std::string& message) {
  return ApiError(status_failure(405, "MethodNotAllowed", message));
}

ApiError generic_not_found() {
  return ApiError(status_failure(
      404, "NotFound", "the server could not find the requested resource",
      {{"causes", {{{"reason", "UnexpectedServerResponse"}, {"message", "404 page not found"}}}}}));
}

ApiError too_large_resource_version(std::uint64_t requested, std::uint64_t current) {
  json details = {
      {"causes",
       {{{"reason", "ResourceVersionTooLarge"}, {"message", "Too large resource version"}, {"field", ""}}}},
      {"retryAfterSeconds", 1}};
  return ApiError(status_failure(
      504, "Timeout",
      "Too large resource version: " + std::to_string(requested) + ", current: " + std::to_string(current),
      std::move(details)));
}

ApiError from_fault(int code, const std::string& message) {
  return ApiError(status_failure(code, reason_for_code(code), message));
}

}  // namespace pgscope::kubefake
