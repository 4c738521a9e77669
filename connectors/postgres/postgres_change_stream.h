// File: connectors/postgres/postgres_change_stream.h
//
// PostgresChangeStream: engine::ChangeStream over PostgreSQL logical replication with the built-in
// pgoutput plugin (protocol version 1), read from an existing logical replication slot through a
// walsender connection (postgres_replication_connection.h) and decoded by pgoutput/.
//
// Opening (OpenPostgresChangeStream): a replication connection, a second, normal SQL connection to
// the source for catalog reads, then START_REPLICATION SLOT "<slot>" LOGICAL <start>
// (proto_version '1', publication_names '"<publication>"'). The publication selects the tables.
// Protocol 1 sends a transaction only once it has committed (the server spills big ones to disk),
// so nothing of an aborted transaction is ever seen; the pipeline streams big transactions to the
// target in pieces.
//
// What comes out (engine/change_event.h):
//   pgoutput                          events
//   Begin                             nothing yet: kBegin is emitted before the transaction's first
//                                     row (so an empty transaction yields only a kHeartbeat)
//   Insert / Update / Delete          kInsert / kUpdate / kDelete (position: the change's LSN)
//   Commit                            kCommit, position Lsn{end_lsn}; source_commit_time_us =
//                                     commit time (µs, Unix epoch) on every event of the
//                                     transaction. A transaction with no row left (only a
//                                     Truncate) ends with a kHeartbeat at Lsn{end_lsn} instead
//   Truncate                          see "Truncate" below: kCommit (when rows came before), kDdl
//   Relation                          cached by OID (see "Tables"); nothing emitted
//   Origin, Type, Message             consumed, nothing emitted
//   keepalive (no transaction open)   kHeartbeat at Lsn{wal_end} when that is past the last safe
//                                     position; a reply at once when the server asks for one
// transaction_sequence counts emitted transactions and DDL statements: 1, 2, 3, ... (a kHeartbeat
// carries the last one). position() is the last returned event's position (the start before the
// first).
//
// Row images: every column of the table in the Relation message's order. Tuple values: 't' text
// decoded with DecodePostgresText(column type OID, modifier) (types the decoder does not know, such
// as enums and domains, decode to kOther text, which round-trips); 'n' NULL; 'b' binary is
// kCorruption (tandem never asks for binary). 'u' (a TOASTed value the update left unchanged, not
// sent) in a new tuple becomes a NULL placeholder whose index is listed in unchanged_columns; in a
// key column it is kUnsupported.
//   Update, old key 'K'        before = key-only image (other columns NULL), before_key_only
//   Update, old tuple 'O'      before = the full old row (REPLICA IDENTITY FULL)
//   Update, no old tuple       before = the after image's key columns only, before_key_only
//   Delete 'K' / 'O'           key-only before with before_key_only / the full old row
//
// Truncate. The pipeline applies DDL only between transactions, but PostgreSQL logs TRUNCATE
// inside one. So, if the transaction already emitted rows, the stream closes that part with a
// kCommit at the LAST SAFE position (the previous kCommit / kDdl / kHeartbeat position, or the
// start; never this transaction's, which would skip the rest of it on resume), then emits a kDdl
// `TRUNCATE ONLY "s"."t", ... [RESTART IDENTITY]` (quoted; never CASCADE on the target; `table` set
// when it names one relation) at that same position; rows after it open a new kBegin. A crash
// anywhere in between resumes from the last safe position and replays the whole source transaction,
// which converges because applying rows and TRUNCATE again is idempotent.
//
// Tables. A Relation message's schema: its columns in order with names, kinds from
// PostgresValueKind(type OID, modifier), declared type / NOT NULL / collation from the source
// catalog (DescribePostgresTable) matched by name, and the catalog's keys and foreign keys
// remapped to the relation's column order by name. Events of one relation version share one
// std::shared_ptr<const TableSchema>. kUnsupported, naming the table and the fix, for a table with
// no identifying key (primary key or NOT NULL unique key), REPLICA IDENTITY NOTHING, or a replica
// identity whose columns are not the identifying key's (USING INDEX on another index, DEFAULT
// without a primary key).
//
// Schema changes. When a Relation message changes a table's column list, or (options.target set)
// its column names differ from the target table's (read once per relation version), the stream
// fails with kFailedPrecondition naming the table, the columns added / dropped and the fix (change
// the target table the same way and run tandem sync again: it resumes from its checkpoint), before
// any row of the new shape is emitted. When the target already has the new shape it goes on.
//
// Acknowledgement. Standby status updates go out every options.status_interval and whenever the
// server asks: written = the last LSN received, flushed = applied = the last position passed to
// Acknowledge() (at first the start position, itself a durable checkpoint): the slot's
// confirmed_flush_lsn never passes what the target has committed. An idle stream (nothing
// received for 200 ms) asks the server for a keepalive, whose end of WAL becomes a kHeartbeat:
// that is how an idle stream learns it has read through a position (HasReadThrough, for
// --until-caught-up) and how its heartbeat checkpoints let the slot release WAL.
//
// Errors: a missing slot or publication, or a slot in use by another process:
// kFailedPrecondition naming it and the fix; a lost connection or an ended stream:
// kConnectionFailed (retryable: reopen from the checkpoint); a message that does not decode:
// kCorruption naming the LSN; the table problems above.
//
// Thread safety: Next(), position() and HasReadThrough() belong to the reader thread;
// Acknowledge() may be called from any thread, concurrently with them (it stores an atomic).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/change_stream.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::postgres {

struct PostgresChangeStreamOptions {
  // The logical replication slot (plugin pgoutput) to stream from; it must exist.
  std::string slot;
  // The publication that selects the tables (publication_names); it must exist.
  std::string publication;
  // Informational: the tables the publication is expected to hold (the publication selects).
  std::vector<engine::TableId> tables;
  // How often a standby status update reports progress (wal_sender_timeout must be longer).
  std::chrono::milliseconds status_interval{1000};
  // The target, to compare a changed table's columns against (see "Schema changes"). Unset: any
  // change of a table's column list fails.
  std::optional<engine::ConnectionConfig> target;
};

// Opens the connections and starts streaming from `start` (Lsn{0} = the slot's confirmed flush
// position). REQUIRES: source.engine is PostgreSQL; options.slot and options.publication are set.
// Errors: kInvalidArgument (options), connection errors as PostgresReplicationConnection::Connect
// (kPermissionDenied when the role lacks REPLICATION), kFailedPrecondition for a missing or busy
// slot, kConnectionFailed.
engine::Result<std::unique_ptr<engine::ChangeStream>> OpenPostgresChangeStream(
    const engine::ConnectionConfig& source, engine::Lsn start,
    const PostgresChangeStreamOptions& options);

}  // namespace tandem::connectors::postgres
