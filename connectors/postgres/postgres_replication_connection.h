// File: connectors/postgres/postgres_replication_connection.h
//
// PostgresReplicationConnection: one walsender connection (replication=database) to a PostgreSQL
// source, the one owner of its PGconn*, opened with tandem's session settings (postgres_libpq.h).
// It has two phases:
//
//   phase        calls                          protocol
//   command      Command()                      simple query (PQsendQuery): replication commands
//                                               (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, ...)
//                                               and plain SQL; the extended protocol is not
//                                               allowed on a walsender
//   streaming    StartLogicalReplication(),     CopyBoth: the server sends CopyData messages
//                ReadCopyData(), SendCopyData()  (XLogData, keepalives; pgoutput_message.h
//                                               decodes them), the client sends status updates
//
// Once streaming, Command() is refused (kFailedPrecondition): the walsender takes no commands until
// the copy ends, and tandem ends it only by closing the connection.
//
// Every wait is bounded: Command() and SendCopyData() by the config's read_timeout of silence
// (then kTimeout and the connection is closed), ReadCopyData() by the timeout its caller passes.
// After a failure that leaves the protocol state unknown (a timeout, a lost connection, a stream
// the server ended) the connection is closed and every later call returns kConnectionFailed: open
// a new one.
//
// Errors of statements and of START_REPLICATION come from the server's SQLSTATE through
// postgres_errors.h (e.g. a missing slot, 42704, or an active one, 55006), with the server's
// message; messages are one line, name config.Redacted() and never hold the password.
//
// Thread safety: owned by one thread at a time; not safe for concurrent use.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/postgres/postgres_libpq.h"
#include "connectors/postgres/postgres_result.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

class PostgresReplicationConnection {
 public:
  // A walsender connection (replication=database) with tandem's session settings.
  // Errors: as PostgresConnection::Connect (kConnectionFailed, kAuthenticationFailed, kNotFound,
  // kPermissionDenied: the role lacks REPLICATION or pg_hba.conf has no replication line,
  // kUnavailable: max_wal_senders reached, kInvalidArgument).
  static engine::Result<std::unique_ptr<PostgresReplicationConnection>> Connect(
      const engine::ConnectionConfig& config);

  ~PostgresReplicationConnection();
  PostgresReplicationConnection(const PostgresReplicationConnection&) = delete;
  PostgresReplicationConnection& operator=(const PostgresReplicationConnection&) = delete;

  const engine::ConnectionConfig& config() const { return config_; }
  // server_version_num, e.g. 150018 for 15.18.
  int server_version() const { return server_version_; }
  // Whether StartLogicalReplication succeeded (the connection is in CopyBoth).
  bool streaming() const { return streaming_; }

  // One replication command (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT ..., DROP_REPLICATION_SLOT
  // ...) or SQL statement, over the simple query protocol, waiting at most read_timeout of
  // silence for each result; returns the last result (its rows, or an empty COMMAND_OK result).
  // `context` says what is being done, for error messages. The caller quotes what it splices into
  // `command` (QuoteIdentifier for slot names).
  // Errors: postgres_errors.h for a refused command; kTimeout after read_timeout of silence (the
  // connection is then closed); kConnectionFailed; kFailedPrecondition once streaming.
  engine::Result<PgResult> Command(std::string_view context, const std::string& command);

  // START_REPLICATION SLOT "<slot>" LOGICAL <start> ("<name>" '<value>', ...): enters CopyBoth.
  // The slot name and option names are quoted as identifiers, option values as literals.
  // `start` 0/0 means "from the slot's confirmed flush position".
  // Errors: what the server's refusal maps to (a slot that does not exist: kFailedPrecondition
  // naming it and how to create it; a slot in use by another process: kFailedPrecondition naming
  // the holder the server names), kTimeout, kConnectionFailed; kFailedPrecondition when already
  // streaming.
  engine::Status StartLogicalReplication(
      const std::string& slot, engine::Lsn start,
      const std::vector<std::pair<std::string, std::string>>& plugin_options);

  // The next CopyData message, or nullopt when none arrived within `timeout`.
  // REQUIRES: streaming().
  // Errors: kConnectionFailed (connection broken, or the server ended the stream: with the
  // server's error message when it sent one), kFailedPrecondition / kPermissionDenied / ... mapped
  // from the server's error when it refuses (postgres_errors.h).
  engine::Result<std::optional<std::string>> ReadCopyData(std::chrono::milliseconds timeout);

  // Sends one CopyData message (a standby status update), waiting at most read_timeout to flush.
  // REQUIRES: streaming(). Errors: kConnectionFailed, kTimeout (the connection is then closed).
  engine::Status SendCopyData(std::string_view bytes);

 private:
  PostgresReplicationConnection(engine::ConnectionConfig config, LibpqHandle conn);

  PGconn* conn() const { return conn_.get(); }
  engine::Status CheckOpen(std::string_view context) const;
  // Flushes libpq's output buffer, waiting at most read_timeout.
  engine::Status Flush(std::string_view context);
  // The next result of the command in flight (nullptr when it is done), waiting at most
  // read_timeout of silence.
  engine::Result<PgResult> NextResult(std::string_view context);
  // The Status for a failed `result` (nullptr: the connection failed without one).
  engine::Status ErrorFor(std::string_view context, const PGresult* result);
  // Closes the connection; later calls return kConnectionFailed saying it was closed `reason`.
  void Close(std::string reason);

  // Constant after construction.
  const engine::ConnectionConfig config_;
  const int server_version_ = 0;
  // Owner thread only.
  LibpqHandle conn_;
  bool streaming_ = false;
  std::string closed_reason_;
};

// `'value'` with embedded single quotes doubled: a string literal for replication commands and
// the SQL a message suggests (the walsender's grammar takes no bound parameters and no backslash
// escapes).
std::string QuoteReplicationLiteral(std::string_view value);

}  // namespace tandem::connectors::postgres
