// Kubernetes Status objects for failed requests, built as
// k8s.io/apimachinery/pkg/api/errors builds them, so that clients parse the
// same code/reason/message/details they would get from kube-apiserver.
#pragma once

#include <string>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::kubefake {

// What the request was about, for messages like `servicemonitors.monitoring.coreos.com "x" not found`.
struct ResourceName {
  std::string group;
  std::string plural;
  std::string name;
  // "servicemonitors.monitoring.coreos.com", or "pods" for the core group.
  std::string qualified() const;
};

struct StatusCause {
  std::string reason;
  std::string message;
  std::string field;
};

json status_failure(int code, const std::string& reason, const std::string& message,
                    json details = json::object());

// The reason kube-apiserver uses for a bare HTTP code (500 InternalError...).
std::string reason_for_code(int code);

ApiError not_found(const ResourceName& what);
ApiError already_exists(const ResourceName& what);
// The optimistic-lock failure of a stale update.
ApiError conflict_modified(const ResourceName& what);
ApiError conflict(const ResourceName& what, const std::string& why);
ApiError invalid(const std::string& kind, const ResourceName& what, const std::vector<StatusCause>& causes);
ApiError bad_request(const std::string& message);
ApiError expired(const std::string& message);
ApiError unsupported_media_type(const std::string& content_type);
ApiError method_not_allowed(const std::string& message);
ApiError generic_not_found();  // an unknown path or resource
ApiError too_large_resource_version(std::uint64_t requested, std::uint64_t current);
ApiError from_fault(int code, const std::string& message);

}  // namespace pgscope::kubefake
