// File: connectors/mysql/mysql_change_stream.h
//
// MySqlChangeStream: engine::ChangeStream over a MySQL/MariaDB binlog, read as a replica
// (connectors/mysql/binlog/: transport, event decoder, row decoding).
//
// Up-front checks (OpenMySqlChangeStream), each failing with one line naming the setting and the
// fix: log_bin ON, binlog_format ROW, binlog_row_image FULL (kUnsupported); the REPLICATION SLAVE
// and REPLICATION CLIENT privileges (MariaDB 10.5+: REPLICATION REPLICA / BINLOG MONITOR)
// (kPermissionDenied); the start file still listed by SHOW BINARY LOGS and the offset inside it
// (kFailedPrecondition "binlogs purged past the checkpoint").
//
// Start position:
//   file set            dump from file:offset; GTIDs tracked from start.gtid_set (if any)
//   only gtid_set set   MariaDB: dump from the GTID state (@slave_connect_state)
//   neither             the server's current position (SHOW MASTER STATUS, @@gtid_binlog_pos)
//
// What comes out (engine/change_event.h):
//   binlog                                  events
//   GTID (not standalone) / BEGIN           kBegin, emitted lazily before the first selected row
//   WRITE/UPDATE/DELETE rows of a selected  kInsert / kUpdate / kDelete, one per row, full
//   table                                   images decoded against the catalog's schema
//   XID / COMMIT (/ ROLLBACK of a non-      kCommit, position after it (file, next offset, GTID
//   transactional change)                   set including this transaction)
//   DDL (CREATE/ALTER/DROP/RENAME/TRUNCATE) kDdl when its default schema or its text names a
//   in a selected schema                    selected schema; the table cache is flushed
//   HEARTBEAT, or an idle Next() after      kHeartbeat at the last safe position
//   skipped transactions
// Transactions that touch no selected table are skipped whole: nothing is emitted for them, but
// the stream's position moves past them, and the next kHeartbeat (sent when the server is idle,
// or when Next() would otherwise time out) carries that position so a checkpoint can advance.
// transaction_sequence counts emitted transactions and DDL statements: 1, 2, 3, ...
// source_commit_time_us is the event header's timestamp (whole seconds).
//
// Table schemas come from the catalog (mysql_catalog.h) on a second connection, cached per table
// and flushed after DDL. A table map whose columns disagree with the cached schema reloads it. If
// the source's current definition still cannot decode it (the rows were logged before a change to
// the table: a stream resumed from before a DDL it has not applied yet), the fallback schema
// source is tried (options.schema_fallback: for `tandem sync`, the target, which still has the
// shape the rows were logged with until the stream applies that DDL), and its definition serves
// that table until the next DDL. If none fits, the stream fails with kFailedPrecondition naming
// the table and column, before any row of the wrong shape is emitted.
//
// Thread safety: a stream belongs to one thread (its transport reads on a thread of its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mysql/binlog/binlog_transport.h"
#include "engine/change_stream.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::mysql {

struct MySqlChangeStreamOptions {
  // Tables whose row changes are streamed, and schemas all of whose tables (also those created
  // later) are streamed; both empty = every table outside the system schemas.
  std::vector<engine::TableId> tables;
  std::vector<std::string> schemas;
  // The replica server id the dump announces; 0 = 1,000,000,000 + this process id (must differ
  // from the source's and its real replicas' ids).
  uint32_t server_id = 0;
  // How often an idle source sends a heartbeat.
  std::chrono::milliseconds heartbeat{1000};
  // Read-ahead bound of the transport (64 MiB).
  size_t max_queued_bytes = 64u << 20;
  // Where table definitions come from when the source's current one cannot decode logged rows
  // (see above); usually the target. Unset: no fallback.
  std::optional<engine::ConnectionConfig> schema_fallback;
};

// Where the stream gets a table's current schema from.
class TableSchemaSource {
 public:
  virtual ~TableSchemaSource() = default;
  // Errors: kNotFound when the table does not exist; connection errors.
  virtual engine::Result<engine::TableSchema> Describe(const engine::TableId& table) = 0;
};

// The up-front checks alone (binlog settings and replication privileges, see above), on a
// connection of its own: `tandem sync` runs them before its initial copy so that a source it could
// never stream from is refused before anything is written. Errors: as OpenMySqlChangeStream.
engine::Status CheckBinlogSource(const engine::ConnectionConfig& config);

// The end of the source's binlog now (SHOW MASTER STATUS, with the GTID position): what
// `tandem sync --until-caught-up` catches up to (PipelineOptions::stop_at). The stream's
// HasReadThrough(end) holds once it has read every event up to there. Errors: connection errors;
// kUnsupported when binary logging is off.
engine::Result<engine::BinlogPosition> ReadBinlogEnd(const engine::ConnectionConfig& config);

// Checks the source, connects as a replica and starts streaming from `start`.
// REQUIRES: config.engine == kMySql. Errors: see the checks above; connection errors as
// MySqlConnection::Open.
engine::Result<std::unique_ptr<engine::ChangeStream>> OpenMySqlChangeStream(
    const engine::ConnectionConfig& config, const engine::BinlogPosition& start,
    const MySqlChangeStreamOptions& options);

// The stream over any transport and schema sources, without the server checks (tests, other
// transports). `start` seeds the file name, offset and GTID set until the dump's first ROTATE.
// `fallback_schemas` (may be null) plays the role of options.schema_fallback, which is ignored.
// Errors: kInvalidArgument when start.gtid_set does not parse.
engine::Result<std::unique_ptr<engine::ChangeStream>> NewBinlogChangeStream(
    std::unique_ptr<binlog::BinlogTransport> transport, std::unique_ptr<TableSchemaSource> schemas,
    const engine::BinlogPosition& start, const MySqlChangeStreamOptions& options,
    std::unique_ptr<TableSchemaSource> fallback_schemas = nullptr);

}  // namespace tandem::connectors::mysql
