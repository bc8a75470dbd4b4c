#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "operator/kube/client.hpp"
#include "operator/runtime/leader_elector.hpp"
#include "operator/runtime/timestamps.hpp"
#include "scripted_server.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_runtime_test_leader_elector {

using namespace pgscope;
using op::testing::eventually;
using op::testing::json;
using op::testing::reply_status;
using op::testing::ScriptedServer;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kCollection = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";
const char* const kObject = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/pgscope-operator";

// One Lease with the API server's optimistic concurrency: a PUT whose
// resourceVersion is not the current one is a 409, a POST of an existing
// name is a 409. Every accepted write is logged with its holder and time.
class LeaseEndpoint {
 public:
  struct Write {
    std::string holder;
    Clock::time_point at;
  };

  explicit LeaseEndpoint(ScriptedServer& server) {
    server.routes().Get(kObject, [this](const httplib::Request&, httplib::Response& response) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failing_) return reply_status(response, 500, "InternalError", "etcd is away");
      if (lease_.is_null())
        return reply_status(response, 404, "NotFound", "leases \"pgscope-operator\" not found");
      response.set_content(lease_.dump(), "application/json");
    });
    server.routes().Post(kCollection, [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failing_) return reply_status(response, 500, "InternalError", "etcd is away");
      if (!lease_.is_null()) return reply_status(response, 409, "AlreadyExists", "leases already exists");
      lease_ = json::parse(request.body);
      store_locked(response);
    });
    server.routes().Put(kObject, [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failing_) return reply_status(response, 500, "InternalError", "etcd is away");
      json body = json::parse(request.body);
      if (lease_.is_null()) return reply_status(response, 404, "NotFound", "not found");
      if (body["metadata"].value("resourceVersion", "") != lease_["metadata"]["resourceVersion"]) {
        ++conflicts_;
        return reply_status(response, 409, "Conflict", "the object has been modified");
      }
      lease_ = body;
      store_locked(response);
    });
  }

  // A Lease left by a replica that is gone, with an old renewTime.
  void preset(const std::string& holder) {
    std::lock_guard<std::mutex> lock(mutex_);
    lease_ = {{"apiVersion", "coordination.k8s.io/v1"},
              {"kind", "Lease"},
              {"metadata", {{"name", "pgscope-operator"}, {"namespace", "ops"}, {"resourceVersion", "1"}}},
              {"spec",
               {{"holderIdentity", holder},
                {"leaseDurationSeconds", 1},
                {"acquireTime", "2000-01-01T00:00:00.000000Z"},
                {"renewTime", "2000-01-01T00:00:00.000000Z"},
                {"leaseTransitions", 3}}}};
  }
  void set_failing(bool failing) {
    std::lock_guard<std::mutex> lock(mutex_);
    failing_ = failing;
  }
  json lease() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lease_;
  }
  std::vector<Write> writes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return writes_;
  }
  Clock::time_point last_write_by(const std::string& holder) const {
    Clock::time_point last{};
    for (const auto& write : writes()) {
      if (write.holder == holder) last = write.at;
    }
    return last;
  }
  Clock::time_point first_write_by(const std::string& holder) const {
    for (const auto& write : writes()) {
      if (write.holder == holder) return write.at;
    }
    return {};
  }

 private:
  void store_locked(httplib::Response& response) {
    lease_["metadata"]["resourceVersion"] = std::to_string(++version_);
    lease_["metadata"]["uid"] = "lease-uid";
    writes_.push_back({lease_["spec"].value("holderIdentity", ""), Clock::now()});
    response.status = 200;
    response.set_content(lease_.dump(), "application/json");
  }

  mutable std::mutex mutex_;
  json lease_;
  int version_ = 100;
  bool failing_ = false;
  int conflicts_ = 0;
  std::vector<Write> writes_;
};

op::LeaderElectionOptions fast(const std::string& identity) {
  op::LeaderElectionOptions options;
  options.ns = "ops";
  options.name = "pgscope-operator";
  options.identity = identity;
  options.lease_duration = milliseconds(1000);
  options.renew_deadline = milliseconds(600);
  options.retry_period = milliseconds(200);
  options.jitter = 0.2;
  options.release_on_stop = false;
  return options;
}

