// SyncBackend for MySQL/MariaDB -> MySQL/MariaDB (tools/sync_backend.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "connectors/mysql/mysql_change_applier.h"
#include "connectors/mysql/mysql_change_stream.h"
#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_snapshot_copy.h"
#include "connectors/mysql/mysql_statement.h"
#include "connectors/mysql/mysql_target_tables.h"
#include "engine/database.h"
#include "engine/stable_hash.h"
#include "tools/database_opener.h"
#include "tools/sync_backend.h"

namespace tandem::tools {
namespace {

using engine::Status;
using engine::TableId;

const TableId kHeartbeatTable{kTandemSchema, "heartbeat"};

class MySqlSyncBackend : public SyncBackend {
 public:
  MySqlSyncBackend(const SyncSettings& settings, NoteFunction note)
      : settings_(settings), note_(std::move(note)) {
    // The same replica id on every run of this stream: the source drops a killed run's lingering
    // dump thread when the next one connects (else it may hold binlogs from PURGE for a while).
    stream_options_.server_id = static_cast<uint32_t>(
        1'000'000'000u +
        engine::StableHash(settings.target.Redacted() + "/" + settings.stream) % 1'000'000'000u);
    stream_options_.schema_fallback = settings.target;  // see mysql_change_stream.h
  }

  engine::Result<SyncSelection> SelectTables() override {
    TANDEM_ASSIGN_OR_RETURN(auto source, OpenDatabase(settings_.source));
    auto* sql = dynamic_cast<engine::SqlDatabase*>(source.get());
    if (sql == nullptr) {
      return engine::Internal("the source connector does not list tables");
    }
    SyncSelection selection;
    if (!settings_.tables.empty()) {
      selection.copy_tables = settings_.tables;
      selection.stream_tables = settings_.tables;
    } else {
      TANDEM_ASSIGN_OR_RETURN(std::vector<TableId> listed, sql->ListTables(""));
      std::set<std::string> schemas;
      if (!settings_.source.database.empty()) {
        schemas.insert(settings_.source.database);
      }
      for (TableId& table : listed) {
        if (table.schema == kTandemSchema) {
          continue;
        }
        schemas.insert(table.schema);
        selection.copy_tables.push_back(std::move(table));
      }
      if (schemas.empty()) {
        return engine::FailedPrecondition("the source " + settings_.source.Redacted() +
                                          " has no user tables to sync: name a database in the "
                                          "URI or tables with --table");
      }
      selection.stream_schemas.assign(schemas.begin(), schemas.end());
    }
    // The heartbeat of `tandem lag` rides along, so lag is measurable through this stream.
    selection.stream_tables.push_back(kHeartbeatTable);
    if (sql->DescribeTable(kHeartbeatTable).ok()) {
      selection.copy_tables.push_back(kHeartbeatTable);
    }
    return selection;
  }

  Status CheckSource(const SyncSelection& selection) override {
    TANDEM_RETURN_IF_ERROR(connectors::mysql::CheckBinlogSource(settings_.source));
    if (!settings_.from_now) {
      return Status::Ok();
    }
    // --from-now copies nothing and creates no user table: every one must exist on the target.
    TANDEM_ASSIGN_OR_RETURN(auto target,
                            connectors::mysql::MySqlConnection::Open(settings_.target));
    for (const TableId& table : selection.copy_tables) {
      if (table == kHeartbeatTable) {
        continue;  // tandem's own: created by StartAtSourceEnd when missing
      }
      TANDEM_ASSIGN_OR_RETURN(bool exists, connectors::mysql::TableExists(*target, table));
      if (!exists) {
        return engine::NotFound("target " + settings_.target.Redacted() + " has no table " +
                                table.ToString() +
                                ": --from-now streams into tables that already hold the "
                                "source's data; create and fill it, or leave it out with --table");
      }
    }
    return Status::Ok();
  }

  // The binlog end now (nothing committed after it is missed: the stream starts there), after
  // creating _tandem.heartbeat on the target when the source has it and the target does not
  // (tandem's own table; the copy would have created it).
  engine::Result<engine::Position> StartAtSourceEnd(const SyncSelection& selection) override {
    if (std::find(selection.copy_tables.begin(), selection.copy_tables.end(), kHeartbeatTable) !=
        selection.copy_tables.end()) {
      TANDEM_ASSIGN_OR_RETURN(auto source,
                              connectors::mysql::MySqlConnection::Open(settings_.source));
      TANDEM_ASSIGN_OR_RETURN(auto target,
                              connectors::mysql::MySqlConnection::Open(settings_.target));
      TANDEM_RETURN_IF_ERROR(
          connectors::mysql::CreateMissingTables(*source, *target, {kHeartbeatTable}).status());
    }
    return ReadSourceEnd();
  }

  // A named lock on the target (GET_LOCK), held by this connection for the run. A killed
  // process's lock goes with its connection, so a restart waits a little (10 s) for the server to
  // notice the closed socket.
  engine::Result<std::shared_ptr<void>> LockStream() override {
    TANDEM_ASSIGN_OR_RETURN(std::shared_ptr<connectors::mysql::MySqlConnection> connection,
                            connectors::mysql::MySqlConnection::Open(settings_.target));
    char name[64];
    std::snprintf(name, sizeof name, "tandem-sync/%016llx",
                  static_cast<unsigned long long>(engine::StableHash(settings_.stream)));
    TANDEM_ASSIGN_OR_RETURN(auto statement,
                            connectors::mysql::MySqlStatement::Prepare(
                                *connection, "SELECT GET_LOCK(?, 10)", "locking the stream"));
    TANDEM_ASSIGN_OR_RETURN(std::vector<engine::Row> rows,
                            statement->QueryAll({engine::Value::Text(name)}));
    if (rows.size() != 1 || rows[0].size() != 1 || rows[0][0].is_null() ||
        connectors::mysql::TextOf(rows[0][0]) != "1") {
      return engine::FailedPrecondition("another tandem sync of stream '" + settings_.stream +
                                        "' is running against " + settings_.target.Redacted() +
                                        " (it holds the lock " + name +
                                        "): stop it first, or give this one another --stream");
    }
    return std::shared_ptr<void>(std::move(connection));
  }

  engine::Result<CopySummary> CopyOnce(const SyncSelection& selection,
                                       const std::atomic<bool>* stop) override {
    connectors::mysql::SnapshotCopyOptions options;
    options.stream = settings_.stream;
    options.threads = settings_.copy_threads;
    options.stop = stop;
    TANDEM_ASSIGN_OR_RETURN(connectors::mysql::SnapshotCopyResult copied,
                            connectors::mysql::CopySnapshot(settings_.source, settings_.target,
                                                            selection.copy_tables, options));
    copy_start_ = copied.start_position;
    CopySummary summary;
    summary.already_complete = copied.already_complete;
    summary.rows_copied = copied.rows_copied;
    summary.chunks_copied = copied.chunks_copied;
    summary.chunks_skipped = copied.chunks_skipped;
    summary.tables_created = copied.tables_created;
    summary.source_lock_held = copied.global_lock_held;
    summary.elapsed = copied.elapsed;
    return summary;
  }

  engine::Result<engine::Position> ReadSourceEnd() override {
    TANDEM_ASSIGN_OR_RETURN(engine::BinlogPosition end,
                            connectors::mysql::ReadBinlogEnd(settings_.source));
    return engine::Position(std::move(end));
  }

  engine::Result<std::unique_ptr<engine::ChangeStream>> OpenStream(
      const SyncSelection& selection, const std::optional<engine::Checkpoint>& resume) override {
    engine::BinlogPosition start = copy_start_;
    if (resume) {
      const auto* binlog = std::get_if<engine::BinlogPosition>(&resume->position);
      if (binlog == nullptr) {
        return engine::FailedPrecondition(
            "the target's checkpoint for stream '" + settings_.stream +
            "' is not a binlog position (" + engine::Serialize(resume->position) +
            "): it was written by a sync from another kind of source; use another --stream or "
            "another target");
      }
      start = *binlog;
    }
    connectors::mysql::MySqlChangeStreamOptions options = stream_options_;
    options.tables = selection.stream_tables;
    options.schemas = selection.stream_schemas;
    return connectors::mysql::OpenMySqlChangeStream(settings_.source, start, options);
  }

  engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenApplier() override {
    return connectors::mysql::OpenMySqlChangeApplier(settings_.target);
  }

 private:
  const SyncSettings& settings_;
  NoteFunction note_;
  connectors::mysql::MySqlChangeStreamOptions stream_options_;
  engine::BinlogPosition copy_start_;  // set by CopyOnce, before any OpenStream
};

}  // namespace

std::unique_ptr<SyncBackend> NewMySqlSyncBackend(const SyncSettings& settings, NoteFunction note) {
  return std::make_unique<MySqlSyncBackend>(settings, std::move(note));
}

}  // namespace tandem::tools
