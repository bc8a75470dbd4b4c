#include "fake_client.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::kubefake::testing {

namespace {

// httplib's client reads a CA from a file only.
std::string write_ca_file(const FakeApiServer& server) {
  if (server.ca_pem().empty()) return "";
  char path[] = "/tmp/pgscope-fake-ca-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("cannot create a temporary CA file");
  close(fd);
  std::ofstream(path) << server.ca_pem();
  return path;
}

std::unique_ptr<httplib::Client> make_client(const FakeApiServer& server, const std::string& ca_file) {
  auto client = std::make_unique<httplib::Client>(server.url());
  if (!ca_file.empty()) {
    client->set_ca_cert_path(ca_file.c_str());
    client->enable_server_certificate_verification(true);
  }
  client->set_read_timeout(60);
  return client;
}

}  // namespace

TestClient::TestClient(const FakeApiServer& server, std::string token)
    : token_(std::move(token)), ca_file_(write_ca_file(server)) {
  client_ = make_client(server, ca_file_);
}

TestClient::~TestClient() {
  client_.reset();
  if (!ca_file_.empty()) unlink(ca_file_.c_str());
}

httplib::Headers TestClient::headers() const {
  if (token_.empty()) return {};
  return {{"Authorization", "Bearer " + token_}};
}

Answer TestClient::answer(const httplib::Result& result) const {
  Answer out;
  if (!result) return out;
  out.status = result->status;
  out.text = result->body;
  out.retry_after = result->get_header_value("Retry-After");
  try {
    out.body = json::parse(result->body);
  } catch (const json::exception&) {
    out.body = nullptr;
  }
  return out;
}

Answer TestClient::get(const std::string& path) { return answer(client_->Get(path, headers())); }

Answer TestClient::post(const std::string& path, const json& body) {
  return answer(client_->Post(path, headers(), body.dump(), "application/json"));
}

Answer TestClient::put(const std::string& path, const json& body) {
  return answer(client_->Put(path, headers(), body.dump(), "application/json"));
}

Answer TestClient::patch(const std::string& path, const std::string& body, const std::string& content_type) {
  return answer(client_->Patch(path, headers(), body, content_type));
}

Answer TestClient::merge_patch(const std::string& path, const json& patch) {
  return this->patch(path, patch.dump(), "application/merge-patch+json");
}

Answer TestClient::apply(const std::string& path, const json& body, const std::string& manager, bool force) {
  std::string query = "?fieldManager=" + manager + (force ? "&force=true" : "");
  return patch(path + query, body.dump(), "application/apply-patch+yaml");
}

Answer TestClient::remove(const std::string& path, const json& options) {
  if (options.is_null()) return answer(client_->Delete(path, headers()));
  return answer(client_->Delete(path, headers(), options.dump(), "application/json"));
}

WatchReader::WatchReader(const FakeApiServer& server, const std::string& token,
                         const std::string& path_and_query)
    : ca_file_(write_ca_file(server)) {
  client_ = make_client(server, ca_file_);
  httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  thread_ = std::thread([this, headers, path_and_query] {
    auto result = client_->Get(
        path_and_query, headers,
        [this](const httplib::Response& response) {
          status_ = response.status;
          return true;
        },
        [this](const char* data, size_t length) {
          std::lock_guard<std::mutex> lock(mutex_);
          buffer_.append(data, length);
          all_text_.append(data, length);
          size_t newline;
          while ((newline = buffer_.find('\n')) != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (status_ == 200 && !line.empty()) events_.push_back(json::parse(line));
          }
          return true;
        });
    clean_ = static_cast<bool>(result) && result.error() == httplib::Error::Success;
    finished_ = true;
  });
}

WatchReader::~WatchReader() {
  for (int i = 0; i < 500 && !finished_; ++i) {
    client_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  thread_.join();
  if (!ca_file_.empty()) unlink(ca_file_.c_str());
}

std::vector<json> WatchReader::events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

std::vector<json> WatchReader::changes() const {
  std::vector<json> out;
  for (auto& event : events()) {
    if (event["type"] != "BOOKMARK") out.push_back(event);
  }
  return out;
}

std::string WatchReader::body_text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return all_text_;
}

bool WatchReader::wait_for(const std::function<bool(const std::vector<json>&)>& done,
                           std::chrono::milliseconds timeout) const {
  return eventually([&] { return done(events()); }, timeout);
}

bool WatchReader::wait_finished(std::chrono::milliseconds timeout) const {
  return eventually([&] { return finished(); }, timeout);
}

std::string reference_dir() {
  const char* configured = std::getenv("PGSCOPE_REFERENCE_DIR");
  std::string dir = configured != nullptr && *configured != '\0' ? configured : PGSCOPE_DEFAULT_REFERENCE_DIR;
  struct stat info;
  return stat(dir.c_str(), &info) == 0 && S_ISDIR(info.st_mode) ? dir : "";
}

json reference_object(const std::string& relative_path) {
  auto documents = read_yaml_file(reference_dir() + "/" + relative_path);
  if (documents.empty()) throw std::runtime_error(relative_path + " has no YAML document");
  return documents.front();
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

std::vector<AccessRule> allow_all() { return {{{"*"}, "*", "*", "", {}}}; }

void install_reference_crds(FakeApiServer& server) {
  std::string dir = reference_dir();
  server.install_crd(dir + "/zalando/postgresql.crd.yaml");
  for (const char* name : {"servicemonitors", "podmonitors", "prometheusrules"}) {
    server.install_crd(dir + "/prometheus-operator/monitoring.coreos.com_" + name + ".yaml");
  }
}

json postgresql(const std::string& name, const std::string& ns) {
  json object = reference_object("zalando/minimal-postgres-manifest.yaml");
  object["metadata"] = {{"name", name}, {"namespace", ns}};
  return object;
}

json config_map(const std::string& name, const std::string& ns, const json& labels) {
  json object = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", name}, {"namespace", ns}}},
                 {"data", {{"key", "value"}}}};
  if (!labels.empty()) object["metadata"]["labels"] = labels;
  return object;
}

json owner_reference(const json& owner, bool block_owner_deletion) {
  return {{"apiVersion", owner["apiVersion"]},
          {"kind", owner["kind"]},
          {"name", owner["metadata"]["name"]},
          {"uid", owner["metadata"]["uid"]},
          {"controller", true},
          {"blockOwnerDeletion", block_owner_deletion}};
}

Fixture::Fixture(FakeApiServer::Options options) : server(options) {
  server.start();
  if (!reference_dir().empty()) install_reference_crds(server);
  token = server.add_user("admin", allow_all());
  api = std::make_unique<TestClient>(server, token);
}

}  // namespace pgscope::kubefake::testing
