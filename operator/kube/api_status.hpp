#pragma once

// Turning API server answers into ApiError: Status bodies, plain HTTP errors,
// watch ERROR events. Internal to pgscope_kube (and its tests).

#include <chrono>
#include <string>

#include "operator/kube/client.hpp"

namespace pgscope::kube {

// The Kubernetes reason for an HTTP status when the body is not a Status
// ("NotFound" for 404...), "Unknown" for codes Kubernetes has no name for.
std::string reason_for_http_status(long status);

// The error a non-2xx answer means. `retry_after` comes from the Retry-After
// header; when absent, the Status's details.retryAfterSeconds is used.
ApiError error_from_response(long http_status, const std::string& body, std::chrono::seconds retry_after);

// The error a Status object carries (a watch stream's ERROR event).
ApiError error_from_status(const json& status);

// The value of a Retry-After header: delay-seconds or an HTTP date.
std::chrono::seconds parse_retry_after(const std::string& value);

// `text` as one line of printable ASCII of at most `limit` bytes, for quoting
// an unexpected body (an HTML error page, say) in a message.
std::string printable_excerpt(const std::string& text, std::size_t limit = 300);

// A transport failure: the server was not reached or the connection broke.
ApiError transport_error(const std::string& message);

}  // namespace pgscope::kube
