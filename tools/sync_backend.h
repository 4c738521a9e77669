// File: tools/sync_backend.h
//
// What `tandem sync` needs from one kind of source/target pair, so that the command itself
// (tools/sync_command.cc: options, stop handling, retries, metrics, the report) is written once:
//
//   SelectTables   MySQL: --table, or every table of the URI's database(s); _tandem.heartbeat
//                  streamed. PostgreSQL: --table, or every table of the URI's database outside
//                  system schemas; _tandem.heartbeat published. Redis: nothing (every database).
//   CheckSource    MySQL: binlog settings, replication privileges. PostgreSQL: wal_level,
//                  REPLICATION, keys and replica identity, the slot not held. Redis: versions,
//                  the target a primary and empty (or this stream's), databases, PSYNC allowed.
//   LockStream     MySQL: GET_LOCK on the target. PostgreSQL: an advisory lock. Redis: the key
//                  _tandem:lock:<stream> naming a live CLIENT ID.
//   Prepare        PostgreSQL: _tandem.heartbeat on both sides; others nothing.
//   CopyOnce       MySQL: consistent snapshot (global read lock for the coordinates), parallel
//                  chunks. PostgreSQL: slot with an exported snapshot, parallel COPY of key
//                  ranges. Redis: PSYNC full resync, the RDB loaded as it arrives.
//   ReadSourceEnd  SHOW MASTER STATUS / pg_current_wal_flush_lsn() / INFO master_repl_offset.
//   PresentEnd     --checkpoint-now: where a handed-over stream resumes. Default StartAtSourceEnd;
//                  PostgreSQL with its slot: pg_current_wal_insert_lsn().
//   StartAtSourceEnd  --from-now, first start only (instead of CopyOnce): where the stream
//                  starts. MySQL: ReadSourceEnd. PostgreSQL: the slot (and publication) created
//                  without a snapshot, its consistent point. Redis: INFO's offset, made to stand
//                  in database 0 by bookkeeping writes just before it, after the source was made
//                  to create a replication backlog if it had none (so PSYNC continues it).
//   OpenStream     binlog dump as a replica / pgoutput from the slot / the PSYNC command stream
//                  (partial resync from the checkpoint; full resync when the backlog lost it).
//   OpenApplier    MySqlChangeApplier / PostgresChangeApplier / RedisChangeApplier.
//   Finish         PostgreSQL --drop-slot: slot and publication; others nothing.
//
// Every step's errors are one line naming what is wrong and the fix; retryable ones
// (Status::retryable()) are retried by the command.
//
// Thread safety: a backend is used by the command's main thread, except OpenStream and OpenApplier,
// which the pipeline calls from its own threads (never two at once for one backend) and Warning,
// called from the command's watcher thread; state those share is guarded by the implementation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/change_stream.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "tools/command.h"

namespace tandem::tools {

// tandem's own bookkeeping schema: never copied wholesale; only its heartbeat table is streamed.
inline constexpr char kTandemSchema[] = "_tandem";

struct SyncSettings {
  engine::ConnectionConfig source;
  engine::ConnectionConfig target;
  std::vector<engine::TableId> tables;  // --table, empty = whole schemas
  std::string stream = "sync";
  int threads = 4;
  size_t copy_threads = 4;
  bool until_caught_up = false;
  bool drop_slot = false;  // PostgreSQL: drop the slot and publication after a clean end
  // --from-now: no initial copy (the target already holds the source's data); the first start
  // commits a checkpoint at StartAtSourceEnd() and streams from there. Default off.
  bool from_now = false;
  // --checkpoint-now: the checkpoint committed at PresentEnd(), then exit (implies from_now's
  // checks). Default off.
  bool checkpoint_now = false;
  // --advance-slot (PostgreSQL, with --checkpoint-now): ReleaseSourceLog after the hand-over.
  bool advance_slot = false;
  int64_t slot_wal_warning_bytes = int64_t{1} << 30;  // PostgreSQL: warn past this retention
  std::optional<std::chrono::milliseconds> duration;
  std::optional<uint16_t> metrics_port;
  std::string metrics_address = "127.0.0.1";
  int max_retries = 20;
  OutputFormat format = OutputFormat::kText;
};

// The tables the copy takes and what the stream selects.
struct SyncSelection {
  std::vector<engine::TableId> copy_tables;
  std::vector<engine::TableId> stream_tables;
  std::vector<std::string> stream_schemas;  // whole schemas, also tables created later (MySQL)
};

// What one initial copy did, for the progress line and the report.
struct CopySummary {
  bool already_complete = false;  // the stream had a checkpoint; nothing was copied
  int64_t rows_copied = 0;
  int64_t chunks_copied = 0;
  int64_t chunks_skipped = 0;  // finished by an earlier, interrupted run
  std::vector<engine::TableId> tables_created;
  // How long the copy blocked writers on the source (MySQL's global read lock); nullopt when it
  // never does.
  std::optional<std::chrono::microseconds> source_lock_held;
  std::chrono::duration<double> elapsed{0};
};

// Progress lines go through this (stdout, stamped; nothing in JSON mode).
using NoteFunction = std::function<void(const std::string& line)>;

class SyncBackend {
 public:
  virtual ~SyncBackend() = default;

  // What to copy and stream. Errors: the source's (kNotFound for a missing schema, ...);
  // kFailedPrecondition when there is nothing to sync.
  virtual engine::Result<SyncSelection> SelectTables() = 0;

