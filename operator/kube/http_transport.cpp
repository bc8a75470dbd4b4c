#include "operator/kube/http_transport.hpp"

#include <cctype>
#include <cstring>
#include <mutex>

#include "operator/kube/api_status.hpp"

namespace pgscope::kube {

namespace {

// Unary answers above this are refused: the largest lists the operator
// reads (all pods of its clusters, paged) stay far below it.
constexpr std::size_t kMaxBody = 512u * 1024u * 1024u;
// Idle keep-alive connections kept for reuse; more threads than this at once
// still work, their extra handles are closed afterwards.
constexpr std::size_t kMaxIdleHandles = 16;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool starts_with_ci(const char* data, std::size_t size, const char* prefix) {
  const std::size_t length = std::strlen(prefix);
  if (size < length) return false;
  for (std::size_t i = 0; i < length; ++i) {
    if (std::tolower(static_cast<unsigned char>(data[i])) != prefix[i]) return false;
  }
  return true;
}

struct UnarySink {
  HttpResponse* response;
  bool too_large = false;

  static size_t on_body(char* data, size_t size, size_t count, void* self_pointer) {
    auto* self = static_cast<UnarySink*>(self_pointer);
    const size_t bytes = size * count;
    if (self->response->body.size() + bytes > kMaxBody) {
      self->too_large = true;
      return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
    }
    self->response->body.append(data, bytes);
    return bytes;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* self_pointer) {
    auto* self = static_cast<UnarySink*>(self_pointer);
    const size_t bytes = size * count;
    // A new status line (after "100 Continue", say) starts a new answer.
    if (starts_with_ci(data, bytes, "http/")) self->response->retry_after = std::chrono::seconds(0);
    if (starts_with_ci(data, bytes, "retry-after:")) {
      self->response->retry_after = parse_retry_after(std::string(data + 12, bytes - 12));
    }
    return bytes;
  }
};

curl_blob blob_of(const std::string& pem) {
  curl_blob blob{};
  blob.data = const_cast<char*>(pem.data());
  blob.len = pem.size();
  blob.flags = CURL_BLOB_COPY;
  return blob;
}

}  // namespace

ServerAddress parse_server_address(const std::string& server) {
  const auto fail = [&](const std::string& why) {
    return ConfigError("API server address \"" + server + "\": " + why);
  };
  ServerAddress address;
  std::string rest;
  if (server.rfind("https://", 0) == 0) {
    address.scheme = "https";
    rest = server.substr(8);
  } else if (server.rfind("http://", 0) == 0) {
    address.scheme = "http";
    rest = server.substr(7);
  } else {
    throw fail("must start with https:// (or http://), as in https://10.0.0.1:6443");
  }
  std::size_t host_end = 0;
  if (!rest.empty() && rest[0] == '[') {
    host_end = rest.find(']');
    if (host_end == std::string::npos) throw fail("IPv6 address without closing ']'");
    ++host_end;
  } else {
    host_end = rest.find_first_of(":/?#");
    if (host_end == std::string::npos) host_end = rest.size();
  }
  address.host = rest.substr(0, host_end);
  if (address.host.empty() || address.host == "[]") throw fail("no host name");
  if (address.host[0] != '[' && address.host.find('@') != std::string::npos) {
    throw fail("credentials do not belong in the address; use a token or client certificate");
  }
  std::size_t at = host_end;
  address.port = address.scheme == "https" ? 443 : 80;
  if (at < rest.size() && rest[at] == ':') {
    const std::size_t port_end = std::min(rest.find_first_of("/?#", at + 1), rest.size());
    const std::string port = rest.substr(at + 1, port_end - at - 1);
    bool digits = !port.empty() && port.size() <= 5;
    for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) throw fail("bad port \"" + port + "\"");
    address.port = std::stoi(port);
    at = port_end;
  }
  if (at < rest.size() && rest[at] != '/') throw fail("query strings and fragments are not allowed");
  address.prefix = rest.substr(at);
  while (!address.prefix.empty() && address.prefix.back() == '/') address.prefix.pop_back();
  return address;
}

