#include "connectors/postgres/postgres_verify_support.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/postgres_range_query.h"
#include "connectors/postgres/postgres_value_decoder.h"

namespace tandem::connectors::postgres {
namespace {

using engine::KeyBound;
using engine::KeyRange;
using engine::Result;
using engine::Row;
using engine::TableSchema;

class PostgresVerificationSupport final : public engine::VerificationSupport {
 public:
  explicit PostgresVerificationSupport(PostgresConnection& connection) : connection_(connection) {}

  Result<std::optional<Row>> KeyAfter(const TableSchema& table,
                                      const std::optional<KeyBound>& after,
                                      int64_t offset) override {
    TANDEM_ASSIGN_OR_RETURN(TableSchema key_only, engine::KeyColumnsOnly(table));
    KeyRange range;
    range.lower = after;
    TANDEM_ASSIGN_OR_RETURN(RangeQuery query, BuildRangeQuery(key_only, range));
    query.sql += " LIMIT 1 OFFSET " + std::to_string(std::max<int64_t>(0, offset));
    const std::string context = "finding a chunk boundary of " + table.id.ToString();
    TANDEM_ASSIGN_OR_RETURN(PgResult result, connection_.Query(context, query.sql, query.params));
    if (result.rows() == 0) {
      return std::optional<Row>();
    }
    Row key;
    for (int column = 0; column < result.columns(); ++column) {
      if (result.IsNull(0, column)) {
        key.emplace_back();
        continue;
      }
      TANDEM_ASSIGN_OR_RETURN(engine::Value value, DecodePostgresText(PQftype(result.get(), column),
                                                                      PQfmod(result.get(), column),
                                                                      result.View(0, column)));
      key.push_back(std::move(value));
    }
    return std::optional<Row>(std::move(key));
  }

  Result<std::string> CurrentPosition() override {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_.Query("reading the WAL position",
                          "SELECT pg_catalog.pg_is_in_recovery(), "
                          "CASE WHEN pg_catalog.pg_is_in_recovery() "
                          "THEN pg_catalog.pg_last_wal_replay_lsn()::text "
                          "ELSE pg_catalog.pg_current_wal_insert_lsn()::text END"));
    return result.String(0, 1);
  }

  Result<bool> WaitForPosition(const std::string& position,
                               std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(2);
    while (true) {
      Result<PgResult> result =
          connection_.Query("waiting for the standby to replay " + position,
                            "SELECT COALESCE(pg_catalog.pg_last_wal_replay_lsn() >= $1::pg_lsn, "
                            "NOT pg_catalog.pg_is_in_recovery())",
                            {position});
      if (!result.ok()) {
        if (result.status().code() == engine::StatusCode::kInvalidArgument) {
          return engine::InvalidArgument("'" + position + "' is not a PostgreSQL LSN");
        }
        return result.status();
      }
      if (result->Bool(0, 0)) {
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }

  Result<std::optional<int64_t>> ReplicaLagMillis() override {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_.Query(
            "reading standby lag",
            "SELECT pg_catalog.pg_is_in_recovery(), "
            "CASE WHEN pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() "
            "THEN 0 ELSE (extract(epoch FROM pg_catalog.clock_timestamp() - "
            "pg_catalog.pg_last_xact_replay_timestamp()) * 1000)::int8 END"));
    if (!result.Bool(0, 0)) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(result.IsNull(0, 1) ? 0 : result.Int(0, 1));
  }

  Result<int64_t> ThreadsRunning() override {
    TANDEM_ASSIGN_OR_RETURN(PgResult result,
                            connection_.Query("reading active backends",
                                              "SELECT count(*) FROM pg_catalog.pg_stat_activity "
                                              "WHERE state = 'active'"));
    return result.Int(0, 0);
  }

  // See engine/verification.h. The row text is the record's text form, ROW(columns)::text, which
  // quotes values that need it, prints NULL apart from "" and prints floats exactly (the session
  // has extra_float_digits = 3); each row's is hashed to 64 bits with hashtextextended (PostgreSQL
  // 11+; the first 64 bits of md5 before) and the hashes summed as numeric.
  Result<engine::ServerDigest> DigestRange(const TableSchema& table,
                                           const std::vector<int>& columns,
                                           const KeyRange& range) override {
    TANDEM_RETURN_IF_ERROR(engine::CheckColumnIndexes(table, columns, "digest"));
    std::string row_text = "ROW(";
    for (size_t i = 0; i < columns.size(); ++i) {
      row_text += (i == 0 ? "" : ", ") + QuoteIdentifier(table.columns[columns[i]].name);
    }
    row_text += ")::text";
    const bool extended = connection_.server_version() >= 110000;
    const std::string row_hash = extended ? "pg_catalog.hashtextextended(" + row_text + ", 0)"
                                          : "('x' || pg_catalog.substr(pg_catalog.md5(" + row_text +
                                                "), 1, 16))::bit(64)::int8";
    TANDEM_ASSIGN_OR_RETURN(
        RangeQuery query, BuildRangeAggregateQuery(
                              table, range, "count(*), COALESCE(sum(" + row_hash + "), 0)::text"));
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_.Query("digesting a range of " + table.id.ToString(), query.sql, query.params));
    if (result.rows() != 1) {
      return engine::Corruption("no digest came back for a range of " + table.id.ToString() +
                                " from " + connection_.config().Redacted());
    }
    engine::ServerDigest digest;
    digest.rows = result.Int(0, 0);
    digest.aggregate = result.String(0, 1);
    digest.method = extended ? "hashtextextended" : "md5";
    return digest;
  }

 private:
  PostgresConnection& connection_;
};

}  // namespace

std::unique_ptr<engine::VerificationSupport> NewPostgresVerificationSupport(
    PostgresConnection& connection) {
  return std::make_unique<PostgresVerificationSupport>(connection);
}

}  // namespace tandem::connectors::postgres
