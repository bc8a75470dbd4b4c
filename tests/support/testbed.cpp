#include "support/testbed.hpp"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pgscope::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string process_cmdline(pid_t pid) {
  std::string text = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

// Alive and not a zombie: a killed postmaster belongs to init until reaped.
bool process_alive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// The pid on the first line of `path` when that process is alive and its
// command line names `must_mention` (a recycled pid would not).
pid_t live_pid_from(const std::string& path, const std::string& must_mention) {
  std::istringstream in(read_text(path));
  long pid = -1;
  if (!(in >> pid) || pid <= 0) return -1;
  if (!process_alive(static_cast<pid_t>(pid))) return -1;
  if (process_cmdline(static_cast<pid_t>(pid)).find(must_mention) == std::string::npos) return -1;
  return static_cast<pid_t>(pid);
}

std::string tail_of(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  for (std::size_t n = 0; pos > 0 && n <= lines; --pos) {
    if (text[pos - 1] == '\n') ++n;
  }
  return text.substr(pos);
}

std::string require(const std::map<std::string, std::string>& env, const std::string& name,
                    const std::string& path) {
  auto it = env.find(name);
  if (it == env.end()) throw std::runtime_error(path + " has no " + name);
  return it->second;
}

bool is_leader_role(const std::string& role) {
  return role == "leader" || role == "master" || role == "primary";
}

}  // namespace

std::map<std::string, std::string> Testbed::parse_env(const std::string& text) {
  std::map<std::string, std::string> env;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string raw = line.substr(eq + 1), value;
    // printf %q escapes with backslashes; single quotes are accepted too.
    bool quoted = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\'') {
        quoted = !quoted;
      } else if (raw[i] == '\\' && !quoted && i + 1 < raw.size()) {
        value += raw[++i];
      } else {
        value += raw[i];
      }
    }
    env[line.substr(0, eq)] = value;
  }
  return env;
}

Testbed Testbed::load() {
  std::string dir;
  if (const char* env = std::getenv("PGSCOPE_TESTBED_DIR"); env && *env) {
    dir = env;
  } else {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/pgscope-testbed-" + std::to_string(getuid());
  }
  const std::string path = dir + "/env";
  std::ifstream probe(path);
  if (!probe) {
    throw std::runtime_error("no testbed: " + path +
                             " does not exist (run `scripts/testbed up`, or the ctest fixture testbed.up)");
  }
  auto env = parse_env(read_text(path));
  Testbed bed;
  bed.dir = require(env, "PGSCOPE_TESTBED_DIR", path);
  bed.scope = require(env, "PATRONI_SCOPE", path);
  bed.etcd_port = std::stoi(require(env, "ETCD_PORT", path));
  bed.pgbouncer_port = std::stoi(require(env, "PGBOUNCER_PORT", path));
  bed.pgbouncer_target_port = std::stoi(require(env, "PGBOUNCER_TARGET_PORT", path));
  for (int i = 1; i <= 3; ++i) {
    const std::string prefix = "MEMBER" + std::to_string(i) + "_";
    TestbedMember member;
    member.name = require(env, prefix + "NAME", path);
    member.pg_port = std::stoi(require(env, prefix + "PG_PORT", path));
    member.api_port = std::stoi(require(env, prefix + "API_PORT", path));
    member.config = require(env, prefix + "CONFIG", path);
    member.dir = bed.dir + "/" + member.name;
    bed.members.push_back(member);
  }
  bed.superuser = require(env, "PG_SUPERUSER", path);
  bed.superuser_password = require(env, "PG_SUPERUSER_PASSWORD", path);
  bed.replication_user = require(env, "PG_REPLICATION_USER", path);
  bed.replication_password = require(env, "PG_REPLICATION_PASSWORD", path);
  bed.pgbouncer_admin_user = require(env, "PGBOUNCER_ADMIN_USER", path);
  bed.pgbouncer_admin_password = require(env, "PGBOUNCER_ADMIN_PASSWORD", path);
  bed.pgbouncer_stats_user = require(env, "PGBOUNCER_STATS_USER", path);
  return bed;
}

const TestbedMember& Testbed::member(const std::string& name) const {
  for (const auto& m : members) {
    if (m.name == name) return m;
  }
  throw std::runtime_error("the testbed has no member " + name);
}

