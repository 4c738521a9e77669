#include "connectors/postgres/postgres_replication_connection.h"

#include <poll.h>

#include <utility>

#include "connectors/postgres/postgres_errors.h"
#include "connectors/postgres/postgres_range_query.h"

namespace tandem::connectors::postgres {
namespace {

using engine::ConnectionConfig;
using engine::Result;
using engine::Status;
using Clock = std::chrono::steady_clock;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The Status for a server error on the walsender. Slot and publication problems are refusals the
// user fixes on the source (kFailedPrecondition with the fix); everything else is classified by
// postgres_errors.h.
Status ReplicationError(const ConnectionConfig& config, std::string_view context,
                        std::string_view sqlstate, std::string_view message,
                        std::string_view hint) {
  const std::string where = std::string(context) + " on " + config.Redacted() + " failed: ";
  std::string text;
  if (Contains(message, "replication slot") && Contains(message, "does not exist")) {
    text = where + OneLine(message) +
           " (the slot tandem streams from is gone: create it again by running tandem sync with "
           "its initial copy, or SELECT pg_create_logical_replication_slot('<slot>', 'pgoutput') "
           "and resync)";
  } else if (Contains(message, "replication slot") && Contains(message, "is active for PID")) {
    // Retryable: usually the walsender of this stream's previous connection, which the server
    // ends once it notices the closed socket (a reconnect or a restart after kill -9).
    return engine::Unavailable(ScrubSecret(
        OneLine(where + OneLine(message) +
                " (another process is streaming from this slot: stop the other tandem sync, or "
                "end that backend with SELECT pg_terminate_backend(<pid>), then run tandem sync "
                "again)"),
        config.password));
  } else if (Contains(message, "publication") && Contains(message, "does not exist")) {
    text = where + OneLine(message) +
           " (create the publication on the source: CREATE PUBLICATION ... FOR TABLE ...)";
  } else if (Contains(message, "cannot be accessed") || Contains(message, "was created")) {
    // E.g. a slot created in another database, or invalidated by max_slot_wal_keep_size.
    text = where + OneLine(message) + (hint.empty() ? "" : " (" + OneLine(hint) + ")");
  }
  if (!text.empty()) {
    return engine::FailedPrecondition(ScrubSecret(OneLine(text), config.password));
  }
  return StatementError(config, context, sqlstate, message, hint);
}

}  // namespace

std::string QuoteReplicationLiteral(std::string_view value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'') {
      quoted += '\'';
    }
    quoted += c;
  }
  quoted += '\'';
  return quoted;
}

Result<std::unique_ptr<PostgresReplicationConnection>> PostgresReplicationConnection::Connect(
    const ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(LibpqHandle conn, OpenLibpqConnection(config, LibpqMode::kReplication));
  return std::unique_ptr<PostgresReplicationConnection>(
      new PostgresReplicationConnection(config, std::move(conn)));
}

PostgresReplicationConnection::PostgresReplicationConnection(ConnectionConfig config,
                                                             LibpqHandle conn)
    : config_(std::move(config)),
      server_version_(PQserverVersion(conn.get())),
      conn_(std::move(conn)) {}

PostgresReplicationConnection::~PostgresReplicationConnection() = default;

Status PostgresReplicationConnection::CheckOpen(std::string_view context) const {
  if (conn_ != nullptr) {
    return Status::Ok();
  }
  return engine::ConnectionFailed(std::string(context) + " on " + config_.Redacted() +
                                  " failed: the replication connection was closed " +
                                  closed_reason_ + " (open a new connection)");
}

void PostgresReplicationConnection::Close(std::string reason) {
  conn_.reset();
  streaming_ = false;
  closed_reason_ = std::move(reason);
}

Status PostgresReplicationConnection::ErrorFor(std::string_view context, const PGresult* result) {
  LibpqFailure failure =
      DescribeLibpqFailure(conn_.get(), config_, context, result, &ReplicationError);
  if (failure.close_reason) {
    Close(*failure.close_reason);
  }
  return failure.status;
}

