// File: connectors/postgres/postgres_connection.h
//
// PostgresConnection: one libpq connection (the one owner of its PGconn*), opened from an
// engine::ConnectionConfig with fixed session settings, and the only way the connector talks to
// the server. Every statement goes through libpq's asynchronous API (PQsendQueryParams, then
// PQconsumeInput/PQisBusy around poll(2) on the socket), so no call waits longer than the
// configured timeouts:
//
//   phase              bound
//   connect + login    connect_timeout (libpq's connect_timeout, per address tried)
//   each result/row    read_timeout of silence from the server; then the statement is cancelled
//                      (PQcancel, itself bounded by connect_timeout) and kTimeout returned
//   whole statement    the server's statement_timeout = read_timeout, except for streamed reads
//                      (Stream) and COPY (CopyOut, BeginCopyIn...EndCopyIn), whose duration grows
//                      with the data moved and which are bounded by the silence timeout alone
//
// Session settings (startup options, so they hold from the first statement): TimeZone=UTC,
// DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3 (shortest exact floats),
// bytea_output=hex, client_encoding=UTF8, application_name=tandem.
//
// Values are exchanged in text format; parameters are always bound ($1, $2, ...), never spliced
// into SQL text, except in COPY and SET TRANSACTION SNAPSHOT, which take no parameters: their
// values go through QuoteLiteral or strict validation. Server notices are discarded (they would
// otherwise go to stderr).
//
// After a failure that leaves the protocol state unknown (a timeout whose cancel could not be
// confirmed, a lost connection), the connection is closed and every later call returns
// kConnectionFailed: open a new one.
//
// Thread safety: owned by one thread at a time; not safe for concurrent use.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/postgres/postgres_libpq.h"
#include "connectors/postgres/postgres_param.h"
#include "connectors/postgres/postgres_result.h"
#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

class PostgresConnection {
 public:
  // Connects and logs in.
  // Errors: kConnectionFailed (refused, unreachable, timeout, TLS), kAuthenticationFailed (wrong
  // password, unknown role, pg_hba), kNotFound (unknown database), kPermissionDenied (no CONNECT
  // privilege), kUnavailable (too many clients, starting up), kInvalidArgument (not a PostgreSQL
  // config; a TLS root certificate, certificate or key file that cannot be read). Messages are
  // one line, name config.Redacted() and never hold the password.
  static engine::Result<std::unique_ptr<PostgresConnection>> Connect(
      const engine::ConnectionConfig& config);

  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  const engine::ConnectionConfig& config() const { return config_; }
  // server_version_num, e.g. 150018 for 15.18.
  int server_version() const { return server_version_; }

  // Runs one statement with bound text parameters and returns its whole result. Meant for
  // statements whose results are small (catalog, settings, assessment); use Stream for table data.
  // `context` says what is being done ("listing tables"), for error messages.
  // Errors: see postgres_errors.h; kTimeout after read_timeout of silence.
  engine::Result<PgResult> Query(std::string_view context, const std::string& sql,
                                 const std::vector<Param>& params = {});

  // The time one `SELECT 1` takes from send to its last result: a round trip plus the server's
  // cheapest statement. Session housekeeping (see Stream) is done before the clock starts.
  engine::Result<std::chrono::nanoseconds> RoundTrip();

  // Called once per row of a streamed statement with a one-row result (valid during the call).
  // Returns true to go on, false to stop early (not an error), or an error that ends the read.
  using RowCallback = std::function<engine::Result<bool>(const PgResult& row)>;

  // Runs one SELECT with bound parameters and hands its rows to `on_row` one at a time (libpq
  // single-row mode): client memory stays bounded by one row plus libpq's input buffer, however
  // many rows there are. Stopping early drops the rows that have already arrived and, if the
  // statement is still running, cancels it on the server (a cancel costs the server a fork, so it
  // is skipped when the rest is already here).
  // Errors: as Query, plus whatever `on_row` returns.
  engine::Status Stream(std::string_view context, const std::string& sql,
                        const std::vector<Param>& params, const RowCallback& on_row);

  // --- COPY -------------------------------------------------------------------------------------
  // COPY has no bound parameters: callers build `sql` from QuoteIdentifier'd names and
  // QuoteLiteral'd values. Like Stream, a COPY runs with the server's statement_timeout off and is
  // bounded by read_timeout of silence on every wait (then it is cancelled and kTimeout returned).

  // Runs `sql`, a `COPY ... TO STDOUT`, and hands its data to `on_data` in the pieces libpq
  // delivers (one data row each in text and binary format; views valid during the call). An error
  // from `on_data` cancels the COPY on the server, drops what is left and is returned.
  // Errors: as Query; kInvalidArgument when `sql` is not a COPY TO STDOUT.
  engine::Status CopyOut(std::string_view context, const std::string& sql,
                         const std::function<engine::Status(std::string_view data)>& on_data);

