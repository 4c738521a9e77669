#include "connectors/postgres/postgres_connection.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>
#include <utility>

#include "connectors/postgres/postgres_errors.h"
#include "connectors/postgres/postgres_libpq.h"

namespace tandem::connectors::postgres {
namespace {

using engine::ConnectionConfig;
using engine::Result;
using engine::Status;
using Clock = std::chrono::steady_clock;

int64_t Milliseconds(std::chrono::seconds seconds) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(seconds).count();
}

// Sends a cancel request for the statement running on `conn` and waits at most `limit` for it to
// be delivered. PQcancel opens a new connection to the server with a blocking connect() that
// libpq 15 does not bound, so it runs on a helper thread that owns its PGcancel; if the server
// does not answer in time the thread is left to finish on its own and false is returned.
bool SendCancel(PGconn* conn, std::chrono::milliseconds limit) {
  PGcancel* cancel = PQgetCancel(conn);
  if (cancel == nullptr) {
    return false;
  }
  auto delivered = std::make_shared<std::promise<bool>>();
  std::future<bool> outcome = delivered->get_future();
  std::thread([cancel, delivered] {
    char error[256];
    const bool ok = PQcancel(cancel, error, sizeof error) == 1;
    PQfreeCancel(cancel);
    delivered->set_value(ok);
  }).detach();
  if (outcome.wait_for(limit) != std::future_status::ready) {
    return false;
  }
  return outcome.get();
}

}  // namespace

Result<std::unique_ptr<PostgresConnection>> PostgresConnection::Connect(
    const ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(LibpqHandle conn, OpenLibpqConnection(config, LibpqMode::kNormal));
  auto connection =
      std::unique_ptr<PostgresConnection>(new PostgresConnection(config, std::move(conn)));
  return connection;
}

PostgresConnection::PostgresConnection(ConnectionConfig config, ConnHandle conn)
    : config_(std::move(config)),
      server_version_(PQserverVersion(conn.get())),
      conn_(std::move(conn)),
      statement_timeout_ms_(Milliseconds(config_.read_timeout)) {}

PostgresConnection::~PostgresConnection() = default;

Status PostgresConnection::CheckOpen(std::string_view context) const {
  if (conn_ != nullptr) {
    return Status::Ok();
  }
  return engine::ConnectionFailed(std::string(context) + " on " + config_.Redacted() +
                                  " failed: the connection was closed " + closed_reason_ +
                                  " (open a new connection)");
}

void PostgresConnection::Close(std::string reason) {
  conn_.reset();
  closed_reason_ = std::move(reason);
}

Status PostgresConnection::ErrorFor(std::string_view context, const PGresult* result) {
  LibpqFailure failure =
      DescribeLibpqFailure(conn_.get(), config_, context, result, &StatementError);
  if (failure.close_reason) {
    Close(*failure.close_reason);
  }
  return failure.status;
}

Status PostgresConnection::Send(std::string_view context, const std::string& sql,
                                const std::vector<Param>& params, bool single_row) {
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& param : params) {
    values.push_back(param.has_value() ? param->c_str() : nullptr);
  }
  if (PQsendQueryParams(conn(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                        values.data(), nullptr, nullptr, /*resultFormat=text*/ 0) == 0) {
    return ErrorFor(context, nullptr);
  }
  if (single_row && PQsetSingleRowMode(conn()) == 0) {
    // Only fails when no statement is in flight, which PQsendQueryParams just started.
    Close("after libpq refused single-row mode");
    return engine::Internal(std::string(context) + " on " + config_.Redacted() +
                            " failed: libpq refused single-row mode");
  }
  switch (FlushLibpqOutput(conn(), config_.read_timeout)) {
    case LibpqIo::kDone:
      return Status::Ok();
    case LibpqIo::kTimedOut:
      Close("after a statement could not be sent within read_timeout");
      return engine::Timeout(std::string(context) + " on " + config_.Redacted() +
                             " failed: the statement could not be sent within read_timeout=" +
                             std::to_string(config_.read_timeout.count()) +
                             " s (check the network path to " + config_.Endpoint() + ")");
    case LibpqIo::kFailed:
      break;
  }
  return ErrorFor(context, nullptr);
}