Status PostgresReplicationConnection::Flush(std::string_view context) {
  switch (FlushLibpqOutput(conn(), config_.read_timeout)) {
    case LibpqIo::kDone:
      return Status::Ok();
    case LibpqIo::kTimedOut:
      Close("after a message could not be sent within read_timeout");
      return engine::Timeout(std::string(context) + " on " + config_.Redacted() +
                             " failed: could not send within read_timeout=" +
                             std::to_string(config_.read_timeout.count()) +
                             " s (check the network path to " + config_.Endpoint() + ")");
    case LibpqIo::kFailed:
      break;
  }
  return ErrorFor(context, nullptr);
}

Result<PgResult> PostgresReplicationConnection::NextResult(std::string_view context) {
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  switch (AwaitLibpqResult(conn(), Clock::now() + config_.read_timeout)) {
    case LibpqIo::kDone:
      break;
    case LibpqIo::kTimedOut:
      // A walsender command cannot be cancelled safely mid-way (a half-created slot is the
      // server's to clean up); the connection is closed, which ends the command on the server.
      Close("after a command got no answer within read_timeout");
      return engine::Timeout(std::string(context) + " on " + config_.Redacted() +
                             " failed: no answer from the server within read_timeout=" +
                             std::to_string(config_.read_timeout.count()) +
                             " s; the connection was closed (raise read_timeout in the URI or "
                             "reduce the load on the server)");
    case LibpqIo::kFailed:
      return ErrorFor(context, nullptr);
  }
  return PgResult(PQgetResult(conn()));
}

Result<PgResult> PostgresReplicationConnection::Command(std::string_view context,
                                                        const std::string& command) {
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  if (streaming_) {
    return engine::FailedPrecondition(std::string(context) + " on " + config_.Redacted() +
                                      " refused: the connection is streaming replication and "
                                      "takes no commands (use another connection)");
  }
  if (PQsendQuery(conn(), command.c_str()) == 0) {
    return ErrorFor(context, nullptr);
  }
  TANDEM_RETURN_IF_ERROR(Flush(context));
  PgResult last;
  Status error;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
    if (!result) {
      break;
    }
    switch (result.status()) {
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
      case PGRES_EMPTY_QUERY:
        last = std::move(result);
        break;
      case PGRES_COPY_BOTH:
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
        // A command that enters a copy (START_REPLICATION, BASE_BACKUP) cannot be finished
        // here; the protocol state is the copy's, so the connection is given up.
        Close("after a command started a copy");
        return engine::InvalidArgument(std::string(context) + " on " + config_.Redacted() +
                                       " failed: the command started a COPY; use "
                                       "StartLogicalReplication for START_REPLICATION");
      default:
        if (error.ok()) {
          error = ErrorFor(context, result.get());
          if (conn_ == nullptr) {
            return error;
          }
        }
        break;
    }
  }
  if (!error.ok()) {
    return error;
  }
  if (!last) {
    return engine::Internal(std::string(context) + " on " + config_.Redacted() +
                            " failed: the server returned no result");
  }
  return last;
}

Status PostgresReplicationConnection::StartLogicalReplication(
    const std::string& slot, engine::Lsn start,
    const std::vector<std::pair<std::string, std::string>>& plugin_options) {
  const std::string context = "starting logical replication from slot " + QuoteIdentifier(slot) +
                              " at " + engine::FormatLsn(start);
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  if (streaming_) {
    return engine::FailedPrecondition(context + " on " + config_.Redacted() +
                                      " refused: the connection is already streaming");
  }
  std::string command =
      "START_REPLICATION SLOT " + QuoteIdentifier(slot) + " LOGICAL " + engine::FormatLsn(start);
  if (!plugin_options.empty()) {
    command += " (";
    for (size_t i = 0; i < plugin_options.size(); ++i) {
      if (i > 0) {
        command += ", ";
      }
      command += QuoteIdentifier(plugin_options[i].first) + " " +
                 QuoteReplicationLiteral(plugin_options[i].second);
    }
    command += ")";
  }
  if (PQsendQuery(conn(), command.c_str()) == 0) {
    return ErrorFor(context, nullptr);
  }
  TANDEM_RETURN_IF_ERROR(Flush(context));
  Status error;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
    if (!result) {
      break;
    }
    if (result.status() == PGRES_COPY_BOTH) {
      // No further PQgetResult until the copy ends: the stream is now ReadCopyData's.
      streaming_ = true;
      return Status::Ok();
    }
    if (error.ok()) {
      error = ErrorFor(context, result.get());
      if (conn_ == nullptr) {
        return error;
      }
    }
  }
  if (error.ok()) {
    error = engine::Internal(context + " on " + config_.Redacted() +
                             " failed: the server did not enter CopyBoth mode");
  }
  return error;
}

