#include "tests/harness/mysql_client.h"

#include <mysql.h>

#include <stdexcept>

#include "tests/harness/uri.h"

namespace tandem::testing {

void MySqlClient::Closer::operator()(MYSQL* mysql) const { mysql_close(mysql); }

MySqlClient MySqlClient::Connect(const MySqlConnectOptions& options) {
  std::unique_ptr<MYSQL, Closer> mysql(mysql_init(nullptr));
  if (!mysql) {
    throw std::runtime_error("mysql_init failed (out of memory)");
  }
  unsigned int timeout = static_cast<unsigned int>(options.connect_timeout.count());
  mysql_options(mysql.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(mysql.get(), MYSQL_SET_CHARSET_NAME, "utf8mb4");
  std::string endpoint;
  const char* socket = nullptr;
  const char* host = nullptr;
  unsigned int port = 0;
  if (!options.unix_socket.empty()) {
    unsigned int protocol = MYSQL_PROTOCOL_SOCKET;
    mysql_options(mysql.get(), MYSQL_OPT_PROTOCOL, &protocol);
    socket = options.unix_socket.c_str();
    host = "localhost";
    endpoint = options.unix_socket;
  } else {
    unsigned int protocol = MYSQL_PROTOCOL_TCP;
    mysql_options(mysql.get(), MYSQL_OPT_PROTOCOL, &protocol);
    host = options.host.c_str();
    port = options.port;
    endpoint = options.host + ":" + std::to_string(options.port);
  }
  if (mysql_real_connect(mysql.get(), host, options.user.c_str(),
                         options.password.empty() ? nullptr : options.password.c_str(),
                         options.database.empty() ? nullptr : options.database.c_str(), port,
                         socket, CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS) == nullptr) {
    throw std::runtime_error("cannot connect to MariaDB at " + endpoint + " as '" + options.user +
                             "': " + mysql_error(mysql.get()));
  }
  return MySqlClient(std::move(mysql), endpoint);
}

MySqlClient MySqlClient::ConnectUri(const std::string& uri) {
  ServerUri parsed = ParseServerUri(uri);
  if (parsed.scheme != "mysql" && parsed.scheme != "mariadb") {
    throw std::runtime_error("not a mysql:// URI: scheme '" + parsed.scheme + "'");
  }
  MySqlConnectOptions options;
  options.host = parsed.host;
  options.port = parsed.port != 0 ? parsed.port : 3306;
  options.user = parsed.user;
  options.password = parsed.password;
  options.database = parsed.path;
  return Connect(options);
}

void MySqlClient::ThrowError(std::string_view sql) const {
  throw std::runtime_error("MariaDB at " + endpoint_ + ": error " +
                           std::to_string(mysql_errno(mysql_.get())) + " (" +
                           mysql_error(mysql_.get()) + ") in: " + ShortenSql(sql));
}

void MySqlClient::Execute(std::string_view sql) { QueryWithColumns(sql); }

QueryResult MySqlClient::QueryWithColumns(std::string_view sql) {
  MYSQL* mysql = mysql_.get();
  if (mysql_real_query(mysql, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    ThrowError(sql);
  }
  QueryResult result;
  for (;;) {
    MYSQL_RES* res = mysql_store_result(mysql);
    if (res != nullptr) {
      std::unique_ptr<MYSQL_RES, void (*)(MYSQL_RES*)> owned(res, mysql_free_result);
      QueryResult current;
      unsigned int fields = mysql_num_fields(res);
      MYSQL_FIELD* field_info = mysql_fetch_fields(res);
      for (unsigned int i = 0; i < fields; ++i) {
        current.columns.emplace_back(field_info[i].name);
      }
      while (MYSQL_ROW row = mysql_fetch_row(res)) {
        unsigned long* lengths = mysql_fetch_lengths(res);
        ResultRow out;
        out.reserve(fields);
        for (unsigned int i = 0; i < fields; ++i) {
          if (row[i] == nullptr) {
            out.emplace_back(std::nullopt);
          } else {
            out.emplace_back(std::string(row[i], lengths[i]));
          }
        }
        current.rows.push_back(std::move(out));
      }
      result = std::move(current);
    } else if (mysql_field_count(mysql) != 0) {
      ThrowError(sql);
    }
    int next = mysql_next_result(mysql);
    if (next > 0) {
      ThrowError(sql);
    }
    if (next < 0) {
      break;
    }
  }
  return result;
}

ResultRows MySqlClient::Query(std::string_view sql) { return QueryWithColumns(sql).rows; }

std::optional<std::string> MySqlClient::QueryScalar(std::string_view sql) {
  ResultRows rows = Query(sql);
  if (rows.empty() || rows[0].empty()) {
    return std::nullopt;
  }
  return rows[0][0];
}

std::string MySqlClient::Quote(std::string_view value) const {
  std::string escaped(value.size() * 2 + 1, '\0');
  unsigned long length = mysql_real_escape_string(mysql_.get(), escaped.data(), value.data(),
                                                  static_cast<unsigned long>(value.size()));
  escaped.resize(length);
  return "'" + escaped + "'";
}

}  // namespace tandem::testing