Result<PgResult> PostgresConnection::NextResult(std::string_view context) {
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  switch (AwaitLibpqResult(conn(), Clock::now() + config_.read_timeout)) {
    case LibpqIo::kDone:
      break;
    case LibpqIo::kTimedOut: {
      CancelInFlight();
      std::string after = conn_ != nullptr
                              ? "the statement was cancelled"
                              : "the cancel was not confirmed, so the connection was closed";
      return engine::Timeout(std::string(context) + " on " + config_.Redacted() +
                             " failed: no answer from the server within read_timeout=" +
                             std::to_string(config_.read_timeout.count()) + " s; " + after +
                             " (raise read_timeout in the URI or reduce the load on the "
                             "server)");
    }
    case LibpqIo::kFailed:
      return ErrorFor(context, nullptr);
  }
  return PgResult(PQgetResult(conn()));
}

bool PostgresConnection::Drain(std::chrono::milliseconds limit) {
  while (conn_ != nullptr) {
    if (AwaitLibpqResult(conn(), Clock::now() + limit) != LibpqIo::kDone) {
      Close("after a statement could not be cancelled");
      return false;
    }
    PgResult result(PQgetResult(conn()));
    if (!result) {
      return true;
    }
    // A COPY that had started when it was cancelled: libpq keeps returning its COPY result until
    // the data is read (COPY TO) or the end is sent (COPY FROM).
    if (result.status() == PGRES_COPY_OUT && !SkipCopyOutData(limit)) {
      return false;
    }
    if (result.status() == PGRES_COPY_IN && !EndCopyInNow(limit)) {
      return false;
    }
  }
  return false;
}

bool PostgresConnection::SkipCopyOutData(std::chrono::milliseconds limit) {
  while (conn_ != nullptr) {
    char* buffer = nullptr;
    const int length = PQgetCopyData(conn(), &buffer, /*async=*/1);
    if (length > 0) {
      PQfreemem(buffer);
      continue;
    }
    if (length == -1) {
      return true;  // the COPY is over: its results follow
    }
    if (length < -1 || WaitForSocket(conn(), POLLIN, Clock::now() + limit) != WaitOutcome::kReady ||
        PQconsumeInput(conn()) == 0) {
      Close("after a COPY could not be cancelled");
      return false;
    }
  }
  return false;
}

bool PostgresConnection::EndCopyInNow(std::chrono::milliseconds limit) {
  if (PQputCopyEnd(conn(), "cancelled by tandem") < 0) {
    Close("after a COPY could not be ended");
    return false;
  }
  if (FlushLibpqOutput(conn(), limit) != LibpqIo::kDone) {
    Close("after a COPY could not be ended");
    return false;
  }
  return true;
}

bool PostgresConnection::DiscardArrived() {
  if (PQconsumeInput(conn()) == 0) {
    return false;
  }
  while (PQisBusy(conn()) == 0) {
    PgResult result(PQgetResult(conn()));
    if (!result) {
      return true;
    }
  }
  return false;
}

void PostgresConnection::CancelInFlight() {
  if (conn_ == nullptr) {
    return;
  }
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(config_.connect_timeout);
  if (!SendCancel(conn(), limit)) {
    Close("after a statement could not be cancelled");
    return;
  }
  Drain(limit);
}

Status PostgresConnection::EnsureStatementTimeout(std::string_view context, int64_t milliseconds) {
  if (statement_timeout_set_in_transaction_ && conn_ != nullptr &&
      PQtransactionStatus(conn()) == PQTRANS_IDLE) {
    // The block that SET it has ended; a rollback reverted it, a commit kept it.
    statement_timeout_set_in_transaction_ = false;
    statement_timeout_ms_ = -1;
  }
  if (statement_timeout_ms_ == milliseconds) {
    return Status::Ok();
  }
  if (conn_ != nullptr && PQtransactionStatus(conn()) == PQTRANS_INERROR) {
    // A failed transaction block takes only ROLLBACK (or COMMIT, which rolls back), which reverts
    // any SET made in it: nothing to set, and the value is unknown once the block ends.
    statement_timeout_set_in_transaction_ = true;
    return Status::Ok();
  }
  const bool in_transaction = conn_ != nullptr && PQtransactionStatus(conn()) != PQTRANS_IDLE;
  // A number, not user input: safe to write into the statement.
  TANDEM_RETURN_IF_ERROR(
      Send(context, "SET statement_timeout = " + std::to_string(milliseconds), {}, false));
  Status error;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
    if (!result) {
      break;
    }
    if (result.status() != PGRES_COMMAND_OK && error.ok()) {
      error = ErrorFor(context, result.get());
    }
  }
  if (error.ok()) {
    statement_timeout_ms_ = milliseconds;
    statement_timeout_set_in_transaction_ = statement_timeout_set_in_transaction_ || in_transaction;
  }
  return error;
}

