#include "connectors/mysql/mysql_verify_support.h"

#include <algorithm>
#include <cstdlib>
#include <set>
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

// The first row of an executed statement's result, reading (and dropping) any others so the
// connection is free again; nullopt when the result is empty.
Result<std::optional<Row>> FetchFirstRow(MySqlStatement& statement) {
  Row row;
  TANDEM_ASSIGN_OR_RETURN(bool found, statement.Fetch(&row));
  if (!found) {
    return std::optional<Row>();
  }
  Row rest;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool more, statement.Fetch(&rest));
    if (!more) {
      return std::optional<Row>(std::move(row));
    }
  }
}

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
    return FetchFirstRow(*statement);
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

  // See engine/verification.h. Each row is hashed twice over its column texts (FLOAT widened to
  // DOUBLE so every distinct value prints distinctly): CRC32 of CONCAT_WS('#', columns) and
  // CRC32C of CONCAT_WS('|', columns in reverse order, NULL flags), one 64-bit value per row,
  // summed as an exact DECIMAL. Two separators in two orders keep a value from moving across a
  // separator unseen, and the flags keep NULL apart from ''; a CAST to bytes (which doubles the
  // cost) is added only when text columns of different collations would not concatenate.
  // Servers without CRC32C (MySQL, MariaDB before 10.8) take 64 bits of MD5 of both texts instead,
  // about 3x slower.
  Result<engine::ServerDigest> DigestRange(const TableSchema& table,
                                           const std::vector<int>& columns,
                                           const KeyRange& range) override {
    TANDEM_RETURN_IF_ERROR(engine::CheckColumnIndexes(table, columns, "digest"));
    std::set<std::string> collations;
    for (int index : columns) {
      const engine::Column& column = table.columns[static_cast<size_t>(index)];
      if (!column.collation.empty()) {
        collations.insert(column.collation);
      }
    }
    const bool cast_text = collations.size() > 1;
    std::vector<std::string> texts;
    std::string null_flags;
    for (int index : columns) {
      const engine::Column& column = table.columns[static_cast<size_t>(index)];
      const std::string name = QuoteIdentifier(column.name);
      if (column.kind == engine::ValueKind::kFloat) {
        texts.push_back("CAST(" + name + " AS DOUBLE)");
      } else if (cast_text && !column.collation.empty()) {
        texts.push_back("CAST(" + name + " AS BINARY)");
      } else {
        texts.push_back(name);
      }
      if (column.nullable) {
        null_flags += (null_flags.empty() ? "" : ", ") + ("ISNULL(" + name + ")");
      }
    }
    std::string forward = "CONCAT_WS('#'";
    for (const std::string& text : texts) {
      forward += ", " + text;
    }
    forward += ")";
    std::string backward = "CONCAT_WS('|'";
    for (auto text = texts.rbegin(); text != texts.rend(); ++text) {
      backward += ", " + *text;
    }
    if (!null_flags.empty()) {
      backward += ", CONCAT(" + null_flags + ")";
    }
    backward += ")";
    const bool has_crc32c = connection_.is_mariadb() && connection_.version_number() >= 100800;
    const std::string row_hash = has_crc32c
                                     ? "(CRC32(" + forward + ") << 32 | CRC32C(" + backward + "))"
                                     : "CAST(CONV(LEFT(MD5(CONCAT(" + forward + ", " + backward +
                                           ")), 16), 16, 10) AS UNSIGNED)";
    TANDEM_ASSIGN_OR_RETURN(
        RangeQuery query,
        BuildRangeAggregateQuery(table, range,
                                 "COUNT(*), CAST(COALESCE(SUM(" + row_hash + "), 0) AS CHAR)"));
    TANDEM_ASSIGN_OR_RETURN(auto statement,
                            MySqlStatement::Prepare(connection_, query.sql,
                                                    "digesting a range of " + table.id.ToString()));
    TANDEM_RETURN_IF_ERROR(
        statement->Execute(query.params, {engine::ValueKind::kInt, engine::ValueKind::kText}));
    TANDEM_ASSIGN_OR_RETURN(std::optional<Row> row, FetchFirstRow(*statement));
    if (!row || row->size() != 2 || (*row)[0].is_null() || (*row)[1].is_null()) {
      return engine::Corruption("no digest came back for a range of " + table.id.ToString() +
                                " from " + connection_.config().Redacted());
    }
    engine::ServerDigest digest;
    digest.rows = (*row)[0].int_value();
    digest.aggregate = (*row)[1].text();
    digest.method = has_crc32c ? "crc32+crc32c" : "md5";
    return digest;
  }

  MySqlConnection& connection_;
};

}  // namespace

std::unique_ptr<engine::VerificationSupport> NewMySqlVerificationSupport(
    MySqlConnection& connection) {
  return std::make_unique<MySqlVerificationSupport>(connection);
}

}  // namespace tandem::connectors::mysql
