#include "connectors/mysql/mysql_error.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace tandem::connectors::mysql {

using engine::ConnectionConfig;
using engine::Status;
using engine::StatusCode;

namespace {

// MySQL 8 numbers that MariaDB's header does not define.
constexpr unsigned int kMySqlAccountLocked = 3118;
constexpr unsigned int kMySqlStatementTimeout = 3024;

bool IsClientError(unsigned int number) {
  return (number >= CR_MIN_ERROR && number <= CR_MAX_ERROR) ||
         (number >= 5000 && number <= 5999);  // Connector/C's own range
}

// The operating system error number a client message ends with: "... (111)" or
// "... system error: 110". 0 when there is none.
int TrailingSystemErrno(std::string_view message) {
  size_t end = message.size();
  while (end > 0 && (message[end - 1] == ')' || message[end - 1] == ' ')) {
    --end;
  }
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(message[begin - 1]))) {
    --begin;
  }
  if (begin == end) {
    return 0;
  }
  return std::atoi(std::string(message.substr(begin, end - begin)).c_str());
}

std::string QuotedDatabase(const ConnectionConfig& config) { return "'" + config.database + "'"; }

}  // namespace

std::string OneLineWithoutSecret(std::string_view text, std::string_view password) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  if (password.size() >= 4) {
    for (size_t at = out.find(password); at != std::string::npos; at = out.find(password, at + 3)) {
      out.replace(at, password.size(), "***");
    }
  }
  return out;
}

StatusCode StatusCodeForMySqlError(unsigned int number) {
  switch (number) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
    case ER_ACCESS_DENIED_CHANGE_USER_ERROR:
    case ER_HOST_NOT_PRIVILEGED:
    case ER_ACCOUNT_HAS_BEEN_LOCKED:
    case kMySqlAccountLocked:
    case ER_MUST_CHANGE_PASSWORD:
    case CR_AUTH_PLUGIN_CANNOT_LOAD:
    case CR_AUTH_PLUGIN_ERR:
      return StatusCode::kAuthenticationFailed;
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_PROCACCESS_DENIED_ERROR:
    case ER_KILL_DENIED_ERROR:
      return StatusCode::kPermissionDenied;
    case ER_BAD_DB_ERROR:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_FIELD_ERROR:
    case ER_UNKNOWN_TABLE:
      return StatusCode::kNotFound;
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_HOST_IS_BLOCKED:
    case ER_OUT_OF_RESOURCES:
    case ER_OUTOFMEMORY:
      return StatusCode::kUnavailable;
    case ER_SERVER_SHUTDOWN:
    case ER_NORMAL_SHUTDOWN:
    case ER_SHUTDOWN_COMPLETE:
    case ER_CONNECTION_KILLED:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_WRITE_INTERRUPTED:
      return StatusCode::kConnectionFailed;
    case ER_QUERY_INTERRUPTED:
    case ER_STATEMENT_TIMEOUT:
    case kMySqlStatementTimeout:
      return StatusCode::kTimeout;
    case ER_PARSE_ERROR:
      return StatusCode::kInternal;
    case ER_NOT_SUPPORTED_YET:
    case ER_UNKNOWN_SYSTEM_VARIABLE:
      return StatusCode::kUnsupported;
    case CR_OUT_OF_MEMORY:
      return StatusCode::kUnavailable;
    case CR_COMMANDS_OUT_OF_SYNC:
    case CR_NO_PREPARE_STMT:
    case CR_PARAMS_NOT_BOUND:
    case CR_INVALID_PARAMETER_NO:
    case CR_INVALID_BUFFER_USE:
    case CR_UNSUPPORTED_PARAM_TYPE:
    case CR_NO_DATA:
    case CR_NO_STMT_METADATA:
    case CR_STMT_CLOSED:
      return StatusCode::kInternal;  // misuse of the client API by tandem
    default:
      break;
  }
  if (IsClientError(number)) {
    return StatusCode::kConnectionFailed;
  }
  return StatusCode::kFailedPrecondition;
}