Result<PgResult> PostgresConnection::Query(std::string_view context, const std::string& sql,
                                           const std::vector<Param>& params) {
  TANDEM_RETURN_IF_ERROR(EnsureStatementTimeout(context, Milliseconds(config_.read_timeout)));
  TANDEM_RETURN_IF_ERROR(Send(context, sql, params, /*single_row=*/false));
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
      default:
        if (error.ok()) {
          error = ErrorFor(context, result.get());
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

Result<std::chrono::nanoseconds> PostgresConnection::RoundTrip() {
  constexpr std::string_view kContext = "pinging the server";
  TANDEM_RETURN_IF_ERROR(EnsureStatementTimeout(kContext, Milliseconds(config_.read_timeout)));
  const auto start = Clock::now();
  TANDEM_ASSIGN_OR_RETURN(PgResult result, Query(kContext, "SELECT 1"));
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
}

Status PostgresConnection::Stream(std::string_view context, const std::string& sql,
                                  const std::vector<Param>& params, const RowCallback& on_row) {
  // A streamed read lasts as long as its rows take to arrive; the silence timeout bounds it.
  TANDEM_RETURN_IF_ERROR(EnsureStatementTimeout(context, 0));
  TANDEM_RETURN_IF_ERROR(Send(context, sql, params, /*single_row=*/true));
  Status error;
  bool stopped = false;  // the reader asked to stop or failed: the rest is cancelled and dropped
  const auto cancel_limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.connect_timeout);
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
    if (!result) {
      break;
    }
    switch (result.status()) {
      case PGRES_SINGLE_TUPLE: {
        if (stopped) {
          break;
        }
        Result<bool> go_on = on_row(result);
        if (!go_on.ok() || !*go_on) {
          error = go_on.status();
          stopped = true;
          // A cancel costs the server a process fork (tens of ms), so it is sent only when the
          // rest of the statement has not already arrived. An undelivered cancel is harmless:
          // the remaining rows are then read and dropped.
          if (!DiscardArrived()) {
            SendCancel(conn(), cancel_limit);
          }
        }
        break;
      }
      case PGRES_TUPLES_OK:  // the end of the rows
        break;
      default:
        // After our own cancel the server reports "canceling statement": expected, not an error.
        if (!stopped && error.ok()) {
          error = ErrorFor(context, result.get());
          if (conn_ == nullptr) {
            return error;
          }
        }
        break;
    }
  }
  return error;
}

Status PostgresConnection::FlushOutput(std::string_view context) {
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  // Each wait is bounded by read_timeout of silence: a writable socket is progress.
  switch (FlushLibpqOutput(conn(), config_.read_timeout)) {
    case LibpqIo::kDone:
      return Status::Ok();
    case LibpqIo::kTimedOut:
      Close("after data could not be sent within read_timeout");
      return engine::Timeout(std::string(context) + " on " + config_.Redacted() +
                             " failed: the server took no data for read_timeout=" +
                             std::to_string(config_.read_timeout.count()) +
                             " s (raise read_timeout in the URI or reduce the load on the "
                             "server)");
    case LibpqIo::kFailed:
      break;
  }
  return ErrorFor(context, nullptr);
}

void PostgresConnection::DiscardCopyOut(std::chrono::milliseconds limit) {
  if (SkipCopyOutData(limit)) {
    Drain(limit);
  }
}

