#include "connectors/postgres/postgres_checkpoint_table.h"

#include <cstdint>
#include <utility>

#include "connectors/postgres/postgres_range_query.h"
#include "engine/position.h"

namespace tandem::connectors::postgres {
namespace {

using engine::Checkpoint;
using engine::Result;
using engine::Status;

constexpr char kTandemSchema[] = "_tandem";
constexpr char kCheckpointTable[] = "checkpoint";

// The advisory lock EnsureCheckpointTable holds while it creates: "tandem" in ASCII, a constant
// no other tandem code uses.
constexpr char kCreateLockSql[] = "SELECT pg_catalog.pg_advisory_xact_lock(128017135494509)";

// Whether the table exists (to_regclass: NULL instead of an error when it does not).
Result<bool> CheckpointTableExists(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult result,
      connection.Query("looking for the checkpoint table " + QuotedCheckpointTable(),
                       "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
                       {Param(QuotedCheckpointTable())}));
  return result.rows() == 1 && result.Bool(0, 0);
}

}  // namespace

std::string QuotedCheckpointTable() {
  return QuoteIdentifier(kTandemSchema) + "." + QuoteIdentifier(kCheckpointTable);
}

Status EnsureCheckpointTable(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(bool exists, CheckpointTableExists(connection));
  if (exists) {
    return Status::Ok();
  }
  const std::string action = "creating the checkpoint table " + QuotedCheckpointTable();
  Status created = [&]() -> Status {
    TANDEM_RETURN_IF_ERROR(connection.Query(action, "BEGIN"));
    TANDEM_RETURN_IF_ERROR(connection.Query(action, kCreateLockSql));
    TANDEM_RETURN_IF_ERROR(
        connection.Query(action, "CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(kTandemSchema)));
    TANDEM_RETURN_IF_ERROR(connection.Query(
        action, "CREATE TABLE IF NOT EXISTS " + QuotedCheckpointTable() +
                    " (stream text PRIMARY KEY, position text NOT NULL,"
                    " transaction_sequence bigint NOT NULL, events_applied bigint NOT NULL,"
                    " updated_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp())"));
    TANDEM_RETURN_IF_ERROR(connection.Query(action, "COMMIT"));
    return Status::Ok();
  }();
  if (created.ok()) {
    return Status::Ok();
  }
  // Leave no failed transaction behind (its own failure, e.g. a lost connection, is secondary).
  (void)connection.Query("rolling back the checkpoint table's creation", "ROLLBACK");
  if (created.code() == engine::StatusCode::kPermissionDenied) {
    const engine::ConnectionConfig& config = connection.config();
    return engine::PermissionDenied(
        created.message() + " (tandem keeps its checkpoints in " + QuotedCheckpointTable() +
        ": GRANT CREATE ON DATABASE " + QuoteIdentifier(config.database) + " TO " +
        QuoteIdentifier(config.user) + ", or create the schema and table once as its owner)");
  }
  return created;
}

Status WriteCheckpoint(PostgresConnection& connection, const Checkpoint& checkpoint) {
  static const std::string sql =
      "INSERT INTO " + QuotedCheckpointTable() +
      " (stream, position, transaction_sequence, events_applied, updated_at)"
      " VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp())"
      " ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position,"
      " transaction_sequence = EXCLUDED.transaction_sequence,"
      " events_applied = EXCLUDED.events_applied, updated_at = EXCLUDED.updated_at";
  // transaction_sequence is stored as the bigint with the same bits (uint64 values past INT64_MAX
  // come back unchanged through the same cast).
  const int64_t sequence_bits = static_cast<int64_t>(checkpoint.transaction_sequence);
  return connection
      .Query(
          "writing the checkpoint of stream '" + checkpoint.stream + "'", sql,
          {Param(checkpoint.stream), Param(engine::Serialize(checkpoint.position)),
           Param(std::to_string(sequence_bits)), Param(std::to_string(checkpoint.events_applied))})
      .status();
}

Result<std::optional<Checkpoint>> ReadCheckpoint(PostgresConnection& connection,
                                                 const std::string& stream) {
  TANDEM_ASSIGN_OR_RETURN(bool exists, CheckpointTableExists(connection));
  if (!exists) {
    return std::optional<Checkpoint>();
  }
  TANDEM_ASSIGN_OR_RETURN(
      PgResult result,
      connection.Query("reading the checkpoint of stream '" + stream + "'",
                       "SELECT position, transaction_sequence, events_applied FROM " +
                           QuotedCheckpointTable() + " WHERE stream = $1",
                       {Param(stream)}));
  if (result.rows() == 0) {
    return std::optional<Checkpoint>();
  }
  Result<engine::Position> position = engine::ParsePosition(result.View(0, 0));
  if (!position.ok()) {
    return engine::Corruption("the checkpoint of stream '" + stream + "' in " +
                              QuotedCheckpointTable() + " on " + connection.config().Redacted() +
                              " holds a position that does not parse (" +
                              position.status().message() +
                              "): delete that row and start the sync again from an initial copy");
  }
  Checkpoint checkpoint;
  checkpoint.stream = stream;
  checkpoint.position = std::move(*position);
  checkpoint.transaction_sequence = static_cast<uint64_t>(result.Int(0, 1));
  checkpoint.events_applied = result.Int(0, 2);
  return std::optional<Checkpoint>(std::move(checkpoint));
}

}  // namespace tandem::connectors::postgres
