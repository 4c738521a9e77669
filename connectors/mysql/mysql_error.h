// File: connectors/mysql/mysql_error.h
//
// Turns errors reported by the MySQL C API (MariaDB Connector/C) into engine::Status with the most
// specific code and a one-line message that names the server by ConnectionConfig::Redacted() and
// says how to fix the problem:
//
//   client / server error                                   code
//   CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST,  kConnectionFailed (retryable)
//   CR_SERVER_GONE_ERROR, CR_SERVER_LOST, other CR_*
//   ER_ACCESS_DENIED_ERROR (1045), ER_HOST_NOT_PRIVILEGED,      kAuthenticationFailed
//   ER_ACCOUNT_HAS_BEEN_LOCKED, ER_MUST_CHANGE_PASSWORD
//   ER_DBACCESS_DENIED_ERROR (1044), ER_TABLEACCESS_DENIED_ERROR,  kPermissionDenied
//   ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR
//   ER_BAD_DB_ERROR (1049), ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR  kNotFound
//   ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS,            kUnavailable (retryable)
//   ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK, server shutdown
//   ER_QUERY_INTERRUPTED, ER_STATEMENT_TIMEOUT                   kTimeout
//   ER_OPTION_PREVENTS_STATEMENT (read_only) and other ER_*      kFailedPrecondition
//   ER_PARSE_ERROR                                               kInternal (tandem built bad SQL)
//
// Messages never contain the password: they are built from the redacted URI, and as a second line
// of defence any occurrence of the password (4 characters or longer) in a server-provided text is
// replaced by "***".
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::mysql {

// One error as the client library reports it (mysql_errno / mysql_sqlstate / mysql_error, or the
// mysql_stmt_* equivalents).
struct MySqlError {
  unsigned int number = 0;
  std::string sqlstate;
  std::string message;
};

// The status code for an error number (client CR_* or server ER_*).
engine::StatusCode StatusCodeForMySqlError(unsigned int number);

// The status for a failed connection attempt to `config`:
// "cannot connect to mysql://tandem@127.0.0.1:3307/shop: connection refused (is the server
// running and listening on 127.0.0.1:3307?)".
engine::Status ConnectErrorStatus(const MySqlError& error, const engine::ConnectionConfig& config);

// The status for a failed statement on an open connection to `config`; `action` says what tandem
// was doing ("reading shop.orders", "listing tables").
engine::Status QueryErrorStatus(const MySqlError& error, const engine::ConnectionConfig& config,
                                std::string_view action);

// `text` as one line (newlines and tabs become spaces) with `password` masked when it is at least
// four characters long.
std::string OneLineWithoutSecret(std::string_view text, std::string_view password);

}  // namespace tandem::connectors::mysql
