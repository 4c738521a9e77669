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
//   DigestRange          COUNT(*), SUM(CRC32(r) << 32 | CRC32C(r)) count(*),
//                        (MD5 halves where CRC32C is missing) sum(hashtextextended(ROW(..)::text))
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
#include <vector>

#include "engine/key_range.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::engine {

// A digest of a key range computed by the server (pushdown): the row count and an
// order-independent aggregate of per-row hashes of the server's text form of the row. Per-row
// hashes are summed exactly (never XORed, which cancels equal errors in pairs of rows), so a
// difference cancels only when the hash sums collide. Two ServerDigests are comparable only when
// the same engine computed them with the same `method`; equal values whose server text differs
// (1.5 vs 1.50 in columns of different scale) make digests differ, so a caller confirms a
// mismatch with a client-side digest before calling it a difference.
struct ServerDigest {
  int64_t rows = 0;
  std::string aggregate;  // decimal text of the sums, "s1" or "s1:s2"
  std::string method;     // "crc32+crc32c", "md5", "hashtextextended"

  friend bool operator==(const ServerDigest&, const ServerDigest&) = default;
};

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

  // The server-side digest of `columns` (indexes into table.columns, in this order) over the rows
  // of `range`. Each row's text joins the columns' exact text forms (floats widened so every
  // distinct value prints distinctly, string lengths included so values cannot shift between
  // columns, NULL flagged apart from empty).
  // Errors: as ReadRange; kInvalidArgument when `columns` is empty or names a column `table` does
  // not have (CheckColumnIndexes, engine/table_schema.h).
  virtual Result<ServerDigest> DigestRange(const TableSchema& table,
                                           const std::vector<int>& columns,
                                           const KeyRange& range) = 0;

 protected:
  VerificationSupport() = default;
};

}  // namespace tandem::engine
