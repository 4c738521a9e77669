#include "connectors/mysql/mysql_replication_probe.h"

#include <mysql.h>

#include <charconv>
#include <utility>

#include "connectors/mysql/mysql_connection.h"

namespace tandem::connectors::mysql {
namespace {

// One result row by column name; nullopt for NULL.
using NamedRow = std::map<std::string, std::optional<std::string>>;

// Runs `sql` and returns every row by column name. For small results (status
// statements).
engine::Result<std::vector<NamedRow>> QueryNamed(MySqlConnection& connection, std::string_view sql,
                                                 std::string_view action) {
  MYSQL* handle = connection.handle();
  if (mysql_real_query(handle, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return connection.LastError(action);
  }
  MYSQL_RES* result = mysql_store_result(handle);
  if (result == nullptr) {
    if (mysql_field_count(handle) != 0) {
      return connection.LastError(action);
    }
    return std::vector<NamedRow>();
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owned(result, &mysql_free_result);
  const unsigned int columns = mysql_num_fields(result);
  const MYSQL_FIELD* fields = mysql_fetch_fields(result);
  std::vector<NamedRow> rows;
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    const unsigned long* lengths = mysql_fetch_lengths(result);
    NamedRow named;
    for (unsigned int i = 0; i < columns; ++i) {
      named[fields[i].name] = row[i] == nullptr
                                  ? std::nullopt
                                  : std::optional<std::string>(std::string(row[i], lengths[i]));
    }
    rows.push_back(std::move(named));
  }
  return rows;
}

std::string Field(const NamedRow& row, const std::string& name) {
  auto found = row.find(name);
  return found == row.end() || !found->second ? std::string() : *found->second;
}

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

engine::Status WithGrantHint(const engine::Status& status, const engine::ConnectionConfig& config,
                             const char* side, const char* privilege) {
  if (status.code() != engine::StatusCode::kPermissionDenied) {
    return status;
  }
  return engine::PermissionDenied(std::string("positional lag needs ") + privilege + " on the " +
                                  side + ": GRANT " + privilege + " ON *.* TO '" + config.user +
                                  "'@'%' (" + status.message() + ")");
}

class MySqlReplicationProbe : public engine::ReplicationProbe {
 public:
  MySqlReplicationProbe(std::unique_ptr<MySqlConnection> source,
                        std::unique_ptr<MySqlConnection> target)
      : source_(std::move(source)), target_(std::move(target)) {}

  engine::Result<engine::PositionalLag> Read() override {
    const bool mariadb = source_->is_mariadb() && target_->is_mariadb();
    // The target first: what it has applied can only be behind what the source
    // has logged after.
    auto replicas = QueryNamed(*target_, mariadb ? "SHOW ALL SLAVES STATUS" : "SHOW SLAVE STATUS",
                               "reading the replica status");
    if (!replicas.ok()) {
      return WithGrantHint(replicas.status(), target_->config(), "target",
                           mariadb ? "SLAVE MONITOR" : "REPLICATION CLIENT");
    }
    std::optional<std::string> target_gtid;
    if (mariadb) {
      TANDEM_ASSIGN_OR_RETURN(TextRows rows,
                              target_->QueryText("SELECT @@global.gtid_slave_pos",
                                                 "reading the replica's GTID position"));
      if (!rows.empty() && rows[0][0]) {
        target_gtid = *rows[0][0];
      }
    }
    TANDEM_ASSIGN_OR_RETURN(
        TextRows source_rows,
        source_->QueryText(
            mariadb ? "SELECT @@server_id, @@global.gtid_binlog_pos" : "SELECT @@server_id, ''",
            "reading the source's server id"));
    const std::string source_server_id =
        source_rows.empty() || !source_rows[0][0] ? "" : *source_rows[0][0];
    const std::string source_gtid =
        source_rows.empty() || !source_rows[0][1] ? "" : *source_rows[0][1];
    auto master =
        QueryNamed(*source_, "SHOW MASTER STATUS", "reading the source's binlog position");
    if (!master.ok()) {
      return WithGrantHint(master.status(), source_->config(), "source",
                           mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT");
    }
    if (master->empty()) {
      return engine::FailedPrecondition("the source " + source_->config().Redacted() +
                                        " has no binary log (log_bin is off), so nothing can "
                                        "replicate from it");
    }
    auto binlogs = QueryNamed(*source_, "SHOW BINARY LOGS", "listing the source's binlogs");
    if (!binlogs.ok()) {
      return WithGrantHint(binlogs.status(), source_->config(), "source",
                           mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT");
    }

    const NamedRow* link = nullptr;
    for (const NamedRow& row : *replicas) {
      if (!source_server_id.empty() && Field(row, "Master_Server_Id") == source_server_id) {
        link = &row;
        break;
      }
    }
    for (const NamedRow& row : *replicas) {
      if (link == nullptr && Field(row, "Master_Port") == std::to_string(source_->config().port) &&
          Field(row, "Master_Host") == source_->config().host) {
        link = &row;
      }
    }
    if (link == nullptr) {
      std::string found = replicas->empty() ? "it is not a replica (SHOW SLAVE STATUS is empty)"
                                            : "it replicates from server id " +
                                                  Field(replicas->front(), "Master_Server_Id") +
                                                  " at " + Field(replicas->front(), "Master_Host") +
                                                  ":" + Field(replicas->front(), "Master_Port");
      return engine::FailedPrecondition("the target " + target_->config().Redacted() +
                                        " does not replicate from the source (server id " +
                                        source_server_id + "): " + found);
    }

    engine::PositionalLag lag;
    lag.kind = mariadb ? "mariadb_gtid" : "mysql_binlog";
    const std::string source_file = Field(master->front(), "File");
    const uint64_t source_position = ParseUnsigned(Field(master->front(), "Position")).value_or(0);
    lag.source_position = (mariadb ? source_gtid + " " : "") + "(" + source_file + ":" +
                          std::to_string(source_position) + ")";
    const std::string exec_file = Field(*link, "Relay_Master_Log_File");
    const uint64_t exec_position = ParseUnsigned(Field(*link, "Exec_Master_Log_Pos")).value_or(0);
    lag.target_position = (target_gtid ? *target_gtid + " " : "") + "(" + exec_file + ":" +
                          std::to_string(exec_position) + ")";

    if (mariadb) {
      auto source_domains = ParseMariaDbGtidList(source_gtid);
      if (source_domains.ok() && target_gtid) {
        if (auto executed = ParseMariaDbGtidList(*target_gtid); executed.ok()) {
          lag.measures.push_back(
              {"executed", GtidTransactionsBehind(*source_domains, *executed), "transactions"});
        }
        if (auto received = ParseMariaDbGtidList(Field(*link, "Gtid_IO_Pos")); received.ok()) {
          lag.measures.push_back(
              {"received", GtidTransactionsBehind(*source_domains, *received), "transactions"});
        }
      }
    }
    std::vector<BinlogFile> files;
    for (const NamedRow& row : *binlogs) {
      files.push_back({Field(row, "Log_name"), ParseUnsigned(Field(row, "File_size")).value_or(0)});
    }
    if (auto bytes =
            BinlogBytesBetween(files, exec_file, exec_position, source_file, source_position)) {
      lag.measures.push_back({"executed", *bytes, "bytes"});
    }
    if (auto bytes =
            BinlogBytesBetween(files, Field(*link, "Master_Log_File"),
                               ParseUnsigned(Field(*link, "Read_Master_Log_Pos")).value_or(0),
                               source_file, source_position)) {
      lag.measures.push_back({"read", *bytes, "bytes"});
    }

    if (Field(*link, "Slave_IO_Running") != "Yes") {
      lag.notes.push_back("replica I/O thread is " + Field(*link, "Slave_IO_Running") +
                          (Field(*link, "Last_IO_Error").empty()
                               ? std::string()
                               : ": " + Field(*link, "Last_IO_Error")));
    }
    if (Field(*link, "Slave_SQL_Running") != "Yes") {
      lag.notes.push_back("replica SQL thread is " + Field(*link, "Slave_SQL_Running") +
                          (Field(*link, "Last_SQL_Error").empty()
                               ? std::string()
                               : ": " + Field(*link, "Last_SQL_Error")));
    }
    const std::string seconds_behind = Field(*link, "Seconds_Behind_Master");
    lag.notes.push_back("Seconds_Behind_Master: " +
                        (seconds_behind.empty() ? std::string("NULL") : seconds_behind));
    return lag;
  }

 private:
  std::unique_ptr<MySqlConnection> source_;
  std::unique_ptr<MySqlConnection> target_;
};

}  // namespace

engine::Result<std::map<uint32_t, uint64_t>> ParseMariaDbGtidList(std::string_view text) {
  std::map<uint32_t, uint64_t> domains;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view gtid = text.substr(start, end - start);
    while (!gtid.empty() && (gtid.front() == ' ' || gtid.front() == '\n')) {
      gtid.remove_prefix(1);
    }
    const size_t first = gtid.find('-');
    const size_t second = first == std::string_view::npos ? first : gtid.find('-', first + 1);
    if (second == std::string_view::npos) {
      return engine::InvalidArgument("'" + std::string(gtid) + "' is not a MariaDB GTID");
    }
    auto domain = ParseUnsigned(gtid.substr(0, first));
    auto server = ParseUnsigned(gtid.substr(first + 1, second - first - 1));
    auto sequence = ParseUnsigned(gtid.substr(second + 1));
    if (!domain || !server || !sequence || *domain > UINT32_MAX) {
      return engine::InvalidArgument("'" + std::string(gtid) + "' is not a MariaDB GTID");
    }
    domains[static_cast<uint32_t>(*domain)] = *sequence;
    start = end + 1;
  }
  return domains;
}

int64_t GtidTransactionsBehind(const std::map<uint32_t, uint64_t>& source,
                               const std::map<uint32_t, uint64_t>& target) {
  int64_t behind = 0;
  for (const auto& [domain, sequence] : source) {
    auto found = target.find(domain);
    const uint64_t applied = found == target.end() ? 0 : found->second;
    if (sequence > applied) {
      behind += static_cast<int64_t>(sequence - applied);
    }
  }
  return behind;
}

std::optional<int64_t> BinlogBytesBetween(const std::vector<BinlogFile>& files,
                                          const std::string& from_file, uint64_t from_position,
                                          const std::string& to_file, uint64_t to_position) {
  size_t from_index = files.size();
  size_t to_index = files.size();
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].name == from_file) {
      from_index = i;
    }
    if (files[i].name == to_file) {
      to_index = i;
    }
  }
  if (from_index == files.size() || to_index == files.size()) {
    return std::nullopt;
  }
  if (from_index > to_index || (from_index == to_index && from_position >= to_position)) {
    return 0;
  }
  if (from_index == to_index) {
    return static_cast<int64_t>(to_position - from_position);
  }
  uint64_t bytes =
      files[from_index].size > from_position ? files[from_index].size - from_position : 0;
  for (size_t i = from_index + 1; i < to_index; ++i) {
    bytes += files[i].size;
  }
  return static_cast<int64_t>(bytes + to_position);
}

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenMySqlReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target) {
  TANDEM_ASSIGN_OR_RETURN(auto source_connection, MySqlConnection::Open(source));
  TANDEM_ASSIGN_OR_RETURN(auto target_connection, MySqlConnection::Open(target));
  return std::unique_ptr<engine::ReplicationProbe>(
      new MySqlReplicationProbe(std::move(source_connection), std::move(target_connection)));
}

}  // namespace tandem::connectors::mysql
