#include "exporter/http_server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "exporter/basic_auth.hpp"
#include "exporter/exposition.hpp"
#include "exporter/options.hpp"
#include "exporter/tls_server.hpp"
#include "exporter/worker_pool.hpp"

namespace pgscope {
namespace {

// cpp-httplib 0.11 gives each connection a pool thread for as long as the
// client keeps it open (see worker_pool.hpp). The cap bounds what a flood of
// connections can cost (threads, descriptors, memory); past it connections
// wait in the listen queue. Reads time out soon, so slow or idle clients give
// their thread back within seconds.
constexpr std::size_t kMaxWorkerThreads = 256;
constexpr std::chrono::milliseconds kWorkerIdleTimeout{10000};
constexpr time_t kReadTimeoutSeconds = 5;
constexpr time_t kWriteTimeoutSeconds = 60;
constexpr time_t kKeepAliveTimeoutSeconds = 5;
constexpr std::size_t kKeepAliveMaxRequests = 100;
// No route reads a body (POST /-/reload takes none); httplib would otherwise
// read any size into memory before answering.
constexpr std::size_t kMaxPayload = 64 * 1024;

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && strcasecmp(a.c_str(), b.c_str()) == 0;
}

// httplib's default socket options set SO_REUSEPORT, which lets a second
// exporter bind a port that is already in use and silently share it. Only
// SO_REUSEADDR is wanted (a restart must not wait for TIME_WAIT). IPV6_V6ONLY
// off makes "[::]" accept IPv4 too whatever net.ipv6.bindv6only says; on an
// IPv4 socket that call fails harmlessly.
void socket_options(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  int no = 0;
  setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof(no));
}

const char* reason(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 401:
      return "unauthorized";
    case 404:
      return "page not found";
    case 405:
      return "method not allowed";
    case 413:
      return "payload too large";
    case 414:
      return "uri too long";
    case 416:
      return "range not satisfiable";
    case 500:
      return "internal server error";
    case 503:
      return "service unavailable";
    default:
      return "error";
  }
}

HttpResponse error_response(int status) {
  HttpResponse response;
  response.status = status;
  response.body = std::to_string(status) + " " + reason(status) + "\n";
  return response;
}

using ExtraHeaders = std::vector<std::pair<std::string, std::string>>;

// httplib compresses a plain body itself whenever Accept-Encoding merely
// contains "br" or "gzip" (it ignores q=0, prefers brotli, and would compress
// an already gzipped body again). A sized content provider is sent as is, so
// every response goes out that way and the encoding is decided here alone.
// `extra`: the web config's headers, which every response carries.
void send(const httplib::Request& req, httplib::Response& res, HttpResponse response,
          const ExtraHeaders& extra) {
  res.status = response.status;
  for (const auto& [name, value] : extra) res.headers.emplace(name, value);
  bool encoded = false;
  for (auto& header : response.headers) {
    if (iequals(header.first, "Content-Encoding")) encoded = true;
    if (iequals(header.first, "Content-Type") || iequals(header.first, "Content-Length")) continue;
    res.headers.emplace(header.first, header.second);
  }
  if (!encoded && !response.body.empty()) {
    res.headers.emplace("Vary", "Accept-Encoding");
    if (accepts_gzip(req.get_header_value("Accept-Encoding"))) {
      response.body = gzip_compress(response.body);
      res.headers.emplace("Content-Encoding", "gzip");
    }
  }
  if (response.body.empty()) {
    res.set_content("", response.content_type);
    return;
  }
  auto body = std::make_shared<std::string>(std::move(response.body));
  res.set_content_provider(body->size(), response.content_type,
                           [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             return sink.write(body->data() + offset, length);
                           });
}

HttpRequest convert(const httplib::Request& req) {
  HttpRequest request;
  request.method = req.method;
  request.path = req.path;
  for (const auto& header : req.headers) {
    // httplib files the peer's address among the headers.
    if (header.first == "REMOTE_ADDR" || header.first == "REMOTE_PORT" || header.first == "LOCAL_ADDR" ||
        header.first == "LOCAL_PORT") {
      continue;
    }
    request.headers.emplace(header.first, header.second);
  }
  request.params.insert(req.params.begin(), req.params.end());
  request.remote_addr = req.remote_addr;
  return request;
}

