// File: connectors/postgres/postgres_snapshot_copy.h
//
// The initial copy of `tandem sync` PostgreSQL -> PostgreSQL: the selected tables are read from
// the snapshot a logical replication slot exported when it was created (or, on a restart, from a
// fresh snapshot), in key-range chunks, by parallel workers, each piping `COPY (SELECT ...) TO
// STDOUT` on the source into `COPY ... FROM STDIN` on the target. When the last chunk is in, the
// stream's checkpoint "<stream>" is committed at the slot's consistent point, so logical
// replication starts exactly where the copy's snapshot stands.
//
// Target tables are not created: as for a native subscription, the schema must exist on the
// target (CheckPostgresTargetTables says what is missing). Column lists are explicit, so column
// order may differ; generated columns are left out (the target computes them).
//
// Progress lives in the target, in schema `_tandem`, committed with the rows it describes:
//
//   table                 columns                                          meaning
//   _tandem.copy          stream text PK, position text, started_at        a copy in progress and
//                         timestamptz                                      the LSN its stream will
//                                                                          start from
//   _tandem.copy_chunk    (stream, table_schema, table_name, chunk int)    the planned chunks and
//                         PK, lower_key text, upper_key text,              whether each is in
//                         rows_copied bigint, done boolean                 (bounds: NULL = open)
//
// A bound is the identifying key's values in PostgreSQL text form, each as `<length>:<text>`,
// concatenated in key order ("2:ab3:xyz"); a chunk holds the keys k with lower < k <= upper
// (row-value comparison for composite keys, served by the key's btree index).
//
// Each chunk is one target transaction: DELETE the chunk's key range (so rows left by an earlier,
// interrupted or foreign run cannot survive), COPY the range in, mark the chunk done, COMMIT. A
// kill -9 therefore leaves every chunk either wholly in and marked, or not marked (and its range
// is replaced on the next run).
//
// Chunk planning (once per table, in one target transaction, inside the copy's snapshot): a
// single integer key is split arithmetically over [min, max] into about reltuples / chunk_rows
// ranges; any other key is split at boundaries sampled with TABLESAMPLE SYSTEM, or is one chunk
// when the table holds at most chunk_rows rows.
//
// Why a restart converges: the first run records the slot's consistent point P in `_tandem.copy`.
// A restart copies the chunks not done from a fresh snapshot S2, taken later than P, while the
// slot still streams from P (it cannot move before its checkpoint is committed, which happens only
// when the copy completes). Every change after P is replayed over the target. A chunk copied at S2
// already holds the changes P..S2; replaying them again converges because logical replication
// changes are applied idempotently by key (an insert of a present row becomes an upsert to its
// post-change image, an update with every column logged writes the new image, a delete of an
// absent row is a no-op), and the replay ends with each row's last change, i.e. its final state.
// Updates that leave TOAST values unlogged carry no full new row: they are applied as UPDATEs of
// the logged columns, after deleting the "future" rows that would clash with them (a row at the
// old key while the new key is present, a row holding a further unique key's new value under
// another key: postgres_change_applier.h), which their own later changes write back. A row such an
// update finds absent stays absent until a later change with a full image writes it. Chunks
// finished at the first snapshot are caught up by the same replay. This requires an identifying
// key on every table (checked up front) and REPLICA IDENTITY giving the old key for updates and
// deletes, which the stream's assessment checks.
//
// Collations: the target must compare key columns as the source does, as chunk ranges are
// evaluated on both sides; CheckPostgresTargetTables refuses key columns whose collation differs.
//
// Memory: each worker holds one COPY row at a time plus a bounded libpq output buffer
// (PostgresConnection::PutCopyData), whatever the chunk size.
//
// Thread safety: each function is called by one thread; CopyPostgresSnapshot runs
// `options.threads` workers of its own, each with its own source and target connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::postgres {

