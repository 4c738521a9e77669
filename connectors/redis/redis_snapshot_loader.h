// File: connectors/redis/redis_snapshot_loader.h
//
// RedisSnapshotLoader: the RdbVisitor (rdb/rdb_parser.h) that writes a full resync's snapshot into
// the target as it is parsed, over one pipelined Connection (a bounded number of commands in
// flight; replies checked as they arrive, so memory stays bounded and an error names its key):
//
//   snapshot item          kRestore (default)                     kCommands
//   SELECTDB n             SELECT n                               SELECT n
//   whole value            RESTORE key <expire ms|0> payload      a string (the parser hands
//                          REPLACE ABSTTL                         strings whole): SET key value,
//                                                                 decoded from the payload (int,
//                                                                 raw or LZF), then PEXPIREAT;
//                                                                 other types never (the parser
//                                                                 runs with max_value_bytes 0)
//   value in pieces        first: DEL key (not before a string's SET, which replaces it);
//                          RPUSH / SADD / ZADD / HSET / SET per piece;
//                          last: PEXPIREAT key <ms> when it expires
//   function library       FUNCTION LOAD REPLACE <code>
//   key already expired    skipped and counted (a replica would drop it too)
//   tandem's bookkeeping   skipped: _tandem:checkpoint:/lock:/loading:/applied: keys of database 0
//                          (IsTandemBookkeepingKey), another sync's state when the source is itself
//                          a tandem target; heartbeat keys are data and are loaded
//
// Replies are awaited in batches: when max_in_flight_commands or max_in_flight_bytes is reached,
// the loader reads replies down to half of each, so the next half goes out as one write. A SELECT
// waits for every earlier reply and its own, so no write lands in the wrong database.
//
// Expiry is always absolute (ABSTTL, PEXPIREAT), never a TTL computed at load time. kRestore needs
// a target whose RDB version is at least the snapshot's (RdbVersionOfRedis); the backend picks
// kCommands otherwise. Streams can only be RESTOREd: with kCommands a stream key is refused
// (kUnsupported naming it).
//
// Thread safety: owned by one thread; the stop flag may be set from any.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/redis/rdb/rdb_parser.h"
#include "connectors/redis/redis_command.h"
#include "connectors/redis/redis_reply.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

class Connection;

// The RDB version a Redis server of `redis_version` (INFO server's redis_version) writes and the
// newest it reads: 7.4+ -> 12, 7.2 -> 11, 7.0 -> 10, 5.0..6.2 -> 9, 4.0 -> 8, 3.2 -> 7,
// 2.6..3.0 -> 6; nullopt when it does not parse (or is older).
std::optional<int> RdbVersionOfRedis(std::string_view redis_version);

struct SnapshotLoaderOptions {
  enum class Mode { kRestore, kCommands };
  Mode mode = Mode::kRestore;
  // Replies outstanding before the loader waits for some (and bytes queued).
  size_t max_in_flight_commands = 1000;
  size_t max_in_flight_bytes = size_t{16} << 20;
  // Elements per RPUSH/SADD/ZADD/HSET of a piece (a piece may be split further).
  size_t command_elements = 1000;
  // Checked between values: set, the visitor returns kCancelled.
  const std::atomic<bool>* stop = nullptr;
};

struct SnapshotLoadSummary {
  int64_t keys = 0;             // keys written
  int64_t pieces = 0;           // values written in pieces
  int64_t expired_skipped = 0;  // already expired when loaded
  int64_t functions = 0;        // libraries loaded
  int64_t bytes = 0;            // payload and element bytes sent
};

class RedisSnapshotLoader final : public RdbVisitor {
 public:
  // `target` is logged in; its selected database may be any. Does not own it.
  // REQUIRES: no replies outstanding on `target`, and nothing else uses it while the loader does.
  RedisSnapshotLoader(Connection& target, SnapshotLoaderOptions options);

  // Errors: kFailedPrecondition naming the key (or database) and the target's reply: a database
  // number beyond the target's `databases`, RESTORE refused ("... the target cannot read this
  // snapshot's RDB version <v>"), a write refused (OOM: "raise maxmemory on the target"), ...;
  // kUnsupported for a stream with kCommands; the connection's errors; kCancelled on stop.
  engine::Status OnAux(std::string_view name, std::string_view value) override;
  engine::Status OnSelectDatabase(int database) override;
  engine::Status OnValue(const RdbKeyHeader& header, std::string_view payload) override;
  engine::Status OnValuePiece(const RdbKeyHeader& header, const RdbValuePiece& piece) override;
  engine::Status OnFunctionLibrary(std::string_view code) override;
  // Sends what is queued and waits for every reply.
  engine::Status OnEnd() override;

  const SnapshotLoadSummary& summary() const { return summary_; }
  // The database the source's command stream is in right after the snapshot: the RDB's
  // repl-stream-db AUX field (written by a replica source, whose stream does not start with a
  // SELECT as a primary's does), else 0.
  int stream_database() const { return stream_database_; }

 private:
  // What a command in flight does, for its error message.
  enum class What : uint8_t {
    kSelect,
    kRestore,
    kDelete,
    kSet,
    kRpush,
    kSadd,
    kZadd,
    kHset,
    kExpire,
    kFunction,
  };
  struct InFlight {
    What what;
    int database;
    std::string key;  // empty for SELECT and FUNCTION LOAD
    size_t bytes;     // counted in in_flight_bytes_
  };

  // Sends `argv` and records it; waits for replies when a bound is reached.
  engine::Status Send(const Argv& argv, What what, std::string_view key, size_t bytes);
  // Receives replies until at most `commands` and `bytes` are in flight; the first error reply
  // becomes the Status (the rest are read and dropped).
  engine::Status ReceiveDownTo(size_t commands, size_t bytes);
  engine::Status ReceiveOne();
  engine::Status CheckReply(const InFlight& entry, const Reply& reply) const;
  std::string Where(const InFlight& entry) const;
  // SELECT `database` unless it is selected; waits for every earlier reply and the SELECT's.
  engine::Status EnsureDatabase(int database);
  // PEXPIREAT when the key has an expiry.
  engine::Status SendExpiry(const RdbKeyHeader& header);
  engine::Status CheckStop() const;

  Connection& target_;
  SnapshotLoaderOptions options_;
  SnapshotLoadSummary summary_;
  int database_ = -1;
  int stream_database_ = 0;  // the target's selected database; -1 unknown
  // Commands sent whose replies are outstanding, oldest first (in step with the connection's).
  std::deque<InFlight> in_flight_;
  size_t in_flight_bytes_ = 0;
  Argv argv_;                  // reused for every command, so its strings keep their capacity
  bool skipping_key_ = false;  // the current key in pieces had expired at its first piece
  std::string source_redis_version_;  // AUX redis-ver, for messages
  int snapshot_rdb_version_ = 0;      // of the first payload, for messages
};

}  // namespace tandem::connectors::redis