// Gives stop() a way to close the listening socket even when serve() has not
// reached httplib's accept loop yet: httplib::Server::stop() does nothing
// until then, which would leave a serve() that starts later blocked forever.
// `Base`: httplib::Server, or httplib::SSLServer for TLS.
template <class Base>
class Listener : public Base {
 public:
  using Base::Base;
  void close_listener() {
    socket_t sock = this->svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) {
      ::shutdown(sock, SHUT_RDWR);
      ::close(sock);
    }
  }
  // Debian's libcpp-httplib is built with a listen backlog of 5: a burst of
  // new connections (many scrapers after a restart) would be refused or
  // delayed by SYN retries. listen() again on a listening socket only
  // changes its backlog.
  void widen_backlog() {
    socket_t sock = this->svr_sock_;
    if (sock != INVALID_SOCKET) ::listen(sock, SOMAXCONN);
  }
};

// httplib's workers wait up to the keep-alive timeout for a next request on
// an idle connection, up to the read timeout on a half-sent one and up to the
// write timeout on a stalled reader, before they notice the server stopped;
// serve() joins them. httplib exposes no hook on accepted sockets, so stop()
// finds them among the process's open sockets (connected TCP sockets whose
// local port is ours) and shuts them down. A response in progress is cut: at
// shutdown httplib stops writing a sized body anyway, and it takes a socket
// shut for reading as dead.
void shutdown_connections(int port) {
  std::vector<int> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir)) {
      if (std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) fds.push_back(std::atoi(entry->d_name));
    }
    closedir(dir);
  }
  for (int fd : fds) {
    struct stat status {};
    if (fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) continue;
    int type = 0;
    int listening = 0;
    socklen_t length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) continue;
    length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening) continue;
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_length = sizeof(local);
    socklen_t peer_length = sizeof(peer);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) continue;
    int local_port = -1;
    if (local.ss_family == AF_INET) local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    if (local.ss_family == AF_INET6) local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    if (local_port == port) ::shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  for (const auto& entry : headers) {
    if (iequals(entry.first, name)) return entry.second;
  }
  return "";
}

struct HttpServer::Impl {
  std::unique_ptr<TlsContext> tls;  // outlives the server, whose SSL context calls into it
  std::unique_ptr<httplib::Server> server;
  std::function<void()> close_listener;
  std::function<void()> widen_backlog;
  std::unique_ptr<BasicAuth> auth;  // null without basic_auth_users
  std::set<std::string> unauthenticated_paths;
  ExtraHeaders extra_headers;
  std::mutex mutex;

  template <class Base, class... Args>
  void make_server(Args&&... args) {
    auto made = std::make_unique<Listener<Base>>(std::forward<Args>(args)...);
    auto* listener = made.get();
    close_listener = [listener] { listener->close_listener(); };
    widen_backlog = [listener] { listener->widen_backlog(); };
    server = std::move(made);
  }

  struct Route {
    HttpHandler handler;
    std::string method;  // GET (which takes HEAD too) or POST
  };
  std::map<std::string, Route> routes;
  int port = -1;
  bool stopped = false;

  HttpResponse dispatch(const httplib::Request& req) {
    // Authentication comes before routing, so an unknown path does not
    // tell a stranger more than a known one.
    if (auth && unauthenticated_paths.count(req.path) == 0 &&
        !auth->check_header(req.get_header_value("Authorization"))) {
      HttpResponse response = error_response(401);
      response.headers.emplace("WWW-Authenticate", "Basic realm=\"pgscope\"");
      return response;
    }
    Route route;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto found = routes.find(req.path);
      if (found == routes.end()) return error_response(404);
      route = found->second;
    }
    const bool allowed = req.method == route.method || (route.method == "GET" && req.method == "HEAD");
    if (!allowed) {
      HttpResponse response = error_response(405);
      response.headers.emplace("Allow", route.method == "GET" ? "GET, HEAD" : route.method);
      return response;
    }
    const HttpHandler& handler = route.handler;
    try {
      return handler(convert(req));
    } catch (const std::exception& e) {
      spdlog::error("HTTP handler for {} failed: {}", req.path, e.what());
    } catch (...) {
      spdlog::error("HTTP handler for {} failed", req.path);
    }
    return error_response(500);
  }
};

