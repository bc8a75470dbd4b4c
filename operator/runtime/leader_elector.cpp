#include "operator/runtime/leader_elector.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "operator/runtime/timestamps.hpp"

namespace pgscope::op {
namespace {

using kube::json;

std::string text(const json& object, const char* field) {
  auto value = object.find(field);
  return value != object.end() && value->is_string() ? value->get<std::string>() : "";
}

long long number(const json& object, const char* field, long long fallback) {
  auto value = object.find(field);
  return value != object.end() && value->is_number_integer() ? value->get<long long>() : fallback;
}

}  // namespace

LeaderElector::LeaderElector(kube::Client& client, LeaderElectionOptions options)
    : client_(client), options_(std::move(options)), random_(std::random_device{}()) {
  if (options_.ns.empty() || options_.name.empty() || options_.identity.empty()) {
    throw std::invalid_argument("leader election needs the Lease's namespace and name and an identity");
  }
  if (options_.retry_period.count() <= 0 || options_.jitter < 0 ||
      options_.renew_deadline.count() <= options_.retry_period.count() * 1.2 ||
      options_.lease_duration <= options_.renew_deadline) {
    throw std::invalid_argument(
        "leader election timings must satisfy lease duration > renew deadline > 1.2 x retry period (got " +
        std::to_string(options_.lease_duration.count()) + " ms, " +
        std::to_string(options_.renew_deadline.count()) + " ms, " +
        std::to_string(options_.retry_period.count()) + " ms)");
  }
  lease_seconds_ = static_cast<int>(std::max<long long>(1, (options_.lease_duration.count() + 999) / 1000));
}

std::string LeaderElector::observed_holder() const {
  std::lock_guard<std::mutex> lock(observed_mutex_);
  return observed_spec_.is_object() ? text(observed_spec_, "holderIdentity") : "";
}

void LeaderElector::observe(const json& lease) {
  json spec = lease.value("spec", json::object());
  std::lock_guard<std::mutex> lock(observed_mutex_);
  if (spec != observed_spec_) {
    observed_spec_ = std::move(spec);
    observed_time_ = std::chrono::steady_clock::now();
  }
}

std::chrono::steady_clock::duration LeaderElector::jittered_retry() {
  double factor = 1.0 + std::uniform_real_distribution<double>(0.0, options_.jitter)(random_);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.retry_period * factor);
}

LeaderElector::Attempt LeaderElector::create_lease(std::chrono::system_clock::time_point now) {
  json lease = {{"apiVersion", kube::lease_type().api_version()},
                {"kind", kube::lease_type().kind},
                {"metadata", {{"name", options_.name}, {"namespace", options_.ns}}},
                {"spec",
                 {{"holderIdentity", options_.identity},
                  {"leaseDurationSeconds", lease_seconds_},
                  {"acquireTime", format_micro_time(now)},
                  {"renewTime", format_micro_time(now)},
                  {"leaseTransitions", 0}}}};
  try {
    json created = client_.create(kube::lease_type(), lease);
    observe(created);
    std::lock_guard<std::mutex> lock(observed_mutex_);
    held_lease_ = std::move(created);
    return Attempt::kHeld;
  } catch (const kube::ApiError& e) {
    if (!e.conflict()) spdlog::warn("cannot create Lease {}/{}: {}", options_.ns, options_.name, e.what());
    return Attempt::kFailed;  // on 409 another candidate created it first
  }
}

LeaderElector::Attempt LeaderElector::try_acquire_or_renew() {
  try {
    return acquire_or_renew();
  } catch (const std::exception& e) {
    // A Lease of an unexpected shape, say: no single round may end the elector.
    spdlog::warn("cannot acquire or renew Lease {}/{}: {}", options_.ns, options_.name, e.what());
    return Attempt::kFailed;
  }
}