Status ConnectErrorStatus(const MySqlError& error, const ConnectionConfig& config) {
  const std::string prefix = "cannot connect to " + config.Redacted() + ": ";
  const std::string server_text = OneLineWithoutSecret(error.message, config.password);
  const std::string endpoint = config.Endpoint();
  const int system_errno = TrailingSystemErrno(error.message);
  switch (error.number) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_SOCKET_CREATE_ERROR: {
      std::string what = "no server answered on " + endpoint;
      if (system_errno == ECONNREFUSED) {
        what = "connection refused";
      } else if (system_errno == ETIMEDOUT) {
        what =
            "connection timed out after " + std::to_string(config.connect_timeout.count()) + " s";
      } else if (system_errno == EHOSTUNREACH || system_errno == ENETUNREACH) {
        what = "host unreachable";
      }
      return engine::ConnectionFailed(prefix + what + " (is the server running and listening on " +
                                      endpoint + "? is a firewall in the way?)");
    }
    case CR_UNKNOWN_HOST:
      return engine::ConnectionFailed(prefix + "unknown host '" + config.host +
                                      "' (check the host name in the URI)");
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_SERVER_GONE_ERROR:
      if (system_errno == ETIMEDOUT || system_errno == EAGAIN) {
        return engine::ConnectionFailed(
            prefix + "no answer within " + std::to_string(config.connect_timeout.count()) +
            " s (is " + endpoint + " a MySQL/MariaDB server, reachable through the firewall? " +
            "connect_timeout=S in the URI raises the limit)");
      }
      return engine::ConnectionFailed(prefix + "the server closed the connection during the " +
                                      "handshake: " + server_text + " (is " + endpoint +
                                      " a MySQL/MariaDB server?)");
    case CR_SSL_CONNECTION_ERROR:
      // Connector/C's text for a certificate that does not name the host (it checks the name
      // for verify-ca too).
      if (server_text.find("Validation of SSL server certificate failed") != std::string::npos) {
        return engine::ConnectionFailed(
            prefix + "TLS failed: " + server_text +
            " (the server's certificate was not issued for " + config.host +
            ", or does not chain to ssl-ca; connect by a name the certificate lists: " +
            "Connector/C checks the host name for VERIFY_CA as well as VERIFY_IDENTITY)");
      }
      return engine::ConnectionFailed(prefix + "TLS failed: " + server_text +
                                      " (check ssl-mode, ssl-ca, ssl-cert and ssl-key in the URI)");
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR: {
      // MariaDB answers a plain connection to a server with require_secure_transport, and a login
      // without a client certificate to an account with REQUIRE X509/SSL, with the same "access
      // denied" as a wrong password, so the likely TLS causes are named too.
      std::string tls_hint;
      if (config.tls.mode == engine::TlsMode::kDisable) {
        tls_hint = "; if the server requires TLS (require_secure_transport), use ssl-mode=REQUIRED";
      } else if (config.tls.cert_file.empty()) {
        tls_hint =
            "; if the account requires a client certificate (REQUIRE X509), give ssl-cert "
            "and ssl-key";
      }
      return engine::AuthenticationFailed(
          prefix + "access denied for user '" + config.user + "' (" +
          (config.password.empty() ? "no password was given" : "check the password") +
          "; it may come from the URI or TANDEM_SOURCE_PASSWORD / TANDEM_TARGET_PASSWORD" +
          tls_hint + ")");
    }
    case ER_HOST_NOT_PRIVILEGED:
      return engine::AuthenticationFailed(
          prefix + server_text + " (create the user for this client host, e.g. CREATE USER '" +
          config.user + "'@'%' ...)");
    case ER_BAD_DB_ERROR:
      return engine::NotFound(prefix + "unknown database " + QuotedDatabase(config) +
                              " (create it, or fix the database name in the URI)");
    case ER_DBACCESS_DENIED_ERROR:
      return engine::PermissionDenied(prefix + "user '" + config.user +
                                      "' has no access to database " + QuotedDatabase(config) +
                                      " (GRANT SELECT ON `" + config.database + "`.* TO '" +
                                      config.user + "'@'%')");
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
      return engine::Unavailable(prefix + server_text +
                                 " (close idle connections or raise max_connections)");
    case ER_HOST_IS_BLOCKED:
      return engine::Unavailable(prefix + server_text + " (run FLUSH HOSTS on the server)");
    default:
      break;
  }
  const StatusCode code = StatusCodeForMySqlError(error.number);
  return Status(code == StatusCode::kInternal ? StatusCode::kConnectionFailed : code,
                prefix + server_text + " (error " + std::to_string(error.number) + ")");
}

Status QueryErrorStatus(const MySqlError& error, const ConnectionConfig& config,
                        std::string_view action) {
  const std::string server_text = OneLineWithoutSecret(error.message, config.password);
  std::string message = std::string(action) + " on " + config.Redacted() + ": " + server_text +
                        " (error " + std::to_string(error.number) + ")";
  switch (error.number) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
      message +=
          "; the connection was lost, it is reopened on retry (a read_timeout=S in the URI "
          "raises the limit for slow queries)";
      break;
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
      message += "; grant the missing privilege to '" + config.user +
                 "' (tandem inspect lists "
                 "what it needs)";
      break;
    case ER_OPTION_PREVENTS_STATEMENT:
    case ER_READ_ONLY_MODE:
      message += "; the server is read-only (SET GLOBAL read_only = OFF)";
      break;
    default:
      break;
  }
  return Status(StatusCodeForMySqlError(error.number), std::move(message));
}

}  // namespace tandem::connectors::mysql
