// FakeApiServer's public face: lifecycle, HTTP(S) serving, the admin API on
// the same write path as HTTP requests, observation and faults.
#include "support/kube_fake/fake_apiserver.hpp"

#include <httplib.h>
#include <signal.h>

#include <iostream>

#include "support/kube_fake/server_impl.hpp"

namespace pgscope::kubefake {

FakeApiServer::Impl::Impl(Options opts) : options(opts), store(opts.history_limit) {
  // A watch client that went away must not kill the test process on the next write.
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  gc_thread = std::thread([this] { gc_loop(); });
}

FakeApiServer::Impl::~Impl() {
  stop_http();
  {
    std::lock_guard<std::mutex> lock(gc_wait_mutex);
    gc_stop = true;
  }
  gc_wake.notify_all();
  gc_thread.join();
}

void FakeApiServer::Impl::publish(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  std::vector<std::function<void(const std::string&, const json&)>> current;
  {
    std::lock_guard<std::mutex> lock(hooks_mutex);
    current = hooks;
  }
  for (const auto& change : changes) {
    for (const auto& hook : current) {
      try {
        hook(change.type, change.object);
      } catch (const std::exception& error) {
        std::cerr << "fake API server: an on_change hook failed on " << change.type << " "
                  << change.object["metadata"].value("name", "") << ": " << error.what() << std::endl;
      }
    }
  }
  collect_garbage();
}

void FakeApiServer::Impl::start_http() {
  if (http) return;
  if (options.tls) {
    if (tls.ca_pem().empty()) tls = TlsMaterial::generate();
    http = std::make_unique<httplib::SSLServer>(tls.server_certificate(), tls.server_key());
  } else {
    http = std::make_unique<httplib::Server>();
  }
  if (!http->is_valid()) throw std::runtime_error("fake API server: cpp-httplib could not set up the server");
  // Every open watch holds a worker thread: room for two operators' watches and their requests.
  http->new_task_queue = [] { return new httplib::ThreadPool(96); };
  http->set_keep_alive_max_count(1000);
  http->set_keep_alive_timeout(5);
  http->set_read_timeout(30);
  http->set_write_timeout(10);
  auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    serve(request, response);
  };
  http->Get(".*", handler);
  http->Post(".*", handler);
  http->Put(".*", handler);
  http->Patch(".*", handler);
  http->Delete(".*", handler);
  if (port == 0) {
    port = http->bind_to_any_port("127.0.0.1");
    if (port <= 0) throw std::runtime_error("fake API server: cannot bind a port on 127.0.0.1");
  } else if (!http->bind_to_port("127.0.0.1", port)) {
    throw std::runtime_error("fake API server: cannot bind 127.0.0.1:" + std::to_string(port) + " again");
  }
  stopping = false;
  listener = std::thread([this] { http->listen_after_bind(); });
  for (int i = 0; i < 500 && !http->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void FakeApiServer::Impl::stop_http() {
  if (!http) return;
  stopping = true;
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    store.changed.notify_all();
  }
  http->stop();
  if (listener.joinable()) listener.join();
  http.reset();
}

WriteTarget FakeApiServer::Impl::admin_target(const std::string& api_version, const std::string& kind,
                                              const std::string& ns, const std::string& name) const {
  ResourceTypePtr type = registry.by_kind(api_version, kind);
  if (!type) {
    throw ApiError(status_failure(404, "NotFound",
                                  "no matches for kind \"" + kind + "\" in version \"" + api_version + "\""));
  }
  WriteTarget target;
  target.type = type;
  target.version = split_api_version(api_version).second;
  target.ns = type->namespaced ? ns : "";
  target.name = name;
  target.manager = "test";
  return target;
}

namespace {

std::string field(const json& object, const char* name) {
  if (!object.is_object()) throw std::invalid_argument("FakeApiServer: the object is not a JSON object");
  if (std::string(name) == "apiVersion" || std::string(name) == "kind") return object.value(name, "");
  return object.value("metadata", json::object()).value(name, "");
}

}  // namespace

FakeApiServer::FakeApiServer() : FakeApiServer(Options{}) {}

FakeApiServer::FakeApiServer(Options options) : impl_(std::make_unique<Impl>(options)) {}

FakeApiServer::~FakeApiServer() = default;

void FakeApiServer::start() { impl_->start_http(); }

void FakeApiServer::stop() { impl_->stop_http(); }

std::string FakeApiServer::url() const {
  return std::string(impl_->options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port);
}

int FakeApiServer::port() const { return impl_->port; }

std::string FakeApiServer::ca_pem() const { return impl_->tls.ca_pem(); }

void FakeApiServer::install_crd(const std::string& crd_yaml_path) {
  impl_->registry.install_crd(crd_yaml_path);
}

void FakeApiServer::uninstall_crd(const std::string& group, const std::string& plural) {
  ResourceTypePtr type = impl_->registry.by_key(group + "/" + plural);
  if (!type || !type->crd) {
    throw std::invalid_argument("FakeApiServer::uninstall_crd: " + plural + "." + group +
                                " is not an installed CRD");
  }
  // The CRD's instances go first (their dependents are collected while the kind is still known).
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(impl_->store.mutex);
    ObjectMap objects = impl_->store.objects(type->key());
    for (const auto& [key, object] : objects) {
      changes.push_back({"DELETED", *impl_->store.commit("DELETED", type->key(), *object)});
    }
  }
  impl_->publish(changes);
  impl_->registry.uninstall_crd(group, plural);
}