std::string Testbed::dsn(const TestbedMember& member) const {
  return "host=127.0.0.1 port=" + std::to_string(member.pg_port) + " user=" + superuser +
         " password=" + superuser_password + " dbname=postgres sslmode=disable";
}

std::string Testbed::pgbouncer_admin_dsn() const {
  return "host=127.0.0.1 port=" + std::to_string(pgbouncer_port) + " user=" + pgbouncer_admin_user +
         " password=" + pgbouncer_admin_password + " dbname=pgbouncer sslmode=disable";
}

ApiResponse Testbed::api_get(const TestbedMember& member, const std::string& path,
                             std::chrono::milliseconds timeout) const {
  httplib::Client client("127.0.0.1", member.api_port);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  ApiResponse response;
  auto result = client.Get(path);
  if (!result) {
    response.error = httplib::to_string(result.error());
    return response;
  }
  response.status = result->status;
  response.body = result->body;
  return response;
}

nlohmann::json Testbed::cluster() const {
  for (const auto& m : members) {
    auto response = api_get(m, "/cluster");
    if (response.status != 200) continue;
    auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object()) return parsed;
  }
  return nullptr;
}

std::string Testbed::leader() const {
  auto view = cluster();
  if (!view.is_object()) return "";
  for (const auto& m : view.value("members", nlohmann::json::array())) {
    if (is_leader_role(m.value("role", "")) && m.value("state", "") == "running") {
      return m.value("name", "");
    }
  }
  return "";
}

bool Testbed::healthy(std::string* why) const {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  auto view = cluster();
  if (!view.is_object()) return fail("no member's REST API answers /cluster");
  const auto all = view.value("members", nlohmann::json::array());
  int leaders = 0, replicas = 0;
  std::string leader_name;
  for (const auto& m : all) {
    const std::string role = m.value("role", ""), state = m.value("state", "");
    if (is_leader_role(role) && state == "running") {
      ++leaders;
      leader_name = m.value("name", "");
    } else if ((role == "replica" || role == "sync_standby") &&
               (state == "running" || state == "streaming")) {
      ++replicas;
    }
  }
  if (all.size() != 3 || leaders != 1 || replicas != 2) return fail("/cluster: " + view.dump());
  auto status = api_get(member(leader_name), "/patroni");
  auto parsed = nlohmann::json::parse(status.body, nullptr, false);
  int streaming = 0;
  if (!parsed.is_discarded() && parsed.is_object()) {
    for (const auto& r : parsed.value("replication", nlohmann::json::array())) {
      if (r.value("state", "") == "streaming") ++streaming;
    }
  }
  if (streaming != 2) return fail("the leader streams to " + std::to_string(streaming) + " replicas");
  return true;
}

ProcessResult Testbed::patronictl(const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {"patronictl", "-c", members.at(0).config};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, "", timeout);
}

pid_t Testbed::patroni_pid(const TestbedMember& member) const {
  return live_pid_from(member.dir + "/patroni.pid", member.config);
}

pid_t Testbed::postmaster_pid(const TestbedMember& member) const {
  return live_pid_from(member.dir + "/data/postmaster.pid", member.dir + "/data");
}

void Testbed::kill_member(const TestbedMember& member) const {
  const pid_t pids[] = {patroni_pid(member), postmaster_pid(member)};
  for (pid_t pid : pids) {
    if (pid > 0) kill(pid, SIGKILL);
  }
  wait_until([&] { return !process_alive(pids[0]) && !process_alive(pids[1]); }, std::chrono::seconds(5),
             std::chrono::milliseconds(20));
}

void Testbed::restore() const {
  auto result = run_process({"bash", std::string(PGSCOPE_SOURCE_DIR) + "/scripts/testbed", "up"},
                            {{"PGSCOPE_TESTBED_DIR", dir}}, "", std::chrono::seconds(150));
  if (result.exit_code != 0) {
    throw std::runtime_error("scripts/testbed up failed (exit " + std::to_string(result.exit_code) + "):\n" +
                             result.out + result.err);
  }
}

std::string Testbed::log_tail(const TestbedMember& member, std::size_t lines) const {
  return tail_of(read_text(member.dir + "/patroni.log"), lines);
}

void Testbed::wait_until_whole(std::chrono::milliseconds timeout) const {
  std::string why;
  if (!wait_until([&] { return healthy(&why); }, timeout)) {
    throw std::runtime_error("the testbed is not whole: " + why);
  }
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace pgscope::test