  // Everything about the source and target that can refuse the run, checked before anything is
  // written. With settings.from_now the target is expected to hold the source's data already
  // (no emptiness check); SQL target tables must exist.
  virtual engine::Status CheckSource(const SyncSelection& selection) = 0;

  // After the checks and the lock: creates what the run needs beyond the user's tables and adds
  // it to `selection` (PostgreSQL: _tandem.heartbeat on both sides, so `tandem lag` can measure
  // the stream; without the privilege to create it the run goes on without it, with a note).
  // Default: nothing.
  virtual engine::Status Prepare(SyncSelection& selection) {
    (void)selection;
    return engine::Status::Ok();
  }

  // This stream's exclusive hold on the target, released when the returned object goes away (or
  // its process dies). Errors: kFailedPrecondition when another run of the stream holds it.
  virtual engine::Result<std::shared_ptr<void>> LockStream() = 0;

  // One attempt at the initial copy: resumes an interrupted one, does nothing when it is complete
  // (already_complete). Stops early with kCancelled when `stop` becomes true.
  virtual engine::Result<CopySummary> CopyOnce(const SyncSelection& selection,
                                               const std::atomic<bool>* stop) = 0;

  // The end of the source's log now: what --until-caught-up catches up to.
  virtual engine::Result<engine::Position> ReadSourceEnd() = 0;

  // --from-now, when the stream has no checkpoint on the target yet: the position from which
  // every change committed on the source is to be streamed (nothing before it is). The command
  // commits it as the checkpoint "<stream>" (ChangeApplier Begin + Commit), so from then on the
  // stream resumes exactly as after a copy. A kill -9 before that commit leaves no checkpoint:
  // the next start begins anew at the source's end then (PostgreSQL: at the slot already made).
  // Called after CheckSource, LockStream and Prepare, instead of CopyOnce; may create what the
  // stream reads through (PostgreSQL: the publication and the slot, reused when a killed run
  // left them). Errors: the source's. Default: ReadSourceEnd() (right where the source's log
  // positions need no more than that, as for MySQL).
  virtual engine::Result<engine::Position> StartAtSourceEnd(const SyncSelection& selection) {
    (void)selection;
    return ReadSourceEnd();
  }

  // --checkpoint-now: the source's present position, everything before it counting as applied
  // (the target holds the source's data). Called after CheckSource, LockStream and Prepare.
  // Default: StartAtSourceEnd (MySQL: the binlog end; Redis: the offset pinned to database 0;
  // PostgreSQL without its slot: the slot created). PostgreSQL keeps an existing slot and answers
  // the WAL insert position. Errors: the source's.
  virtual engine::Result<engine::Position> PresentEnd(const SyncSelection& selection) {
    return StartAtSourceEnd(selection);
  }

  // --checkpoint-now --advance-slot, after the hand-over at `handed_over` is committed: lets the
  // source drop the log it keeps for this stream before that position (PostgreSQL: the idle slot
  // moved up). Best effort: says on the note what it could not do. Default: nothing to release.
  virtual void ReleaseSourceLog(const engine::Position& handed_over) { (void)handed_over; }

  // --checkpoint-now and --from-now's first start: makes `checkpoint` (stream "<stream>") where
  // the stream resumes, whatever it had. Default: the applier commits it as the row "<stream>",
  // keeping that row's applied count (the resume position is the greatest of the rows, so it
  // supersedes the worker rows of the same history). Redis replaces every row of the stream in one
  // MULTI, keeping the applied total (rows naming another replication id could not be ordered
  // against it).
  virtual engine::Status ReplaceCheckpoint(engine::Checkpoint checkpoint);

  // The change stream from `resume` (the target's checkpoint; nullopt: where the copy started).
  virtual engine::Result<std::unique_ptr<engine::ChangeStream>> OpenStream(
      const SyncSelection& selection, const std::optional<engine::Checkpoint>& resume) = 0;

  // One applier (one target connection) for a pipeline worker.
  virtual engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenApplier() = 0;

  // After the run: `clean` when it ended caught up (--until-caught-up) without error. PostgreSQL
  // with --drop-slot drops the slot and the publication then. Default: nothing.
  virtual engine::Status Finish(bool clean) {
    (void)clean;
    return engine::Status::Ok();
  }

  // A warning worth a progress line now (PostgreSQL: the slot retains more WAL than the
  // threshold), or nullopt. Called every half minute while streaming. Default: none.
  virtual std::optional<std::string> Warning() { return std::nullopt; }

  // Extra fields for the JSON report (e.g. the slot's name and retention). Default: none.
  virtual void AddToReport(nlohmann::json& report) { (void)report; }
};

// REQUIRES: settings.source and settings.target are MySQL.
std::unique_ptr<SyncBackend> NewMySqlSyncBackend(const SyncSettings& settings, NoteFunction note);
// REQUIRES: settings.source and settings.target are PostgreSQL.
std::unique_ptr<SyncBackend> NewPostgresSyncBackend(const SyncSettings& settings,
                                                    NoteFunction note);
// REQUIRES: settings.source and settings.target are Redis.
std::unique_ptr<SyncBackend> NewRedisSyncBackend(const SyncSettings& settings, NoteFunction note);
// The backend of settings.source's engine. REQUIRES: source and target of the same engine;
// `settings` outlives the backend.
std::unique_ptr<SyncBackend> NewSyncBackend(const SyncSettings& settings, NoteFunction note);

}  // namespace tandem::tools
