#pragma once

// libcurl underneath Client: TLS and authentication options, a pool of easy
// handles so that unary calls reuse keep-alive connections from any thread,
// and the 401 → re-read token → retry once rule. Internal to pgscope_kube.

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "operator/kube/config.hpp"
#include "operator/kube/token_source.hpp"

namespace pgscope::kube {

struct HttpRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // path and query, from the API root ("/api/v1/...")
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::chrono::seconds retry_after{0};
};

// Where Config::server points: scheme://host:port plus an optional path
// prefix (API servers behind a proxy such as Rancher's).
struct ServerAddress {
  std::string scheme;  // "https" or "http"
  std::string host;    // as written, IPv6 in brackets
  int port = 0;
  std::string prefix;  // "" or "/k8s/clusters/c-1", no trailing slash
};

// Throws ConfigError naming what is wrong with `server`.
ServerAddress parse_server_address(const std::string& server);

// Deleters for libcurl handles held in unique_ptr.
struct CurlEasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlList = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// The lists a prepared handle points to: they must outlive its transfer.
struct CurlLists {
  CurlList headers;
  CurlList connect_to;
};

class Transport {
 public:
  // Validates the configuration: throws ConfigError.
  explicit Transport(Config config);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const Config& config() const { return config_; }
  TokenSource& tokens() { return tokens_; }

  // A unary request, bounded by config.request_timeout. Throws ApiError
  // (transport) when no HTTP answer arrives; any HTTP status is returned.
  HttpResponse perform(const HttpRequest& request);

  // Sets every option of `curl` but the callbacks and the total timeout:
  // URL, method, body (not copied: `request` must outlive the transfer),
  // TLS, authentication, headers (kept in `lists`). Throws ApiError when a
  // token file was never readable.
  void prepare(CURL* curl, const HttpRequest& request, CurlLists& lists);

  // "GET https://host:6443/api/v1/..." for messages.
  std::string describe(const HttpRequest& request) const;

 private:
  CurlEasy acquire_handle();
  void release_handle(CurlEasy handle);

  Config config_;
  ServerAddress address_;
  std::string base_url_;    // what URLs start with (tls_server_name as host, if set)
  std::string connect_to_;  // CURLOPT_CONNECT_TO entry for tls_server_name, or ""
  TokenSource tokens_;
  std::mutex pool_mutex_;
  std::vector<CurlEasy> idle_handles_;
};

}  // namespace pgscope::kube