Status PostgresConnection::StartCopy(std::string_view context, const std::string& sql,
                                     ExecStatusType expected) {
  // A COPY lasts as long as its data takes to move; the silence timeout bounds it.
  TANDEM_RETURN_IF_ERROR(EnsureStatementTimeout(context, 0));
  TANDEM_RETURN_IF_ERROR(Send(context, sql, {}, /*single_row=*/false));
  TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
  if (!result) {
    return engine::Internal(std::string(context) + " on " + config_.Redacted() +
                            " failed: the server returned no result");
  }
  const ExecStatusType status = result.status();
  if (status == expected) {
    return Status::Ok();
  }
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(config_.connect_timeout);
  Status error = engine::InvalidArgument(
      std::string(context) + " on " + config_.Redacted() + " failed: the statement is not a " +
      (expected == PGRES_COPY_OUT ? "COPY ... TO STDOUT" : "COPY ... FROM STDIN") +
      " (a bug in the caller)");
  if (status == PGRES_COPY_OUT) {
    SendCancel(conn(), limit);
    DiscardCopyOut(limit);
  } else if (status == PGRES_COPY_IN) {
    AbortCopyIn("not the expected COPY direction");
  } else {
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      error = ErrorFor(context, result.get());
    }
    if (conn_ != nullptr) {
      Drain(limit);
    }
  }
  return error;
}

Status PostgresConnection::CopyOut(std::string_view context, const std::string& sql,
                                   const std::function<Status(std::string_view data)>& on_data) {
  TANDEM_RETURN_IF_ERROR(StartCopy(context, sql, PGRES_COPY_OUT));
  const auto cancel_limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.connect_timeout);
  for (;;) {
    char* buffer = nullptr;
    const int length = PQgetCopyData(conn(), &buffer, /*async=*/1);
    if (length > 0) {
      Status status = on_data(std::string_view(buffer, static_cast<size_t>(length)));
      PQfreemem(buffer);
      if (!status.ok()) {
        SendCancel(conn(), cancel_limit);
        DiscardCopyOut(cancel_limit);
        return status;
      }
      continue;
    }
    if (length == -1) {
      break;  // all data read; the COPY's result follows
    }
    if (length < -1) {
      return ErrorFor(context, nullptr);
    }
    switch (WaitForSocket(conn(), POLLIN, Clock::now() + config_.read_timeout)) {
      case WaitOutcome::kReady:
        if (PQconsumeInput(conn()) == 0) {
          return ErrorFor(context, nullptr);
        }
        break;
      case WaitOutcome::kTimedOut: {
        const bool cancelled = SendCancel(conn(), cancel_limit);
        if (cancelled) {
          DiscardCopyOut(cancel_limit);
        } else {
          Close("after a COPY could not be cancelled");
        }
        std::string after = conn_ != nullptr
                                ? "the COPY was cancelled"
                                : "the cancel was not confirmed, so the connection was closed";
        return engine::Timeout(std::string(context) + " on " + config_.Redacted() +
                               " failed: no data from the server within read_timeout=" +
                               std::to_string(config_.read_timeout.count()) + " s; " + after +
                               " (raise read_timeout in the URI or reduce the load on the "
                               "server)");
      }
      case WaitOutcome::kFailed:
        return ErrorFor(context, nullptr);
    }
  }
  Status error;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
    if (!result) {
      break;
    }
    if (result.status() != PGRES_COMMAND_OK && error.ok()) {
      error = ErrorFor(context, result.get());
      if (conn_ == nullptr) {
        return error;
      }
    }
  }
  return error;
}

Status PostgresConnection::BeginCopyIn(std::string_view context, const std::string& sql) {
  copy_in_unflushed_ = 0;
  return StartCopy(context, sql, PGRES_COPY_IN);
}

Status PostgresConnection::CopyInError(std::string_view context) {
  // The server ended the COPY (bad data, a constraint): its error result is what to report.
  Status error;
  while (conn_ != nullptr) {
    Result<PgResult> result = NextResult(context);
    if (!result.ok()) {
      return error.ok() ? result.status() : error;
    }
    if (!*result) {
      break;
    }
    const ExecStatusType status = result->status();
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
      // Still copying although libpq refused the data: the protocol state is unknown.
      Close("after libpq refused COPY data");
      break;
    }
    if (status != PGRES_COMMAND_OK && error.ok()) {
      error = ErrorFor(context, result->get());
    }
  }
  if (error.ok()) {
    error = ErrorFor(context, nullptr);
  }
  return error;
}

