// File: connectors/postgres/postgres_logical_source.h
//
// The source side of `tandem sync` PostgreSQL -> PostgreSQL over logical replication (pgoutput):
// the checks that refuse a source before anything is written, the publication and the replication
// slot a stream named `stream` (the sync's --stream) reads through, and the source's WAL end.
//
// Names. A stream owns one publication and one logical slot, both named
//
//   "tandem_" + the stream name lower-cased, every character outside [a-z0-9_] replaced by '_'
//             + "_" + 8 hex digits of a stable hash (FNV-1a) of the stream name, added when a
//               character was replaced or lower-cased, or the name had to be cut to fit
//
// at most 63 bytes (NAMEDATALEN - 1), so that distinct stream names give distinct objects and
// slot names (which allow only [a-z0-9_]) are always valid: "orders" -> "tandem_orders",
// "Orders-EU" -> "tandem_orders_eu_1a2b3c4d".
//
// What `tandem sync` does with them, in order:
//   1. CheckLogicalSource   every refusal, read-only (see its comment)
//   2. EnsurePublication    CREATE PUBLICATION / ALTER PUBLICATION ... ADD TABLE
//   3. CreateSlotWithExportedSnapshot (when ReadReplicationSlot finds no slot): the initial copy
//      reads through the exported snapshot, so copy + stream miss and repeat nothing
//   4. streaming from the slot; ReadWalFlushEnd is what --until-caught-up waits for
//   DropReplicationSlot / DropPublication undo 2 and 3 (a stream being removed, tests).
//
// Every function opens its own connection(s) from `source` and closes them before returning,
// except ExportedSnapshotSlot, which keeps its walsender connection. Messages are one line, name
// the object and the fix, and name the server by ConnectionConfig::Redacted() (never the
// password).
//
// Thread safety: the free functions are safe for concurrent use (nothing shared). An
// ExportedSnapshotSlot is owned by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/postgres/postgres_replication_connection.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::postgres {

// The longest name PostgreSQL keeps (NAMEDATALEN - 1 bytes).
inline constexpr size_t kMaxPostgresNameBytes = 63;

// The slot / publication of `stream`: see the header comment. Both are pure functions of the
// stream name, stable across versions and machines, and valid unquoted identifiers.
std::string ReplicationSlotName(std::string_view stream);
std::string PublicationName(std::string_view stream);

// Everything that can refuse a run, checked read-only on one connection before anything is
// written. The first problem found is returned (in the order below), as one line naming what is
// wrong and the fix:
//   kUnsupported        wal_level is not logical; max_replication_slots or max_wal_senders is 0;
//                       a table that is not an ordinary table (partitioned, view, ...); a table
//                       with no primary key (nor a NOT NULL unique key): updates and deletes could
//                       not be streamed or applied idempotently (REPLICA IDENTITY FULL alone does
//                       not give tandem a key); REPLICA IDENTITY NOTHING, DEFAULT without a
//                       primary key, or USING INDEX on an index whose columns differ from the key
//                       tandem applies by
//   kPermissionDenied   the role is neither superuser nor REPLICATION; it lacks SELECT on a table;
//                       it could not create the publication (no CREATE on the database) or add a
//                       table to it (does not own the table or the publication)
//   kNotFound           a table does not exist
//   kFailedPrecondition the slot exists but is active (names the holder's PID, application_name
//                       and client address), is physical, uses another plugin than pgoutput,
//                       belongs to another database, or has lost the WAL it needs
//   kUnavailable        the slot must be created but every replication slot is taken
//                       (max_replication_slots), or every WAL sender is busy (max_wal_senders)
// plus connection errors (PostgresConnection::Connect, postgres_errors.h).
// REQUIRES: source.engine == kPostgres.
engine::Status CheckLogicalSource(const engine::ConnectionConfig& source,
                                  const std::vector<engine::TableId>& tables,
                                  std::string_view stream);

// Makes PublicationName(stream) publish `tables` (quoted): creates it FOR TABLE them when missing,
// else adds the tables it lacks (ALTER PUBLICATION ... ADD TABLE) and turns on any of insert,
// update, delete and truncate it does not publish. A publication FOR ALL TABLES already covers
// every table. Idempotent.
// Errors: kInvalidArgument when `tables` is empty; kPermissionDenied with the fix (the role must
// own the tables, and the publication, and have CREATE on the database); kNotFound for a missing
// table; connection errors.
engine::Status EnsurePublication(const engine::ConnectionConfig& source, std::string_view stream,
                                 const std::vector<engine::TableId>& tables);

// A replication slot as pg_replication_slots shows it.
struct ReplicationSlotInfo {
  std::string name;
  std::string slot_type;        // "logical" / "physical"
  std::string plugin;           // "pgoutput"; "" for a physical slot
  std::string database;         // "" for a physical slot
  engine::Lsn confirmed_flush;  // what the consumer confirmed; 0/0 for a physical slot
  engine::Lsn restart_lsn;      // the oldest WAL the slot retains; 0/0 once lost
  bool active = false;          // a walsender is streaming from it
  int active_pid = 0;           // that walsender's PID; 0 when inactive
  // pg_current_wal_lsn() - restart_lsn: how much WAL the slot holds back; 0 when unknown.
  int64_t retained_bytes = 0;
  // "reserved", "extended", "unreserved" or "lost" (the WAL it needs is gone: drop and resync).
  std::string wal_status;
};