  // Pushing into a `COPY ... FROM STDIN`: BeginCopyIn, any number of PutCopyData, then EndCopyIn
  // (commit the data to the statement) or AbortCopyIn (fail the statement). Between BeginCopyIn and
  // EndCopyIn/AbortCopyIn no other method may be called. PutCopyData returns once libpq has handed
  // `data` to the kernel, so client memory stays bounded by one piece whatever the volume.
  // Errors: as Query; kInvalidArgument when `sql` is not a COPY FROM STDIN; PutCopyData and
  // EndCopyIn return the server's error for bad data (the COPY is then over).
  engine::Status BeginCopyIn(std::string_view context, const std::string& sql);
  engine::Status PutCopyData(std::string_view context, std::string_view data);
  // The rows the COPY stored.
  engine::Result<int64_t> EndCopyIn(std::string_view context);
  // Ends the COPY with an error on the server (`reason` is shown in its log). Never fails: a COPY
  // that cannot be ended cleanly closes the connection.
  void AbortCopyIn(std::string_view reason);

  // `value` as a quoted SQL string literal for this connection (PQescapeLiteral: quotes and,
  // when needed, backslashes escaped). For the values of statements that cannot be bound (COPY).
  // Errors: kInvalidArgument when libpq refuses `value` (invalid encoding); kConnectionFailed when
  // the connection was closed.
  engine::Result<std::string> QuoteLiteral(std::string_view value);

  // Opens a REPEATABLE READ READ ONLY transaction that sees the snapshot `snapshot_name` exported
  // by another session (pg_export_snapshot() or a replication slot created with EXPORT_SNAPSHOT):
  // BEGIN, then SET TRANSACTION SNAPSHOT. The exporting transaction must still be open.
  // Errors: kInvalidArgument when `snapshot_name` is not a snapshot name (hex digits and dashes:
  // it is spliced as a literal, as SET TRANSACTION SNAPSHOT takes no parameter); the server's
  // error (e.g. invalid snapshot identifier, kNotFound/kFailedPrecondition per postgres_errors.h)
  // when it cannot be imported, after which the transaction has been rolled back.
  engine::Status BeginSnapshotTransaction(std::string_view context,
                                          const std::string& snapshot_name);

 private:
  using ConnHandle = LibpqHandle;

  PostgresConnection(engine::ConnectionConfig config, ConnHandle conn);

  PGconn* conn() const { return conn_.get(); }
  engine::Status CheckOpen(std::string_view context) const;
  // Sets the server's statement_timeout to `milliseconds` (0 = none) unless it already is.
  engine::Status EnsureStatementTimeout(std::string_view context, int64_t milliseconds);
  // Sends the statement and flushes it, waiting at most read_timeout for the socket.
  engine::Status Send(std::string_view context, const std::string& sql,
                      const std::vector<Param>& params, bool single_row);
  // The next result of the statement in flight (nullptr result = the statement is done), waiting
  // at most read_timeout of silence. On timeout, cancels the statement and returns kTimeout.
  engine::Result<PgResult> NextResult(std::string_view context);
  // Reads and discards what is left of the statement in flight, waiting at most `limit` of
  // silence. False when it could not (then the connection has been closed).
  bool Drain(std::chrono::milliseconds limit);
  // Reads and discards the results of the statement in flight that have already arrived, without
  // waiting. True when that completed the statement.
  bool DiscardArrived();
  // Sends a COPY statement and waits for the server to switch to `expected` (PGRES_COPY_OUT or
  // PGRES_COPY_IN).
  engine::Status StartCopy(std::string_view context, const std::string& sql,
                           ExecStatusType expected);
  // After a COPY TO STDOUT was abandoned: reads and drops its data and results, waiting at most
  // `limit` of silence; closes the connection when that does not finish.
  void DiscardCopyOut(std::chrono::milliseconds limit);
  // After libpq refused COPY IN data: the server's error for the COPY (its results read).
  engine::Status CopyInError(std::string_view context);
  // Reads and drops the data of the COPY TO STDOUT in flight until its end, waiting at most
  // `limit` of silence. False when it could not (then the connection has been closed).
  bool SkipCopyOutData(std::chrono::milliseconds limit);
  // Ends the COPY FROM STDIN in flight with an error and flushes, waiting at most `limit` of
  // silence. False when it could not (then the connection has been closed).
  bool EndCopyInNow(std::chrono::milliseconds limit);
  // Flushes libpq's output buffer, waiting at most read_timeout of silence for the socket.
  engine::Status FlushOutput(std::string_view context);
  // Cancels the statement in flight on the server and drains it; closes the connection if that
  // does not complete within connect_timeout.
  void CancelInFlight();
  // The Status for a failed `result` (nullptr: the connection failed without one).
  engine::Status ErrorFor(std::string_view context, const PGresult* result);
  // Closes the connection; later calls return kConnectionFailed saying it was closed `reason`.
  void Close(std::string reason);

  // Constant after construction.
  const engine::ConnectionConfig config_;
  int server_version_ = 0;
  // Owner thread only.
  ConnHandle conn_;
  int64_t statement_timeout_ms_ = 0;  // what the session's statement_timeout is set to now
  // statement_timeout was SET inside a transaction block: when that block ends, a rollback may have
  // reverted it, so statement_timeout_ms_ is unknown until set again.
  bool statement_timeout_set_in_transaction_ = false;
  size_t copy_in_unflushed_ = 0;  // bytes given to PQputCopyData since the last full flush
  std::string closed_reason_;     // why conn_ was closed, for later calls' errors
};

}  // namespace tandem::connectors::postgres
