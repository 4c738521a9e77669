#include "connectors/mysql/mysql_database.h"

#include <chrono>
#include <cstdlib>

#include "connectors/mysql/mysql_assessment.h"
#include "connectors/mysql/mysql_catalog.h"
#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_range_query.h"
#include "connectors/mysql/mysql_verify_support.h"
#include "connectors/mysql/mysql_write_freeze.h"

namespace tandem::connectors::mysql {

using engine::Assessment;
using engine::ConnectionConfig;
using engine::KeyRange;
using engine::Result;
using engine::Role;
using engine::RowSink;
using engine::ServerInfo;
using engine::Status;
using engine::TableId;
using engine::TableSchema;

namespace {

// "1712345678.123456" -> 1712345678123456. Errors: kCorruption for anything else.
Result<int64_t> ParseEpochMicros(const std::string& text) {
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) ++i;
  int64_t seconds = 0;
  int64_t micros = 0;
  int fraction_digits = 0;
  bool any_digit = false;
  bool in_fraction = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
    } else if (c >= '0' && c <= '9') {
      any_digit = true;
      if (!in_fraction) {
        seconds = seconds * 10 + (c - '0');
      } else if (fraction_digits < 6) {
        micros = micros * 10 + (c - '0');
        ++fraction_digits;
      }
    } else {
      return engine::Corruption("server time '" + text + "' is not a number");
    }
  }
  if (!any_digit) {
    return engine::Corruption("server time '" + text + "' is not a number");
  }
  for (; fraction_digits < 6; ++fraction_digits) {
    micros *= 10;
  }
  const int64_t total = seconds * 1000000 + micros;
  return negative ? -total : total;
}

class MySqlDatabase final : public engine::SqlDatabase {
 public:
  explicit MySqlDatabase(std::unique_ptr<MySqlConnection> connection)
      : connection_(std::move(connection)),
        verification_(NewMySqlVerificationSupport(*connection_)),
        write_freeze_(NewMySqlWriteFreeze(*connection_)) {}

  const ConnectionConfig& config() const override { return connection_->config(); }

  Result<ServerInfo> DescribeServer() override {
    return ServerInfo{connection_->is_mariadb() ? "MariaDB" : "MySQL",
                      connection_->server_version(), connection_->version_number()};
  }

  Result<std::chrono::nanoseconds> Ping() override {
    const auto start = std::chrono::steady_clock::now();
    if (mysql_ping(connection_->handle()) != 0) {
      return connection_->LastError("pinging");
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                start);
  }

  Result<int64_t> ServerTimeMicros() override {
    TANDEM_ASSIGN_OR_RETURN(TextRows rows, connection_->QueryText("SELECT UNIX_TIMESTAMP(NOW(6))",
                                                                  "reading the server clock"));
    if (rows.empty() || rows[0].empty() || !rows[0][0]) {
      return engine::Corruption("the server clock query on " + config().Redacted() +
                                " returned no value");
    }
    return ParseEpochMicros(*rows[0][0]);
  }

  Result<Assessment> Assess(Role role) override { return AssessMySql(*connection_, role); }

  Result<std::vector<TableId>> ListTables(const std::string& schema) override {
    return mysql::ListTables(*connection_, schema);
  }

  Result<TableSchema> DescribeTable(const TableId& table) override {
    return mysql::DescribeTable(*connection_, table);
  }

  engine::VerificationSupport* verification() override { return verification_.get(); }

  engine::WriteFreeze* write_freeze() override { return write_freeze_.get(); }

  Status ReadRange(const TableSchema& table, const KeyRange& range, const RowSink& sink) override {
    return mysql::ReadRange(*connection_, table, range,
                            "reading " + table.id.ToString() + " " + range.ToString(), sink);
  }

 private:
  std::unique_ptr<MySqlConnection> connection_;
  std::unique_ptr<engine::VerificationSupport> verification_;  // uses *connection_
  std::unique_ptr<engine::WriteFreeze> write_freeze_;          // uses *connection_
};

}  // namespace

Result<std::unique_ptr<engine::SqlDatabase>> OpenMySqlDatabase(const ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlConnection> connection,
                          MySqlConnection::Open(config));
  return std::unique_ptr<engine::SqlDatabase>(new MySqlDatabase(std::move(connection)));
}

}  // namespace tandem::connectors::mysql
