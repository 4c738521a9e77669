#include "connectors/postgres/postgres_libpq.h"

#include <openssl/x509.h>
#include <poll.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "connectors/postgres/postgres_errors.h"

namespace tandem::connectors::postgres {
namespace {

using engine::ConnectionConfig;
using engine::Result;
using Clock = std::chrono::steady_clock;

void DiscardNotice(void* /*arg*/, const PGresult* /*notice*/) {}

std::string_view TlsModeKeyword(engine::TlsMode mode) {
  switch (mode) {
    case engine::TlsMode::kDisable:
      return "disable";
    case engine::TlsMode::kPrefer:
      return "prefer";
    case engine::TlsMode::kRequire:
      return "require";
    case engine::TlsMode::kVerifyCa:
      return "verify-ca";
    case engine::TlsMode::kVerifyFull:
      return "verify-full";
  }
  return "prefer";
}

}  // namespace

WaitOutcome WaitForSocket(PGconn* conn, short events, Clock::time_point deadline) {
  const int socket = PQsocket(conn);
  if (socket < 0) {
    return WaitOutcome::kFailed;
  }
  for (;;) {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      return WaitOutcome::kTimedOut;
    }
    pollfd descriptor{socket, events, 0};
    // Rounded up so a sub-millisecond remainder still waits instead of spinning.
    const int ready = poll(&descriptor, 1, static_cast<int>(remaining.count()) + 1);
    if (ready > 0) {
      return WaitOutcome::kReady;
    }
    if (ready < 0 && errno != EINTR) {
      return WaitOutcome::kFailed;
    }
  }
}

Result<LibpqHandle> OpenLibpqConnection(const ConnectionConfig& config, LibpqMode mode) {
  if (config.engine != engine::EngineKind::kPostgres) {
    return engine::InvalidArgument("cannot open " + config.Redacted() +
                                   " with the PostgreSQL connector (use a postgres:// URI)");
  }
  TANDEM_RETURN_IF_ERROR(
      engine::CheckTlsFilesReadable(config, {"sslrootcert", "sslcert", "sslkey"}));
  const std::string port = std::to_string(config.port);
  const std::string connect_timeout = std::to_string(config.connect_timeout.count());
  const std::string statement_timeout = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(config.read_timeout).count());
  // Startup options: applied by the server before the first statement.
  const std::string options =
      "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 "
      "-c bytea_output=hex -c statement_timeout=" +
      statement_timeout;
  std::string root_certificate = config.tls.ca_file;
  if (root_certificate.empty() && (config.tls.mode == engine::TlsMode::kVerifyCa ||
                                   config.tls.mode == engine::TlsMode::kVerifyFull)) {
    // "Empty = the system store" (connection_config.h); libpq 15 has no sslrootcert=system.
    root_certificate = X509_get_default_cert_file();
  }
  std::vector<std::pair<const char*, std::string>> settings = {
      {"host", config.host},
      {"port", port},
      {"connect_timeout", connect_timeout},
      {"sslmode", std::string(TlsModeKeyword(config.tls.mode))},
      {"application_name", "tandem"},
      {"client_encoding", "UTF8"},
      {"options", options},
      {"keepalives", "1"},
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
  };
  if (!config.user.empty()) settings.emplace_back("user", config.user);
  if (!config.password.empty()) settings.emplace_back("password", config.password);
  if (!config.database.empty()) settings.emplace_back("dbname", config.database);
  if (!root_certificate.empty()) settings.emplace_back("sslrootcert", root_certificate);
  // A walsender that also runs SQL in the named database (logical replication).
  if (mode == LibpqMode::kReplication) settings.emplace_back("replication", "database");
  if (!config.tls.cert_file.empty()) settings.emplace_back("sslcert", config.tls.cert_file);
  if (!config.tls.key_file.empty()) settings.emplace_back("sslkey", config.tls.key_file);
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : settings) {
    keywords.push_back(keyword);
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);

  // expand_dbname = 0: a database name is only a name, never a connection string.
  LibpqHandle conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/0));
  if (conn == nullptr) {
    return engine::Unavailable("cannot connect to " + config.Redacted() +
                               ": libpq could not allocate a connection (out of memory)");
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return ConnectError(config, PQerrorMessage(conn.get()));
  }
  PQsetNoticeReceiver(conn.get(), DiscardNotice, nullptr);
  if (PQsetnonblocking(conn.get(), 1) != 0) {
    return engine::Internal("cannot switch the connection to " + config.Redacted() +
                            " to non-blocking mode: " + OneLine(PQerrorMessage(conn.get())));
  }
  return conn;
}

LibpqIo FlushLibpqOutput(PGconn* conn, Clock::duration silence) {
  for (;;) {
    const int flushed = PQflush(conn);
    if (flushed == 0) {
      return LibpqIo::kDone;
    }
    if (flushed < 0) {
      return LibpqIo::kFailed;
    }
    switch (WaitForSocket(conn, POLLOUT | POLLIN, Clock::now() + silence)) {
      case WaitOutcome::kReady:
        if (PQconsumeInput(conn) == 0) {
          return LibpqIo::kFailed;
        }
        break;
      case WaitOutcome::kTimedOut:
        return LibpqIo::kTimedOut;
      case WaitOutcome::kFailed:
        return LibpqIo::kFailed;
    }
  }
}

LibpqIo AwaitLibpqResult(PGconn* conn, Clock::time_point deadline) {
  while (PQisBusy(conn) != 0) {
    switch (WaitForSocket(conn, POLLIN, deadline)) {
      case WaitOutcome::kReady:
        if (PQconsumeInput(conn) == 0) {
          return LibpqIo::kFailed;
        }
        break;
      case WaitOutcome::kTimedOut:
        return LibpqIo::kTimedOut;
      case WaitOutcome::kFailed:
        return LibpqIo::kFailed;
    }
  }
  return LibpqIo::kDone;
}

LibpqFailure DescribeLibpqFailure(PGconn* conn, const ConnectionConfig& config,
                                  std::string_view context, const PGresult* result,
                                  ServerErrorMapper map_server_error) {
  const bool lost = conn == nullptr || PQstatus(conn) == CONNECTION_BAD;
  if (result != nullptr) {
    const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (sqlstate != nullptr) {
      const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
      const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT);
      LibpqFailure failure{
          map_server_error(config, context, sqlstate, primary ? primary : "", hint ? hint : ""),
          std::nullopt};
      if (conn != nullptr && lost) {
        failure.close_reason = "after the server ended the session";
      }
      return failure;
    }
  }
  std::string message = conn != nullptr ? OneLine(PQerrorMessage(conn)) : "";
  if (result != nullptr && message.empty()) {
    message = OneLine(PQresultErrorMessage(result));
  }
  if (lost) {
    return {engine::ConnectionFailed(ScrubSecret(
                std::string(context) + " on " + config.Redacted() +
                    " failed: the connection was lost" + (message.empty() ? "" : ": " + message) +
                    " (check that the server at " + config.Endpoint() + " is up, then retry)",
                config.password)),
            "after it was lost"};
  }
  return {engine::Internal(
              ScrubSecret(std::string(context) + " on " + config.Redacted() + " failed: " + message,
                          config.password)),
          std::nullopt};
}

}  // namespace tandem::connectors::postgres
