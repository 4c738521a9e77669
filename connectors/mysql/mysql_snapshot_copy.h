// File: connectors/mysql/mysql_snapshot_copy.h
//
// The initial copy of `tandem sync` MySQL -> MySQL: the selected tables are read from a consistent
// snapshot of the source (mysql_snapshot.h) in key-range chunks, in parallel, and written to the
// target through MySqlChangeApplier (multi-row upserts). When the last chunk is in, the stream's
// checkpoint is committed at the snapshot's coordinates, so the change stream starts exactly where
// the copy's snapshot stands.
//
// Progress lives in the target, in `_tandem`, committed in the same transaction as the rows it
// describes, so a killed copy resumes without recopying what it finished:
//
//   table                 columns                                          meaning
//   _tandem.copy          stream PK, position, started_at                  a copy in progress and
//                                                                          the position its stream
//                                                                          will start from
//   _tandem.copy_chunk    (stream, table_schema, table_name, chunk) PK,    the planned chunks:
//                         lower_key, upper_key, last_key, rows_copied,     bounds (mysql_key_codec
//                         done                                             encoding; NULL = open),
//                                                                          the last key committed
//
// A restart takes a new snapshot and copies only the chunks not done, each from its last committed
// key. The stream still starts from the first snapshot's position: replaying the changes between
// the two snapshots over rows copied later converges, because every change carries full row images
// and the applier is idempotent (a row copied at a later snapshot is rewritten by each change to
// it and ends in its final state; a row deleted in between is deleted again, harmlessly). Once the
// copy completes, the progress rows are deleted in the transaction that commits the checkpoint.
//
// Memory: each worker holds at most one batch (batch_rows rows or batch_bytes bytes of values)
// while rows stream from the source.
//
// Thread safety: CopySnapshot is called by one thread and runs `threads` workers of its own, each
// with its own source (snapshot) and target connection; on_batch is called from the workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::mysql {

struct SnapshotCopyOptions {
  std::string stream = "sync";   // the checkpoint (and copy progress) belong to this stream
  size_t threads = 4;            // workers = snapshot connections = target connections
  int64_t chunk_rows = 10000;    // rows per planned chunk
  size_t batch_rows = 1000;      // rows per target transaction
  size_t batch_bytes = 8 << 20;  // bytes of values per target transaction
  std::chrono::seconds lock_wait_timeout{10};  // for the snapshot's global read lock
  bool create_missing_tables = true;           // mysql_target_tables.h
  // When set and it becomes true, workers stop after their current batch (kCancelled); what was
  // committed stays and a later call resumes from it. May be null.
  const std::atomic<bool>* stop = nullptr;
  // Called after each committed batch with the rows it held (from worker threads). May be empty.
  std::function<void(int64_t rows)> on_batch;
};

struct SnapshotCopyResult {
  engine::BinlogPosition start_position;  // the stream's checkpoint: stream from here
  bool already_complete = false;          // the stream had a checkpoint; nothing was done
  int64_t rows_copied = 0;
  int64_t chunks_copied = 0;
  int64_t chunks_skipped = 0;  // finished by an earlier, interrupted run
  std::vector<engine::TableId> tables_created;
  std::chrono::microseconds global_lock_held{0};  // of this run's snapshot
  std::chrono::duration<double> elapsed{0};
};

// Copies `tables` from `source` to `target` (see the file comment). Does nothing when the stream
// already has a checkpoint on the target (already_complete).
// Errors: kNotFound for a table missing on the source, or one the user cannot see for lack of
// SELECT (the message says both); kUnsupported for a table without a primary or unique NOT NULL
// key, or not InnoDB; kPermissionDenied naming the missing privilege (source: RELOAD, REPLICATION
// CLIENT / BINLOG MONITOR; target: writing `_tandem` and the tables); kTimeout when the global read
// lock could not be had in time; kCancelled when options.stop was set; connection errors
// (retryable: call again to resume).
engine::Result<SnapshotCopyResult> CopySnapshot(const engine::ConnectionConfig& source,
                                                const engine::ConnectionConfig& target,
                                                const std::vector<engine::TableId>& tables,
                                                const SnapshotCopyOptions& options);

}  // namespace tandem::connectors::mysql
