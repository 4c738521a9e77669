#include "connectors/postgres/postgres_database.h"

#include <chrono>
#include <utility>
#include <vector>

#include "connectors/postgres/postgres_assessment.h"
#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_connection.h"
#include "connectors/postgres/postgres_range_query.h"
#include "connectors/postgres/postgres_value_decoder.h"
#include "connectors/postgres/postgres_verify_support.h"
#include "connectors/postgres/postgres_write_freeze.h"

namespace tandem::connectors::postgres {
namespace {

using engine::Result;
using engine::Status;
using postgres::PgResult;
using postgres::PostgresConnection;

// engine::SqlDatabase over one PostgresConnection.
// Thread safety: owned by one thread at a time (the connection is).
class PostgresDatabase final : public engine::SqlDatabase {
 public:
  explicit PostgresDatabase(std::unique_ptr<PostgresConnection> connection)
      : connection_(std::move(connection)),
        verification_(postgres::NewPostgresVerificationSupport(*connection_)),
        write_freeze_(postgres::NewPostgresWriteFreeze(*connection_)) {}

  const engine::ConnectionConfig& config() const override { return connection_->config(); }

  Result<engine::ServerInfo> DescribeServer() override {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_->Query("reading the server version",
                           "SELECT pg_catalog.current_setting('server_version'), "
                           "pg_catalog.current_setting('server_version_num')::int"));
    engine::ServerInfo info;
    info.product = "PostgreSQL";
    info.version = result.String(0, 0);
    // server_version_num is major * 10000 + minor (10 and later) or major * 10000 + minor * 100
    // + patch (9.x): the ServerInfo encoding either way.
    info.version_number = static_cast<int>(result.Int(0, 1));
    return info;
  }

  Result<std::chrono::nanoseconds> Ping() override { return connection_->RoundTrip(); }

  Result<int64_t> ServerTimeMicros() override {
    // clock_timestamp(), not now(): the wall clock at this moment, not the transaction start.
    // extract(epoch ...) is numeric since PostgreSQL 14 and exact to the microsecond.
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_->Query("reading the server clock",
                           "SELECT (extract(epoch FROM pg_catalog.clock_timestamp()) "
                           "* 1000000)::numeric(30,0)::int8"));
    return result.Int(0, 0);
  }

  Result<engine::Assessment> Assess(engine::Role role) override {
    return postgres::AssessPostgres(*connection_, role);
  }

  Result<std::vector<engine::TableId>> ListTables(const std::string& schema) override {
    return postgres::ListPostgresTables(*connection_, schema);
  }

  Result<engine::TableSchema> DescribeTable(const engine::TableId& table) override {
    return postgres::DescribePostgresTable(*connection_, table);
  }

  engine::VerificationSupport* verification() override { return verification_.get(); }

  engine::WriteFreeze* write_freeze() override { return write_freeze_.get(); }

  Status ReadRange(const engine::TableSchema& table, const engine::KeyRange& range,
                   const engine::RowSink& sink) override {
    TANDEM_ASSIGN_OR_RETURN(postgres::RangeQuery query, postgres::BuildRangeQuery(table, range));
    const std::string context = "reading " + table.id.ToString() + " " + range.ToString();
    // Per column: the type the server sends (domains arrive as their base type), taken from the
    // first row and the same for every row of the statement.
    std::vector<std::pair<uint32_t, int32_t>> types;
    return connection_->Stream(
        context, query.sql, query.params, [&](const PgResult& row) -> Result<bool> {
          const int columns = row.columns();
          if (types.empty()) {
            types.reserve(static_cast<size_t>(columns));
            for (int column = 0; column < columns; ++column) {
              types.emplace_back(PQftype(row.get(), column), PQfmod(row.get(), column));
            }
          }
          engine::Row values;
          values.reserve(static_cast<size_t>(columns));
          for (int column = 0; column < columns; ++column) {
            if (row.IsNull(0, column)) {
              values.emplace_back();
              continue;
            }
            Result<engine::Value> value = postgres::DecodePostgresText(
                types[column].first, types[column].second, row.View(0, column));
            if (!value.ok()) {
              return value.status().WithContext(context + ", column " + table.columns[column].name);
            }
            values.push_back(std::move(value).value());
          }
          return sink(std::move(values));
        });
  }

 private:
  std::unique_ptr<PostgresConnection> connection_;
  std::unique_ptr<engine::VerificationSupport> verification_;  // uses *connection_
  std::unique_ptr<engine::WriteFreeze> write_freeze_;          // uses *connection_
};

}  // namespace

Result<std::unique_ptr<engine::SqlDatabase>> OpenPostgresDatabase(
    const engine::ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection,
                          PostgresConnection::Connect(config));
  return std::unique_ptr<engine::SqlDatabase>(new PostgresDatabase(std::move(connection)));
}

}  // namespace tandem::connectors::postgres
