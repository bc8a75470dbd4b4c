#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string>

#include "operator/kube/client.hpp"

namespace pgscope::op {

struct LeaderElectionOptions {
  std::string ns;        // the Lease's namespace (the operator's own)
  std::string name;      // the Lease's name
  std::string identity;  // unique per replica: pod name plus a random suffix
  // client-go defaults and constraint: lease_duration > renew_deadline > 1.2 x retry_period.
  // The Lease stores whole seconds, so lease_duration is rounded up to one.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  // Candidates wait retry_period x [1, 1 + jitter] between attempts (client-go: 1.2).
  double jitter = 1.2;
  // On stop, the leader writes holderIdentity "" and leaseDurationSeconds 1
  // so a standby takes over at its next attempt instead of after a full lease.
  bool release_on_stop = true;
};

// Leader election on a coordination.k8s.io/v1 Lease with client-go's
// algorithm: create the Lease when it is absent; a Lease held by someone else
// has expired only when this candidate has seen no change to it for the
// lease's duration, measured on the local clock from when it last saw the
// record change (tolerates clock skew between nodes); take over or renew with
// a PUT carrying the resourceVersion just read, so of two racing candidates
// one gets 409 Conflict and loses. The leader renews every retry_period and
// gives up when it has not renewed for renew_deadline (shorter than the
// lease, so it stops before anyone may take over) or sees another holder.
//
// run() blocks on the calling thread; is_leader() may be read from any thread.
class LeaderElector {
 public:
  enum class Outcome { kStopped, kLostLeadership };

  // Throws std::invalid_argument when a name is empty or the timings break
  // lease_duration > renew_deadline > 1.2 x retry_period.
  LeaderElector(kube::Client& client, LeaderElectionOptions options);

  // Campaigns until leader, calls on_started_leading, renews until *stop is
  // set (then releases the Lease if configured) or leadership is lost, calls
  // on_stopped_leading and returns why it ended. Both callbacks run on this
  // thread and must return promptly (start or stop workers, do not run them).
  // on_stopped_leading is only called after on_started_leading.
  Outcome run(const std::function<void()>& on_started_leading,
              const std::function<void()>& on_stopped_leading, const std::atomic<bool>& stop);

  bool is_leader() const { return leader_.load(); }
  // The holder in the Lease as last read ("" if none or never read).
  std::string observed_holder() const;

 private:
  enum class Attempt { kHeld, kHeldByOther, kFailed };
  Attempt try_acquire_or_renew();  // never throws
  Attempt acquire_or_renew();
  Attempt create_lease(std::chrono::system_clock::time_point now);
  void observe(const kube::json& lease);
  void release();
  std::chrono::steady_clock::duration jittered_retry();

  kube::Client& client_;
  LeaderElectionOptions options_;
  int lease_seconds_;
  std::atomic<bool> leader_{false};
  std::mt19937 random_;

  mutable std::mutex observed_mutex_;
  kube::json observed_spec_;                             // the Lease spec as last seen
  std::chrono::steady_clock::time_point observed_time_;  // when it last changed, on our clock
  kube::json held_lease_;  // the Lease as written by our last successful PUT (for release)
};

}  // namespace pgscope::op
