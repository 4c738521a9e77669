// File: orchestration/plan.h
//
// The migration plan of `tandem run PLAN`: a TOML file whose keys are a public contract
// (DESIGN.md, "The plan file"). LoadPlan reads it with toml++ and validates all of it before
// anything is touched: unknown keys, wrong types, bad durations, bad URIs, impossible step lists
// and names that refer to nothing are refused with the file, the line and the key, as one line:
//
//   shop.toml:14: traffic.steps: the steps must increase (25 follows 50); write e.g. [5, 25, 50,
//   75, 100]
//
// Passwords in URIs are never part of a message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/connection_config.h"
#include "engine/status.h"
#include "orchestration/duration.h"

namespace tandem::orchestration {

// The six phases of the playbook, in order. The numbers are the `phase` of the status contract.
enum class Phase { kAssessment = 1, kProvisioning, kSync, kTraffic, kCutover, kMonitor };
inline constexpr Phase kAllPhases[] = {Phase::kAssessment, Phase::kProvisioning, Phase::kSync,
                                       Phase::kTraffic,    Phase::kCutover,      Phase::kMonitor};

// "assessment", "provisioning", "sync", "traffic", "cutover", "monitor": the names `approve`
// uses and `status` prints as phase_name.
const char* PhaseName(Phase phase);
std::optional<Phase> PhaseFromName(std::string_view name);

// Where applications write a datastore, switched at cutover (issue 11).
struct WriterRoute {
  std::string haproxy_backend;
  std::string old_server;
  std::string new_server;
};

struct DatastorePlan {
  std::string name;                 // unique among datastores; [A-Za-z0-9_.-]+
  engine::ConnectionConfig source;  // parsed; the password may come from the environment
  engine::ConnectionConfig target;  // same engine as source
  std::string source_uri_redacted;  // as written, password replaced by "***"
  std::string target_uri_redacted;
  Milliseconds max_lag{100};     // default 100ms
  Milliseconds lag_for{60'000};  // default 60s
  std::optional<WriterRoute> writer;
  int line = 0;  // where the [[datastore]] table starts
};

struct TrafficPlan {
  std::string haproxy;  // unix socket path, or "host:port"
  std::string backend;
  std::vector<std::string> old_servers;        // non-empty, distinct, disjoint from new_servers
  std::vector<std::string> new_servers;        // non-empty, distinct
  std::vector<int> steps{5, 25, 50, 75, 100};  // strictly increasing, each in 1..100
  Milliseconds baseline{600'000};              // default 10m
  Milliseconds dwell{1'800'000};               // default 30m
  int64_t min_requests = 500;                  // >= 1
  double max_error_rate_increase = 0.001;      // 0..1
  double max_latency_increase = 0.10;          // >= 0
  Milliseconds latency_slack{5};
  std::vector<std::string> probes;  // http:// URLs
  std::optional<std::string> log;   // "host:port" UDP address for HAProxy's httplog lines
};

struct DnsRecordChange {
  std::string name;  // fully qualified, ends with "."
  std::string type;  // "A", "AAAA" or "CNAME"
  std::string old_value;
  std::string new_value;
};

// Phase 5's DNS section (issue 11). Validated now so a plan is refused or accepted once.
struct DnsPlan {
  std::string server;                                             // "host:port"
  std::string zone;                                               // ends with "."
  std::string tsig_algorithm, tsig_key_name, tsig_secret_base64;  // from tsig or tsig_file
  int64_t ttl = 60;
  std::vector<DnsRecordChange> records;
  std::vector<std::string> resolvers;
  Milliseconds propagation_timeout{1'800'000};
  std::optional<std::string> tls_host, tls_address, tls_ca;
};

// Phase 6: runs only when the plan has a [monitor] table (`enabled`).
struct MonitorPlan {
  bool enabled = false;
  Milliseconds window{72LL * 3600 * 1000};  // default 72h, as the playbook says
  Milliseconds verify_every{3'600'000};     // full verify of new against old, default 1h
  bool rollback_on_breach = false;          // a failing gate rolls the migration back
  // PostgreSQL: how often the stopped forward streams of the datastores whose writes are on the new
  // side are handed over at the old side's present position, which moves their slots there up,
  // so that the slots do not keep the WAL the reverse streams write on the old side; default 1m.
  Milliseconds slot_advance_every{60'000};
};

struct Plan {
  std::string path;          // the plan file as given
  std::string name;          // [A-Za-z0-9_.-]+
  std::string journal_path;  // <directory of path>/<name>.journal.db
  uint64_t digest = 0;       // of the file's bytes: a resumed run warns when the plan changed
  Milliseconds rollback_budget{300'000};
  std::vector<Phase> approve;
  std::vector<DatastorePlan> datastores;
  std::optional<TrafficPlan> traffic;
  std::optional<DnsPlan> dns;
  MonitorPlan monitor;
};

// Reads and validates the plan at `path`.
// Errors: kNotFound "<path>: no such plan file" (with the fix); kInvalidArgument
// "<path>:<line>: <key>: <what is wrong>; <how to fix>" for every syntax or validation problem
// (the first one found, in file order).
engine::Result<Plan> LoadPlan(const std::string& path);

// The same from text already read; `path` is used for messages and the journal's location.
engine::Result<Plan> ParsePlan(std::string_view text, const std::string& path);

}  // namespace tandem::orchestration
