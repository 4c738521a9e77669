// File: tests/harness/mysql_client.h
//
// MySqlClient: a test-side MariaDB/MySQL connection over MariaDB Connector/C, used by the harness
// for admin SQL (as root over the unix socket) and for loading sample data. Independent of the
// code under test (connectors/mysql). Errors are exceptions (std::runtime_error) whose message
// names the server, the SQL (shortened) and the server's error text; passwords never appear.
//
// The connection uses utf8mb4, allows several statements per Execute() and has a 10 s connect
// timeout.
//
// Thread safety: a MySqlClient is owned by one thread at a time (movable, not copyable).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tests/harness/sql_rows.h"

typedef struct st_mysql MYSQL;

namespace tandem::testing {

struct MySqlConnectOptions {
  std::string unix_socket;         // when set, host and port are not used
  std::string host = "127.0.0.1";  // TCP host
  uint16_t port = 3306;
  std::string user;
  std::string password;  // secret: never part of an error message
  std::string database;  // "" = none selected
  std::chrono::seconds connect_timeout{10};
};

class MySqlClient {
 public:
  // Connects. Throws std::runtime_error naming the endpoint and the client error.
  static MySqlClient Connect(const MySqlConnectOptions& options);
  // Connects with a mysql://user:pass@host:port/db URI.
  static MySqlClient ConnectUri(const std::string& uri);

  MySqlClient(MySqlClient&&) noexcept = default;
  MySqlClient& operator=(MySqlClient&&) noexcept = default;
  MySqlClient(const MySqlClient&) = delete;
  MySqlClient& operator=(const MySqlClient&) = delete;
  ~MySqlClient() = default;

  // Runs one or more ';'-separated statements and discards their results. Throws on the first
  // failing statement.
  void Execute(std::string_view sql);

  // Runs `sql` and returns the rows of its (last) result set.
  ResultRows Query(std::string_view sql);
  QueryResult QueryWithColumns(std::string_view sql);

  // The first column of the first row; nullopt if there is no row or the value is NULL.
  std::optional<std::string> QueryScalar(std::string_view sql);

  // `value` as a quoted SQL string literal ('...') escaped for this connection.
  std::string Quote(std::string_view value) const;

  // The underlying handle, owned by this object. Valid while it lives.
  MYSQL* handle() const { return mysql_.get(); }

 private:
  struct Closer {
    void operator()(MYSQL* mysql) const;
  };

  MySqlClient(std::unique_ptr<MYSQL, Closer> mysql, std::string endpoint)
      : mysql_(std::move(mysql)), endpoint_(std::move(endpoint)) {}

  [[noreturn]] void ThrowError(std::string_view sql) const;

  std::unique_ptr<MYSQL, Closer> mysql_;
  std::string endpoint_;  // for messages: "127.0.0.1:3306" or the socket path
};

}  // namespace tandem::testing
