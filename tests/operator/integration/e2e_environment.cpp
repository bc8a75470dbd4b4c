#include "e2e_environment.hpp"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/exporter_process.hpp"
#include "support/kube_schema/yaml_json.hpp"

namespace pgscope::e2e {

namespace fs = std::filesystem;

std::string reference_dir() {
  const char* from_env = std::getenv("PGSCOPE_REFERENCE_DIR");
  return from_env && *from_env ? from_env : PGSCOPE_E2E_REFERENCE_DIR;
}

bool have_reference_dir() { return fs::is_directory(reference_dir()); }

std::string reference_file(const std::string& relative) { return reference_dir() + "/" + relative; }

std::string source_dir() { return PGSCOPE_SOURCE_DIR; }

std::string operator_binary() {
  const char* from_env = std::getenv("PGSCOPE_E2E_OPERATOR_BINARY");
  return from_env && *from_env ? from_env : PGSCOPE_OPERATOR_BINARY;
}

const std::vector<std::string>& monitoring_crd_files() {
  static const std::vector<std::string> files{
      "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml",
      "prometheus-operator/monitoring.coreos.com_podmonitors.yaml",
      "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml"};
  return files;
}

const kubefake::SchemaRegistry& schemas() {
  static const kubefake::SchemaRegistry registry = [] {
    kubefake::SchemaRegistry r;
    for (const auto& file : monitoring_crd_files()) r.load_crd(reference_file(file));
    r.load_crd(reference_file("zalando/postgresql.crd.yaml"));
    r.add_core_kinds();
    return r;
  }();
  return registry;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double await(const std::string& what, const std::function<bool()>& condition,
             std::chrono::milliseconds timeout, const std::function<std::string()>& dump) {
  const auto start = Clock::now();
  while (true) {
    if (condition()) return seconds_since(start);
    if (Clock::now() - start > timeout) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  FAIL("timed out after " << seconds_since(start) << " s waiting for " << what << "\n"
                          << (dump ? dump() : std::string()));
  return seconds_since(start);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return condition();
}

const std::vector<KindRef>& operator_kinds() {
  static const std::vector<KindRef> kinds{{"v1", "Service"},
                                          {"v1", "ConfigMap"},
                                          {"apps/v1", "Deployment"},
                                          {"monitoring.coreos.com/v1", "ServiceMonitor"},
                                          {"monitoring.coreos.com/v1", "PodMonitor"},
                                          {"monitoring.coreos.com/v1", "PrometheusRule"}};
  return kinds;
}

std::string object_id(const json& object) {
  const auto& metadata = object["metadata"];
  return object.value("kind", "?") + " " + metadata.value("namespace", "") + "/" + metadata.value("name", "");
}

std::string describe(const ObjectRef& ref) { return ref.kind + " " + ref.ns + "/" + ref.name; }

std::vector<ObjectRef> cluster_objects(const std::string& ns, const std::string& cluster,
                                       const ExpectedParts& parts) {
  const std::string monitoring = "monitoring.coreos.com/v1";
  const std::string monitor_kind = parts.pod_monitor ? "PodMonitor" : "ServiceMonitor";
  std::vector<ObjectRef> out;
  auto add_monitor = [&](const std::string& name) {
    out.push_back({monitoring, monitor_kind, ns, name});
    if (!parts.pod_monitor) out.push_back({"v1", "Service", ns, name});
  };
  add_monitor(cluster + "-pgscope");
  if (parts.rules) out.push_back({monitoring, "PrometheusRule", ns, cluster + "-pgscope"});
  if (parts.master_pooler) add_monitor(cluster + "-pooler-pgscope");
  if (parts.replica_pooler) add_monitor(cluster + "-pooler-repl-pgscope");
  if (parts.master_pooler || parts.replica_pooler) {
    for (const auto& [api_version, kind] : std::vector<std::pair<std::string, std::string>>{
             {"apps/v1", "Deployment"}, {"v1", "Service"}, {"v1", "ConfigMap"}}) {
      out.push_back({api_version, kind, ns, cluster + "-pgscope-pooler"});
    }
  }
  return out;
}

std::vector<ObjectRef> all_possible_cluster_objects(const std::string& ns, const std::string& cluster) {
  auto out = cluster_objects(ns, cluster, {false, true, true, true});
  for (auto& ref : cluster_objects(ns, cluster, {true, true, true, true})) out.push_back(std::move(ref));
  return out;
}

E2eEnvironment::E2eEnvironment(EnvironmentOptions options) : options_(std::move(options)) {
  options_.server.tls = options_.tls;
  api_ = std::make_unique<kubefake::FakeApiServer>(options_.server);
  api_->install_crd(reference_file("zalando/postgresql.crd.yaml"));
  if (options_.monitoring_crds) install_monitoring_crds();
  zalando_ = std::make_unique<ZalandoSim>(*api_);
  api_->start();
  add_operator_user(kUser);
}

E2eEnvironment::~E2eEnvironment() {
  zalando_.reset();
  api_->stop();
}

void E2eEnvironment::install_monitoring_crds() {
  for (const auto& file : monitoring_crd_files()) api_->install_crd(reference_file(file));
}

void E2eEnvironment::uninstall_monitoring_crds() {
  for (const char* plural : {"servicemonitors", "podmonitors", "prometheusrules"}) {
    api_->uninstall_crd("monitoring.coreos.com", plural);
  }
}

std::string E2eEnvironment::add_operator_user(const std::string& user, const std::string& token_file) {
  tokens_[user] = api_->add_user(user, shipped_rbac_rules());
  if (!token_file.empty()) {
    std::ofstream(token_file) << tokens_[user] << "\n";
  }
  write_kubeconfig(user, token_file);
  return kubeconfig(user);
}

std::string E2eEnvironment::kubeconfig(const std::string& user) const {
  return dir_.file(user + ".kubeconfig");
}

std::string E2eEnvironment::token(const std::string& user) const { return tokens_.at(user); }

namespace {

std::string base64(const std::string& text) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (unsigned char c : text) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += alphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += alphabet[(bits << (6 - count)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

}  // namespace

void E2eEnvironment::write_kubeconfig(const std::string& user, const std::string& token_file) {
  std::ostringstream text;
  text << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " << api_->url()
       << "\n";
  if (options_.tls) text << "    certificate-authority-data: " << base64(api_->ca_pem()) << "\n";
  text << "users:\n- name: " << user << "\n  user:\n";
  if (token_file.empty()) {
    text << "    token: " << tokens_.at(user) << "\n";
  } else {
    text << "    tokenFile: " << token_file << "\n";
  }
  text << "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: " << user
       << "\n    namespace: " << kOperatorNamespace << "\ncurrent-context: fake\n";
  std::ofstream(kubeconfig(user)) << text.str();
}

namespace {

// The flag name of the CRD re-check period, if this operator build has one.
std::string crd_recheck_flag() {
  static const std::string flag = [] {
    const auto help = test::run_process({operator_binary(), "--help"});
    std::istringstream lines(help.out);
    for (std::string line; std::getline(lines, line);) {
      const auto start = line.find("--");
      if (start == std::string::npos || line.find("crd-recheck") == std::string::npos) continue;
      const auto end = line.find_first_of("=, ", start);
      return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    return std::string();
  }();
  return flag;
}

}  // namespace

std::unique_ptr<OperatorProcess> E2eEnvironment::start_operator(const std::vector<std::string>& flags,
                                                                const std::string& user,
                                                                const std::map<std::string, std::string>& env,
                                                                bool wait_ready) {
  std::vector<std::string> argv{operator_binary(), "run", "--kubeconfig=" + kubeconfig(user),
                                "--log.level=debug", "--resync-period=2s"};
  if (!crd_recheck_flag().empty()) argv.push_back(crd_recheck_flag() + "=1s");
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string name = "op-" + std::to_string(++operators_started_);
  // A free port can be taken before the operator binds it: try another.
  for (int attempt = 1;; ++attempt) {
    auto process = std::make_unique<OperatorProcess>(
        name, argv, test::free_tcp_port(), dir_.file(name + "-" + std::to_string(attempt) + ".log"), env);
    if (!wait_ready) return process;
    if (process->wait_ready(std::chrono::seconds(30))) return process;
    const bool port_taken = process->log().find("in use") != std::string::npos;
    if (!port_taken || attempt == 3) {
      FAIL("pgscope-operator " << name << " did not become ready within 30 s; its log:\n"
                               << process->log_tail(60));
    }
  }
}

json E2eEnvironment::cluster_manifest(const std::string& example, const std::string& ns,
                                      const std::string& name, const std::function<void(json&)>& edit) {
  for (auto& document : kubefake::read_yaml_file(reference_file("zalando/" + example))) {
    if (document.value("kind", "") != "postgresql") continue;
    document["metadata"]["namespace"] = ns;
    document["metadata"]["name"] = name;
    if (edit) edit(document);
    return document;
  }
  throw std::runtime_error("zalando/" + example + ": no postgresql document");
}

json E2eEnvironment::create_cluster(const std::string& example, const std::string& ns,
                                    const std::string& name, const std::function<void(json&)>& edit) {
  return api_->create(cluster_manifest(example, ns, name, edit));
}

json E2eEnvironment::cluster(const std::string& ns, const std::string& name) const {
  auto object = api_->get("acid.zalan.do/v1", "postgresql", ns, name);
  if (!object) throw std::runtime_error("no postgresql " + ns + "/" + name);
  return *object;
}

json E2eEnvironment::patch_cluster(const std::string& ns, const std::string& name, const json& merge_patch) {
  return api_->merge_patch("acid.zalan.do/v1", "postgresql", ns, name, merge_patch);
}

void E2eEnvironment::delete_cluster(const std::string& ns, const std::string& name) {
  api_->remove("acid.zalan.do/v1", "postgresql", ns, name);
}

std::vector<json> E2eEnvironment::managed_objects(const std::string& ns) const {
  std::vector<json> out;
  for (const auto& kind : operator_kinds()) {
    std::vector<json> objects;
    try {
      objects = api_->list(kind.api_version, kind.kind, ns);
    } catch (const kubefake::ApiError&) {
      continue;  // a monitoring kind whose CRD is not installed
    }
    for (auto& object : objects) {
      const auto labels = object["metadata"].value("labels", json::object());
      if (labels.value("app.kubernetes.io/managed-by", "") == "pgscope-operator")
        out.push_back(std::move(object));
    }
  }
  return out;
}

std::optional<json> E2eEnvironment::get(const std::string& api_version, const std::string& kind,
                                        const std::string& ns, const std::string& name) const {
  try {
    return api_->get(api_version, kind, ns, name);
  } catch (const kubefake::ApiError&) {
    return std::nullopt;  // the kind is not served
  }
}

bool E2eEnvironment::all_present(const std::vector<ObjectRef>& refs) const {
  for (const auto& ref : refs) {
    if (!get(ref.api_version, ref.kind, ref.ns, ref.name)) return false;
  }
  return true;
}

bool E2eEnvironment::none_present(const std::vector<ObjectRef>& refs) const {
  for (const auto& ref : refs) {
    if (get(ref.api_version, ref.kind, ref.ns, ref.name)) return false;
  }
  return true;
}

std::vector<json> E2eEnvironment::dashboards(const std::string& ns) const {
  std::vector<json> out;
  for (auto& object : api_->list("v1", "ConfigMap", ns)) {
    const auto labels = object["metadata"].value("labels", json::object());
    if (labels.value("pgscope.io/shared", "") == "dashboards") out.push_back(std::move(object));
  }
  return out;
}

std::vector<json> E2eEnvironment::cluster_events(const std::string& ns, const std::string& cluster) const {
  std::vector<json> out;
  for (auto& event : api_->list("v1", "Event", ns)) {
    const auto& involved = event["involvedObject"];
    if (involved.value("kind", "") == "postgresql" && involved.value("name", "") == cluster) {
      out.push_back(std::move(event));
    }
  }
  return out;
}

bool E2eEnvironment::has_event(const std::string& ns, const std::string& cluster, const std::string& type,
                               const std::string& reason, const std::string& message_part) const {
  for (const auto& event : cluster_events(ns, cluster)) {
    if (event.value("type", "") == type && event.value("reason", "") == reason &&
        event.value("message", "").find(message_part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::vector<json> E2eEnvironment::pods(const std::string& ns, const std::string& cluster,
                                       const std::string& application) const {
  std::vector<json> out;
  for (auto& pod : api_->list("v1", "Pod", ns)) {
    const auto labels = pod["metadata"].value("labels", json::object());
    if (labels.value("cluster-name", "") == cluster && labels.value("application", "") == application) {
      out.push_back(std::move(pod));
    }
  }
  return out;
}

std::string E2eEnvironment::describe(const std::vector<const OperatorProcess*>& operators) const {
  std::ostringstream out;
  out << "postgresqls:\n";
  for (const auto& pg : api_->list("acid.zalan.do/v1", "postgresql")) {
    out << "  " << object_id(pg) << " rv " << pg["metadata"].value("resourceVersion", "")
        << (pg["metadata"].contains("deletionTimestamp") ? " (deleting)" : "") << " sidecars "
        << pg["spec"].value("sidecars", json()).dump() << "\n";
  }
  out << "objects managed by pgscope-operator:\n";
  for (const auto& object : managed_objects()) {
    out << "  " << object_id(object) << " rv " << object["metadata"].value("resourceVersion", "") << "\n";
  }
  out << "writes by pgscope-operator: " << api_->writes_by(kUser) << "\nevents (last 25):\n";
  auto events = api_->list("v1", "Event");
  const auto when = [](const json& event) {
    const auto last = event.value("lastTimestamp", json());
    return last.is_string() ? last.get<std::string>() : event["metadata"].value("creationTimestamp", "");
  };
  std::stable_sort(events.begin(), events.end(),
                   [&](const json& a, const json& b) { return when(a) < when(b); });
  const std::size_t first = events.size() > 25 ? events.size() - 25 : 0;
  for (std::size_t i = first; i < events.size(); ++i) {
    const auto& event = events[i];
    out << "  " << event["metadata"].value("namespace", "") << " "
        << event["involvedObject"].value("name", "") << " " << event.value("type", "") << " "
        << event.value("reason", "") << ": " << event.value("message", "") << "\n";
  }
  for (const auto* process : operators) {
    if (process) out << "--- log of " << process->name() << " (tail) ---\n" << process->log_tail(40) << "\n";
  }
  return out.str();
}

std::function<std::string()> E2eEnvironment::dumper(
    const std::vector<const OperatorProcess*>& operators) const {
  return [this, operators] { return describe(operators); };
}

std::size_t E2eEnvironment::await_quiet(const std::string& user, std::chrono::milliseconds quiet,
                                        std::chrono::milliseconds timeout,
                                        const std::vector<const OperatorProcess*>& operators) {
  std::size_t last = api_->writes_by(user);
  auto last_change = Clock::now();
  await(
      "the operator's writes to stop for " + std::to_string(quiet.count()) + " ms",
      [&] {
        const auto now = api_->writes_by(user);
        if (now != last) {
          last = now;
          last_change = Clock::now();
        }
        return Clock::now() - last_change >= quiet;
      },
      timeout, dumper(operators));
  return last;
}

}  // namespace pgscope::e2e