Result<std::optional<std::string>> PostgresReplicationConnection::ReadCopyData(
    std::chrono::milliseconds timeout) {
  constexpr std::string_view kContext = "reading the replication stream";
  TANDEM_RETURN_IF_ERROR(CheckOpen(kContext));
  if (!streaming_) {
    return engine::FailedPrecondition(std::string(kContext) + " on " + config_.Redacted() +
                                      " refused: START_REPLICATION has not succeeded");
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    char* buffer = nullptr;
    const int length = PQgetCopyData(conn(), &buffer, /*async=*/1);
    if (length > 0) {
      std::string bytes(buffer, static_cast<size_t>(length));
      PQfreemem(buffer);
      return std::optional<std::string>(std::move(bytes));
    }
    if (length == 0) {
      // Nothing complete buffered: wait for more.
      switch (WaitForSocket(conn(), POLLIN, deadline)) {
        case WaitOutcome::kReady:
          if (PQconsumeInput(conn()) == 0) {
            return ErrorFor(kContext, nullptr);
          }
          continue;
        case WaitOutcome::kTimedOut:
          return std::optional<std::string>();
        case WaitOutcome::kFailed:
          return ErrorFor(kContext, nullptr);
      }
    }
    if (length == -2) {
      return ErrorFor(kContext, nullptr);
    }
    // -1: the copy ended. The server either refused to go on (an error result follows) or ended
    // the stream on its own; either way the walsender is done with us.
    streaming_ = false;
    Status error;
    for (;;) {
      Result<PgResult> result = NextResult(kContext);
      if (!result.ok()) {
        if (error.ok()) {
          error = result.status();
        }
        break;
      }
      if (!*result) {
        break;
      }
      const ExecStatusType status = result->status();
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && error.ok()) {
        error = ErrorFor(kContext, result->get());
      }
      if (conn_ == nullptr) {
        break;
      }
    }
    Close("after the server ended the replication stream");
    if (error.ok()) {
      error = engine::ConnectionFailed(std::string(kContext) + " on " + config_.Redacted() +
                                       " failed: the server ended the replication stream "
                                       "(reconnect to resume from the last checkpoint)");
    }
    return error;
  }
}

Status PostgresReplicationConnection::SendCopyData(std::string_view bytes) {
  constexpr std::string_view kContext = "sending a standby status update";
  TANDEM_RETURN_IF_ERROR(CheckOpen(kContext));
  if (!streaming_) {
    return engine::FailedPrecondition(std::string(kContext) + " on " + config_.Redacted() +
                                      " refused: START_REPLICATION has not succeeded");
  }
  const auto deadline = Clock::now() + config_.read_timeout;
  for (;;) {
    const int queued = PQputCopyData(conn(), bytes.data(), static_cast<int>(bytes.size()));
    if (queued == 1) {
      break;
    }
    if (queued < 0) {
      return ErrorFor(kContext, nullptr);
    }
    // 0: libpq's buffer is full (non-blocking): let the socket drain first.
    switch (WaitForSocket(conn(), POLLOUT, deadline)) {
      case WaitOutcome::kReady:
        if (PQflush(conn()) < 0) {
          return ErrorFor(kContext, nullptr);
        }
        break;
      case WaitOutcome::kTimedOut:
        Close("after a status update could not be sent within read_timeout");
        return engine::Timeout(std::string(kContext) + " on " + config_.Redacted() +
                               " failed: could not send within read_timeout=" +
                               std::to_string(config_.read_timeout.count()) +
                               " s (check the network path to " + config_.Endpoint() + ")");
      case WaitOutcome::kFailed:
        return ErrorFor(kContext, nullptr);
    }
  }
  return Flush(kContext);
}

}  // namespace tandem::connectors::postgres