Transport::Transport(Config config)
    : config_(std::move(config)),
      address_(parse_server_address(config_.server)),
      tokens_(config_.token, config_.token_file) {
  global_init_once();
  if (config_.client_cert_pem.empty() != config_.client_key_pem.empty()) {
    throw ConfigError(config_.client_cert_pem.empty()
                          ? "a client key is configured without its client certificate"
                          : "a client certificate is configured without its client key");
  }
  if (!config_.username.empty() && (!config_.token.empty() || !config_.token_file.empty())) {
    throw ConfigError("both a bearer token and a username/password are configured; keep one of them");
  }
  if (config_.request_timeout.count() <= 0) throw ConfigError("the request timeout must be positive");
  const std::string authority = address_.host + ":" + std::to_string(address_.port);
  if (config_.tls_server_name.empty()) {
    base_url_ = address_.scheme + "://" + authority + address_.prefix;
  } else {
    if (address_.scheme != "https") {
      throw ConfigError("tls-server-name \"" + config_.tls_server_name + "\" needs an https:// server, not " +
                        config_.server);
    }
    // The URL names tls_server_name, so that libcurl sends it as SNI and
    // verifies the certificate against it, while CONNECT_TO makes the
    // connection go to the configured host. The Host header then carries
    // the TLS name too, which the API server does not look at.
    base_url_ = "https://" + config_.tls_server_name + ":" + std::to_string(address_.port) + address_.prefix;
    connect_to_ = config_.tls_server_name + ":" + std::to_string(address_.port) + ":" + authority;
  }
}

Transport::~Transport() = default;

std::string Transport::describe(const HttpRequest& request) const {
  std::string server = config_.server;
  while (!server.empty() && server.back() == '/') server.pop_back();
  return request.method + " " + server + request.path;
}

void Transport::prepare(CURL* curl, const HttpRequest& request, CurlLists& lists) {
  const std::string token = tokens_.current();
  const std::string url = base_url_ + request.path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  // Timeouts must not use SIGALRM: calls come from many threads.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // A redirect would carry the token to a place the kubeconfig did not name.
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(curl, CURLOPT_USERAGENT, config_.user_agent.c_str());
  // Dead peers (a node gone, a NAT entry dropped) are noticed by the kernel.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 15L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.request_timeout.count()));

  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    if (request.method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "POST" || !request.body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    }
  }

  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Accept: application/json");
  if (!request.content_type.empty()) {
    list = curl_slist_append(list, ("Content-Type: " + request.content_type).c_str());
  }
  // No "Expect: 100-continue" round trip before large bodies.
  list = curl_slist_append(list, "Expect:");
  if (!token.empty()) list = curl_slist_append(list, ("Authorization: Bearer " + token).c_str());
  lists.headers.reset(list);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (!config_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.password.c_str());
  }

  if (!connect_to_.empty()) {
    lists.connect_to.reset(curl_slist_append(nullptr, connect_to_.c_str()));
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, lists.connect_to.get());
  }
  if (!config_.ca_pem.empty()) {
    curl_blob ca = blob_of(config_.ca_pem);
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    // Only the configured CA is trusted, as with kubectl: not also the
    // system's certificate directory, which libcurl would add otherwise.
    curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  }
  if (!config_.client_cert_pem.empty()) {
    curl_blob cert = blob_of(config_.client_cert_pem);
    curl_blob key = blob_of(config_.client_key_pem);
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

CurlEasy Transport::acquire_handle() {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_handles_.empty()) {
      CurlEasy handle = std::move(idle_handles_.back());
      idle_handles_.pop_back();
      return handle;
    }
  }
  CurlEasy handle(curl_easy_init());
  if (!handle) throw transport_error("libcurl could not create a handle (out of memory?)");
  return handle;
}

void Transport::release_handle(CurlEasy handle) {
  // Forget the pointers into the finished request (error buffer, sinks,
  // lists); the connection itself stays open for the next request.
  curl_easy_reset(handle.get());
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (idle_handles_.size() < kMaxIdleHandles) idle_handles_.push_back(std::move(handle));
}

HttpResponse Transport::perform(const HttpRequest& request) {
  for (int attempt = 0;; ++attempt) {
    HttpResponse response;
    UnarySink sink{&response};
    char error[CURL_ERROR_SIZE] = {};
    CurlLists lists;
    CurlEasy handle = acquire_handle();
    CURL* curl = handle.get();
    CURLcode code = CURLE_OK;
    try {
      curl_easy_reset(curl);
      prepare(curl, request, lists);
    } catch (...) {
      release_handle(std::move(handle));
      throw;
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout.count()));
    // gzip for large lists; watches (see watch_stream.cpp) go without it.
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &UnarySink::on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &UnarySink::on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    release_handle(std::move(handle));

    if (code != CURLE_OK) {
      std::string why = error[0] != '\0' ? error : curl_easy_strerror(code);
      if (code == CURLE_OPERATION_TIMEDOUT) {
        why = "no answer within the request timeout (" + std::to_string(config_.request_timeout.count()) +
              " ms): " + why;
      } else if (sink.too_large) {
        why = "the answer is larger than " + std::to_string(kMaxBody) + " bytes";
      }
      throw transport_error(describe(request) + ": " + why);
    }
    if (response.status == 401 && attempt == 0 && tokens_.refresh_after_unauthorized()) continue;
    return response;
  }
}

}  // namespace pgscope::kube
