// File: connectors/mysql/mysql_snapshot.h
//
// MySqlSnapshot: N connections to a MySQL/MariaDB source that all read the same consistent
// snapshot, and the binary log coordinates of that snapshot: the initial copy of `tandem sync`
// reads the tables through them in parallel, and the change stream starts from the coordinates,
// so rows copied + changes streamed after the coordinates = the source, exactly.
//
// How the snapshot is taken:
//
//   case                           steps
//   MariaDB, one connection        START TRANSACTION WITH CONSISTENT SNAPSHOT; MariaDB reports the
//                                  binary log position of that very snapshot (status variables
//                                  binlog_snapshot_file / binlog_snapshot_position) and
//                                  BINLOG_GTID_POS() turns it into a GTID position. No global lock.
//   N connections, or MySQL        on an extra connection FLUSH NO_WRITE_TO_BINLOG TABLES (no
//                                  lock: closes open tables so the next step has little to
//                                  flush), then FLUSH TABLES WITH READ LOCK (writes and
//                                  commits stop); on each of the N connections START TRANSACTION
//                                  WITH CONSISTENT SNAPSHOT; SHOW MASTER STATUS (SHOW BINARY LOG
//                                  STATUS on MySQL 8.2+) and @@gtid_binlog_pos (MariaDB) or
//                                  @@gtid_executed (MySQL); UNLOCK TABLES. The N connections are
//                                  opened before the lock, so it is held for N + 4 round trips
//                                  (global_lock_held() reports it). On MariaDB each connection's
//                                  binlog_snapshot_* is then checked against the coordinates.
//
// Measured (tests, MariaDB 10.11, 4 connections): about 2 ms on an idle source, about 10 ms under
// a steady writer.
//
// FLUSH TABLES WITH READ LOCK waits for running write statements (on MariaDB 10.5+ a long SELECT
// does not hold it up); lock_wait_timeout bounds that wait, so a long-running write on the source
// fails the snapshot with kTimeout instead of stalling every other writer behind the waiting lock.
//
// Every snapshot transaction is REPEATABLE READ, READ ONLY. Only transactional (InnoDB) tables are
// consistent in it; the copier refuses others.
//
// Privileges checked up front (SHOW GRANTS): RELOAD when the global lock is needed, REPLICATION
// CLIENT (MariaDB: BINLOG MONITOR) to read the coordinates; the source must have log_bin on.
//
// Thread safety: the MySqlSnapshot is created by one thread; afterwards each reader belongs to one
// thread (one per copy worker). Readers must not outlive the snapshot.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/key_range.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/verification.h"

namespace tandem::connectors::mysql {

struct MySqlSnapshotOptions {
  size_t connections = 4;                      // readers sharing the snapshot; at least 1
  std::chrono::seconds lock_wait_timeout{10};  // bound on FLUSH TABLES WITH READ LOCK's wait
  bool force_global_lock = false;  // take the lock even where MariaDB needs none (tests)
};

// One connection inside the snapshot transaction. Errors of its calls: as the same calls of
// MySqlDatabase (mysql_database.h), naming the snapshot.
class MySqlSnapshotReader {
 public:
  // REQUIRES: `connection` has started the snapshot transaction (MySqlSnapshot::Open does it).
  explicit MySqlSnapshotReader(std::unique_ptr<MySqlConnection> connection);
  ~MySqlSnapshotReader();
  MySqlSnapshotReader(const MySqlSnapshotReader&) = delete;
  MySqlSnapshotReader& operator=(const MySqlSnapshotReader&) = delete;

  // As engine::SqlDatabase::ReadRange, inside the snapshot: rows stream one at a time.
  engine::Status ReadRange(const engine::TableSchema& table, const engine::KeyRange& range,
                           const engine::RowSink& sink);
  // As engine::VerificationSupport::KeyAfter, inside the snapshot.
  engine::Result<std::optional<engine::Row>> KeyAfter(const engine::TableSchema& table,
                                                      const std::optional<engine::KeyBound>& after,
                                                      int64_t offset);

  // The connection inside the snapshot, for catalog reads that must see it (mysql_catalog.h).
  // Valid as long as the reader.
  MySqlConnection& connection() { return *connection_; }

 private:
  std::unique_ptr<MySqlConnection> connection_;
  std::unique_ptr<engine::VerificationSupport> verification_;  // over *connection_
};

class MySqlSnapshot {
 public:
  // Opens the connections and takes the snapshot (see the file comment).
  // Errors: those of MySqlConnection::Open; kPermissionDenied naming the missing privilege and the
  // GRANT that adds it; kFailedPrecondition when the source has no binary log; kTimeout when the
  // global read lock could not be had within lock_wait_timeout; kInternal when a connection's
  // snapshot does not match the coordinates.
  static engine::Result<std::unique_ptr<MySqlSnapshot>> Open(const engine::ConnectionConfig& source,
                                                             const MySqlSnapshotOptions& options);

  // Where the snapshot stands: a stream started here delivers exactly the changes the snapshot
  // does not contain.
  const engine::BinlogPosition& position() const { return position_; }
  // How long writes on the source were blocked by the global read lock (from issuing FLUSH TABLES
  // WITH READ LOCK to UNLOCK TABLES returning); zero when no lock was taken.
  std::chrono::microseconds global_lock_held() const { return global_lock_held_; }
  bool used_global_lock() const { return used_global_lock_; }

  size_t size() const { return readers_.size(); }
  // REQUIRES: index < size().
  MySqlSnapshotReader& reader(size_t index) { return *readers_[index]; }

 private:
  MySqlSnapshot() = default;

  // Constant after Open.
  engine::BinlogPosition position_;
  std::chrono::microseconds global_lock_held_{0};
  bool used_global_lock_ = false;
  std::vector<std::unique_ptr<MySqlSnapshotReader>> readers_;
};

}  // namespace tandem::connectors::mysql