struct PostgresSnapshotCopyOptions {
  std::string stream = "sync";  // the checkpoint (and copy progress) belong to this stream
  size_t threads = 4;           // workers = source snapshot connections = target connections
  int64_t chunk_rows = 50000;   // rows per planned chunk (one target transaction each)
  // The snapshot exported by the slot's creation (CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT):
  // its exporting session must stay open until this call has started its workers. Required on the
  // first call; empty on a restart, which takes a fresh snapshot of its own (see the file comment).
  std::string snapshot_name;
  // The slot's consistent point: recorded on the first call; a restart keeps the recorded one and
  // ignores this.
  engine::Lsn start_position;
  // COPY in binary format: no text parsing on the target, but requires identical column types on
  // both sides (same major version). Default text.
  bool binary = false;
  // When set and it becomes true, workers stop after their current chunk and the call returns
  // kCancelled; finished chunks stay, and a later call resumes. May be null.
  const std::atomic<bool>* stop = nullptr;
};

struct PostgresSnapshotCopyResult {
  bool already_complete = false;  // the stream had a checkpoint; nothing was done
  int64_t rows_copied = 0;        // by this call
  int64_t chunks_copied = 0;      // by this call
  int64_t chunks_skipped = 0;     // finished by an earlier, interrupted call
  engine::Lsn start_position;     // where the stream starts: the first call's consistent point
  std::chrono::duration<double> elapsed{0};
};

// Copies `tables` from `source` to `target` (see the file comment). Does nothing when the stream
// already completed its copy (already_complete; start_position is its greatest checkpoint).
// Errors: kInvalidArgument for bad options (no tables, chunk_rows < 1, a malformed snapshot name);
// kFailedPrecondition for a table without a primary key or NOT NULL unique key, a target table or
// column that is missing or differs (CheckPostgresTargetTables), or a first call without a
// snapshot name; kNotFound for a table missing on the source; the server's error when the snapshot
// cannot be imported (its exporting session ended); kPermissionDenied naming what is missing;
// kCancelled when options.stop was set; kCorruption for unreadable progress rows; connection errors
// and kTimeout (retryable: call again, without a snapshot name, to resume).
engine::Result<PostgresSnapshotCopyResult> CopyPostgresSnapshot(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target,
    const std::vector<engine::TableId>& tables, const PostgresSnapshotCopyOptions& options);

enum class CopyState {
  kNone,        // no copy has started: create a slot with an exported snapshot and copy
  kInProgress,  // an interrupted copy: resume it (no snapshot name), keep the slot
  kComplete,    // the stream has a checkpoint: stream from it
};

struct PostgresCopyStatus {
  CopyState state = CopyState::kNone;
  // kInProgress: the recorded start; kComplete: the greatest of the stream's checkpoints
  // ("<stream>" and "<stream>/<n>"); kNone: zero.
  engine::Lsn start_position;
};

// Where the copy of `stream` stands on `target`: kInProgress when `_tandem.copy` holds its row;
// else kComplete when `_tandem.checkpoint` holds "<stream>" or any "<stream>/<n>"; else kNone.
// Errors: kCorruption when a stored position is not a PostgreSQL LSN; connection errors.
engine::Result<PostgresCopyStatus> ReadPostgresCopyStatus(const engine::ConnectionConfig& target,
                                                          const std::string& stream);

// Checks that every table of `tables` exists on the target with the source's column names (order
// may differ; generated columns on either side are left out) and identifying-key columns of the
// same collation.
// Errors: kFailedPrecondition naming the table or column and the fix (create the schema on the
// target first, e.g. `pg_dump --schema-only --table ... SOURCE | psql TARGET`); kNotFound for a
// table missing on the source; connection errors.
engine::Status CheckPostgresTargetTables(const engine::ConnectionConfig& source,
                                         const engine::ConnectionConfig& target,
                                         const std::vector<engine::TableId>& tables);

}  // namespace tandem::connectors::postgres
