// File: connectors/redis/redis_change_applier.h
//
// RedisChangeApplier: the engine::ChangeApplier of a Redis target (engine/change_stream.h). Redis
// commands are not idempotent (INCR, RPUSH), so exactness comes from the checkpoint: every target
// commit is one MULTI/EXEC holding the commands of the source transactions it covers and the SET
// of the checkpoint that covers them, so a command is applied exactly when its checkpoint is.
// (This is why a Redis sync runs one applier worker: with several, a restart from the watermark
// would replay a later transaction another worker already committed.)
//
//   Begin()          MULTI (queued locally; sent with the first command or at Commit)
//   Apply(commands)  SELECT <db> when the database changes, then the command as replicated
//   Commit(cp)       SELECT 0, SET _tandem:checkpoint:<cp.stream> <value>, EXEC; the selected
//                    database is restored by the next SELECT the applier sends
//   Rollback()       DISCARD
//   ApplyDdl()       kUnsupported: a Redis stream has no DDL
//
// Errors at Commit:
//   EXECABORT (a command refused while queued: unknown to the target, wrong arity, a disabled
//     command): nothing of the MULTI applied; kFailedPrecondition naming the command and the
//     target's reply.
//   An error reply inside EXEC's result (e.g. WRONGTYPE: the target's key differs from the
//     source's, which never propagates a failed command): Redis does not roll back the others, so
//     the checkpoint is committed with them; kFailedPrecondition "the target refused <command> on
//     <key> (<reply>): it has diverged from the source; run tandem verify ..." stops the sync
//     loudly instead of hiding it. A command refused while queued that does not abort the MULTI
//     (a nested MULTI or WATCH) is reported the same way: EXEC ran the others.
//   Queue-time refusals that are retryable (LOADING, BUSY) or permission errors (NOPERM) keep their
//   own StatusCode (redis_errors.h), so the pipeline reconnects or the user grants the command.
//
// tandem's own keys on the target live in database 0 under "_tandem:" (kTandemKeyPrefix):
// checkpoints, the sync state and lock (tools/redis_sync_backend.cc); `tandem verify` skips them.
//
// Thread safety: owned by one pipeline worker.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/redis/redis_command.h"
#include "engine/change_stream.h"
#include "engine/connection_config.h"

namespace tandem::connectors::redis {

class Connection;

inline constexpr std::string_view kTandemKeyPrefix = "_tandem:";

// "_tandem:checkpoint:<name>".
std::string CheckpointKey(std::string_view checkpoint_name);
// The SET that records `checkpoint` (run in database 0): its value is
// "<position>\n<transaction_sequence>\n<events_applied>".
Argv CheckpointWriteCommand(const engine::Checkpoint& checkpoint);
// The checkpoint `value` (a GET of CheckpointKey(name)) holds. Errors: kCorruption.
engine::Result<engine::Checkpoint> ParseCheckpointValue(std::string_view name,
                                                        std::string_view value);

class RedisChangeApplier final : public engine::ChangeApplier {
 public:
  // Opens its own connection to `target` (Connection::Open errors).
  static engine::Result<std::unique_ptr<RedisChangeApplier>> Open(
      const engine::ConnectionConfig& target);
  ~RedisChangeApplier() override;

  engine::Status Begin() override;
  // REQUIRES: every event is kCommand.
  engine::Status Apply(std::span<const engine::ChangeEvent> changes) override;
  engine::Status Commit(const engine::Checkpoint& checkpoint) override;
  engine::Status Rollback() override;
  engine::Status ApplyDdl(const engine::ChangeEvent& ddl,
                          const engine::Checkpoint& checkpoint) override;
  engine::Result<std::optional<engine::Checkpoint>> ReadCheckpoint(
      const std::string& stream) override;

 private:
  explicit RedisChangeApplier(std::unique_ptr<Connection> connection);
  // Sends `argv` inside the open MULTI and records it (with `key`, when not empty) for messages.
  engine::Status SendQueued(const Argv& argv, std::string_view key);
  // Queues SELECT `database` unless it is the database the transaction will be in.
  engine::Status SelectInTransaction(int database);
  // Forgets the open transaction (open_, queued_); the descriptions stay until the next Begin().
  void Close();
  // The description of the `index`th command sent after MULTI.
  std::string QueuedCommand(size_t index) const;

  std::unique_ptr<Connection> connection_;
  int selected_database_ = -1;  // -1: unknown (before the first SELECT, after a failed commit)
  bool open_ = false;
  size_t queued_ = 0;  // commands sent after MULTI whose QUEUED replies are outstanding
  // CommandName (and first key) of each command sent after MULTI, in order, to name the one
  // refused: queued_ends_[i] is where the i-th description ends in queued_text_.
  std::string queued_text_;
  std::vector<size_t> queued_ends_;
};

}  // namespace tandem::connectors::redis
