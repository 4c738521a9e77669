#include "connectors/postgres/postgres_errors.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace tandem::connectors::postgres {
namespace {

using engine::ConnectionConfig;
using engine::Status;
using engine::StatusCode;

bool Contains(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// The reason libpq gives for the first failed attempt, without its "connection to server at ...
// failed:" preamble, the server's "FATAL:" severity and the follow-up lines.
std::string ConnectReason(std::string_view message) {
  std::string_view first = message.substr(0, message.find('\n'));
  static constexpr std::string_view kFailed = " failed: ";
  if (StartsWith(first, "connection to server") || StartsWith(first, "could not connect")) {
    if (size_t at = first.find(kFailed); at != std::string_view::npos) {
      first = first.substr(at + kFailed.size());
    }
  }
  for (std::string_view severity : {"FATAL:", "ERROR:"}) {
    if (StartsWith(first, severity)) {
      first = first.substr(severity.size());
    }
  }
  std::string reason = OneLine(first);
  if (reason.empty()) {
    reason = OneLine(message);
  }
  if (reason.empty()) {
    reason = "the server gave no reason";
  }
  return reason;
}

struct ConnectClass {
  StatusCode code;
  std::string reason;
  std::string fix;
};

ConnectClass ClassifyConnectFailure(const ConnectionConfig& config, std::string_view message) {
  const std::string endpoint = config.Endpoint();
  const std::string user = config.user.empty() ? "the user" : "user \"" + config.user + "\"";
  std::string reason = ConnectReason(message);
  // Before the password checks: "certificate authentication failed for user" is a certificate
  // problem, not a password one.
  if (Contains(message, "requires a valid client certificate") ||
      Contains(message, "certificate authentication failed")) {
    return {StatusCode::kAuthenticationFailed, reason,
            "the server's pg_hba.conf demands a client certificate for " + user +
                ": give sslcert and sslkey (tls-cert, tls-key) in the URI, with a certificate "
                "signed by the server's ssl_ca_file whose CN is the user name"};
  }
  if ((Contains(message, "pg_hba.conf rejects connection") ||
       Contains(message, "no pg_hba.conf entry")) &&
      Contains(message, "no encryption")) {
    return {StatusCode::kAuthenticationFailed, reason,
            "the server accepts " + user +
                " only over TLS: use sslmode=require, or verify-full "
                "with sslrootcert"};
  }
  if (Contains(message, "password authentication failed") ||
      Contains(message, "authentication failed for user")) {
    return {StatusCode::kAuthenticationFailed, "authentication failed for " + user,
            "check the user name and the password in the URI or in TANDEM_SOURCE_PASSWORD / "
            "TANDEM_TARGET_PASSWORD"};
  }
  if (Contains(message, "no password supplied")) {
    return {StatusCode::kAuthenticationFailed, "the server requires a password and none was given",
            "put the password in the URI or in TANDEM_SOURCE_PASSWORD / TANDEM_TARGET_PASSWORD"};
  }
  if (Contains(message, "no pg_hba.conf entry")) {
    return {StatusCode::kAuthenticationFailed, reason,
            "add a host line for this client, user and database to the server's pg_hba.conf and "
            "reload it"};
  }
  if (Contains(message, "role \"") && Contains(message, "does not exist")) {
    return {StatusCode::kAuthenticationFailed, reason,
            "check the user name, or create the role: CREATE ROLE ... LOGIN PASSWORD '...'"};
  }
  if (Contains(message, "database \"") && Contains(message, "does not exist")) {
    return {StatusCode::kNotFound, "database \"" + config.database + "\" does not exist",
            "check the database name at the end of the URI, or create it: CREATE DATABASE"};
  }
  if (Contains(message, "permission denied for database")) {
    return {StatusCode::kPermissionDenied, reason,
            "GRANT CONNECT ON DATABASE \"" + config.database + "\" TO \"" + config.user + "\""};
  }
  if (Contains(message, "too many clients") || Contains(message, "connection slots are reserved") ||
      Contains(message, "too many connections")) {
    return {StatusCode::kUnavailable, reason,
            "retry later, close idle connections or raise max_connections"};
  }
  if (Contains(message, "the database system is starting up") ||
      Contains(message, "the database system is shutting down") ||
      Contains(message, "the database system is in recovery mode")) {
    return {StatusCode::kUnavailable, reason, "retry when the server has finished starting"};
  }
  if (Contains(message, "connection refused")) {
    return {StatusCode::kConnectionFailed, "connection refused",
            "is the server running and listening on " + endpoint + "?"};
  }
  if (Contains(message, "timeout expired") || Contains(message, "timed out")) {
    return {StatusCode::kConnectionFailed,
            "no answer within " + std::to_string(config.connect_timeout.count()) + " s",
            "check the host, the port and any firewall between here and " + endpoint +
                ", or raise connect_timeout"};
  }
  if (Contains(message, "could not translate host name") ||
      Contains(message, "name or service not known") ||
      Contains(message, "temporary failure in name resolution")) {
    return {StatusCode::kConnectionFailed, "host name \"" + config.host + "\" does not resolve",
            "check the host name in the URI"};
  }
  if (Contains(message, "no route to host") || Contains(message, "network is unreachable")) {
    return {StatusCode::kConnectionFailed, reason,
            "check the host in the URI and the network path to " + endpoint};
  }
  if (Contains(message, "SSL") || Contains(message, "certificate")) {
    return {StatusCode::kConnectionFailed, reason,
            "check sslmode, sslrootcert, sslcert and sslkey in the URI against the server's TLS "
            "setup"};
  }
  return {StatusCode::kConnectionFailed, reason,
          "check that a PostgreSQL server is reachable on " + endpoint};
}

}  // namespace

std::string OneLine(std::string_view text) {
  std::string out;
  bool pending_space = false;
  bool pending_break = false;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      pending_break = !out.empty();
      continue;
    }
    if (c == '\t' || c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_break) {
      out += "; ";
    } else if (pending_space) {
      out += ' ';
    }
    pending_break = false;
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string ScrubSecret(std::string text, std::string_view secret) {
  if (secret.empty()) {
    return text;
  }
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

StatusCode StatusCodeForSqlState(std::string_view sqlstate, std::string_view message) {
  if (sqlstate.size() != 5) {
    return StatusCode::kConnectionFailed;  // no server error: libpq lost the connection
  }
  std::string_view error_class = sqlstate.substr(0, 2);
  if (error_class == "28") return StatusCode::kAuthenticationFailed;
  if (sqlstate == "3D000" || sqlstate == "3F000" || sqlstate == "42P01" || sqlstate == "42703" ||
      sqlstate == "42704" || sqlstate == "42883") {
    return StatusCode::kNotFound;
  }
  if (sqlstate == "42501") return StatusCode::kPermissionDenied;
  if (sqlstate == "57014") {
    return Contains(message, "statement timeout") ? StatusCode::kTimeout : StatusCode::kUnavailable;
  }
  if (error_class == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return StatusCode::kConnectionFailed;
  }
  if (error_class == "53" || sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" ||
      sqlstate == "55006") {
    return StatusCode::kUnavailable;
  }
  if (sqlstate == "25006") return StatusCode::kFailedPrecondition;
  if (sqlstate == "0A000") return StatusCode::kUnsupported;
  if (error_class == "22") return StatusCode::kInvalidArgument;
  if (error_class == "42" || error_class == "XX") return StatusCode::kInternal;
  return StatusCode::kFailedPrecondition;
}

Status ConnectError(const ConnectionConfig& config, std::string_view libpq_message) {
  ConnectClass failure = ClassifyConnectFailure(config, libpq_message);
  std::string message =
      "cannot connect to " + config.Redacted() + ": " + failure.reason + " (" + failure.fix + ")";
  return Status(failure.code, ScrubSecret(OneLine(message), config.password));
}

Status StatementError(const ConnectionConfig& config, std::string_view context,
                      std::string_view sqlstate, std::string_view message, std::string_view hint) {
  StatusCode code = StatusCodeForSqlState(sqlstate, message);
  std::string text = std::string(context) + " on " + config.Redacted() + " failed: ";
  text += message.empty() ? std::string("the connection was lost") : OneLine(message);
  if (!sqlstate.empty()) {
    text += " (SQLSTATE " + std::string(sqlstate) + ")";
  }
  std::string fix;
  switch (code) {
    case StatusCode::kPermissionDenied:
      fix = "grant the missing privilege to \"" + config.user + "\"";
      break;
    case StatusCode::kTimeout:
      fix = "the statement ran longer than read_timeout=" +
            std::to_string(config.read_timeout.count()) +
            " s; raise read_timeout in the URI or reduce the load on the server";
      break;
    case StatusCode::kConnectionFailed:
      fix = "check that the server at " + config.Endpoint() + " is up, then retry";
      break;
    default:
      break;
  }
  if (!hint.empty()) {
    fix = fix.empty() ? OneLine(hint) : fix + "; " + OneLine(hint);
  }
  if (!fix.empty()) {
    text += " (" + fix + ")";
  }
  return Status(code, ScrubSecret(OneLine(text), config.password));
}

}  // namespace tandem::connectors::postgres
