#include "patroni/patroni_model.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace pgscope::patroni {
namespace {

using nlohmann::json;

// A field that contradicts the API's shape; the document is unreadable.
struct ShapeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* type_name(const json& value) { return value.type_name(); }

// The field, or nullptr when it is absent or null: Patroni leaves out what
// it does not know (xlog on a stopped member) and writes null for some
// values (replayed_timestamp before anything was replayed).
const json* field(const json& object, const char* key) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return nullptr;
  return &*found;
}

// `where` is "" for the document itself, whose path the caller names.
const json& require_object(const json& value, const std::string& where) {
  if (!value.is_object()) {
    throw ShapeError((where.empty() ? "" : where + ": ") + "expected an object, got " + type_name(value));
  }
  return value;
}

double number(const json& object, const char* key, const std::string& where, double fallback = 0) {
  const json* value = field(object, key);
  if (value == nullptr) return fallback;
  if (!value->is_number()) throw ShapeError(where + key + ": expected a number, got " + type_name(*value));
  const double out = value->get<double>();
  // Out of double's range JSON numbers read as infinity; no Patroni value is.
  if (!std::isfinite(out)) throw ShapeError(where + key + ": number out of range");
  return out;
}

// Patroni's /metrics writes int(value): a bool, or a number (0 is false).
bool flag(const json& object, const char* key, const std::string& where) {
  const json* value = field(object, key);
  if (value == nullptr) return false;
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_number()) return value->get<double>() != 0;
  throw ShapeError(where + key + ": expected a boolean, got " + type_name(*value));
}

std::string text(const json& object, const char* key, const std::string& where, bool required = false) {
  const json* value = field(object, key);
  if (value == nullptr) {
    if (required) throw ShapeError(where + key + ": missing");
    return "";
  }
  if (!value->is_string()) throw ShapeError(where + key + ": expected a string, got " + type_name(*value));
  return value->get<std::string>();
}

// A timestamp field: absent or null reads as 0, as in Patroni's /metrics
// ("0 if null"); a string we cannot read also gives 0, with a warning,
// rather than hiding everything else Patroni said.
double timestamp(const json& object, const char* key, const std::string& where,
                 std::vector<std::string>& warnings) {
  const std::string value = text(object, key, where);
  if (value.empty()) return 0;
  auto seconds = parse_timestamp(value);
  if (!seconds) {
    warnings.push_back(where + key + ": unreadable timestamp \"" + value.substr(0, 64) + "\", reported as 0");
    return 0;
  }
  return *seconds;
}

template <typename T, typename Reader>
Parsed<T> read_document(const std::string& body, Reader reader) {
  Parsed<T> parsed;
  try {
    if (body.empty()) throw ShapeError("empty body");
    const json document = json::parse(body);
    parsed.value = reader(document, parsed.warnings);
  } catch (const json::parse_error& error) {
    parsed.error = std::string("not JSON: ") + error.what();
  } catch (const std::exception& error) {
    // ShapeError, and nlohmann's type errors should a check above be missing.
    parsed.error = error.what();
  }
  if (!parsed.error.empty()) parsed.value.reset();
  return parsed;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so no time zone database or timegm is involved.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

// Reads exactly `count` digits at `at`; false if there are not.
bool digits(const std::string& s, std::size_t& at, std::size_t count, int& out) {
  if (at + count > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = s[at + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    out = out * 10 + (c - '0');
  }
  at += count;
  return true;
}

bool expect(const std::string& s, std::size_t& at, char c) {
  if (at >= s.size() || s[at] != c) return false;
  ++at;
  return true;
}

}  // namespace

std::optional<double> parse_timestamp(const std::string& s) {
  std::size_t at = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, at, 4, year) || !expect(s, at, '-') || !digits(s, at, 2, month) || !expect(s, at, '-') ||
      !digits(s, at, 2, day)) {
    return std::nullopt;
  }
  if (at >= s.size() || (s[at] != 'T' && s[at] != 't' && s[at] != ' ')) return std::nullopt;
  ++at;
  if (!digits(s, at, 2, hour) || !expect(s, at, ':') || !digits(s, at, 2, minute)) return std::nullopt;
  // Seconds are optional in ISO 8601 ("2019-09-24T12:00+00", as Patroni's
  // docs schedule switchovers); Python always writes them.
  if (at < s.size() && s[at] == ':') {
    ++at;
    if (!digits(s, at, 2, second)) return std::nullopt;
  }
  double fraction = 0;
  if (at < s.size() && (s[at] == '.' || s[at] == ',')) {
    ++at;
    double scale = 0.1;
    const std::size_t start = at;
    for (; at < s.size() && std::isdigit(static_cast<unsigned char>(s[at])); ++at, scale /= 10) {
      fraction += (s[at] - '0') * scale;
    }
    if (at == start) return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }

  int offset_seconds = 0;
  const std::string zone = s.substr(at);
  if (zone == "Z" || zone == "z" || zone == " UTC" || zone == " GMT" || zone == "UTC") {
    offset_seconds = 0;
  } else if (!zone.empty() && (zone[0] == '+' || zone[0] == '-')) {
    std::size_t z = 1;
    int hours = 0, minutes = 0;
    if (!digits(zone, z, 2, hours)) return std::nullopt;
    if (z < zone.size() && zone[z] == ':') ++z;
    if (z < zone.size() && !digits(zone, z, 2, minutes)) return std::nullopt;
    // Python writes seconds in an offset when it has them (+05:30:15).
    int offset_extra = 0;
    if (z < zone.size() && (!expect(zone, z, ':') || !digits(zone, z, 2, offset_extra))) return std::nullopt;
    if (z != zone.size() || hours > 23 || minutes > 59) return std::nullopt;
    offset_seconds = (hours * 3600 + minutes * 60 + offset_extra) * (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;  // no zone, or one named by abbreviation: the instant is unknown
  }

  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const double local = static_cast<double>(days) * 86400 + hour * 3600 + minute * 60 + second;
  return local - offset_seconds + fraction;
}

