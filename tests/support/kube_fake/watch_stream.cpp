// WATCH: a chunked stream of newline-terminated JSON events. From rv ""/"0" it
// starts with synthetic ADDED events of the current state; from rv N it
// replays the history after N (410 Expired when N is older than the history);
// then it follows live commits. Selectors filter events, and an object that
// stops matching is sent as DELETED (starts matching: ADDED), as the watch
// cache does. Bookmarks, timeoutSeconds, client disconnects, drop_watches()
// and the watch-drop fault end it.
#include <httplib.h>

#include <chrono>
#include <deque>

#include "support/kube_fake/server_impl.hpp"

namespace pgscope::kubefake {

namespace {

using Clock = std::chrono::steady_clock;

std::string event_line(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

struct WatchState {
  FakeApiServer::Impl* server;
  ResourceTypePtr type;
  std::string version;
  std::string ns;
  ReadQuery query;
  std::uint64_t cursor = 0;                          // every change up to here has been looked at
  std::deque<std::pair<bool, std::string>> pending;  // (counts as an event, line)
  bool finishing = false;                            // end normally once pending is sent
  int drop_after = -1;
  int sent = 0;
  std::uint64_t epoch = 0;
  int connection = -1;
  Clock::time_point deadline;
  Clock::time_point next_bookmark;

  bool matches(const json& object) const {
    if (!ns.empty() && object["metadata"].value("namespace", "") != ns) return false;
    return query.labels.matches(object) && query.fields.matches(object);
  }

  void queue(const std::string& type_name, const json& object) {
    pending.emplace_back(true, event_line(type_name, as_version(*type, version, object)));
  }

  // Turns stored events into what this watcher sees (store.mutex held).
  void translate(const StoredEvent& event) {
    bool now = matches(*event.object);
    bool before = event.previous && matches(*event.previous);
    if (event.type == "ADDED") {
      if (now) queue("ADDED", *event.object);
    } else if (event.type == "MODIFIED") {
      if (before && now) queue("MODIFIED", *event.object);
      if (!before && now) queue("ADDED", *event.object);
      if (before && !now) queue("DELETED", *event.object);
    } else if (now || before) {
      queue("DELETED", *event.object);
    }
  }

  void queue_expired(std::uint64_t requested, std::uint64_t oldest) {
    json status = status_failure(
        410, "Expired",
        "too old resource version: " + std::to_string(requested) + " (" + std::to_string(oldest) + ")");
    pending.emplace_back(true, event_line("ERROR", status));
    finishing = true;
  }

  void queue_bookmark(bool initial_events_end) {
    json object = {{"kind", type->kind},
                   {"apiVersion", type->api_version(version)},
                   {"metadata", {{"resourceVersion", std::to_string(cursor)}}}};
    if (initial_events_end) object["metadata"]["annotations"] = {{"k8s.io/initial-events-end", "true"}};
    pending.emplace_back(false, event_line("BOOKMARK", object));
  }

  // Waits a little for changes and queues what there is to send.
  void poll() {
    auto now = Clock::now();
    auto wake = std::min(deadline, now + std::chrono::milliseconds(200));
    if (query.bookmarks) wake = std::min(wake, next_bookmark);
    std::unique_lock<std::mutex> lock(server->store.mutex);
    server->store.changed.wait_until(lock, wake, [&] {
      return server->store.revision() > cursor || !server->store.history_reaches(cursor) ||
             server->stopping || server->watch_epoch != epoch;
    });
    if (!server->store.history_reaches(cursor)) {
      // A watcher too slow for the history limit, as with the watch cache's capacity.
      queue_expired(cursor, server->store.oldest_replayable());
      return;
    }
    for (const auto& event : server->store.events_after(cursor, type->key())) translate(event);
    cursor = server->store.revision();
    if (query.bookmarks && Clock::now() >= next_bookmark) {
      queue_bookmark(false);
      next_bookmark = Clock::now() + server->options.bookmark_interval;
    }
  }

  // The content provider's step: false aborts the connection.
  bool step(httplib::DataSink& sink) {
    if (drop_after >= 0 && sent >= drop_after) return false;
    if (!pending.empty()) {
      while (!pending.empty()) {
        auto [counts, line] = std::move(pending.front());
        pending.pop_front();
        if (counts && drop_after >= 0 && sent >= drop_after) return false;
        if (!sink.write(line.data(), line.size())) return false;
        if (counts) ++sent;
      }
      return true;
    }
    if (finishing || Clock::now() >= deadline || !server->registry.by_key(type->key())) {
      sink.done();
      return true;
    }
    if (server->stopping || server->watch_epoch != epoch || peer_closed(connection)) return false;
    poll();
    return true;
  }
};

}  // namespace

void FakeApiServer::Impl::serve_watch(const ResourceTypePtr& type, const std::string& version,
                                      const std::string& ns, const ReadQuery& query, int drop_after_events,
                                      const httplib::Request& request, httplib::Response& response) {
  auto state = std::make_shared<WatchState>();
  state->server = this;
  state->type = type;
  state->version = version;
  state->ns = ns;
  state->query = query;
  state->drop_after = drop_after_events;
  state->epoch = watch_epoch;
  state->deadline = Clock::now() + std::chrono::seconds(query.timeout_seconds.value_or(1800));
  state->next_bookmark = Clock::now() + options.bookmark_interval;

  const std::string rv = query.resource_version.value_or("");
  if (query.send_initial_events && query.resource_version_match != "NotOlderThan") {
    throw bad_request(
        "sendInitialEvents: Forbidden: sendInitialEvents is forbidden unless resourceVersionMatch is "
        "NotOlderThan");
  }
  if (query.send_initial_events && !query.bookmarks) {
    throw bad_request(
        "allowWatchBookmarks: Required value: allowWatchBookmarks must be set to true when "
        "sendInitialEvents is set");
  }
  {
    std::lock_guard<std::mutex> lock(store.mutex);
    if (rv.empty() || rv == "0" || query.send_initial_events) {
      state->cursor = store.revision();
      for (const auto& [key, object] : store.objects(type->key())) {
        if (state->matches(*object)) state->queue("ADDED", *object);
      }
      if (query.send_initial_events) state->queue_bookmark(true);
    } else {
      bool digits = rv.size() < 20;
      for (char c : rv) digits = digits && c >= '0' && c <= '9';
      if (!digits) throw bad_request("resourceVersion: Invalid value: \"" + rv + "\": invalid syntax");
      std::uint64_t requested = std::stoull(rv);
      if (requested > store.revision()) throw too_large_resource_version(requested, store.revision());
      if (requested < store.oldest_replayable()) {
        if (!options.expired_as_event) {
          throw expired("too old resource version: " + rv + " (" + std::to_string(store.oldest_replayable()) +
                        ")");
        }
        state->queue_expired(requested, store.oldest_replayable());
      } else {
        state->cursor = requested;
      }
    }
  }
  state->connection = find_connection(request.local_port, request.remote_port);
  ++open_watches;
  response.status = 200;
  response.set_header("Cache-Control", "no-cache, private");
  response.set_chunked_content_provider(
      "application/json", [state](size_t, httplib::DataSink& sink) { return state->step(sink); },
      [this](bool) { --open_watches; });
}

}  // namespace pgscope::kubefake
