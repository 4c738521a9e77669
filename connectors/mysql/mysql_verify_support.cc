#include "connectors/mysql/mysql_verify_support.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_range_query.h"
#include "connectors/mysql/mysql_statement.h"

namespace tandem::connectors::mysql {
namespace {

using engine::KeyBound;
using engine::KeyRange;
using engine::Result;
using engine::Row;
using engine::TableSchema;

class MySqlVerificationSupport final : public engine::VerificationSupport {
 public:
  explicit MySqlVerificationSupport(MySqlConnection& connection) : connection_(connection) {}

  Result<std::optional<Row>> KeyAfter(const TableSchema& table,
                                      const std::optional<KeyBound>& after,
                                      int64_t offset) override {
    TANDEM_ASSIGN_OR_RETURN(TableSchema key_only, engine::KeyColumnsOnly(table));
    KeyRange range;
    range.lower = after;
    TANDEM_ASSIGN_OR_RETURN(RangeQuery query, BuildRangeQuery(key_only, range));
    query.sql += " LIMIT 1 OFFSET " + std::to_string(std::max<int64_t>(0, offset));
    std::vector<engine::ValueKind> kinds;
    for (const engine::Column& column : key_only.columns) {
      kinds.push_back(column.kind);
    }
    TANDEM_ASSIGN_OR_RETURN(auto statement, MySqlStatement::Prepare(connection_, query.sql,
                                                                    "finding a chunk boundary of " +
                                                                        table.id.ToString()));
    TANDEM_RETURN_IF_ERROR(statement->Execute(query.params, kinds));
    Row row;
    TANDEM_ASSIGN_OR_RETURN(bool found, statement->Fetch(&row));
    if (!found) {
      return std::optional<Row>();
    }
    Row rest;
    while (true) {  // drain: exactly one row is expected
      TANDEM_ASSIGN_OR_RETURN(bool more, statement->Fetch(&rest));
      if (!more) {
        break;
      }
    }
    return std::optional<Row>(std::move(row));
  }

  Result<std::string> CurrentPosition() override {
    TANDEM_ASSIGN_OR_RETURN(
        TextRows rows, connection_.QueryText("SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.log_bin",
                                             "reading the binary log position"));
    if (rows.empty() || rows[0].size() < 2) {
      return engine::Corruption("no answer to the binary log position query on " +
                                connection_.config().Redacted());
    }
    if (!rows[0][1] || *rows[0][1] != "1") {
      return engine::FailedPrecondition(
          connection_.config().Redacted() +
          " has no binary log, so no replication position: enable log_bin");
    }
    return rows[0][0].value_or("");
  }

  Result<bool> WaitForPosition(const std::string& position,
                               std::chrono::milliseconds timeout) override {
    for (char c : position) {
      if (!((c >= '0' && c <= '9') || c == '-' || c == ',' || c == ' ')) {
        return engine::InvalidArgument("'" + position + "' is not a MariaDB GTID position");
      }
    }
    if (position.empty()) {
      return true;
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(timeout.count()) / 1000.0);
    TANDEM_ASSIGN_OR_RETURN(
        TextRows rows,
        connection_.QueryText("SELECT MASTER_GTID_WAIT('" + position + "', " + seconds + ")",
                              "waiting for the replica to apply " + position));
    if (rows.empty() || rows[0].empty() || !rows[0][0]) {
      return engine::Corruption("MASTER_GTID_WAIT returned nothing on " +
                                connection_.config().Redacted());
    }
    return *rows[0][0] == "0";
  }

  Result<std::optional<int64_t>> ReplicaLagMillis() override { return SecondsBehindMaster(); }

  Result<int64_t> ThreadsRunning() override {
    TANDEM_ASSIGN_OR_RETURN(
        TextRows rows,
        connection_.QueryText("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                              "WHERE VARIABLE_NAME = 'THREADS_RUNNING'",
                              "reading Threads_running"));
    if (rows.empty() || rows[0].empty() || !rows[0][0]) {
      return engine::Corruption("Threads_running missing on " + connection_.config().Redacted());
    }
    return std::strtoll(rows[0][0]->c_str(), nullptr, 10);
  }

 private:
  Result<std::optional<int64_t>> SecondsBehindMaster() {
    MYSQL* handle = connection_.handle();
    if (mysql_query(handle, "SHOW SLAVE STATUS") != 0) {
      return connection_.LastError("reading replica lag");
    }
    MYSQL_RES* result = mysql_store_result(handle);
    if (result == nullptr) {
      return connection_.LastError("reading replica lag");
    }
    std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owner(result, mysql_free_result);
    MYSQL_ROW row = mysql_fetch_row(result);
    if (row == nullptr) {
      return std::optional<int64_t>();
    }
    const unsigned int count = mysql_num_fields(result);
    MYSQL_FIELD* fields = mysql_fetch_fields(result);
    for (unsigned int i = 0; i < count; ++i) {
      if (std::string(fields[i].name) == "Seconds_Behind_Master") {
        if (row[i] == nullptr) {
          return engine::FailedPrecondition(
              "replication on " + connection_.config().Redacted() +
              " is not running (Seconds_Behind_Master is NULL): start it, or verify without "
              "--max-lag");
        }
        return std::optional<int64_t>(std::strtoll(row[i], nullptr, 10) * 1000);
      }
    }
    return engine::Corruption("SHOW SLAVE STATUS on " + connection_.config().Redacted() +
                              " has no Seconds_Behind_Master column");
  }

  MySqlConnection& connection_;
};

}  // namespace

std::unique_ptr<engine::VerificationSupport> NewMySqlVerificationSupport(
    MySqlConnection& connection) {
  return std::make_unique<MySqlVerificationSupport>(connection);
}

}  // namespace tandem::connectors::mysql
