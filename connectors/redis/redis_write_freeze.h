// File: connectors/redis/redis_write_freeze.h
//
// The Redis implementation of engine::WriteFreeze (engine/write_freeze.h) over a Connection it
// borrows, and the pure helpers behind it (INFO fields in, positions and states out).
//
//   call             command                        notes
//   Freeze           CLIENT PAUSE <hold ms> WRITE   hold 1 s .. 1 h; calling again renews. The
//                                                   server keeps the later of two deadlines (and
//                                                   the stricter of WRITE / ALL), so a renewal
//                                                   never shortens a pause.
//   Thaw             CLIENT UNPAUSE                 ends every CLIENT PAUSE, whoever set it
//   State            INFO clients + INFO server     paused_reason / paused_actions /
//                                                   paused_timeout_milliseconds where the server
//                                                   reports them (Valkey 8+); Redis 7.0 reports no
//                                                   pause state, so State says what this object
//                                                   did and that the server's state is not visible
//   CurrentPosition  INFO replication               master_replid + master_repl_offset, the offset
//                                                   a replica (and tandem's change stream) has
//                                                   reached once it has read everything so far
//
// While paused for WRITE, ordinary clients' write commands (and EVAL, PUBLISH, ...) wait in the
// server and run when the pause ends; reads are served; keys neither expire nor get evicted.
// Replicas keep being fed: Redis 7.0 keeps sending its replicas a PING every
// repl-ping-replica-period (14 bytes of the replication stream each), so master_repl_offset still
// advances while paused whenever a replica (tandem's change stream included) is attached. Those
// PINGs change no data and the change stream consumes them like any other bytes, so a stream that
// has read through CurrentPosition() has every acknowledged write (see the .cc for the details).
//
// A Redis with no replica has no replication backlog: its master_repl_offset stays 0 and a first
// replica's arrival gives it a new master_replid; positions read before and after that do not
// compare (engine::Compare refuses different ids). During a cutover tandem's stream is attached.
//
// Permissions: an ACL user needs client|pause, client|unpause and info; a NOPERM reply becomes
// kPermissionDenied with "ACL SETUSER <user> +client|pause +client|unpause +info".
//
// Thread safety: owned by the thread that owns the Connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_info.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/write_freeze.h"

namespace tandem::connectors::redis {

// The hold a Freeze accepts.
inline constexpr std::chrono::milliseconds kMinFreezeHold{1'000};
inline constexpr std::chrono::milliseconds kMaxFreezeHold{3'600'000};

// OK when kMinFreezeHold <= hold <= kMaxFreezeHold; else kInvalidArgument saying the range.
engine::Status ValidateFreezeHold(std::chrono::milliseconds hold);

// The pause state a server reports in INFO clients (Valkey 8+: "paused_reason:client_pause",
// "paused_actions:write", "paused_timeout_milliseconds:8123").
struct ServerPauseState {
  std::string reason;   // "none", "client_pause", "shutdown_in_progress", "failover", ...
  std::string actions;  // "none", "write", "all"
  std::optional<int64_t> timeout_ms;  // time left, when reported
  // Whether ordinary clients cannot write: actions is neither empty nor "none".
  bool frozen() const { return !actions.empty() && actions != "none"; }
};

// The pause state in `info` (INFO clients), or nullopt when the server reports none (Redis 7.0:
// neither paused_reason nor paused_actions).
std::optional<ServerPauseState> ParsePauseState(const InfoFields& info);

// master_replid + master_repl_offset of INFO replication as a position of the change stream's
// kind (database 0). Errors: kCorruption naming `server` when either is missing or unreadable.
engine::Result<engine::ReplicationOffset> ParseReplicationPosition(const InfoFields& info,
                                                                   std::string_view server);

// The ACL statement that grants `user` (empty = "default") what the write freeze runs.
std::string WriteFreezeAclFix(std::string_view user);

class RedisWriteFreeze final : public engine::WriteFreeze {
 public:
  // `connection` must outlive this object.
  explicit RedisWriteFreeze(Connection* connection) : connection_(connection) {}

  // CLIENT PAUSE <hold> WRITE. Errors: kInvalidArgument (hold out of range), kPermissionDenied
  // (with WriteFreezeAclFix), connection errors.
  engine::Result<engine::FreezeReport> Freeze(const engine::FreezeOptions& options) override;
  // CLIENT UNPAUSE. Errors: as Freeze.
  engine::Status Thaw() override;
  // The server's pause state where it reports one; on Redis 7.0 whether this object's own pause
  // (renewals included) has not expired, and the detail says that the server state is not
  // visible. Errors: kPermissionDenied, connection errors.
  engine::Result<engine::WriteFreezeState> State() override;
  // INFO replication, see ParseReplicationPosition. Errors: kPermissionDenied, kCorruption,
  // connection errors.
  engine::Result<engine::Position> CurrentPosition() override;

 private:
  // Runs `argv`; a NOPERM refusal becomes kPermissionDenied with WriteFreezeAclFix.
  engine::Result<Reply> Run(const Argv& argv);

  Connection* const connection_;  // not owned
  // The end of the last pause this object set (the later one across renewals), measured from
  // before its CLIENT PAUSE was sent, so it is never later than the server's own deadline. Unset
  // before the first Freeze and after Thaw.
  std::optional<std::chrono::steady_clock::time_point> paused_until_;
  std::optional<std::chrono::system_clock::time_point> paused_until_wall_;  // same, for messages
};

}  // namespace tandem::connectors::redis
