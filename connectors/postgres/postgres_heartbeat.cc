#include "connectors/postgres/postgres_heartbeat.h"

#include <string>
#include <utility>

#include "connectors/postgres/postgres_connection.h"

namespace tandem::connectors::postgres {

const char kPostgresHeartbeatDdl[] =
    "CREATE SCHEMA IF NOT EXISTS _tandem; "
    "CREATE TABLE IF NOT EXISTS _tandem.heartbeat (writer_id bigint PRIMARY "
    "KEY, "
    "seq bigint NOT NULL, sent_ns bigint NOT NULL, "
    "written_at timestamptz NOT NULL DEFAULT clock_timestamp())";

namespace {

constexpr char kLookup[] =
    "SELECT to_regnamespace('_tandem') IS NOT NULL, "
    "to_regclass('_tandem.heartbeat') IS NOT NULL, "
    "pg_is_in_recovery()";
constexpr char kCreateSchema[] = "CREATE SCHEMA IF NOT EXISTS _tandem";
constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS _tandem.heartbeat (writer_id bigint PRIMARY "
    "KEY, "
    "seq bigint NOT NULL, sent_ns bigint NOT NULL, "
    "written_at timestamptz NOT NULL DEFAULT clock_timestamp())";
constexpr char kDeleteStale[] =
    "DELETE FROM _tandem.heartbeat WHERE written_at < clock_timestamp() - "
    "interval '1 hour'";
constexpr char kUpsert[] =
    "INSERT INTO _tandem.heartbeat (writer_id, seq, sent_ns, written_at) "
    "VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (writer_id) DO UPDATE "
    "SET seq = EXCLUDED.seq, sent_ns = EXCLUDED.sent_ns, written_at = "
    "EXCLUDED.written_at";
constexpr char kDelete[] = "DELETE FROM _tandem.heartbeat WHERE writer_id = $1";
constexpr char kSelect[] = "SELECT seq FROM _tandem.heartbeat WHERE writer_id = $1";

std::string Where(const engine::ConnectionConfig& config) {
  return config.Redacted() + " (table _tandem.heartbeat)";
}

engine::Status WithPrivilegeHint(const engine::Status& status,
                                 const engine::ConnectionConfig& config, const std::string& hint) {
  if (status.code() != engine::StatusCode::kPermissionDenied) {
    return status;
  }
  return engine::PermissionDenied(status.message() + "; " + hint + " (as a superuser, for user " +
                                  config.user + ")");
}

// Creates the schema and table when missing. `hint` is what to say when not
// allowed.
engine::Status EnsureTable(PostgresConnection& connection, bool schema_exists, bool table_exists,
                           const std::string& hint) {
  if (table_exists) {
    return engine::Status::Ok();
  }
  if (!schema_exists) {
    auto created = connection.Query("creating schema _tandem", kCreateSchema);
    if (!created.ok()) {
      return WithPrivilegeHint(created.status(), connection.config(), hint);
    }
  }
  auto created = connection.Query("creating table _tandem.heartbeat", kCreateTable);
  return WithPrivilegeHint(created.status(), connection.config(), hint);
}

class PostgresHeartbeatWriter : public engine::HeartbeatWriter {
 public:
  PostgresHeartbeatWriter(std::unique_ptr<PostgresConnection> connection,
                          engine::HeartbeatWriterId writer_id)
      : connection_(std::move(connection)), writer_id_(std::to_string(writer_id)) {}

  engine::Status Prepare() override {
    TANDEM_ASSIGN_OR_RETURN(PgResult found,
                            connection_->Query("looking for _tandem.heartbeat", kLookup));
    if (found.Bool(0, 2)) {
      return engine::FailedPrecondition(
          "the source " + connection_->config().Redacted() +
          " is in recovery (a standby): the heartbeat must be written on the "
          "primary");
    }
    TANDEM_RETURN_IF_ERROR(EnsureTable(
        *connection_, found.Bool(0, 0), found.Bool(0, 1),
        "grant CREATE on the database, or create the table: " + std::string(kPostgresHeartbeatDdl) +
            "; GRANT USAGE ON SCHEMA _tandem and SELECT, INSERT, "
            "UPDATE, DELETE ON "
            "_tandem.heartbeat"));
    TANDEM_RETURN_IF_ERROR(
        connection_->Query("setting synchronous_commit", "SET synchronous_commit TO local")
            .status());
    auto cleaned = connection_->Query("removing stale rows of _tandem.heartbeat", kDeleteStale);
    return WithPrivilegeHint(cleaned.status(), connection_->config(),
                             "GRANT USAGE ON SCHEMA _tandem and SELECT, INSERT, UPDATE, DELETE ON "
                             "_tandem.heartbeat");
  }

  engine::Status Write(const engine::Heartbeat& beat) override {
    auto written = connection_->Query(
        "writing the heartbeat", kUpsert,
        {writer_id_, std::to_string(beat.sequence), std::to_string(beat.sent_ns)});
    return WithPrivilegeHint(written.status(), connection_->config(),
                             "GRANT SELECT, INSERT, UPDATE, DELETE ON _tandem.heartbeat");
  }

  engine::Status Remove() override {
    return connection_->Query("removing the heartbeat", kDelete, {writer_id_}).status();
  }

  std::string Describe() const override { return Where(connection_->config()); }

 private:
  std::unique_ptr<PostgresConnection> connection_;
  const std::string writer_id_;  // as the text parameter
};

class PostgresHeartbeatReader : public engine::HeartbeatReader {
 public:
  PostgresHeartbeatReader(std::unique_ptr<PostgresConnection> connection,
                          engine::HeartbeatWriterId writer_id)
      : connection_(std::move(connection)), writer_id_(std::to_string(writer_id)) {}

  engine::Status Prepare() override {
    TANDEM_ASSIGN_OR_RETURN(PgResult found,
                            connection_->Query("looking for _tandem.heartbeat", kLookup));
    if (found.Bool(0, 2)) {
      return engine::Status::Ok();  // a standby: the table arrives with the
                                    // primary's WAL
    }
    return EnsureTable(*connection_, found.Bool(0, 0), found.Bool(0, 1),
                       "a logical subscriber needs the heartbeat table, since logical "
                       "replication does not carry DDL: " +
                           std::string(kPostgresHeartbeatDdl));
  }

  engine::Result<std::optional<int64_t>> ReadSequence() override {
    auto result = connection_->Query("reading the heartbeat", kSelect, {writer_id_});
    if (result.status().code() == engine::StatusCode::kNotFound) {
      return std::optional<int64_t>();  // the table has not reached the target
                                        // yet
    }
    if (!result.ok()) {
      return WithPrivilegeHint(result.status(), connection_->config(),
                               "GRANT USAGE ON SCHEMA _tandem and SELECT ON _tandem.heartbeat");
    }
    if (result->rows() == 0 || result->IsNull(0, 0)) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(result->Int(0, 0));
  }

  std::string Describe() const override { return Where(connection_->config()); }

 private:
  std::unique_ptr<PostgresConnection> connection_;
  const std::string writer_id_;
};

}  // namespace

engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenPostgresHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, PostgresConnection::Connect(source));
  return std::unique_ptr<engine::HeartbeatWriter>(
      new PostgresHeartbeatWriter(std::move(connection), writer_id));
}

engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenPostgresHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, PostgresConnection::Connect(target));
  return std::unique_ptr<engine::HeartbeatReader>(
      new PostgresHeartbeatReader(std::move(connection), writer_id));
}

}  // namespace tandem::connectors::postgres
