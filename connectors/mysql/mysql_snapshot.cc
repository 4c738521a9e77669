#include "connectors/mysql/mysql_snapshot.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "connectors/mysql/mysql_grants.h"
#include "connectors/mysql/mysql_range_query.h"
#include "connectors/mysql/mysql_statement.h"
#include "connectors/mysql/mysql_verify_support.h"

namespace tandem::connectors::mysql {

using engine::BinlogPosition;
using engine::ConnectionConfig;
using engine::KeyBound;
using engine::KeyRange;
using engine::Result;
using engine::Row;
using engine::RowSink;
using engine::Status;
using engine::TableSchema;

namespace {

constexpr char kStartSnapshot[] = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";

Result<uint64_t> ParseOffset(const std::optional<std::string>& text, const std::string& what) {
  uint64_t value = 0;
  if (text) {
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error == std::errc() && end == text->data() + text->size()) {
      return value;
    }
  }
  return engine::Corruption(what + " is not a byte offset: '" + text.value_or("NULL") + "'");
}

// The binlog_snapshot_file / binlog_snapshot_position of a MariaDB snapshot transaction.
Result<std::pair<std::string, uint64_t>> SnapshotCoordinates(MySqlConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(TextRows rows,
                          connection.QueryText("SHOW STATUS LIKE 'binlog_snapshot_%'",
                                               "reading the snapshot's binary log position"));
  std::optional<std::string> file;
  std::optional<std::string> position;
  for (const TextRow& row : rows) {
    if (row.size() == 2 && row[0] == std::optional<std::string>("Binlog_snapshot_file")) {
      file = row[1];
    } else if (row.size() == 2 &&
               row[0] == std::optional<std::string>("Binlog_snapshot_position")) {
      position = row[1];
    }
  }
  if (!file || file->empty()) {
    return engine::FailedPrecondition(connection.config().Redacted() +
                                      " reports no binary log position for the snapshot: enable "
                                      "log_bin on the source");
  }
  TANDEM_ASSIGN_OR_RETURN(uint64_t offset, ParseOffset(position, "Binlog_snapshot_position"));
  return std::make_pair(*file, offset);
}

// Checks what the snapshot needs before any lock is taken.
Status CheckSource(MySqlConnection& connection, bool needs_global_lock) {
  TANDEM_ASSIGN_OR_RETURN(TextRows settings,
                          connection.QueryText("SELECT @@GLOBAL.log_bin, CURRENT_USER()",
                                               "reading the source's binary log setting"));
  if (settings.empty() || settings[0].size() != 2 ||
      settings[0][0] != std::optional<std::string>("1")) {
    return engine::FailedPrecondition(connection.config().Redacted() +
                                      " has no binary log, so changes after the snapshot cannot "
                                      "be streamed: start the server with log_bin (and "
                                      "binlog_format=ROW)");
  }
  const Account account = ParseAccount(settings[0][1].value_or(connection.config().user + "@%"));
  TANDEM_ASSIGN_OR_RETURN(const GrantSet grants,
                          ReadGrants(connection, "reading the user's privileges"));
  std::vector<std::string> missing;
  if (needs_global_lock && !grants.HasGlobal("RELOAD")) {
    missing.push_back("RELOAD");
  }
  if (!grants.HasGlobal("REPLICATION CLIENT")) {
    missing.push_back(PrivilegeForServer("REPLICATION CLIENT", connection.is_mariadb(),
                                         connection.version_number()));
  }
  if (!missing.empty()) {
    std::string names;
    for (const std::string& name : missing) {
      names += (names.empty() ? "" : ", ") + name;
    }
    return engine::PermissionDenied(
        "the user on " + connection.config().Redacted() + " lacks " + names +
        ", needed to take a consistent snapshot with its binary log position (" +
        (needs_global_lock ? "RELOAD for FLUSH TABLES WITH READ LOCK, " : "") +
        "the binary log status for the coordinates): " + GrantStatement(missing, "*.*", account));
  }
  return Status::Ok();
}

}  // namespace

MySqlSnapshotReader::MySqlSnapshotReader(std::unique_ptr<MySqlConnection> connection)
    : connection_(std::move(connection)),
      verification_(NewMySqlVerificationSupport(*connection_)) {}

MySqlSnapshotReader::~MySqlSnapshotReader() {
  verification_.reset();  // uses the connection
}

Status MySqlSnapshotReader::ReadRange(const TableSchema& table, const KeyRange& range,
                                      const RowSink& sink) {
  return mysql::ReadRange(
      *connection_, table, range,
      "reading " + table.id.ToString() + " " + range.ToString() + " in the snapshot", sink);
}

Result<std::optional<Row>> MySqlSnapshotReader::KeyAfter(const TableSchema& table,
                                                         const std::optional<KeyBound>& after,
                                                         int64_t offset) {
  return verification_->KeyAfter(table, after, offset);
}