// One candidate on its own thread.
struct Candidate {
  Candidate(kube::Client& client, op::LeaderElectionOptions options) : elector(client, std::move(options)) {}
  ~Candidate() { stop(); }
  void start() {
    thread = std::thread([this] {
      outcome = elector.run([this] { ++started; }, [this] { ++stopped; }, stop_flag);
      finished = true;
    });
  }
  void stop() {
    stop_flag = true;
    if (thread.joinable()) thread.join();
  }

  op::LeaderElector elector;
  std::atomic<bool> stop_flag{false};
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<bool> finished{false};
  op::LeaderElector::Outcome outcome = op::LeaderElector::Outcome::kStopped;
  std::thread thread;
};

long long ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

}  // namespace

TEST_CASE("MicroTime is RFC 3339 UTC with six fractional digits", "[leader]") {
  auto time = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800)) +
              std::chrono::microseconds(123456);
  CHECK(op::format_micro_time(time) == "2024-05-01T12:00:00.123456Z");
  CHECK(op::format_micro_time(std::chrono::system_clock::time_point(std::chrono::seconds(1714564800))) ==
        "2024-05-01T12:00:00.000000Z");
  CHECK(op::format_time(time) == "2024-05-01T12:00:00Z");
}

TEST_CASE("leader election refuses timings client-go refuses", "[leader]") {
  ScriptedServer server;
  server.start();
  kube::Client client(server.config());
  auto options = fast("a");
  options.renew_deadline = milliseconds(1000);  // not below the lease duration
  CHECK_THROWS_AS(op::LeaderElector(client, options), std::invalid_argument);
  options = fast("a");
  options.retry_period = milliseconds(550);  // 1.2 x 550 > 600
  CHECK_THROWS_AS(op::LeaderElector(client, options), std::invalid_argument);
  options = fast("");
  CHECK_THROWS_AS(op::LeaderElector(client, options), std::invalid_argument);
}

