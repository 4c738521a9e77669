// File: engine/verification.h
//
// VerificationSupport: what `tandem verify` (checksum/) needs from a SQL server beyond reading key
// ranges, implemented by the MySQL and PostgreSQL connectors over the connection of the
// SqlDatabase that hands it out (SqlDatabase::verification()).
//
//   call                 MariaDB / MySQL                          PostgreSQL
//   KeyAfter             SELECT key ... LIMIT 1 OFFSET n          same, over the key's btree
//   CurrentPosition      @@gtid_binlog_pos (GTID set)             pg_current_wal_lsn(), or
//                                                                 pg_last_wal_replay_lsn() on a
//                                                                 standby
//   WaitForPosition      MASTER_GTID_WAIT(pos, timeout)           poll pg_last_wal_replay_lsn()
//                                                                 >= pos until the timeout
//   ReplicaLagMillis     SHOW SLAVE STATUS Seconds_Behind_Master  now() -
//                        (nullopt when not a replica)             pg_last_xact_replay_timestamp()
//                                                                 (nullopt when not a standby)
//   ThreadsRunning       Threads_running status variable          active backends in
//                                                                 pg_stat_activity
//
// Positions are opaque text that only the engine that produced them compares: a MariaDB GTID set
// ("0-1-42,1-2-7") or a PostgreSQL LSN ("0/16B3748"). They are meaningful across a source and its
// native replica (same engine), not across engines.
//
// Thread safety: belongs to the thread that owns the SqlDatabase it came from.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/key_range.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::engine {

class VerificationSupport {
 public:
  virtual ~VerificationSupport() = default;
  VerificationSupport(const VerificationSupport&) = delete;
  VerificationSupport& operator=(const VerificationSupport&) = delete;

  // The identifying key (one Value per key column, in key order) of the row that comes `offset`
  // rows (0-based) after `after` in key order, or from the first row when `after` is nullopt;
  // nullopt when there are not that many rows. The server walks the key's index; no row data is
  // sent except the one key. REQUIRES: table.IdentifyingKey() != nullptr, offset >= 0.
  // Errors: as ReadRange.
  virtual Result<std::optional<Row>> KeyAfter(const TableSchema& table,
                                              const std::optional<KeyBound>& after,
                                              int64_t offset) = 0;

  // This server's current replication position: what a replica must have applied to hold every
  // change committed here so far. Errors: kFailedPrecondition when the server keeps none (MariaDB
  // without a binary log).
  virtual Result<std::string> CurrentPosition() = 0;

  // Waits until this server (a replica) has applied every change up to `position` of its source,
  // at most `timeout`. Returns true when it has, false when the timeout passed first.
  // Errors: kInvalidArgument when `position` does not parse; connection errors.
  virtual Result<bool> WaitForPosition(const std::string& position,
                                       std::chrono::milliseconds timeout) = 0;

  // How far this server trails its source, in milliseconds; nullopt when it is not a replica (or
  // a standby). A replica whose replication is stopped reports an error (kFailedPrecondition),
  // since its lag is unbounded.
  virtual Result<std::optional<int64_t>> ReplicaLagMillis() = 0;

  // Statements executing on the server right now (this one included): the load signal verify
  // backs off on.
  virtual Result<int64_t> ThreadsRunning() = 0;

 protected:
  VerificationSupport() = default;
};

}  // namespace tandem::engine