LeaderElector::Attempt LeaderElector::acquire_or_renew() {
  auto now = std::chrono::system_clock::now();
  json lease;
  try {
    lease = client_.get(kube::lease_type(), options_.ns, options_.name);
  } catch (const kube::ApiError& e) {
    if (e.not_found()) return create_lease(now);
    spdlog::warn("cannot read Lease {}/{}: {}", options_.ns, options_.name, e.what());
    return Attempt::kFailed;
  }
  observe(lease);
  json spec = lease.value("spec", json::object());
  if (!spec.is_object()) spec = json::object();
  std::string holder = text(spec, "holderIdentity");
  if (!holder.empty() && holder != options_.identity) {
    auto duration = std::chrono::seconds(number(spec, "leaseDurationSeconds", lease_seconds_));
    std::lock_guard<std::mutex> lock(observed_mutex_);
    if (observed_time_ + duration > std::chrono::steady_clock::now()) return Attempt::kHeldByOther;
  }

  bool renewing = holder == options_.identity;
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = lease_seconds_;
  spec["renewTime"] = format_micro_time(now);
  if (!renewing || text(spec, "acquireTime").empty()) spec["acquireTime"] = format_micro_time(now);
  if (!renewing) spec["leaseTransitions"] = number(spec, "leaseTransitions", 0) + 1;
  lease["spec"] = spec;
  try {
    // The PUT carries the resourceVersion read above: whoever wrote in between wins.
    json written = client_.replace(kube::lease_type(), lease);
    observe(written);
    std::lock_guard<std::mutex> lock(observed_mutex_);
    held_lease_ = std::move(written);
    return Attempt::kHeld;
  } catch (const kube::ApiError& e) {
    if (e.conflict()) {
      spdlog::debug("Lease {}/{} changed while writing it; retrying", options_.ns, options_.name);
    } else {
      spdlog::warn("cannot write Lease {}/{}: {}", options_.ns, options_.name, e.what());
    }
    return Attempt::kFailed;
  }
}

void LeaderElector::release() {
  json lease;
  {
    std::lock_guard<std::mutex> lock(observed_mutex_);
    lease = held_lease_;
  }
  if (!lease.is_object()) return;
  auto now = format_micro_time(std::chrono::system_clock::now());
  json& spec = lease["spec"];
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["acquireTime"] = now;
  spec["renewTime"] = now;
  try {
    client_.replace(kube::lease_type(), lease);
    spdlog::info("released Lease {}/{}", options_.ns, options_.name);
  } catch (const kube::ApiError& e) {
    // 409: someone else holds it already; anything else: it expires by itself.
    spdlog::warn("cannot release Lease {}/{}: {}", options_.ns, options_.name, e.what());
  }
}

LeaderElector::Outcome LeaderElector::run(const std::function<void()>& on_started_leading,
                                          const std::function<void()>& on_stopped_leading,
                                          const std::atomic<bool>& stop) {
  leader_ = false;
  spdlog::info("{} campaigning for Lease {}/{}", options_.identity, options_.ns, options_.name);
  while (true) {
    if (stop.load()) return Outcome::kStopped;
    if (try_acquire_or_renew() == Attempt::kHeld) break;
    if (!sleep_unless_stopped(stop, jittered_retry())) return Outcome::kStopped;
  }
  leader_ = true;
  spdlog::info("{} is now the leader (Lease {}/{})", options_.identity, options_.ns, options_.name);
  if (on_started_leading) on_started_leading();

  Outcome outcome = Outcome::kStopped;
  auto last_renew = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration wait = options_.retry_period;
  while (sleep_unless_stopped(stop, wait)) {
    Attempt attempt = try_acquire_or_renew();
    auto now = std::chrono::steady_clock::now();
    if (attempt == Attempt::kHeld) {
      last_renew = now;
      wait = options_.retry_period;
      continue;
    }
    if (attempt == Attempt::kHeldByOther) {
      spdlog::error("{} lost the Lease {}/{} to {}", options_.identity, options_.ns, options_.name,
                    observed_holder());
      outcome = Outcome::kLostLeadership;
      break;
    }
    if (now - last_renew >= options_.renew_deadline) {
      spdlog::error("{} could not renew the Lease {}/{} within {} ms; giving up leadership",
                    options_.identity, options_.ns, options_.name, options_.renew_deadline.count());
      outcome = Outcome::kLostLeadership;
      break;
    }
    // Retry, but not past the deadline: leadership must end before the lease can expire for others.
    wait = std::min<std::chrono::steady_clock::duration>(options_.retry_period,
                                                         last_renew + options_.renew_deadline - now);
  }
  leader_ = false;
  if (outcome == Outcome::kStopped && options_.release_on_stop) release();
  if (on_stopped_leading) on_stopped_leading();
  return outcome;
}

}  // namespace pgscope::op