double padded_semver(const std::string& version) {
  // "4.0.4" -> 040004; parts after the third and pre-release suffixes
  // ("4.1.0.dev1", "3.3.0rc1") do not change the number.
  double number = 0;
  std::size_t at = 0;
  for (int part = 0; part < 3; ++part) {
    long value = 0;
    const std::size_t start = at;
    while (at < version.size() && std::isdigit(static_cast<unsigned char>(version[at])) && at - start < 6) {
      value = value * 10 + (version[at++] - '0');
    }
    number = number * 100 + static_cast<double>(value);
    if (at >= version.size() || version[at] != '.') {
      for (int rest = part + 1; rest < 3; ++rest) number *= 100;
      break;
    }
    ++at;
  }
  return number;
}

int postgres_state_index(const std::string& state) {
  // patroni/postgresql/misc.py, PostgresqlState: "Numeric indexes should
  // NEVER change once assigned". The strings are the same in Patroni 3.
  static const char* const kStates[] = {"initializing new cluster",
                                        "initdb failed",
                                        "running custom bootstrap script",
                                        "custom bootstrap failed",
                                        "creating replica",
                                        "running",
                                        "starting",
                                        "starting after custom bootstrap",
                                        "start failed",
                                        "restarting",
                                        "restart failed",
                                        "stopping",
                                        "stopped",
                                        "stop failed",
                                        "crashed"};
  for (int i = 0; i < static_cast<int>(sizeof kStates / sizeof kStates[0]); ++i) {
    if (state == kStates[i]) return i;
  }
  return -1;
}

// Role vocabulary (Patroni 4's):
//   /patroni: "master" (Patroni < 4.0) -> "primary"; replica, standby_leader,
//     demoted and uninitialized pass unchanged.
//   /cluster: the lock holder is "leader" (or "standby_leader" in a standby
//     cluster) in every version we know; "master"/"primary" are mapped to
//     "leader" in case an old or patched Patroni says so. sync_standby,
//     quorum_standby (4.0+) and replica pass unchanged.
// States are not rewritten. Patroni 4 reports a non-leader member's
// replication_state ("streaming", "in archive recovery") when it has one and
// its Postgres state ("running") otherwise, so in Patroni 4 a replica that
// is "running" is neither streaming nor restoring from the archive. Patroni
// 3.0.x reports "running" for every healthy member and does not say whether a
// replica streams: turning its "running" into "streaming" would make a
// replica with broken replication look healthy, so it stays "running".
std::string normalise_status_role(const std::string& role) { return role == "master" ? "primary" : role; }

std::string normalise_member_role(const std::string& role) {
  return role == "master" || role == "primary" ? "leader" : role;
}

