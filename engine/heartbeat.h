// File: engine/heartbeat.h
//
// The ports a connector implements so lag/ can measure replication lag end to end, without
// knowing the engine:
//
//   HeartbeatWriter   on the source: keeps one heartbeat record per writer and overwrites it with
//                     an increasing sequence number, each write committed before Write returns.
//   HeartbeatReader   on the target: the newest sequence of that writer visible there now.
//   ReplicationProbe  the positional view: how far the target's applied position trails the
//                     source's log, in the engine's own units (bytes of WAL or binlog,
//                     transactions, replication-stream offsets).
//
// The heartbeat record (the same layout for every engine, so a sync across engines can carry it):
//   MySQL/MariaDB  table `_tandem`.`heartbeat`
//   PostgreSQL     table _tandem.heartbeat (schema _tandem of the URI's database)
//                    writer_id  BIGINT PRIMARY KEY   HeartbeatWriterId, random per process
//                    seq        BIGINT NOT NULL      the sequence number, 1, 2, 3, ...
//                    sent_ns    BIGINT NOT NULL      the writer's monotonic clock at the write
//                    (ns);
//                                                    only meaningful to the writing process
//                    written_at TIMESTAMP            the source server's clock, for people only
//   Redis          string key `_tandem:heartbeat:<writer_id>` = "<seq> <sent_ns>", in the URI's
//                  logical database, expiring an hour after its last write
// Nothing reads a server clock to compute lag: the writing process stamps each sequence with its
// own monotonic clock when it issues the write and the same process notes, with the same clock,
// when the sequence becomes visible on the target. Clock differences between hosts do not enter.
//
// Ownership and threading: every object returned by an opener owns its own connection(s) and
// belongs to one thread at a time (lag/ runs the writer, the reader and the probe on three
// threads). None is safe for concurrent use. Every call is bounded by the connection's timeouts.
//
// Errors: as engine/database.h. A missing privilege is kPermissionDenied whose message names the
// privilege and the statement that grants it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::engine {

// Identifies one measuring process, so several tandem processes may measure the same pair at once
// without reading each other's heartbeats. Positive; chosen at random per process
// (lag/writer_id.h).
using HeartbeatWriterId = int64_t;

// One heartbeat write.
struct Heartbeat {
  int64_t sequence = 0;  // > 0, strictly increasing per writer
  int64_t sent_ns = 0;   // the writer's monotonic clock when it issued the write
};

class HeartbeatWriter {
 public:
  virtual ~HeartbeatWriter() = default;
  HeartbeatWriter(const HeartbeatWriter&) = delete;
  HeartbeatWriter& operator=(const HeartbeatWriter&) = delete;

  // Creates the heartbeat table (and its database/schema) if missing, and removes records that no
  // writer has touched for an hour (processes that died without Remove()). Call once, before the
  // first Write. Errors: kPermissionDenied naming the privilege needed to create or write it.
  virtual Status Prepare() = 0;

  // Writes `beat` as this writer's record, committed (durably on the source, as the engine's
  // normal commit makes it; it does not wait for replicas) when this returns OK.
  virtual Status Write(const Heartbeat& beat) = 0;

  // Deletes this writer's record. Idempotent.
  virtual Status Remove() = 0;

  // "mysql://tandem@127.0.0.1:3306" style description of where the heartbeat goes, plus the table
  // or key: for reports. Never contains the password.
  virtual std::string Describe() const = 0;

 protected:
  HeartbeatWriter() = default;
};

class HeartbeatReader {
 public:
  virtual ~HeartbeatReader() = default;
  HeartbeatReader(const HeartbeatReader&) = delete;
  HeartbeatReader& operator=(const HeartbeatReader&) = delete;

  // Makes the target ready to receive the heartbeat where the engine's replication does not create
  // it by itself (a PostgreSQL logical subscriber needs the table; a read-only replica gets it from
  // the source and is left alone). Call once, before the first ReadSequence.
  virtual Status Prepare() = 0;

  // The sequence of this writer's record as the target shows it now, read in a fresh snapshot;
  // nullopt while the record (or its table) has not reached the target. This is what the observer
  // calls as often as a round trip allows: engines make it one primary-key lookup or one GET.
  virtual Result<std::optional<int64_t>> ReadSequence() = 0;

  // Where the heartbeat is read, for reports. Never contains the password.
  virtual std::string Describe() const = 0;

 protected:
  HeartbeatReader() = default;
};

// How far the target trails, in positions rather than time.
struct PositionalLag {
  struct Measure {
    std::string name;    // "replay", "flush", "sent", "executed", "read", "offset", ...
    int64_t behind = 0;  // how many `unit` the target is behind the source (>= 0)
    std::string unit;    // "bytes", "transactions"
  };
  std::string kind;             // "mariadb_gtid", "postgres_physical", "postgres_logical", "redis"
  std::string source_position;  // as the engine writes it: "0-1-1042", "0/3A0001F8", "123456"
  std::string target_position;
  std::vector<Measure> measures;
  // Facts that explain the figures, e.g. "replica SQL thread is not running". Empty when none.
  std::vector<std::string> notes;
};

class ReplicationProbe {
 public:
  virtual ~ReplicationProbe() = default;
  ReplicationProbe(const ReplicationProbe&) = delete;
  ReplicationProbe& operator=(const ReplicationProbe&) = delete;

  // Reads both sides' positions now. kFailedPrecondition when the target does not replicate
  // from the source by the engine's native replication (the message says what was found);
  // kUnsupported when the engine cannot tell.
  virtual Result<PositionalLag> Read() = 0;

 protected:
  ReplicationProbe() = default;
};

// Open the ports for parsed URIs. tools/ provides implementations that dispatch on the engine;
// lag/ and orchestration/ receive them, so they depend on no connector. A writer is opened with
// the source's engine and a reader with the target's, so heartbeats also work across engines
// (carried by tandem sync); a probe exists only where native replication links the two.
using HeartbeatWriterOpener = std::function<Result<std::unique_ptr<HeartbeatWriter>>(
    const ConnectionConfig& source, HeartbeatWriterId writer_id)>;
using HeartbeatReaderOpener = std::function<Result<std::unique_ptr<HeartbeatReader>>(
    const ConnectionConfig& target, HeartbeatWriterId writer_id)>;
using ReplicationProbeOpener = std::function<Result<std::unique_ptr<ReplicationProbe>>(
    const ConnectionConfig& source, const ConnectionConfig& target)>;

}  // namespace tandem::engine
