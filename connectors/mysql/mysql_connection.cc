#include "connectors/mysql/mysql_connection.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

namespace tandem::connectors::mysql {

using engine::ConnectionConfig;
using engine::Result;
using engine::Status;
using engine::TlsMode;

namespace {

constexpr char kSessionSqlMode[] = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";
constexpr unsigned int kMinimumNetWriteTimeoutSeconds = 600;

// mysql_library_init is not thread-safe; every other client call is once it has run.
void InitializeClientLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

MySqlError ErrorOf(MYSQL* handle) {
  return MySqlError{mysql_errno(handle), mysql_sqlstate(handle), mysql_error(handle)};
}

// Applies config.tls to the handle. See the table in the header.
void ApplyTls(MYSQL* handle, const engine::TlsOptions& tls) {
  const my_bool yes = 1;
  const my_bool no = 0;
  const bool use_tls = tls.mode != TlsMode::kDisable;
  const bool verify = tls.mode == TlsMode::kVerifyCa || tls.mode == TlsMode::kVerifyFull;
  mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, use_tls ? &yes : &no);
  mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, verify ? &yes : &no);
  if (use_tls) {
    auto or_null = [](const std::string& path) { return path.empty() ? nullptr : path.c_str(); };
    mysql_ssl_set(handle, or_null(tls.key_file), or_null(tls.cert_file), or_null(tls.ca_file),
                  nullptr, nullptr);
  }
}

// "10.11.6-MariaDB-0+deb12u1-log" without a "5.5.5-" replication prefix some servers add.
std::string StripReplicationPrefix(std::string version) {
  constexpr std::string_view kPrefix = "5.5.5-";
  if (version.starts_with(kPrefix)) {
    version.erase(0, kPrefix.size());
  }
  return version;
}

}  // namespace

MySqlConnection::MySqlConnection(MYSQL* handle, ConnectionConfig config)
    : handle_(handle), config_(std::move(config)) {}

MySqlConnection::~MySqlConnection() { mysql_close(handle_); }

Result<std::unique_ptr<MySqlConnection>> MySqlConnection::Open(const ConnectionConfig& config) {
  if (config.engine != engine::EngineKind::kMySql) {
    return engine::InvalidArgument("not a MySQL/MariaDB URI: " + config.Redacted());
  }
  TANDEM_RETURN_IF_ERROR(engine::CheckTlsFilesReadable(config, {"ssl-ca", "ssl-cert", "ssl-key"}));
  InitializeClientLibraryOnce();
  MYSQL* handle = mysql_init(nullptr);
  if (handle == nullptr) {
    return engine::Unavailable("cannot connect to " + config.Redacted() +
                               ": the client library is out of memory");
  }
  // From here the connection object owns the handle, so every return path closes it.
  std::unique_ptr<MySqlConnection> connection(new MySqlConnection(handle, config));

  const unsigned int connect_timeout =
      static_cast<unsigned int>(std::max<int64_t>(1, config.connect_timeout.count()));
  const unsigned int read_timeout =
      static_cast<unsigned int>(std::max<int64_t>(1, config.read_timeout.count()));
  const unsigned int protocol = MYSQL_PROTOCOL_TCP;
  const my_bool report_truncation = 1;
  mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &read_timeout);
  mysql_options(handle, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(handle, MYSQL_REPORT_DATA_TRUNCATION, &report_truncation);
  mysql_optionsv(handle, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "tandem");
  ApplyTls(handle, config.tls);

  const char* database = config.database.empty() ? nullptr : config.database.c_str();
  if (mysql_real_connect(handle, config.host.c_str(), config.user.c_str(), config.password.c_str(),
                         database, config.port, nullptr, 0) == nullptr) {
    return ConnectErrorStatus(ErrorOf(handle), config);
  }
  // Connector/C quietly falls back to plain TCP when the server does not offer TLS and the
  // certificate is not verified; tls=require must not.
  if (config.tls.mode == TlsMode::kRequire && mysql_get_ssl_cipher(handle) == nullptr) {
    return engine::ConnectionFailed("cannot connect to " + config.Redacted() +
                                    ": the server does not offer TLS, which tls=require demands "
                                    "(enable TLS on the server, or use ssl-mode=PREFERRED)");
  }

  connection->server_version_ = StripReplicationPrefix(mysql_get_server_info(handle));
  connection->version_number_ = static_cast<int>(mysql_get_server_version(handle));
  connection->is_mariadb_ = connection->server_version_.find("MariaDB") != std::string::npos;

  const unsigned int net_write_timeout = std::max(kMinimumNetWriteTimeoutSeconds, read_timeout);
  const std::string session = std::string("SET time_zone = '+00:00', sql_mode = '") +
                              kSessionSqlMode +
                              "', net_write_timeout = " + std::to_string(net_write_timeout);
  TANDEM_RETURN_IF_ERROR(connection->Execute(session, "setting up the session"));
  return connection;
}

MySqlError MySqlConnection::LastMySqlError() const { return ErrorOf(handle_); }

Status MySqlConnection::LastError(std::string_view action) const {
  return QueryErrorStatus(ErrorOf(handle_), config_, action);
}

Status MySqlConnection::Execute(std::string_view sql, std::string_view action) {
  if (mysql_real_query(handle_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return LastError(action);
  }
  // Drain any result set so the connection is ready for the next statement.
  do {
    MYSQL_RES* result = mysql_store_result(handle_);
    if (result != nullptr) {
      mysql_free_result(result);
    } else if (mysql_field_count(handle_) != 0) {
      return LastError(action);
    }
  } while (mysql_next_result(handle_) == 0);
  if (mysql_errno(handle_) != 0) {
    return LastError(action);
  }
  return Status::Ok();
}

Result<TextRows> MySqlConnection::QueryText(std::string_view sql, std::string_view action) {
  if (mysql_real_query(handle_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return LastError(action);
  }
  MYSQL_RES* result = mysql_store_result(handle_);
  if (result == nullptr) {
    if (mysql_field_count(handle_) != 0) {
      return LastError(action);
    }
    return TextRows();
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owned(result, &mysql_free_result);
  const unsigned int columns = mysql_num_fields(result);
  TextRows rows;
  rows.reserve(static_cast<size_t>(mysql_num_rows(result)));
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    const unsigned long* lengths = mysql_fetch_lengths(result);
    TextRow out(columns);
    for (unsigned int i = 0; i < columns; ++i) {
      if (row[i] != nullptr) {
        out[i] = std::string(row[i], lengths[i]);
      }
    }
    rows.push_back(std::move(out));
  }
  return rows;
}

}  // namespace tandem::connectors::mysql
