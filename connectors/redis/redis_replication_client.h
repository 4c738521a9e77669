// File: connectors/redis/redis_replication_client.h
//
// ReplicationClient: tandem attached to a Redis primary as a replica, over tandem's Transport (TCP
// or TLS) on one connection:
//
//   1. login (AUTH user pass, as Connection does), PING;
//   2. REPLCONF listening-port <port> (0: tandem listens nowhere; the primary shows it in
//      INFO replication), REPLCONF capa eof capa psync2;
//   3. PSYNC <replid> <offset+1> to resume (or PSYNC ? -1 for a full resync). Replies:
//        +FULLRESYNC <replid> <offset>   a snapshot follows: `$<len>\r\n<len bytes>` (disk-based)
//                                        or `$EOF:<40 bytes>\r\n ... <the same 40 bytes>`
//                                        (diskless), possibly preceded by "\n" keepalives while
//                                        the primary prepares it;
//        +CONTINUE [<new replid>]        the backlog covers us: the command stream follows;
//        -NOMASTERLINK / -LOADING        retryable (kUnavailable);
//        -ERR ... (e.g. a replica-of-nothing refusal, "PSYNC not allowed") kFailedPrecondition.
//   4. the command stream: RESP arrays of bulk strings, each advancing the replication offset by
//      its exact byte length on the wire (PING, SELECT and REPLCONF GETACK included, as Redis
//      counts them); REPLCONF GETACK * is answered with REPLCONF ACK <acknowledged offset>.
//
// Offsets: Redis's replication offset counts the stream's bytes processed so far (numbering them
// from 1, it is the number of the last one). PSYNC asks for `offset + 1`, the first byte not yet
// processed, and the primary answers +CONTINUE when its backlog holds it. The client counts every
// byte it hands out; ReplicatedCommand::offset_after is the offset once that command is
// processed.
//
// Thread safety: owned by one thread (the stream's reader). Private members are the
// implementation's to change.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/redis/rdb/rdb_parser.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

class Transport;

// What PSYNC answered.
struct PsyncOutcome {
  bool full_resync = false;    // +FULLRESYNC: a snapshot follows (snapshot())
  std::string replication_id;  // the id offsets now count in (a +CONTINUE may switch it)
  int64_t offset = 0;          // the stream's offset before its first byte to come
  bool diskless = false;       // full resync: the snapshot came as a $EOF: transfer
};

// One command of the stream, as the primary propagated it.
struct ReplicatedCommand {
  std::vector<std::string> arguments;  // arguments[0] is the name, as sent (case preserved)
  int64_t offset_after = 0;            // the replication offset once it is processed
};

