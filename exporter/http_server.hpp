#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "exporter/listen_address.hpp"
#include "exporter/web_config.hpp"

namespace pgscope {

struct HttpRequest {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> headers;  // names as sent; lookups ignore case
  std::multimap<std::string, std::string> params;   // query string
  std::string remote_addr;
  std::string header(const std::string& name) const;  // "" when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::multimap<std::string, std::string> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The exporter's view of an HTTP server: routes by exact path and one method,
// compresses with gzip when the client accepts it, and runs until stop().
// Behind it sits cpp-httplib (CivetWeb, the usual choice, crashes on TLS with
// Debian 12's OpenSSL 3).
//
// `security` (the web config, see web_config.hpp) adds TLS (httplib's
// SSLServer; a plain HTTP request to it gets 400 and no more), HTTP basic
// auth on every path but the unauthenticated ones (401 with
// WWW-Authenticate otherwise, before any routing), and extra headers on
// every response, errors included.
class HttpServer {
 public:
  // Throws UsageError when the TLS setup fails.
  explicit HttpServer(const WebSecurity& security = WebSecurity{});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `method`: GET (HEAD is answered too) or POST; others get 405.
  void route(const std::string& path, HttpHandler handler, const std::string& method = "GET");

  // Binds `listen_address` (":9187", "127.0.0.1:9187", "[::1]:9187").
  // Throws std::runtime_error naming the address when it cannot bind.
  void bind(const std::string& listen_address);
  int port() const;  // the bound port (useful with ":0")

  void serve();  // blocks until stop()
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgscope
