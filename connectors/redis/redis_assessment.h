// File: connectors/redis/redis_assessment.h
//
// Phase 1 assessment of a Redis server (tandem inspect): GatherServerState() asks the server in two
// pipelined round trips, EvaluateServerState() applies the rules below to what came back. The two
// are separate so the rules are tested on any state, including versions and setups no test server
// runs (Redis 3, cluster nodes, modules).
//
// Findings (code, severity, role):
//   redis_version_unsupported   blocker  source  older than 4.0: no PSYNC2 to resume a stream
//   redis_version_old           warning  source  older than 6.0: end of life, no ACLs
//   redis_source_is_replica     warning  source  the source replicates from another server
//   redis_module_loaded         blocker  source  a module is loaded: its data types cannot be
//                                                 replicated by tandem (one finding per module)
//   redis_modules_unchecked     warning  source  neither MODULE LIST nor INFO modules answered
//   redis_small_repl_backlog    warning  source  repl-backlog-size < 16 MiB: a dropped stream
//                                                 soon needs a full resync
//   redis_bgsave_failing        warning  source  the last BGSAVE failed and sync is disk-based,
//                                                 so a full resync (BGSAVE) would fail too
//   redis_target_is_replica     blocker  target  the target replicates from another server
//   redis_target_not_empty      blocker  target  the target holds keys
//   redis_cluster_mode          blocker  both    a Redis Cluster node holds only some slots
//   redis_eviction_policy       warning  both    maxmemory is set with an evicting policy: keys
//                                                 can vanish during the migration
//   redis_missing_permission    blocker  both    the ACL user may not run a command tandem needs
//                                                 (RequiredCommands(), redis_acl.h)
//   redis_permissions_unchecked warning  both    the user may run neither ACL DRYRUN nor ACL
//                                                 GETUSER, so its permissions are unknown
//   redis_config_unreadable     warning  both    CONFIG GET was refused; some facts are missing
// Comparisons across the two servers (versions, target maxmemory against source used_memory,
// databases) are the caller's, from the facts.
//
// Facts (JSON): product, version, version_number, redis_mode, role, [master_host, master_port,
// master_link_status], connected_replicas, tls_protocol, used_memory (bytes), maxmemory (bytes,
// 0 = unlimited), maxmemory_policy, persistence {rdb_save, aof_enabled, rdb_last_bgsave_status},
// repl_backlog_size, repl_diskless_sync, databases, keys (total), keyspaces [{database, keys,
// expires}], modules [{name, version}], user, permission_check ("acl dryrun", "acl getuser",
// "no acl", "unchecked"). Settings that could not be read are null.
//
// Thread safety: GatherServerState uses the connection it is given (owned by one thread); the rest
// are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_info.h"
#include "engine/assessment.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

// Below this the source's replication backlog is reported as small (warning).
inline constexpr int64_t kMinReplBacklogBytes = 16LL * 1024 * 1024;

enum class PermissionCheck {
  kNoAcl,      // Redis < 6.0: an authenticated client may run every command
  kDryRun,     // answered by ACL DRYRUN (Redis 7)
  kGetUser,    // evaluated from ACL GETUSER rules
  kUnchecked,  // the user may run neither
};

// What the assessment needs to know about one server.
struct ServerState {
  // INFO server
  std::string product = "Redis";
  std::string version;
  int version_number = 0;
  std::string redis_mode;  // "standalone", "cluster", "sentinel"
  // INFO cluster
  bool cluster_enabled = false;
  // INFO replication
  std::string role;  // "master" or "slave"
  std::string master_host;
  std::optional<int64_t> master_port;
  std::string master_link_status;  // "up" / "down", replicas only
  int64_t connected_replicas = 0;
  std::optional<int64_t> repl_backlog_size;
  // INFO memory
  int64_t used_memory = 0;
  int64_t maxmemory = 0;  // 0 = no limit
  std::string maxmemory_policy;
  // INFO persistence
  bool aof_enabled = false;
  std::string rdb_last_bgsave_status;  // "ok" / "err"
  // CONFIG GET; nullopt when CONFIG GET was refused
  std::optional<std::string> rdb_save;  // the `save` setting; "" = no RDB snapshots
  std::optional<bool> repl_diskless_sync;
  std::optional<int64_t> databases;
  std::string config_problem;  // the server's refusal of CONFIG GET, when refused
  // INFO keyspace
  std::vector<engine::KeyspaceInfo> keyspaces;
  // MODULE LIST, else INFO modules; nullopt when neither answered
  std::optional<std::vector<ModuleInfo>> modules;
  // The logged-in user and whether it may run RequiredCommands(role)
  std::string user;
  PermissionCheck permission_check = PermissionCheck::kUnchecked;
  std::string permission_problem;            // why kUnchecked
  std::vector<std::string> denied_commands;  // lower-case command names
  // The connection
  std::string tls_protocol;  // "" without TLS
};

// Asks the server behind `connection` everything ServerState holds.
// Errors: those of the connection (kConnectionFailed, kTimeout), kPermissionDenied when the user
// may not run INFO (nothing can be assessed then), kCorruption for unreadable replies.
engine::Result<ServerState> GatherServerState(Connection& connection, engine::Role role);

// Blockers, warnings and facts for `state` in `role`, as listed above.
engine::Assessment EvaluateServerState(const ServerState& state, engine::Role role);

// The facts JSON for `state`.
nlohmann::json ServerFacts(const ServerState& state);

}  // namespace tandem::connectors::redis
