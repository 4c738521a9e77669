// File: connectors/mysql/mysql_connection.h
//
// MySqlConnection: the one owner of a MYSQL* handle (MariaDB Connector/C), opened from an
// engine::ConnectionConfig and closed by the destructor.
//
// What Open() fixes for every connection:
//   transport   TCP to config.host:config.port, even for "localhost" (never the Unix socket)
//   timeouts    MYSQL_OPT_CONNECT_TIMEOUT = config.connect_timeout; MYSQL_OPT_READ_TIMEOUT and
//               MYSQL_OPT_WRITE_TIMEOUT = config.read_timeout, so no call blocks forever
//   TLS         tls=disable: plain TCP; prefer: TLS when the server offers it; require: TLS or
//               fail, certificate not checked; verify-ca / verify-full: TLS with the certificate
//               checked against tls-ca (or the system store). Connector/C checks the host name
//               together with the chain, so verify-ca is as strict as verify-full.
//   charset     utf8mb4: text arrives as UTF-8, binary columns untouched
//   session     time_zone '+00:00' (TIMESTAMP values are UTC), sql_mode
//               'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION' (no CHAR padding,
//               backslashes are escapes, zero dates allowed, id 0 is kept on insert),
//               net_write_timeout = max(600 s, read_timeout) so a slowly consuming reader is not
//               cut off by the server
//
// Thread safety: owned by one thread at a time; not safe for concurrent use.
#pragma once

#include <mysql.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_error.h"
#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::mysql {

// A small result read through the text protocol: one entry per row, one per column, nullopt for
// NULL.
using TextRow = std::vector<std::optional<std::string>>;
using TextRows = std::vector<TextRow>;

class MySqlConnection {
 public:
  // Connects and applies the session settings above.
  // Errors: kInvalidArgument (not a MySQL config; a TLS CA, certificate or key file that cannot
  // be read), kConnectionFailed (unreachable, refused, timed
  // out, TLS refused), kAuthenticationFailed, kNotFound (unknown database), kPermissionDenied (no
  // access to the database); the message names config.Redacted() and never the password.
  static engine::Result<std::unique_ptr<MySqlConnection>> Open(
      const engine::ConnectionConfig& config);

  ~MySqlConnection();
  MySqlConnection(const MySqlConnection&) = delete;
  MySqlConnection& operator=(const MySqlConnection&) = delete;

  // The handle, for the statement and catalog code of this connector. Valid until destruction.
  MYSQL* handle() const { return handle_; }
  const engine::ConnectionConfig& config() const { return config_; }

  // As the server reports it, e.g. "10.11.6-MariaDB-0+deb12u1-log".
  const std::string& server_version() const { return server_version_; }
  // major * 10000 + minor * 100 + patch, e.g. 101106.
  int version_number() const { return version_number_; }
  bool is_mariadb() const { return is_mariadb_; }

  // Runs `sql` (no parameters, no result expected). `action` names what tandem was doing, for the
  // error message.
  engine::Status Execute(std::string_view sql, std::string_view action);

  // Runs `sql` (no parameters) and returns its whole result as text. Only for small results
  // (settings, grants): the rows are held in memory.
  engine::Result<TextRows> QueryText(std::string_view sql, std::string_view action);

  // The error of the last call on the handle, as a status for `action`.
  engine::Status LastError(std::string_view action) const;

  // The last error on the handle, raw.
  MySqlError LastMySqlError() const;

 private:
  MySqlConnection(MYSQL* handle, engine::ConnectionConfig config);

  // Constant after construction.
  MYSQL* const handle_;  // owned; closed by the destructor
  const engine::ConnectionConfig config_;
  std::string server_version_;
  int version_number_ = 0;
  bool is_mariadb_ = false;
};

}  // namespace tandem::connectors::mysql