HttpServer::HttpServer(const WebSecurity& security) : impl_(std::make_unique<Impl>()) {
  const WebConfig& web = security.config;
  if (web.tls) {
    impl_->tls = std::make_unique<TlsContext>(*web.tls);
    TlsContext* tls = impl_->tls.get();
    impl_->make_server<httplib::SSLServer>([tls](SSL_CTX& ctx) { return tls->configure(ctx); });
    if (!impl_->server->is_valid()) {
      throw UsageError("--web.config.file " + web.path + ": " +
                       (tls->error().empty() ? "cannot set up TLS" : tls->error()));
    }
  } else {
    impl_->make_server<httplib::Server>();
  }
  if (!web.basic_auth_users.empty()) impl_->auth = std::make_unique<BasicAuth>(web.basic_auth_users);
  impl_->unauthenticated_paths = security.unauthenticated_paths;
  impl_->extra_headers = web.headers;

  auto& server = *impl_->server;
  server.new_task_queue = [] { return new WorkerPool(kMaxWorkerThreads, kWorkerIdleTimeout); };
  server.set_socket_options(socket_options);
  server.set_tcp_nodelay(true);
  server.set_read_timeout(kReadTimeoutSeconds, 0);
  server.set_write_timeout(kWriteTimeoutSeconds, 0);
  server.set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
  server.set_keep_alive_max_count(kKeepAliveMaxRequests);
  server.set_payload_max_length(kMaxPayload);

  // Routing is done by exact path in dispatch(); the catch-all patterns only
  // make httplib read a request's body (for the methods that have one) before
  // it is answered, so a keep-alive connection stays in step.
  Impl* impl = impl_.get();
  auto handle = [impl](const httplib::Request& req, httplib::Response& res) {
    send(req, res, impl->dispatch(req), impl->extra_headers);
  };
  server.Get(".*", handle);  // HEAD too
  server.Post(".*", handle);
  server.Put(".*", handle);
  server.Patch(".*", handle);
  server.Delete(".*", handle);
  server.Options(".*", handle);

  // Errors httplib answers by itself (bad request line, oversized body,
  // methods it has no table for) get a short text body like ours.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([impl](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
        send(req, res, error_response(res.status), impl->extra_headers);
        return httplib::Server::HandlerResponse::Handled;
      }));
  // Without this httplib copies what() into an EXCEPTION_WHAT response header.
  server.set_exception_handler(
      [impl](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        res.headers.clear();  // whatever a failed send() left behind
        res.body.clear();
        send(req, res, error_response(500), impl->extra_headers);
      });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& path, HttpHandler handler, const std::string& method) {
  if (method != "GET" && method != "POST") throw std::logic_error("HttpServer::route: GET or POST only");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->routes[path] = Impl::Route{std::move(handler), method};
}

void HttpServer::bind(const std::string& listen_address) {
  auto [host, port] = parse_listen_address(listen_address);
  if (impl_->port >= 0) throw std::logic_error("HttpServer::bind called twice");
  // ":port" means every interface: try the IPv6 wildcard first, which also
  // takes IPv4 (see socket_options), then the IPv4 one where IPv6 is off.
  std::vector<std::string> hosts{host};
  if (!listen_address.empty() && listen_address.front() == ':') hosts = {"::", "0.0.0.0"};
  int error = 0;
  for (const auto& candidate : hosts) {
    // httplib reports failure as a bare false; errno still holds what bind()
    // or listen() said (a failed name lookup leaves it 0).
    errno = 0;
    int bound = -1;
    if (port == 0) {
      bound = impl_->server->bind_to_any_port(candidate);
    } else if (impl_->server->bind_to_port(candidate, port)) {
      bound = port;
    }
    error = errno;
    if (bound > 0) {
      impl_->widen_backlog();
      impl_->port = bound;
      return;
    }
  }
  std::string why = error != 0 ? std::strerror(error) : "cannot resolve the host or bind to it";
  throw std::runtime_error("cannot listen on " + listen_address + ": " + why);
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::serve() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopped) return;
    if (impl_->port < 0) throw std::logic_error("HttpServer::serve called before bind");
  }
  impl_->server->listen_after_bind();
}

void HttpServer::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopped = true;
  }
  // Closing the listening socket ends httplib's accept loop; serve() returns
  // once its workers are done, which shutdown_connections() hastens.
  impl_->close_listener();
  if (impl_->port > 0) shutdown_connections(impl_->port);
}

}  // namespace pgscope
