// pgscope-operator: wires pgscope's monitoring into every cluster of Zalando's
// postgres-operator. Subcommands: run (the controller), render (offline).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "operator/app/controller.hpp"
#include "operator/app/render_command.hpp"
#include "operator/cluster/settings.hpp"
#include "operator/kube/client.hpp"
#include "operator/mixin/cluster_mixin.hpp"

extern char** environ;

namespace {

using namespace pgscope;

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) env[text.substr(0, equals)] = text.substr(equals + 1);
  }
  return env;
}

const char* kUsage =
    "Usage: pgscope-operator run [flags]\n"
    "       pgscope-operator render -f postgresql.yaml [flags]\n"
    "       pgscope-operator --version | --help\n\n"
    "run     watch acid.zalan.do/v1 postgresql objects and create, for each cluster, the\n"
    "        monitors, alert rules, dashboards and pooler exporter that monitor it.\n"
    "render  print the YAML of everything run would create for the postgresql objects\n"
    "        in a file (\"-\" for stdin), without a cluster.\n\n";

// POD_NAME (the Deployment sets it) plus a random suffix: two replicas, or a
// restarted one, never share a leader-election identity.
std::string make_identity() {
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) base = pod;
  if (base.empty()) {
    char host[256] = {};
    base = gethostname(host, sizeof host - 1) == 0 ? host : "pgscope-operator";
  }
  std::random_device random;
  std::ostringstream suffix;
  suffix << std::hex << (random() & 0xffffff);
  return base + "_" + suffix.str();
}

kube::Config client_config(const op::OperatorSettings& settings) {
  if (!settings.kubeconfig.empty()) return kube::load_kubeconfig(settings.kubeconfig, settings.context);
  return kube::in_cluster_config();
}

int run(const op::OperatorSettings& settings) {
  const auto config = client_config(settings);
  std::string own_namespace = config.ns;
  if (const char* pod_namespace = std::getenv("POD_NAMESPACE"); pod_namespace && *pod_namespace) {
    own_namespace = pod_namespace;
  }
  if (settings.leader_elect && settings.leader_elect_namespace.empty() && own_namespace.empty()) {
    throw op::UsageError(
        "--leader-elect: no namespace for the Lease: set --leader-elect.namespace (or POD_NAMESPACE)");
  }
  kube::Client client(config);
  op::MixinSettings mixin_settings;
  mixin_settings.cluster_label = settings.cluster_label;
  op::ClusterMixin mixin(mixin_settings);
  op::Controller controller(client, settings, mixin, make_identity(),
                            own_namespace.empty() ? "default" : own_namespace);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  spdlog::info(
      "pgscope-operator {} starting: API server {}, namespaces {}", PGSCOPE_VERSION, config.server,
      settings.namespaces.empty() ? std::string("all") : [&] {
        std::string list;
        for (const auto& ns : settings.namespaces) list += (list.empty() ? "" : ",") + ns;
        return list;
      }());
  return controller.run(g_stop);
}

int render(const op::OperatorSettings& settings) {
  if (settings.filename.empty()) throw op::UsageError("render: -f FILE is required (\"-\" reads stdin)");
  std::string text;
  if (settings.filename == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    text = buffer.str();
  } else {
    std::ifstream file(settings.filename, std::ios::binary);
    if (!file) throw std::runtime_error(settings.filename + ": cannot be read (does it exist?)");
    std::ostringstream buffer;
    buffer << file.rdbuf();
    text = buffer.str();
  }
  op::MixinSettings mixin_settings;
  mixin_settings.cluster_label = settings.cluster_label;
  op::ClusterMixin mixin(mixin_settings);
  std::cout << op::render_manifests(text, settings.filename == "-" ? "<stdin>" : settings.filename, settings,
                                    mixin);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage << "Flags (also as PGSCOPE_OPERATOR_<FLAG> variables):\n" << op::settings_help();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "pgscope-operator " << PGSCOPE_VERSION << "\n";
    return 0;
  }
  const std::string command = args[0];
  if (command != "run" && command != "render") {
    std::cerr << "pgscope-operator: unknown command \"" << command << "\": use run or render (see --help)\n";
    return 2;
  }
  args.erase(args.begin());
  op::OperatorSettings settings;
  try {
    settings = op::parse_settings(args, environment());
  } catch (const op::UsageError& error) {
    std::cerr << "pgscope-operator: " << error.what() << "\n";
    return 2;
  }
  if (settings.help) {
    std::cout << kUsage << "Flags (also as PGSCOPE_OPERATOR_<FLAG> variables):\n" << op::settings_help();
    return 0;
  }
  // Logs go to stderr, so that render's YAML on stdout stays clean.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("pgscope-operator"));
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  try {
    return command == "run" ? run(settings) : render(settings);
  } catch (const op::UsageError& error) {
    std::cerr << "pgscope-operator: " << error.what() << "\n";
    return 2;
  } catch (const kube::ConfigError& error) {
    std::cerr << "pgscope-operator: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "pgscope-operator: " << error.what() << "\n";
    return 1;
  }
}
