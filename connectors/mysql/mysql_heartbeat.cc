#include "connectors/mysql/mysql_heartbeat.h"

#include <string>
#include <utility>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_statement.h"
#include "engine/value.h"

namespace tandem::connectors::mysql {
namespace {

constexpr char kCreateDatabase[] = "CREATE DATABASE IF NOT EXISTS `_tandem`";
constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS `_tandem`.`heartbeat` ("
    "writer_id BIGINT NOT NULL PRIMARY KEY, "
    "seq BIGINT NOT NULL, "
    "sent_ns BIGINT NOT NULL, "
    "written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
    ") ENGINE=InnoDB COMMENT='tandem lag heartbeat: one row per measuring "
    "process'";
constexpr char kTableExists[] =
    "SELECT COUNT(*) FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = '_tandem' AND TABLE_NAME = 'heartbeat'";
constexpr char kDeleteStale[] =
    "DELETE FROM `_tandem`.`heartbeat` WHERE "
    "written_at < NOW(6) - INTERVAL 1 HOUR";
constexpr char kUpsert[] =
    "INSERT INTO `_tandem`.`heartbeat` (writer_id, seq, sent_ns, written_at) "
    "VALUES (?, ?, ?, NOW(6)) "
    "ON DUPLICATE KEY UPDATE seq = VALUES(seq), sent_ns = VALUES(sent_ns), "
    "written_at = VALUES(written_at)";
constexpr char kDelete[] = "DELETE FROM `_tandem`.`heartbeat` WHERE writer_id = ?";
constexpr char kSelect[] = "SELECT seq FROM `_tandem`.`heartbeat` WHERE writer_id = ?";

std::string Where(const engine::ConnectionConfig& config) {
  return config.Redacted() + " (table _tandem.heartbeat)";
}

// Adds the grant that fixes a missing privilege to a kPermissionDenied status.
engine::Status WithGrantHint(const engine::Status& status, const engine::ConnectionConfig& config,
                             const char* privileges) {
  if (status.code() != engine::StatusCode::kPermissionDenied) {
    return status;
  }
  return engine::PermissionDenied(status.message() + "; the heartbeat needs " + privileges +
                                  ": GRANT " + privileges + " ON `_tandem`.* TO '" + config.user +
                                  "'@'%'");
}

class MySqlHeartbeatWriter : public engine::HeartbeatWriter {
 public:
  MySqlHeartbeatWriter(std::unique_ptr<MySqlConnection> connection,
                       engine::HeartbeatWriterId writer_id)
      : connection_(std::move(connection)), writer_id_(writer_id) {}

  engine::Status Prepare() override {
    const engine::ConnectionConfig& config = connection_->config();
    TANDEM_ASSIGN_OR_RETURN(TextRows exists,
                            connection_->QueryText(kTableExists, "looking for _tandem.heartbeat"));
    const bool missing = exists.empty() || !exists[0][0] || *exists[0][0] == "0";
    if (missing) {
      engine::Status created = connection_->Execute(kCreateDatabase, "creating database _tandem");
      if (created.ok()) {
        created = connection_->Execute(kCreateTable, "creating table _tandem.heartbeat");
      }
      if (!created.ok()) {
        return WithGrantHint(created, config, "CREATE, SELECT, INSERT, UPDATE, DELETE");
      }
    }
    engine::Status cleaned =
        connection_->Execute(kDeleteStale, "removing stale rows of _tandem.heartbeat");
    if (!cleaned.ok()) {
      return WithGrantHint(cleaned, config, "SELECT, INSERT, UPDATE, DELETE");
    }
    auto upsert = MySqlStatement::Prepare(*connection_, kUpsert, "writing the heartbeat");
    if (!upsert.ok()) {
      return WithGrantHint(upsert.status(), config, "SELECT, INSERT, UPDATE, DELETE");
    }
    upsert_ = std::move(*upsert);
    return engine::Status::Ok();
  }

  engine::Status Write(const engine::Heartbeat& beat) override {
    if (upsert_ == nullptr) {
      return engine::Internal("the MySQL heartbeat writer was used before Prepare()");
    }
    return WithGrantHint(
        upsert_->Execute({engine::Value::Int(writer_id_), engine::Value::Int(beat.sequence),
                          engine::Value::Int(beat.sent_ns)}),
        connection_->config(), "SELECT, INSERT, UPDATE, DELETE");
  }

  engine::Status Remove() override {
    TANDEM_ASSIGN_OR_RETURN(
        auto statement, MySqlStatement::Prepare(*connection_, kDelete, "removing the heartbeat"));
    return statement->Execute({engine::Value::Int(writer_id_)});
  }

  std::string Describe() const override { return Where(connection_->config()); }

 private:
  // The connection is declared first so it outlives (is destroyed after) its
  // statement.
  std::unique_ptr<MySqlConnection> connection_;
  const engine::HeartbeatWriterId writer_id_;
  std::unique_ptr<MySqlStatement> upsert_;  // set by Prepare()
};

class MySqlHeartbeatReader : public engine::HeartbeatReader {
 public:
  MySqlHeartbeatReader(std::unique_ptr<MySqlConnection> connection,
                       engine::HeartbeatWriterId writer_id)
      : connection_(std::move(connection)), writer_id_(writer_id) {}

  engine::Status Prepare() override { return engine::Status::Ok(); }

  engine::Result<std::optional<int64_t>> ReadSequence() override {
    if (select_ == nullptr) {
      auto prepared = MySqlStatement::Prepare(*connection_, kSelect, "reading the heartbeat");
      if (prepared.status().code() == engine::StatusCode::kNotFound) {
        return std::optional<int64_t>();  // _tandem.heartbeat has not been
                                          // replicated yet
      }
      if (!prepared.ok()) {
        return WithGrantHint(prepared.status(), connection_->config(), "SELECT");
      }
      select_ = std::move(*prepared);
    }
    auto rows = select_->QueryAll({engine::Value::Int(writer_id_)});
    if (rows.status().code() == engine::StatusCode::kNotFound) {
      select_.reset();  // the table went away (dropped on the source); prepare
                        // again
      return std::optional<int64_t>();
    }
    if (!rows.ok()) {
      return rows.status();
    }
    if (rows->empty() || rows->front().empty() ||
        rows->front()[0].kind() != engine::ValueKind::kInt) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(rows->front()[0].int_value());
  }

  std::string Describe() const override { return Where(connection_->config()); }

 private:
  std::unique_ptr<MySqlConnection> connection_;
  const engine::HeartbeatWriterId writer_id_;
  std::unique_ptr<MySqlStatement> select_;  // prepared once the table exists
};

}  // namespace

engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenMySqlHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, MySqlConnection::Open(source));
  return std::unique_ptr<engine::HeartbeatWriter>(
      new MySqlHeartbeatWriter(std::move(connection), writer_id));
}

engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenMySqlHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, MySqlConnection::Open(target));
  return std::unique_ptr<engine::HeartbeatReader>(
      new MySqlHeartbeatReader(std::move(connection), writer_id));
}

}  // namespace tandem::connectors::mysql