std::string FakeApiServer::add_user(const std::string& name, std::vector<AccessRule> rules) {
  return impl_->access.add_user(name, std::move(rules));
}

std::string FakeApiServer::rotate_token(const std::string& name) { return impl_->access.rotate_token(name); }

void FakeApiServer::revoke_token(const std::string& token) { impl_->access.revoke_token(token); }

void FakeApiServer::set_rules(const std::string& name, std::vector<AccessRule> rules) {
  impl_->access.set_rules(name, std::move(rules));
}

json FakeApiServer::create(const json& object) {
  WriteTarget target =
      impl_->admin_target(field(object, "apiVersion"), field(object, "kind"), field(object, "namespace"), "");
  return impl_->create_object(target, object).object;
}

json FakeApiServer::update(const json& object) {
  WriteTarget target = impl_->admin_target(field(object, "apiVersion"), field(object, "kind"),
                                           field(object, "namespace"), field(object, "name"));
  return impl_->replace_object(target, object).object;
}

json FakeApiServer::update_status(const json& object) {
  WriteTarget target = impl_->admin_target(field(object, "apiVersion"), field(object, "kind"),
                                           field(object, "namespace"), field(object, "name"));
  if (!target.type->status_subresource) {
    throw std::invalid_argument("FakeApiServer::update_status: " + target.type->kind +
                                " has no status subresource");
  }
  target.subresource = "status";
  return impl_->replace_object(target, object).object;
}

json FakeApiServer::merge_patch(const std::string& api_version, const std::string& kind,
                                const std::string& ns, const std::string& name, const json& patch) {
  WriteTarget target = impl_->admin_target(api_version, kind, ns, name);
  return impl_->patch_object(target, "application/merge-patch+json", patch.dump(), false).object;
}

json FakeApiServer::apply(const json& object, const std::string& manager, bool force) {
  WriteTarget target = impl_->admin_target(field(object, "apiVersion"), field(object, "kind"),
                                           field(object, "namespace"), field(object, "name"));
  target.manager = manager;
  return impl_->apply_object(target, object, force).object;
}

std::optional<json> FakeApiServer::get(const std::string& api_version, const std::string& kind,
                                       const std::string& ns, const std::string& name) const {
  ResourceTypePtr type = impl_->registry.by_kind(api_version, kind);
  if (!type) return std::nullopt;
  try {
    return impl_->get_object(*type, split_api_version(api_version).second, type->namespaced ? ns : "", name);
  } catch (const ApiError& error) {
    if (error.code() == 404) return std::nullopt;
    throw;
  }
}

std::vector<json> FakeApiServer::list(const std::string& api_version, const std::string& kind,
                                      const std::string& ns) const {
  ResourceTypePtr type = impl_->registry.by_kind(api_version, kind);
  if (!type) return {};
  json list = impl_->list_objects(*type, split_api_version(api_version).second, ns, ReadQuery{});
  return list["items"].get<std::vector<json>>();
}

void FakeApiServer::remove(const std::string& api_version, const std::string& kind, const std::string& ns,
                           const std::string& name, const std::string& propagation) {
  DeleteOptions options;
  options.propagation = propagation;
  impl_->delete_object(impl_->admin_target(api_version, kind, ns, name), options);
}

std::vector<RequestRecord> FakeApiServer::requests() const {
  std::lock_guard<std::mutex> lock(impl_->log_mutex);
  return impl_->log;
}

void FakeApiServer::clear_requests() {
  std::lock_guard<std::mutex> lock(impl_->log_mutex);
  impl_->log.clear();
  impl_->writes_by_user.clear();
}

std::size_t FakeApiServer::writes_by(const std::string& user) const {
  std::lock_guard<std::mutex> lock(impl_->log_mutex);
  auto it = impl_->writes_by_user.find(user);
  return it == impl_->writes_by_user.end() ? 0 : it->second;
}

std::uint64_t FakeApiServer::revision() const {
  std::lock_guard<std::mutex> lock(impl_->store.mutex);
  return impl_->store.revision();
}

std::size_t FakeApiServer::open_watches() const { return impl_->open_watches; }

void FakeApiServer::add_fault(FaultRule rule) { impl_->faults.add(std::move(rule)); }

void FakeApiServer::clear_faults() { impl_->faults.clear(); }

void FakeApiServer::compact() {
  std::lock_guard<std::mutex> lock(impl_->store.mutex);
  impl_->store.compact();
}

void FakeApiServer::drop_watches() {
  std::lock_guard<std::mutex> lock(impl_->store.mutex);
  ++impl_->watch_epoch;
  impl_->store.changed.notify_all();
}

void FakeApiServer::on_change(std::function<void(const std::string& type, const json& object)> hook) {
  std::lock_guard<std::mutex> lock(impl_->hooks_mutex);
  impl_->hooks.push_back(std::move(hook));
}

}  // namespace pgscope::kubefake