Status PostgresConnection::PutCopyData(std::string_view context, std::string_view data) {
  // libpq flushes whole 8 KiB blocks by itself; what the socket does not take stays in its output
  // buffer, which grows without bound. Flushing every kFlushBytes keeps it bounded.
  constexpr size_t kFlushBytes = 256 * 1024;
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  for (;;) {
    const int put = PQputCopyData(conn(), data.data(), static_cast<int>(data.size()));
    if (put == 1) {
      break;
    }
    if (put < 0) {
      return CopyInError(context);
    }
    TANDEM_RETURN_IF_ERROR(FlushOutput(context));  // 0: the buffer is full
  }
  copy_in_unflushed_ += data.size();
  if (copy_in_unflushed_ >= kFlushBytes) {
    copy_in_unflushed_ = 0;
    Status flushed = FlushOutput(context);
    if (!flushed.ok()) {
      return conn_ != nullptr ? CopyInError(context) : flushed;
    }
  }
  return Status::Ok();
}

Result<int64_t> PostgresConnection::EndCopyIn(std::string_view context) {
  TANDEM_RETURN_IF_ERROR(CheckOpen(context));
  for (;;) {
    const int ended = PQputCopyEnd(conn(), nullptr);
    if (ended == 1) {
      break;
    }
    if (ended < 0) {
      return CopyInError(context);
    }
    TANDEM_RETURN_IF_ERROR(FlushOutput(context));
  }
  TANDEM_RETURN_IF_ERROR(FlushOutput(context));
  int64_t rows = 0;
  Status error;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PgResult result, NextResult(context));
    if (!result) {
      break;
    }
    if (result.status() == PGRES_COMMAND_OK) {
      rows = std::strtoll(PQcmdTuples(result.get()), nullptr, 10);
    } else if (error.ok()) {
      error = ErrorFor(context, result.get());
      if (conn_ == nullptr) {
        return error;
      }
    }
  }
  if (!error.ok()) {
    return error;
  }
  return rows;
}

void PostgresConnection::AbortCopyIn(std::string_view reason) {
  if (conn_ == nullptr) {
    return;
  }
  if (PQtransactionStatus(conn()) != PQTRANS_ACTIVE) {
    return;  // no statement in flight: the COPY has already ended
  }
  const std::string message(reason);
  for (;;) {
    const int ended = PQputCopyEnd(conn(), message.c_str());
    if (ended == 1) {
      break;
    }
    if (ended < 0) {
      if (PQtransactionStatus(conn()) == PQTRANS_ACTIVE && PQisBusy(conn()) == 0) {
        // No COPY in progress any more (the server ended it): only its results are left.
        break;
      }
      Close("after a COPY could not be ended");
      return;
    }
    if (!FlushOutput("ending a COPY").ok()) {
      Close("after a COPY could not be ended");
      return;
    }
  }
  if (!FlushOutput("ending a COPY").ok()) {
    Close("after a COPY could not be ended");
    return;
  }
  Drain(std::chrono::duration_cast<std::chrono::milliseconds>(config_.connect_timeout));
}

Result<std::string> PostgresConnection::QuoteLiteral(std::string_view value) {
  TANDEM_RETURN_IF_ERROR(CheckOpen("quoting a value"));
  char* quoted = PQescapeLiteral(conn(), value.data(), value.size());
  if (quoted == nullptr) {
    return engine::InvalidArgument("quoting a value for " + config_.Redacted() +
                                   " failed: " + OneLine(PQerrorMessage(conn())) +
                                   " (the value is not valid in the client encoding UTF8)");
  }
  std::string result(quoted);
  PQfreemem(quoted);
  return result;
}

Status PostgresConnection::BeginSnapshotTransaction(std::string_view context,
                                                    const std::string& snapshot_name) {
  const bool valid =
      !snapshot_name.empty() && snapshot_name.size() <= 64 &&
      snapshot_name.find_first_not_of("0123456789ABCDEFabcdef-") == std::string::npos;
  if (!valid) {
    return engine::InvalidArgument(std::string(context) + " failed: '" + snapshot_name +
                                   "' is not a snapshot name (hex digits and dashes, as "
                                   "pg_export_snapshot() returns, e.g. 00000003-0000001B-1)");
  }
  TANDEM_ASSIGN_OR_RETURN(PgResult begun,
                          Query(context, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  // Validated above: hex digits and dashes only, so the literal cannot be escaped from.
  Result<PgResult> imported = Query(context, "SET TRANSACTION SNAPSHOT '" + snapshot_name + "'");
  if (!imported.ok()) {
    if (conn_ != nullptr) {
      (void)Query(context, "ROLLBACK");
    }
    return imported.status();
  }
  return Status::Ok();
}

}  // namespace tandem::connectors::postgres
