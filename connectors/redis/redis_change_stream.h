// File: connectors/redis/redis_change_stream.h
//
// RedisChangeStream: the engine::ChangeStream of a Redis source (engine/change_stream.h), over a
// ReplicationClient already positioned at the command stream (after +CONTINUE, or after a full
// resync's snapshot was loaded: redis_replication_client.h). Commands become events:
//
//   replicated                    events                                   position
//   MULTI ... EXEC                kBegin, kCommand per queued command,     redis:<id>:<offset
//                                 kCommit                                  after EXEC>
//   any other write command       kBegin, kCommand, kCommit                after the command
//   SELECT n                      none (the following commands' database;  -
//                                 positions after it carry ;db=n)
//   PING, and idle time           kHeartbeat (when no MULTI is open; on    after the last byte
//   after bytes without events    idle time only when the offset moved)
//   REPLCONF GETACK               answered by the client; nothing          -
//
// Every kCommand carries the selected database and its keys from the CommandKeyTable
// (command_keys_known false when the table cannot tell them). Offsets count every byte of the
// stream (engine::ReplicationOffset::offset: the byte after the last one processed).
// `source_commit_time_us` is 0: Redis does not log when a command ran.
//
// Acknowledge(durable): the durable offset (same replication id) is what REPLCONF ACK reports,
// once a second and on GETACK; it never reports a received-but-unapplied offset. Thread-safe
// against Next() (an atomic handed to the client on the reader thread).
//
// Thread safety: Next/position/HasReadThrough on the reader thread; Acknowledge from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "connectors/redis/redis_command_keys.h"
#include "connectors/redis/redis_replication_client.h"
#include "engine/change_stream.h"

namespace tandem::connectors::redis {

class RedisChangeStream final : public engine::ChangeStream {
 public:
  // `client` is at the command stream, its next byte at start.offset, with start.database
  // selected (a full resync starts at database 0: the primary sends SELECT before the first
  // command). REQUIRES: client->offset() == start.offset and the same replication id.
  RedisChangeStream(std::unique_ptr<ReplicationClient> client, engine::ReplicationOffset start,
                    CommandKeyTable keys);
  ~RedisChangeStream() override;

  // Errors: the client's (kConnectionFailed is retryable: the command reopens from the
  // checkpoint), kCorruption for a MULTI inside a MULTI or an EXEC without one.
  engine::Result<std::optional<engine::ChangeEvent>> Next(
      std::chrono::milliseconds timeout) override;
  engine::Position position() const override;
  void Acknowledge(const engine::Position& durable) override;
  // True once offset() >= end's offset, whatever its replication id (Redis's offsets go on across
  // id changes); kInvalidArgument when `end` is not a Redis position.
  engine::Result<bool> HasReadThrough(const engine::Position& end) const override;

 private:
  std::unique_ptr<ReplicationClient> client_;
  CommandKeyTable keys_;
  engine::ReplicationOffset position_;
  std::atomic<int64_t> acknowledged_{-1};
  std::deque<engine::ChangeEvent> pending_;  // decoded, not yet returned
  uint64_t transaction_sequence_ = 0;
  int database_ = 0;
  bool in_multi_ = false;
  bool returned_any_ = false;  // position() is std::monostate until the first event
};

}  // namespace tandem::connectors::redis
