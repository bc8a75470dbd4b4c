#include "operator/kube/api_status.hpp"

#include <curl/curl.h>

#include <cctype>
#include <ctime>

namespace pgscope::kube {

namespace {

std::string compose_what(int http_status, const std::string& reason, const std::string& message) {
  if (http_status == 0) return "cannot reach the Kubernetes API: " + message;
  return reason + " (HTTP " + std::to_string(http_status) + "): " + message;
}

std::string string_field(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool looks_like_status(const json& body) {
  if (!body.is_object()) return false;
  if (string_field(body, "kind") == "Status") return true;
  // Some proxies in front of the API server answer with a Status lacking
  // kind; a "status": "Failure" plus a reason or message is just as clear.
  return string_field(body, "status") == "Failure" && (body.contains("reason") || body.contains("message"));
}

}  // namespace

ApiError::ApiError(int http_status, std::string reason, std::string message, json causes,
                   std::chrono::seconds retry_after)
    : std::runtime_error(compose_what(http_status, reason, message)),
      http_status_(http_status),
      reason_(std::move(reason)),
      message_(std::move(message)),
      causes_(std::move(causes)),
      retry_after_(retry_after) {}

bool ApiError::expired() const { return http_status_ == 410 || reason_ == "Expired" || reason_ == "Gone"; }

bool ApiError::transient() const {
  return http_status_ == 0 || http_status_ == 429 || (http_status_ >= 500 && http_status_ <= 599);
}

std::string reason_for_http_status(long status) {
  switch (status) {
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
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

std::string printable_excerpt(const std::string& text, std::size_t limit) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
  }
  return out;
}

ApiError transport_error(const std::string& message) { return ApiError(0, "Transport", message); }

std::chrono::seconds parse_retry_after(const std::string& value) {
  std::size_t start = 0;
  while (start < value.size() && std::isspace(static_cast<unsigned char>(value[start]))) ++start;
  std::size_t end = value.size();
  while (end > start && std::isspace(static_cast<unsigned char>(value[end - 1]))) --end;
  const std::string trimmed = value.substr(start, end - start);
  if (trimmed.empty()) return std::chrono::seconds(0);
  bool digits = true;
  for (char c : trimmed) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) {
    // A server asking for more than a day is misconfigured; do not overflow.
    if (trimmed.size() > 6) return std::chrono::seconds(86400);
    return std::chrono::seconds(std::stol(trimmed));
  }
  const time_t when = curl_getdate(trimmed.c_str(), nullptr);
  if (when < 0) return std::chrono::seconds(0);
  const time_t now = std::time(nullptr);
  return std::chrono::seconds(when > now ? when - now : 0);
}

ApiError error_from_response(long http_status, const std::string& body, std::chrono::seconds retry_after) {
  json parsed = json::parse(body, nullptr, false);
  if (!looks_like_status(parsed)) {
    std::string message = "the API server answered HTTP " + std::to_string(http_status);
    if (!body.empty()) message += ": " + printable_excerpt(body);
    return ApiError(static_cast<int>(http_status), reason_for_http_status(http_status), message,
                    json::array(), retry_after);
  }
  std::string reason = string_field(parsed, "reason");
  if (reason.empty()) reason = reason_for_http_status(http_status);
  std::string message = string_field(parsed, "message");
  if (message.empty()) message = "the API server answered HTTP " + std::to_string(http_status);
  json causes = json::array();
  const auto details = parsed.find("details");
  if (details != parsed.end() && details->is_object()) {
    const auto found = details->find("causes");
    if (found != details->end() && found->is_array()) causes = *found;
    const auto seconds = details->find("retryAfterSeconds");
    if (retry_after.count() == 0 && seconds != details->end() && seconds->is_number_integer()) {
      retry_after = std::chrono::seconds(std::max<long long>(0, seconds->get<long long>()));
    }
  }
  return ApiError(static_cast<int>(http_status), reason, message, causes, retry_after);
}

ApiError error_from_status(const json& status) {
  long code = 0;
  if (status.is_object()) {
    const auto it = status.find("code");
    if (it != status.end() && it->is_number_integer()) code = it->get<long>();
  }
  // A Status without a code is still a server-side failure, not a transport
  // one: 500 keeps it retryable without claiming the connection broke.
  if (code <= 0) code = 500;
  return error_from_response(code, status.is_object() ? status.dump() : std::string(),
                             std::chrono::seconds(0));
}

}  // namespace pgscope::kube
