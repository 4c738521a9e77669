// SyncBackend for PostgreSQL -> PostgreSQL over logical replication (tools/sync_backend.h).
//
// The run, in order (each step resumable; the target's _tandem tables say where a killed run
// stopped):
//   1. The publication tandem_<stream> covers the selected tables (and _tandem.heartbeat).
//   2. No copy recorded on the target: the slot tandem_<stream> is created with an exported
//      snapshot (a slot left by a run killed before its copy began is dropped first: nothing
//      depends on it yet) and the copy workers import that snapshot, so the copy is exactly the
//      slot's consistent point. A copy in progress (killed mid-copy): the slot still holds every
//      change since its consistent point; the remaining chunks come from a fresh snapshot and the
//      stream replays from the recorded start (postgres_snapshot_copy.h says why that converges).
//   3. The stream reads the slot from the target's checkpoint; the slot's confirmed position is
//      only ever what the target has committed (PostgresChangeStream::Acknowledge).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_change_applier.h"
#include "connectors/postgres/postgres_change_stream.h"
#include "connectors/postgres/postgres_connection.h"
#include "connectors/postgres/postgres_heartbeat.h"
#include "connectors/postgres/postgres_logical_source.h"
#include "connectors/postgres/postgres_snapshot_copy.h"
#include "engine/stable_hash.h"
#include "tools/sync_backend.h"

namespace tandem::tools {
namespace {

// How long --advance-slot may spend moving the slot up (it goes on at the next hand-over).
constexpr std::chrono::milliseconds kSlotAdvanceBudget{5000};

namespace pg = connectors::postgres;
using engine::Status;
using engine::TableId;
using Clock = std::chrono::steady_clock;

const TableId kHeartbeatTable{kTandemSchema, "heartbeat"};

std::string MegaBytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// The stream's slot and publication belong to one source/target pair: named after the stream and
// the target's address and database (tandem_<stream>_<8 hex digits>), so the same --stream from
// one source into two targets gets two slots instead of sharing (and confirming) one.
std::string SourceObjectsName(const SyncSettings& settings) {
  char suffix[16];
  std::snprintf(
      suffix, sizeof suffix, "_%08llx",
      static_cast<unsigned long long>(engine::StableHash(settings.target.host + ":" +
                                                         std::to_string(settings.target.port) +
                                                         "/" + settings.target.database) &
                                      0xffffffffull));
  return settings.stream + suffix;
}

class PostgresSyncBackend : public SyncBackend {
 public:
  PostgresSyncBackend(const SyncSettings& settings, NoteFunction note)
      : settings_(settings), note_(std::move(note)), source_objects_(SourceObjectsName(settings)) {}

  engine::Result<SyncSelection> SelectTables() override {
    TANDEM_ASSIGN_OR_RETURN(auto source, pg::PostgresConnection::Connect(settings_.source));
    SyncSelection selection;
    if (!settings_.tables.empty()) {
      selection.copy_tables = settings_.tables;
    } else {
      TANDEM_ASSIGN_OR_RETURN(std::vector<TableId> listed, pg::ListPostgresTables(*source, ""));
      for (TableId& table : listed) {
        if (table.schema != kTandemSchema) {
          selection.copy_tables.push_back(std::move(table));
        }
      }
      if (selection.copy_tables.empty()) {
        return engine::FailedPrecondition("the source " + settings_.source.Redacted() +
                                          " has no user tables to sync: create them, or name "
                                          "another database in the URI");
      }
    }
    selection.stream_tables = selection.copy_tables;
    return selection;
  }

  // The heartbeat of `tandem lag` rides along, so lag is measurable through this stream. It is
  // created on both sides when missing (logical replication carries no DDL).
  Status Prepare(SyncSelection& selection) override {
    if (Status heartbeat = PrepareHeartbeatTables(); !heartbeat.ok()) {
      note_("no heartbeat table in the stream (" + heartbeat.message() +
            "); `tandem lag` cannot measure it");
      return Status::Ok();
    }
    selection.copy_tables.push_back(kHeartbeatTable);
    selection.stream_tables.push_back(kHeartbeatTable);
    return Status::Ok();
  }