class ReplicationClient {
 public:
  struct Options {
    // Shown by the primary in INFO replication (slaveN: ...,port=<listening_port>); 0 hides it.
    int listening_port = 0;
    // How long the handshake and each reply may take, and how long the primary may prepare a
    // snapshot (it sends "\n" keepalives meanwhile; none for this long is a dead link).
    std::chrono::milliseconds reply_timeout{10'000};
    std::chrono::milliseconds snapshot_start_timeout{300'000};
    // Silence on the command stream longer than this (the primary PINGs every
    // repl-ping-replica-period, 10 s by default) is a dead link: kConnectionFailed.
    std::chrono::milliseconds stream_timeout{60'000};
  };

  // Connects and logs in with `config`'s user/password/TLS (the database number is ignored: the
  // stream covers every database). Errors as Connection::Open: kConnectionFailed,
  // kAuthenticationFailed, kInvalidArgument; kPermissionDenied when the user may not run PSYNC /
  // REPLCONF / SYNC ("grant +psync +replconf +ping, or use a user with +@admin ...").
  static engine::Result<std::unique_ptr<ReplicationClient>> Connect(
      const engine::ConnectionConfig& config, Options options);
  static engine::Result<std::unique_ptr<ReplicationClient>> Connect(
      const engine::ConnectionConfig& config) {
    return Connect(config, Options{});
  }

  ~ReplicationClient();
  ReplicationClient(const ReplicationClient&) = delete;
  ReplicationClient& operator=(const ReplicationClient&) = delete;

  // REPLCONF listening-port/capa, then PSYNC from `resume` (the offset last applied: asks for
  // resume.offset + 1) or, with nullopt, PSYNC ? -1. Errors: kUnavailable (the primary is loading
  // or has no link to its own primary: retry later), kFailedPrecondition (the server refuses
  // replicas or PSYNC: named with its reply and the fix), kPermissionDenied (the user may not run
  // REPLCONF / PSYNC: with the ACL fix), kConnectionFailed, kTimeout.
  // REQUIRES: called once, first.
  engine::Result<PsyncOutcome> Psync(const std::optional<engine::ReplicationOffset>& resume);

  // Psync's first half alone: REPLCONF listening-port/capa (their replies read), then PSYNC sent
  // without waiting for its reply. For a caller that only needs the primary to have taken the
  // request, e.g. to make a primary without a replication backlog create one (it does so as it
  // takes a PSYNC it cannot continue, before anything else: tools/redis_sync_backend.cc), and
  // then drops the client. Errors as Psync's, for the REPLCONFs. REQUIRES: called once, first;
  // nothing else is called afterwards.
  engine::Status SendPsync(const std::optional<engine::ReplicationOffset>& resume);

  // After a full resync: the snapshot's bytes, for RdbParser. It returns the transfer's bytes and
  // nothing after them: for a disk-based transfer exactly <len> bytes; for a diskless one
  // everything before the 40-byte end mark (detected while reading; the parser's EOF opcode and
  // checksum end before it). Reading past the end is kCorruption "the snapshot ended early".
  // REQUIRES: Psync() returned full_resync.
  RdbByteSource& snapshot();

  // After the snapshot has been parsed to its end: consumes what is left of the transfer (a
  // diskless transfer's end mark; checks nothing is left of a disk-based one) and switches to the
  // command stream. Errors: kCorruption when the transfer's remaining bytes are not the end mark /
  // when the parser stopped short of the announced length.
  engine::Status FinishSnapshot();

  // The next command, waiting at most `timeout`; nullopt when none came in time. GETACK requests
  // are answered here (with the offset last given to SetAcknowledged) and not returned; PING and
  // SELECT are returned like any command. Errors: kConnectionFailed (closed, or silent past
  // stream_timeout), kCorruption (not RESP arrays of bulk strings).
  // REQUIRES: after a +CONTINUE, or after FinishSnapshot().
  engine::Result<std::optional<ReplicatedCommand>> NextCommand(std::chrono::milliseconds timeout);

  // The offset to report to the primary: what the target has durably applied (never merely
  // received). NextCommand sends REPLCONF ACK <it> once a second and on GETACK, and
  // FinishSnapshot once (a diskless primary starts the command stream on the first ACK); before
  // the first call it sends 0, because the ACK is also the replica's keepalive (a primary drops a
  // replica that has not ACKed for repl-timeout, 60 s by default).
  void SetAcknowledged(int64_t offset);

  // The offset of the stream's next byte (after the last command returned).
  int64_t offset() const { return offset_; }
  const std::string& replication_id() const { return replication_id_; }
  // The primary as config.Redacted() names it (no password), for messages.
  const std::string& server() const { return server_; }

 private:
  class SnapshotSource;
  using Clock = std::chrono::steady_clock;
  enum class State { kHandshake, kSnapshot, kStream };

  ReplicationClient(engine::ConnectionConfig config, Options options,
                    std::unique_ptr<Transport> transport);

  // The status for a "-..." reply `line` to `command`: the refusal, with its fix.
  engine::Status Refusal(const std::string& command, std::string_view line) const;
  // AUTH (when the config has a user or password) and PING, pipelined, before `deadline`.
  engine::Status Login(Clock::time_point deadline);
  // Reads once from the transport into buffer_ (waiting until `deadline`), growing or compacting
  // it to leave room for at least kReadChunkBytes. Returns the bytes read.
  engine::Result<size_t> Fill(Clock::time_point deadline);
  // The next line ("\r\n" or "\n" ended, terminator stripped) from the buffer, reading as needed;
  // each read may wait until `silence` after the last byte received, and all of them together
  // until `deadline`. With `skip_keepalives`, empty lines (the primary's "\n" keepalives) are
  // skipped. `what` names the awaited reply in errors.
  engine::Result<std::string> ReadLine(const std::string& what, bool skip_keepalives,
                                       std::chrono::milliseconds silence,
                                       Clock::time_point deadline);
  // Writes the RESP encoding of `argv` before `deadline`.
  engine::Status Send(const std::vector<std::string>& argv, Clock::time_point deadline);
  // REPLCONF ACK <acknowledged offset, 0 before any>.
  engine::Status SendAck();
  // The next whole command in the buffer, consumed and counted; nullopt when it is incomplete.
  engine::Result<std::optional<ReplicatedCommand>> ParseCommand();
  // Turns a transport error during the handshake, snapshot or stream into one naming the server.
  engine::Status IoError(const engine::Status& status, const std::string& waiting_for) const;

  // Constant after construction.
  engine::ConnectionConfig config_;
  Options options_;
  std::unique_ptr<Transport> transport_;
  std::string server_;

  State state_ = State::kHandshake;
  bool psync_sent_ = false;
  std::unique_ptr<SnapshotSource> snapshot_;
  std::string replication_id_;
  int64_t offset_ = 0;
  int64_t acknowledged_ = -1;
  // Received bytes not yet consumed are buffer_[buffer_start_, buffer_end_); buffer_.size() is the
  // buffer's capacity (its tail is scratch space for the next read).
  std::string buffer_;
  size_t buffer_start_ = 0;
  size_t buffer_end_ = 0;
  std::vector<std::pair<size_t, size_t>> argument_spans_;  // ParseCommand's scratch space
  Clock::time_point last_ack_sent_{};
  Clock::time_point last_received_{};
};

}  // namespace tandem::connectors::redis
