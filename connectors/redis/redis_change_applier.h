// File: connectors/redis/redis_change_applier.h
//
// RedisChangeApplier: the engine::ChangeApplier of a Redis target (engine/change_stream.h). Redis
// commands are not idempotent (INCR, RPUSH), so a replayed command must never run twice. Every
// target commit is one MULTI/EXEC holding the commands of the source transactions it covers, the
// SET of its checkpoint and, with a `stream` given to Open, the record of which transactions it
// applied:
//
//   _tandem:applied:<stream>   sorted set of the transactions committed beyond the pipeline's
//                              watermark, each named by the replication offset after its first
//                              command (unique in the stream); entries at or below the watermark
//                              are trimmed in every commit (the watermark covers them).
//
// With several pipeline workers, a restart resumes from the greatest watermark and replays what
// follows it, some of which another worker had committed (engine/change_pipeline.h): an applier
// reads the set at its first Begin() and skips every replayed transaction named in it, so each
// source transaction is applied exactly once whatever the number of workers. (Without `stream`,
// e.g. in tests, nothing is recorded or skipped: exact with one worker only.)
//
//   Begin()          the set, once (SELECT 0, ZRANGE); MULTI (queued locally)
//   Apply(commands)  SELECT <db> when the database changes, then the command as replicated;
//                    a transaction named in the set is skipped whole
//   Commit(cp)       SELECT 0, SET _tandem:checkpoint:<cp.stream> <value>, ZADD of this commit's
//                    transactions, ZREMRANGEBYSCORE up to cp's offset, EXEC; the selected database
//                    is restored by the next SELECT the applier sends
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
#include <unordered_set>
#include <vector>

#include "connectors/redis/redis_command.h"
#include "engine/change_stream.h"
#include "engine/connection_config.h"

namespace tandem::connectors::redis {

class Connection;

inline constexpr std::string_view kTandemKeyPrefix = "_tandem:";

// "_tandem:checkpoint:<name>".
std::string CheckpointKey(std::string_view checkpoint_name);
// "_tandem:lock:<stream>": which run holds the stream (tools/redis_sync_backend.cc).
std::string StreamLockKey(std::string_view stream);
// Whether `key` of `database` is a tandem sync's own state (_tandem:checkpoint:, :lock:, :loading:,
// :applied: in database 0), which a sync never copies from its source: when the source is itself
// a tandem target, its state must not overwrite this sync's. Heartbeat keys are not state: they
// are carried, so `tandem lag` measures through the stream.
bool IsTandemBookkeepingKey(int database, std::string_view key);
// The SET that records `checkpoint` (run in database 0): its value is
// "<position>\n<transaction_sequence>\n<events_applied>".
Argv CheckpointWriteCommand(const engine::Checkpoint& checkpoint);
// The checkpoint `value` (a GET of CheckpointKey(name)) holds. Errors: kCorruption.
engine::Result<engine::Checkpoint> ParseCheckpointValue(std::string_view name,
                                                        std::string_view value);

class RedisChangeApplier final : public engine::ChangeApplier {
 public:
  // Opens its own connection to `target` (Connection::Open errors). `stream`: the sync's stream
  // name, naming the applied-transactions set (see above); "" = none. `lock_holder`: when not
  // empty, every commit also sets StreamLockKey(stream) to it, so a FLUSHALL, FLUSHDB or SWAPDB
  // replicated into database 0 never leaves the stream unlocked, even for one commit.
  static engine::Result<std::unique_ptr<RedisChangeApplier>> Open(
      const engine::ConnectionConfig& target, const std::string& stream = "",
      const std::string& lock_holder = "");
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

  // Exactly-once across workers (see above); applied_key_ "" = off.
  engine::Status LoadAppliedTransactions();
  std::string applied_key_;
  std::string lock_key_;  // "" = no lock to keep
  std::string lock_holder_;
  bool applied_loaded_ = false;
  std::unordered_set<int64_t> applied_;  // committed beyond the watermark before this run
  std::vector<int64_t> committing_;      // transactions of the open MULTI
  uint64_t current_sequence_ = 0;        // of the transaction Apply() is in
  bool current_skipped_ = false;
  bool in_transaction_ = false;  // current_sequence_ is set
  int64_t skipped_transactions_ = 0;

 public:
  // Replayed transactions skipped because another commit had applied them.
  int64_t skipped_transactions() const { return skipped_transactions_; }
};

}  // namespace tandem::connectors::redis