// The slot of `stream` (ReplicationSlotName), or nullopt when there is none.
// Errors: connection errors.
engine::Result<std::optional<ReplicationSlotInfo>> ReadReplicationSlot(
    const engine::ConnectionConfig& source, std::string_view stream);

// Moves the idle slot of `stream` (ReplicationSlotName) up towards `target` with
// pg_replication_slot_advance, so it no longer keeps the WAL before it: in steps of at most 64 MiB
// of WAL, each kept once done, until the slot is there or `budget` has passed; never past the
// WAL the source has flushed, never backwards. Each statement runs under statement_timeout =
// `budget`, so none outlives the call. A slot a walsender is using is left as it is (its
// consumer moves it). Returns the slot's confirmed position afterwards.
// REQUIRES: nothing the target has not committed lies before `target` (tandem sync moves the slot
// only after committing the checkpoint it hands over). Errors: kNotFound when there is no slot;
// connection and statement errors (kTimeout when one step took the whole budget).
engine::Result<engine::Lsn> AdvanceIdleSlot(const engine::ConnectionConfig& source,
                                            std::string_view stream, engine::Lsn target,
                                            std::chrono::milliseconds budget);

// A logical slot just created with an exported snapshot: the snapshot sees exactly the data the
// slot's stream starts after, so a copy made in it plus the stream from consistent_point() misses
// and repeats nothing. It owns the walsender connection that created the slot and keeps it open
// and idle: the snapshot can be imported (SET TRANSACTION SNAPSHOT) only while that connection
// runs no other command. Destroying it closes the connection, which releases the snapshot; the
// slot stays.
// Thread safety: owned by one thread at a time.
class ExportedSnapshotSlot {
 public:
  ExportedSnapshotSlot(std::unique_ptr<PostgresReplicationConnection> connection,
                       std::string slot_name, std::string snapshot_name,
                       engine::Lsn consistent_point);
  ~ExportedSnapshotSlot();
  ExportedSnapshotSlot(const ExportedSnapshotSlot&) = delete;
  ExportedSnapshotSlot& operator=(const ExportedSnapshotSlot&) = delete;

  const std::string& slot_name() const { return slot_name_; }
  // For `SET TRANSACTION SNAPSHOT '<name>'` in a REPEATABLE READ (or SERIALIZABLE) transaction
  // on the same database, opened while this object lives.
  const std::string& snapshot_name() const { return snapshot_name_; }
  // The LSN the slot's stream starts at (the slot's confirmed_flush_lsn).
  engine::Lsn consistent_point() const { return consistent_point_; }

 private:
  // Constant after construction.
  const std::string slot_name_;
  const std::string snapshot_name_;
  const engine::Lsn consistent_point_;
  // Idle for this object's whole life (see above); closed by the destructor.
  std::unique_ptr<PostgresReplicationConnection> connection_;
};

// Creates ReplicationSlotName(stream) with pgoutput and an exported snapshot:
// `CREATE_REPLICATION_SLOT "<slot>" LOGICAL pgoutput (SNAPSHOT 'export')` (before PostgreSQL 15:
// `... LOGICAL pgoutput EXPORT_SNAPSHOT`). The server waits for the transactions running at that
// moment to end before it answers (bounded by the source's read_timeout).
// Errors: kFailedPrecondition when the slot already exists (resume from it, or drop it);
// kPermissionDenied without REPLICATION; kUnavailable when no slot or WAL sender is free;
// kTimeout; connection errors.
engine::Result<std::unique_ptr<ExportedSnapshotSlot>> CreateSlotWithExportedSnapshot(
    const engine::ConnectionConfig& source, std::string_view stream);

// Drops the slot of `stream` (pg_drop_replication_slot); OK when there is none.
// Errors: kFailedPrecondition when it is active (names the PID); kPermissionDenied without
// REPLICATION; connection errors.
engine::Status DropReplicationSlot(const engine::ConnectionConfig& source, std::string_view stream);

// Drops the publication of `stream` (DROP PUBLICATION IF EXISTS); OK when there is none.
// Errors: kPermissionDenied when the role does not own it; connection errors.
engine::Status DropPublication(const engine::ConnectionConfig& source, std::string_view stream);

// pg_current_wal_flush_lsn() after FlushWal (postgres_wal_flush.h) on the source: the end of the
// WAL the source has flushed, at or past every commit acknowledged before the call (also under
// synchronous_commit = off), which is what `tandem sync --until-caught-up` catches up to.
// Errors: kFailedPrecondition on a standby (it has no WAL of its own to report); kTimeout when
// the flush does not come (FlushWal); connection errors.
engine::Result<engine::Lsn> ReadWalFlushEnd(const engine::ConnectionConfig& source);

}  // namespace tandem::connectors::postgres