Parsed<Status> parse_status(const std::string& body) {
  return read_document<Status>(body, [](const json& document, std::vector<std::string>& warnings) {
    require_object(document, "");
    Status status;
    const json* patroni = field(document, "patroni");
    if (patroni == nullptr) throw ShapeError("patroni: missing (not a Patroni /patroni document)");
    require_object(*patroni, "patroni");
    status.version = text(*patroni, "version", "patroni.", true);
    status.scope = text(*patroni, "scope", "patroni.", true);
    status.name = text(*patroni, "name", "patroni.");
    status.version_number = padded_semver(status.version);

    status.state = text(document, "state", "", true);
    status.role = normalise_status_role(text(document, "role", "", true));
    status.postmaster_start_time = timestamp(document, "postmaster_start_time", "", warnings);
    if (const json* xlog = field(document, "xlog")) {
      require_object(*xlog, "xlog");
      status.xlog_location = number(*xlog, "location", "xlog.");
      status.xlog_received_location = number(*xlog, "received_location", "xlog.");
      status.xlog_replayed_location = number(*xlog, "replayed_location", "xlog.");
      status.xlog_replayed_timestamp = timestamp(*xlog, "replayed_timestamp", "xlog.", warnings);
      // Patroni's /metrics counts only `is True`.
      if (const json* paused = field(*xlog, "paused")) {
        if (!paused->is_boolean()) {
          throw ShapeError(std::string("xlog.paused: expected a boolean, got ") + type_name(*paused));
        }
        status.xlog_paused = paused->get<bool>();
      }
    }
    status.sync_standby = flag(document, "sync_standby", "");
    status.quorum_standby = flag(document, "quorum_standby", "");
    status.replication_state = text(document, "replication_state", "");
    status.server_version = number(document, "server_version", "");
    status.timeline = number(document, "timeline", "");
    status.dcs_last_seen = number(document, "dcs_last_seen", "");
    status.pending_restart = flag(document, "pending_restart", "");
    status.paused = flag(document, "pause", "");
    status.cluster_unlocked = flag(document, "cluster_unlocked", "");
    status.failsafe_mode_is_active = flag(document, "failsafe_mode_is_active", "");
    return status;
  });
}

Parsed<Cluster> parse_cluster(const std::string& body) {
  return read_document<Cluster>(body, [](const json& document, std::vector<std::string>&) {
    require_object(document, "");
    const json* members = field(document, "members");
    if (members == nullptr) throw ShapeError("members: missing (not a Patroni /cluster document)");
    if (!members->is_array())
      throw ShapeError(std::string("members: expected an array, got ") + type_name(*members));
    Cluster cluster;
    for (std::size_t i = 0; i < members->size(); ++i) {
      const std::string where = "members[" + std::to_string(i) + "].";
      const json& entry = require_object((*members)[i], "members[" + std::to_string(i) + "]");
      Member member;
      member.name = text(entry, "name", where, true);
      member.role = normalise_member_role(text(entry, "role", where));
      member.state = text(entry, "state", where);
      if (field(entry, "timeline") != nullptr) member.timeline = number(entry, "timeline", where);
      // A number, or "unknown" when the member has not reported its position.
      if (const json* lag = field(entry, "lag")) {
        if (lag->is_number()) {
          member.lag_bytes = number(entry, "lag", where);
        } else if (!lag->is_string()) {
          throw ShapeError(where + "lag: expected a number or \"unknown\", got " + type_name(*lag));
        }
      }
      cluster.members.push_back(std::move(member));
    }
    return cluster;
  });
}

Parsed<History> parse_history(const std::string& body) {
  return read_document<History>(body, [](const json& document, std::vector<std::string>& warnings) {
    if (!document.is_array()) {
      throw ShapeError(std::string("expected an array, got ") + type_name(document));
    }
    // Entries are [timeline, lsn, reason, timestamp, new_leader]: the
    // columns of Postgres' timeline history file, to which Patroni added the
    // time and later the new leader, so old entries may have three or four.
    History history;
    for (std::size_t i = 0; i < document.size(); ++i) {
      const json& entry = document[i];
      if (!entry.is_array()) {
        throw ShapeError("[" + std::to_string(i) + "]: expected an array, got " + type_name(entry));
      }
      ++history.entries;
      if (entry.size() < 4 || entry[3].is_null()) continue;
      if (!entry[3].is_string()) {
        throw ShapeError("[" + std::to_string(i) + "][3]: expected a timestamp, got " + type_name(entry[3]));
      }
      auto when = parse_timestamp(entry[3].get<std::string>());
      if (!when) {
        warnings.push_back("[" + std::to_string(i) + "][3]: unreadable timestamp \"" +
                           entry[3].get<std::string>().substr(0, 64) + "\"");
        continue;
      }
      if (!history.last_switch || *when > *history.last_switch) history.last_switch = when;
    }
    return history;
  });
}

}  // namespace pgscope::patroni