  Status CheckSource(const SyncSelection& selection) override {
    // A previous run of this stream killed a moment ago leaves its walsender holding the slot
    // until the server notices the closed socket: wait for that, up to 10 s.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto slot = pg::ReadReplicationSlot(settings_.source, source_objects_);
      if (!slot.ok() || !slot->has_value() || !(*slot)->active || Clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    TANDEM_RETURN_IF_ERROR(
        pg::CheckLogicalSource(settings_.source, selection.stream_tables, source_objects_)
            .WithContext("source"));
    return pg::CheckPostgresTargetTables(settings_.source, settings_.target, selection.copy_tables)
        .WithContext("target");
  }

  // A session advisory lock on the target, held by this connection for the run; a killed
  // process's lock goes when the server notices its closed socket, so a restart waits up to 10 s.
  engine::Result<std::shared_ptr<void>> LockStream() override {
    TANDEM_ASSIGN_OR_RETURN(std::shared_ptr<pg::PostgresConnection> connection,
                            pg::PostgresConnection::Connect(settings_.target));
    const int64_t key = static_cast<int64_t>(engine::StableHash("tandem-sync/" + settings_.stream));
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(
          pg::PgResult result,
          connection->Query("locking the stream", "SELECT pg_try_advisory_lock($1::bigint)",
                            {std::to_string(key)}));
      if (result.rows() == 1 && result.Bool(0, 0)) {
        return std::shared_ptr<void>(std::move(connection));
      }
      if (Clock::now() >= deadline) {
        return engine::FailedPrecondition("another tandem sync of stream '" + settings_.stream +
                                          "' is running against " + settings_.target.Redacted() +
                                          " (it holds advisory lock " + std::to_string(key) +
                                          "): stop it first, or give this one another --stream");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  engine::Result<CopySummary> CopyOnce(const SyncSelection& selection,
                                       const std::atomic<bool>* stop) override {
    TANDEM_ASSIGN_OR_RETURN(pg::PostgresCopyStatus status,
                            pg::ReadPostgresCopyStatus(settings_.target, settings_.stream));
    TANDEM_ASSIGN_OR_RETURN(std::optional<pg::ReplicationSlotInfo> slot,
                            pg::ReadReplicationSlot(settings_.source, source_objects_));
    CopySummary summary;
    if (status.state != pg::CopyState::kNone) {
      TANDEM_RETURN_IF_ERROR(CheckTablesArePublished(selection));
    }
    if (status.state == pg::CopyState::kComplete) {
      if (!slot) {
        return MissingSlot("the copy is complete");
      }
      summary.already_complete = true;
      return summary;
    }
    pg::PostgresSnapshotCopyOptions options;
    options.stream = settings_.stream;
    options.threads = settings_.copy_threads;
    options.stop = stop;
    std::unique_ptr<pg::ExportedSnapshotSlot> exported;
    if (status.state == pg::CopyState::kInProgress) {
      if (!slot) {
        return MissingSlot("a copy is in progress");
      }
      options.start_position = status.start_position;  // a fresh snapshot; replay from the start
    } else {
      TANDEM_RETURN_IF_ERROR(
          pg::EnsurePublication(settings_.source, source_objects_, selection.stream_tables)
              .WithContext("source"));
      if (slot) {
        // Left by a run killed after creating it and before its copy began: nothing depends on
        // it, and its exported snapshot is gone.
        note_("dropping replication slot " + slot->name + " left by an interrupted first run");
        TANDEM_RETURN_IF_ERROR(pg::DropReplicationSlot(settings_.source, source_objects_));
      }
      TANDEM_ASSIGN_OR_RETURN(
          exported, pg::CreateSlotWithExportedSnapshot(settings_.source, source_objects_));
      note_("created replication slot " + pg::ReplicationSlotName(source_objects_) + " at " +
            engine::FormatLsn(exported->consistent_point()));
      options.snapshot_name = exported->snapshot_name();
      options.start_position = exported->consistent_point();
    }
    TANDEM_ASSIGN_OR_RETURN(pg::PostgresSnapshotCopyResult copied,
                            pg::CopyPostgresSnapshot(settings_.source, settings_.target,
                                                     selection.copy_tables, options));
    summary.already_complete = copied.already_complete;
    summary.rows_copied = copied.rows_copied;
    summary.chunks_copied = copied.chunks_copied;
    summary.chunks_skipped = copied.chunks_skipped;
    summary.elapsed = copied.elapsed;
    return summary;
  }

  engine::Result<engine::Position> ReadSourceEnd() override {
    TANDEM_ASSIGN_OR_RETURN(engine::Lsn end, pg::ReadWalFlushEnd(settings_.source));
    return engine::Position(end);
  }

  // --from-now: the publication as the normal path makes it, and the slot created without a
  // snapshot (pg_create_logical_replication_slot); the stream starts at the slot's consistent
  // point, which the server picks after the transactions running at that moment ended, so every
  // transaction committing after it is decoded and none before it. (pg_current_wal_lsn() read
  // later would skip what committed in between.) A slot left by a run killed before it committed
  // its checkpoint has streamed nothing: its confirmed position is still that consistent point.
  engine::Result<engine::Position> StartAtSourceEnd(const SyncSelection& selection) override {
    TANDEM_RETURN_IF_ERROR(
        pg::EnsurePublication(settings_.source, source_objects_, selection.stream_tables));
    TANDEM_ASSIGN_OR_RETURN(std::optional<pg::ReplicationSlotInfo> slot,
                            pg::ReadReplicationSlot(settings_.source, source_objects_));
    if (slot) {
      note_("replication slot " + slot->name + " exists; the stream starts at its confirmed " +
            "position " + engine::FormatLsn(slot->confirmed_flush));
      return engine::Position(slot->confirmed_flush);
    }
    TANDEM_ASSIGN_OR_RETURN(auto source, pg::PostgresConnection::Connect(settings_.source));
    const std::string name = pg::ReplicationSlotName(source_objects_);
    TANDEM_ASSIGN_OR_RETURN(
        pg::PgResult created,
        source->Query("creating replication slot " + name,
                      "SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot($1, "
                      "'pgoutput')",
                      {name}));
    if (created.rows() != 1 || created.IsNull(0, 0)) {
      return engine::Internal("creating replication slot " + name + " on " +
                              settings_.source.Redacted() + " returned no consistent point");
    }
    TANDEM_ASSIGN_OR_RETURN(engine::Lsn point, engine::ParseLsn(created.String(0, 0)));
    note_("created replication slot " + name + " (no snapshot) at " + engine::FormatLsn(point));
    return engine::Position(point);
  }

  // --checkpoint-now: with the slot in place, everything in the WAL up to its insert position now
  // counts as applied (the stream started there skips every transaction committed before it, and
  // the slot's confirmed position moves up to it with the first acknowledgement, or at once with
  // --advance-slot). Without the slot, one is created as for --from-now.
  engine::Result<engine::Position> PresentEnd(const SyncSelection& selection) override {
    TANDEM_ASSIGN_OR_RETURN(std::optional<pg::ReplicationSlotInfo> slot,
                            pg::ReadReplicationSlot(settings_.source, source_objects_));
    if (!slot) return StartAtSourceEnd(selection);
    TANDEM_RETURN_IF_ERROR(
        pg::EnsurePublication(settings_.source, source_objects_, selection.stream_tables));
    TANDEM_ASSIGN_OR_RETURN(auto source, pg::PostgresConnection::Connect(settings_.source));
    TANDEM_ASSIGN_OR_RETURN(
        pg::PgResult now, source->Query("reading the WAL insert position",
                                        "SELECT pg_catalog.pg_current_wal_insert_lsn()::text", {}));
    if (now.rows() != 1 || now.IsNull(0, 0)) {
      return engine::Internal("reading the WAL insert position of " + settings_.source.Redacted() +
                              " returned no row");
    }
    TANDEM_ASSIGN_OR_RETURN(engine::Lsn end, engine::ParseLsn(now.String(0, 0)));
    return engine::Position(std::max(end, slot->confirmed_flush));
  }

  // --advance-slot: once the hand-over's checkpoint is committed, the idle slot is moved up to it
  // (AdvanceIdleSlot, bounded by kSlotAdvanceBudget), so it no longer keeps the WAL before it.
  // Best effort: a slot that stays behind keeps WAL, nothing else, and is said so.
  void ReleaseSourceLog(const engine::Position& handed_over) override {
    const auto* lsn = std::get_if<engine::Lsn>(&handed_over);
    if (lsn == nullptr) return;
    auto moved = pg::AdvanceIdleSlot(settings_.source, source_objects_, *lsn, kSlotAdvanceBudget);
    if (!moved.ok()) {
      note_("warning: replication slot of stream '" + settings_.stream +
            "' not advanced (it keeps its WAL until the stream runs or the next hand-over): " +
            moved.status().message());
      return;
    }
    note_("--advance-slot: replication slot of stream '" + settings_.stream + "' at " +
          engine::FormatLsn(*moved) +
          (*moved < *lsn ? " (short of " + engine::FormatLsn(*lsn) +
                               ": the rest of the WAL before it goes at the next hand-over)"
                         : ""));
  }

  engine::Result<std::unique_ptr<engine::ChangeStream>> OpenStream(
      const SyncSelection& selection, const std::optional<engine::Checkpoint>& resume) override {
    if (!resume) {
      return engine::FailedPrecondition("stream '" + settings_.stream +
                                        "' has no checkpoint on the target after its copy");
    }
    const auto* lsn = std::get_if<engine::Lsn>(&resume->position);
    if (lsn == nullptr) {
      return engine::FailedPrecondition(
          "the target's checkpoint for stream '" + settings_.stream + "' is not an LSN (" +
          engine::Serialize(resume->position) +
          "): it was written by a sync from another kind of source; use another --stream or "
          "another target");
    }
    pg::PostgresChangeStreamOptions options;
    options.slot = pg::ReplicationSlotName(source_objects_);
    options.publication = pg::PublicationName(source_objects_);
    options.tables = selection.stream_tables;
    options.target = settings_.target;
    return pg::OpenPostgresChangeStream(settings_.source, *lsn, options);
  }

  engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenApplier() override {
    return pg::OpenPostgresChangeApplier(settings_.target);
  }

  Status Finish(bool clean) override {
    if (!settings_.drop_slot || !clean) {
      return Status::Ok();
    }
    TANDEM_RETURN_IF_ERROR(
        pg::DropReplicationSlot(settings_.source, source_objects_).WithContext("--drop-slot"));
    TANDEM_RETURN_IF_ERROR(
        pg::DropPublication(settings_.source, source_objects_).WithContext("--drop-slot"));
    note_("dropped replication slot " + pg::ReplicationSlotName(source_objects_) +
          " and publication " + pg::PublicationName(source_objects_) + " (stream '" +
          settings_.stream + "' cannot resume)");
    return Status::Ok();
  }

  std::optional<std::string> Warning() override {
    auto slot = pg::ReadReplicationSlot(settings_.source, source_objects_);
    if (!slot.ok() || !slot->has_value() ||
        (*slot)->retained_bytes <= settings_.slot_wal_warning_bytes) {
      return std::nullopt;
    }
    return "replication slot " + (*slot)->name + " retains " + MegaBytes((*slot)->retained_bytes) +
           " of WAL on the source (over --slot-wal-warning " +
           MegaBytes(settings_.slot_wal_warning_bytes) +
           "): the target is behind; if this stream is abandoned, drop the slot "
           "(tandem sync ... --drop-slot, or SELECT pg_drop_replication_slot('" +
           (*slot)->name + "'))";
  }

  void AddToReport(nlohmann::json& report) override {
    nlohmann::json slot = {{"name", pg::ReplicationSlotName(source_objects_)},
                           {"publication", pg::PublicationName(source_objects_)}};
    auto info = pg::ReadReplicationSlot(settings_.source, source_objects_);
    if (info.ok() && info->has_value()) {
      slot["confirmed_flush_lsn"] = engine::FormatLsn((*info)->confirmed_flush);
      slot["retained_bytes"] = (*info)->retained_bytes;
    } else {
      slot["dropped"] = info.ok();
    }
    report["slot"] = slot;
  }

 private:
  Status MissingSlot(const std::string& why) const {
    return engine::FailedPrecondition(
        "replication slot " + pg::ReplicationSlotName(source_objects_) + " is gone from " +
        settings_.source.Redacted() + " but " + why + " for stream '" + settings_.stream +
        "' on the target: the changes since then cannot be streamed; start over with another "
        "--stream into emptied target tables");
  }

  // The table set is fixed by the stream's first run: a table selected now that its publication
  // does not carry was never copied and would never be streamed.
  Status CheckTablesArePublished(const SyncSelection& selection) {
    TANDEM_ASSIGN_OR_RETURN(auto source, pg::PostgresConnection::Connect(settings_.source));
    TANDEM_ASSIGN_OR_RETURN(
        pg::PgResult published,
        source->Query("reading the stream's publication",
                      "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE "
                      "pubname = $1",
                      {pg::PublicationName(source_objects_)}));
    std::set<TableId> tables;
    for (int row = 0; row < published.rows(); ++row) {
      tables.insert(TableId{published.String(row, 0), published.String(row, 1)});
    }
    for (const TableId& table : selection.stream_tables) {
      // The heartbeat rides along when it could be created at the first run; else it stays out.
      if (tables.count(table) == 0 && table != kHeartbeatTable) {
        return engine::FailedPrecondition(
            "table " + table.ToString() + " is not part of stream '" + settings_.stream +
            "' (its first run fixed the tables: publication " +
            pg::PublicationName(source_objects_) +
            "): sync it with another --stream, or leave it out with --table");
      }
    }
    return Status::Ok();
  }

  // Creates _tandem.heartbeat on the source and the target when missing.
  Status PrepareHeartbeatTables() {
    TANDEM_ASSIGN_OR_RETURN(auto writer, pg::OpenPostgresHeartbeatWriter(settings_.source, 0));
    TANDEM_RETURN_IF_ERROR(writer->Prepare().WithContext("source"));
    TANDEM_ASSIGN_OR_RETURN(auto reader, pg::OpenPostgresHeartbeatReader(settings_.target, 0));
    return reader->Prepare().WithContext("target");
  }

  const SyncSettings& settings_;
  NoteFunction note_;
  // What the slot and publication on the source are named after (SourceObjectsName).
  const std::string source_objects_;
};

}  // namespace

std::unique_ptr<SyncBackend> NewPostgresSyncBackend(const SyncSettings& settings,
                                                    NoteFunction note) {
  return std::make_unique<PostgresSyncBackend>(settings, std::move(note));
}

}  // namespace tandem::tools