TEST_CASE("of two candidates one leads; the other takes over once the leader stops renewing", "[leader]") {
  ScriptedServer server;
  LeaseEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  Candidate a(client, fast("replica-a"));
  Candidate b(client, fast("replica-b"));
  a.start();
  b.start();

  // Over 1.5 s (several renewals), never two leaders, and soon exactly one.
  int both = 0;
  int one = 0;
  for (auto until = Clock::now() + milliseconds(1500); Clock::now() < until;) {
    int leaders = a.elector.is_leader() + b.elector.is_leader();
    both += leaders > 1;
    one += leaders == 1;
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(both == 0);
  REQUIRE(one > 0);
  Candidate& leader = a.elector.is_leader() ? a : b;
  Candidate& standby = a.elector.is_leader() ? b : a;
  std::string leader_name = &leader == &a ? "replica-a" : "replica-b";
  std::string standby_name = &leader == &a ? "replica-b" : "replica-a";
  CHECK(endpoint.lease()["spec"]["holderIdentity"] == leader_name);
  CHECK(endpoint.writes().size() >= 5);  // creation plus renewals every 200 ms
  std::regex micro_time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  CHECK(std::regex_match(endpoint.lease()["spec"]["renewTime"].get<std::string>(), micro_time));
  CHECK(endpoint.lease()["spec"]["leaseDurationSeconds"] == 1);

  // The leader stops renewing (stopped without releasing, as if killed).
  leader.stop();
  CHECK(leader.started == 1);
  CHECK(leader.stopped == 1);
  CHECK(leader.outcome == op::LeaderElector::Outcome::kStopped);
  CHECK_FALSE(leader.elector.is_leader());
  REQUIRE(eventually([&] { return standby.elector.is_leader(); }, milliseconds(4000)));
  auto last_renewal = endpoint.last_write_by(leader_name);
  auto takeover = endpoint.first_write_by(standby_name);
  // Not before the lease expired on the standby's clock, and within the lease
  // plus two (jittered) retry periods: one to see the last renewal, one to notice the expiry.
  long long waited = ms_between(last_renewal, takeover);
  INFO("takeover " << waited << " ms after the last renewal");
  CHECK(waited >= 1000);
  CHECK(waited <= 1000 + 2 * 240 + 150);
  CHECK(endpoint.lease()["spec"]["holderIdentity"] == standby_name);
  CHECK(endpoint.lease()["spec"]["leaseTransitions"] == 1);
  CHECK(standby.started == 1);
  CHECK(standby.elector.observed_holder() == standby_name);
}

TEST_CASE("a candidate waits a full lease before taking a stale Lease it has just seen", "[leader]") {
  ScriptedServer server;
  LeaseEndpoint endpoint(server);
  endpoint.preset("crashed-replica");  // renewTime in the year 2000: stale by the wall clock
  server.start();
  kube::Client client(server.config());
  Candidate a(client, fast("replica-a"));
  Candidate b(client, fast("replica-b"));
  auto start = Clock::now();
  a.start();
  b.start();
  int both = 0;
  while (!a.elector.is_leader() && !b.elector.is_leader() && Clock::now() - start < milliseconds(3000)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  auto acquired = Clock::now();
  for (auto until = Clock::now() + milliseconds(600); Clock::now() < until;) {
    both += a.elector.is_leader() && b.elector.is_leader();
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(both == 0);
  CHECK((a.elector.is_leader() || b.elector.is_leader()));
  CHECK(ms_between(start, acquired) >= 1000);
  CHECK(endpoint.lease()["spec"]["leaseTransitions"] == 4);
}

TEST_CASE("a leader that releases on stop hands over at the standby's next attempt", "[leader]") {
  ScriptedServer server;
  LeaseEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  auto options = fast("replica-a");
  options.release_on_stop = true;
  options.lease_duration = milliseconds(3000);  // so a takeover by expiry would be slow
  options.renew_deadline = milliseconds(2000);
  Candidate a(client, options);
  a.start();
  REQUIRE(eventually([&] { return a.elector.is_leader(); }));
  auto standby_options = options;
  standby_options.identity = "replica-b";
  Candidate b(client, standby_options);
  b.start();
  std::this_thread::sleep_for(milliseconds(500));
  CHECK_FALSE(b.elector.is_leader());

  auto stopped = Clock::now();
  a.stop();
  auto released = endpoint.lease();
  REQUIRE(eventually([&] { return b.elector.is_leader(); }, milliseconds(5000)));
  long long took = ms_between(stopped, Clock::now());
  INFO("taken over " << took << " ms after the leader stopped");
  CHECK(took < 600);
  bool saw_release = false;
  for (const auto& write : endpoint.writes()) saw_release |= write.holder.empty();
  CHECK(saw_release);
}

TEST_CASE("a leader that cannot renew within the deadline gives up leadership", "[leader]") {
  ScriptedServer server;
  LeaseEndpoint endpoint(server);
  server.start();
  kube::Client client(server.config());
  Candidate a(client, fast("replica-a"));
  a.start();
  REQUIRE(eventually([&] { return a.elector.is_leader(); }));
  std::this_thread::sleep_for(milliseconds(300));
  endpoint.set_failing(true);
  auto failing_since = Clock::now();
  REQUIRE(eventually([&] { return a.finished.load(); }, milliseconds(3000)));
  auto last_renewal = endpoint.last_write_by("replica-a");
  CHECK(a.outcome == op::LeaderElector::Outcome::kLostLeadership);
  CHECK_FALSE(a.elector.is_leader());
  CHECK(a.stopped == 1);
  // Given up after the renew deadline, before the lease (1 s) could expire for others.
  long long gave_up = ms_between(last_renewal, Clock::now());
  CHECK(gave_up >= 600);
  CHECK(gave_up < 1000);
  CHECK(ms_between(failing_since, Clock::now()) < 1000);
}

}  // namespace unity_file_runtime_test_leader_elector
