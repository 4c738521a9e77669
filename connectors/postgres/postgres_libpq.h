// File: connectors/postgres/postgres_libpq.h
//
// The libpq plumbing shared by every PostgreSQL connection class of the connector
// (PostgresConnection for SQL, the replication connection for logical decoding): opening a PGconn
// from an engine::ConnectionConfig with tandem's session settings, and waiting on its socket with a
// deadline.
//
// Session settings (startup options, so they hold from the first statement and, on a walsender,
// for the text pgoutput sends): TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres,
// extra_float_digits=3 (shortest exact floats), bytea_output=hex, client_encoding=UTF8,
// application_name=tandem, statement_timeout=read_timeout; TCP keepalives on; TLS as the config
// says (sslmode, root certificate, client certificate and key; verify modes without a CA file use
// the system store).
//
// Thread safety: free functions; a PGconn belongs to one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

// The one owner of a PGconn*: PQfinish on destruction.
struct LibpqDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using LibpqHandle = std::unique_ptr<PGconn, LibpqDeleter>;

enum class LibpqMode {
  kNormal,       // a regular backend
  kReplication,  // replication=database: a walsender that takes replication commands and SQL
};

// Connects and logs in, then switches the connection to non-blocking mode and discards notices.
// Errors: kInvalidArgument (not a postgres config; unreadable TLS files), and for a failed login
// what postgres_errors.h ConnectError maps (kConnectionFailed, kAuthenticationFailed, kNotFound,
// kPermissionDenied, kUnavailable). Messages are one line and never hold the password.
engine::Result<LibpqHandle> OpenLibpqConnection(const engine::ConnectionConfig& config,
                                                LibpqMode mode);

enum class WaitOutcome { kReady, kTimedOut, kFailed };

// Waits until the socket of `conn` has `events` (POLLIN / POLLOUT) or `deadline` passes.
// Interrupted waits resume.
WaitOutcome WaitForSocket(PGconn* conn, short events,
                          std::chrono::steady_clock::time_point deadline);

// How a bounded libpq I/O loop ended.
enum class LibpqIo { kDone, kTimedOut, kFailed };

// Sends everything libpq holds in its output buffer (non-blocking mode), taking in what the server
// sends meanwhile so neither side blocks on a full buffer. Each wait for the socket is bounded by
// `silence`: a socket that takes data is progress. kFailed: the connection broke (PQerrorMessage
// says why).
LibpqIo FlushLibpqOutput(PGconn* conn, std::chrono::steady_clock::duration silence);

// Reads from the socket until a whole result can be taken without blocking (PQisBusy false) or
// `deadline` passes. kFailed: the connection broke.
LibpqIo AwaitLibpqResult(PGconn* conn, std::chrono::steady_clock::time_point deadline);

// Maps a server error (SQLSTATE, primary message, hint) to a Status: postgres_errors.h
// StatementError, or a connection class's own refinement of it.
using ServerErrorMapper = engine::Status (*)(const engine::ConnectionConfig& config,
                                             std::string_view context, std::string_view sqlstate,
                                             std::string_view message, std::string_view hint);

// What a failed libpq call on `conn` (may be null: already closed) means, `result` being its
// result when there is one: a server error mapped by `map_server_error`, a lost connection
// (kConnectionFailed), or else kInternal; messages name `context` and config.Redacted() and never
// hold the password. `close_reason` is set when the connection is unusable and its owner must
// close it.
struct LibpqFailure {
  engine::Status status;
  std::optional<std::string> close_reason;
};
LibpqFailure DescribeLibpqFailure(PGconn* conn, const engine::ConnectionConfig& config,
                                  std::string_view context, const PGresult* result,
                                  ServerErrorMapper map_server_error);

}  // namespace tandem::connectors::postgres
