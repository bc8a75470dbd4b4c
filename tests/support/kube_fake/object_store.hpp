// The fake API server's etcd: objects per resource, one global revision that
// every committed change bumps (resourceVersion = that revision as a decimal
// string), and the event history that watches replay and old snapshots are
// rebuilt from. Callers hold `mutex` around every call.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::kubefake {

struct StoredEvent {
  std::uint64_t revision = 0;
  std::string type;      // ADDED, MODIFIED, DELETED
  std::string resource;  // ResourceType::key()
  std::string ns;
  std::shared_ptr<const json> object;    // the state after; for DELETED the last state
  std::shared_ptr<const json> previous;  // the state before; null for ADDED
};

// "namespace/name" ("/name" when cluster scoped): sorts as etcd keys do.
using ObjectMap = std::map<std::string, std::shared_ptr<const json>>;

std::string object_key(const std::string& ns, const std::string& name);
std::string object_key(const json& object);

class ObjectStore {
 public:
  explicit ObjectStore(std::size_t history_limit) : history_limit_(history_limit) {}

  std::mutex mutex;
  // Notified after every commit, compaction and watch-ending request.
  std::condition_variable changed;

  std::uint64_t revision() const { return revision_; }
  // The oldest revision a new watch or an exact list may start from.
  std::uint64_t oldest_replayable() const { return oldest_replayable_; }
  // Whether every event after `after` is still kept: what an established
  // watch needs. compact() does not break established watches, the history
  // limit does.
  bool history_reaches(std::uint64_t after) const { return after >= trimmed_; }

  std::shared_ptr<const json> find(const std::string& resource, const std::string& key) const;
  const ObjectMap& objects(const std::string& resource) const;
  std::vector<std::string> resources() const;

  // Commits one change at revision()+1: ADDED/MODIFIED store `object` with
  // metadata.resourceVersion set to the new revision; DELETED removes it (the
  // event carries `object`, which gets the new revision too, as kube does).
  std::shared_ptr<const json> commit(const std::string& type, const std::string& resource, json object);

  // The objects of `resource` as they were at `revision`; throws ApiError 410
  // when the history no longer reaches back that far.
  ObjectMap state_at(const std::string& resource, std::uint64_t revision) const;

  // Every event after `after` (of `resource`, or all when empty), oldest first.
  std::vector<StoredEvent> events_after(std::uint64_t after, const std::string& resource) const;

  // Forgets the history for new readers: every watch RV, exact list RV and
  // continue token handed out so far gets 410 Expired. Established watches
  // go on.
  void compact();

 private:
  std::size_t history_limit_;
  std::uint64_t revision_ = 1;  // a fresh etcd starts at revision 1
  std::uint64_t oldest_replayable_ = 1;
  std::uint64_t trimmed_ = 0;  // revision of the newest event dropped for the history limit
  std::map<std::string, ObjectMap> objects_;
  std::deque<StoredEvent> history_;
};

}  // namespace pgscope::kubefake