Result<std::unique_ptr<MySqlSnapshot>> MySqlSnapshot::Open(const ConnectionConfig& source,
                                                           const MySqlSnapshotOptions& options) {
  const size_t count = std::max<size_t>(1, options.connections);
  std::vector<std::unique_ptr<MySqlConnection>> connections;
  for (size_t i = 0; i < count; ++i) {
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlConnection> connection,
                            MySqlConnection::Open(source));
    TANDEM_RETURN_IF_ERROR(
        connection->Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                            "setting the snapshot's isolation level"));
    connections.push_back(std::move(connection));
  }
  MySqlConnection& first = *connections.front();
  const bool needs_global_lock = count > 1 || !first.is_mariadb() || options.force_global_lock;
  TANDEM_RETURN_IF_ERROR(CheckSource(first, needs_global_lock));

  std::unique_ptr<MySqlSnapshot> snapshot(new MySqlSnapshot());
  snapshot->used_global_lock_ = needs_global_lock;
  if (!needs_global_lock) {
    TANDEM_RETURN_IF_ERROR(first.Execute(kStartSnapshot, "starting the snapshot transaction"));
    TANDEM_ASSIGN_OR_RETURN(auto coordinates, SnapshotCoordinates(first));
    snapshot->position_.file = coordinates.first;
    snapshot->position_.offset = coordinates.second;
    TANDEM_ASSIGN_OR_RETURN(
        auto statement,
        MySqlStatement::Prepare(first, "SELECT BINLOG_GTID_POS(?, ?)",
                                "translating the snapshot position into a GTID position"));
    TANDEM_ASSIGN_OR_RETURN(std::vector<Row> gtid,
                            statement->QueryAll({engine::Value::Text(coordinates.first),
                                                 engine::Value::UInt(coordinates.second)}));
    if (!gtid.empty() && !gtid[0].empty() && !gtid[0][0].is_null()) {
      snapshot->position_.gtid_set = gtid[0][0].text();
    }
  } else {
    // The lock connection is destroyed on every return path, which releases the lock even when a
    // step below fails.
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlConnection> lock, MySqlConnection::Open(source));
    TANDEM_RETURN_IF_ERROR(
        lock->Execute("SET SESSION lock_wait_timeout = " +
                          std::to_string(std::max<int64_t>(1, options.lock_wait_timeout.count())),
                      "bounding the wait for the global read lock"));
    const std::string status_statement = !lock->is_mariadb() && lock->version_number() >= 80200
                                             ? "SHOW BINARY LOG STATUS"
                                             : "SHOW MASTER STATUS";
    // Closing the open tables first, without the lock, leaves FLUSH TABLES WITH READ LOCK little
    // to flush, so writers are blocked for less time (NO_WRITE_TO_BINLOG: the stream must not see
    // it).
    // A lock wait that ran out is kTimeout with the likely cause.
    auto bounded_wait = [](Status status) {
      if (status.code() == engine::StatusCode::kUnavailable ||
          status.code() == engine::StatusCode::kTimeout) {
        return engine::Timeout(status.message() +
                               " (a long-running statement on the source holds tables; retry "
                               "when it has finished, or raise the lock wait timeout)");
      }
      return status;
    };
    TANDEM_RETURN_IF_ERROR(bounded_wait(lock->Execute(
        "FLUSH NO_WRITE_TO_BINLOG TABLES", "closing open tables before the global read lock")));
    const auto lock_start = std::chrono::steady_clock::now();
    TANDEM_RETURN_IF_ERROR(
        bounded_wait(lock->Execute("FLUSH TABLES WITH READ LOCK", "taking the global read lock")));
    for (auto& connection : connections) {
      TANDEM_RETURN_IF_ERROR(
          connection->Execute(kStartSnapshot, "starting a snapshot transaction"));
    }
    TANDEM_ASSIGN_OR_RETURN(TextRows status,
                            lock->QueryText(status_statement, "reading the binary log position"));
    TANDEM_ASSIGN_OR_RETURN(TextRows gtid,
                            lock->QueryText(lock->is_mariadb() ? "SELECT @@GLOBAL.gtid_binlog_pos"
                                                               : "SELECT @@GLOBAL.gtid_executed",
                                            "reading the GTID position"));
    TANDEM_RETURN_IF_ERROR(lock->Execute("UNLOCK TABLES", "releasing the global read lock"));
    snapshot->global_lock_held_ = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - lock_start);
    if (status.empty() || status[0].size() < 2 || !status[0][0] || status[0][0]->empty()) {
      return engine::FailedPrecondition(source.Redacted() +
                                        " reports no binary log position: enable log_bin on the "
                                        "source");
    }
    snapshot->position_.file = *status[0][0];
    TANDEM_ASSIGN_OR_RETURN(snapshot->position_.offset,
                            ParseOffset(status[0][1], status_statement + " Position"));
    if (!gtid.empty() && !gtid[0].empty() && gtid[0][0]) {
      snapshot->position_.gtid_set = *gtid[0][0];
      // MySQL prints long GTID sets over several lines.
      std::erase(snapshot->position_.gtid_set, '\n');
    }
    if (lock->is_mariadb()) {
      // MariaDB knows each transaction's own snapshot position: all must equal the coordinates.
      for (auto& connection : connections) {
        TANDEM_ASSIGN_OR_RETURN(auto coordinates, SnapshotCoordinates(*connection));
        if (coordinates.first != snapshot->position_.file ||
            coordinates.second != snapshot->position_.offset) {
          return engine::Internal("a snapshot connection to " + source.Redacted() + " sees " +
                                  coordinates.first + ":" + std::to_string(coordinates.second) +
                                  " but the global read lock showed " + snapshot->position_.file +
                                  ":" + std::to_string(snapshot->position_.offset));
        }
      }
    }
  }
  for (auto& connection : connections) {
    snapshot->readers_.push_back(std::make_unique<MySqlSnapshotReader>(std::move(connection)));
  }
  return snapshot;
}

}  // namespace tandem::connectors::mysql
