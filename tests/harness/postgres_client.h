// File: tests/harness/postgres_client.h
//
// PostgresClient: a test-side PostgreSQL connection over libpq, used by the harness for superuser
// SQL (as `postgres` over the unix socket in the data directory) and for loading sample data with
// COPY. Independent of the code under test (connectors/postgres). Errors are exceptions
// (std::runtime_error) naming the server, the SQL (shortened) and the server's message; passwords
// never appear.
//
// Thread safety: a PostgresClient is owned by one thread at a time (movable, not copyable).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tests/harness/sql_rows.h"

typedef struct pg_conn PGconn;

namespace tandem::testing {

struct PostgresConnectOptions {
  std::string host = "127.0.0.1";  // a path (starting with '/') = the unix socket directory
  uint16_t port = 5432;
  std::string user;
  std::string password;  // secret: never part of an error message
  std::string database;
  std::chrono::seconds connect_timeout{10};
};

class PostgresClient {
 public:
  // Connects. Throws std::runtime_error naming the endpoint and libpq's message.
  static PostgresClient Connect(const PostgresConnectOptions& options);
  // Connects with a postgres://user:pass@host:port/db (or postgresql://) URI.
  static PostgresClient ConnectUri(const std::string& uri);

  PostgresClient(PostgresClient&&) noexcept = default;
  PostgresClient& operator=(PostgresClient&&) noexcept = default;
  PostgresClient(const PostgresClient&) = delete;
  PostgresClient& operator=(const PostgresClient&) = delete;
  ~PostgresClient() = default;

  // Runs one or more ';'-separated statements (simple query protocol; one implicit transaction
  // unless the SQL has its own BEGIN/COMMIT). Throws on error.
  void Execute(std::string_view sql);

  // Runs `sql` and returns the rows of the last statement, values in text form.
  ResultRows Query(std::string_view sql);
  QueryResult QueryWithColumns(std::string_view sql);

  // The first column of the first row; nullopt if there is no row or the value is NULL.
  std::optional<std::string> QueryScalar(std::string_view sql);

  // Runs `copy_sql` ("COPY t (cols) FROM STDIN") and sends `data` in COPY text format.
  void CopyIn(std::string_view copy_sql, std::string_view data);

  // The underlying handle, owned by this object. Valid while it lives.
  PGconn* handle() const { return conn_.get(); }

 private:
  struct Closer {
    void operator()(PGconn* conn) const;
  };

  PostgresClient(std::unique_ptr<PGconn, Closer> conn, std::string endpoint)
      : conn_(std::move(conn)), endpoint_(std::move(endpoint)) {}

  std::unique_ptr<PGconn, Closer> conn_;
  std::string endpoint_;  // for messages
};

// `value` as a quoted SQL string literal ('...'), standard_conforming_strings style.
std::string PostgresQuote(std::string_view value);

}  // namespace tandem::testing
