#include "tests/harness/postgres_client.h"

#include <libpq-fe.h>

#include <stdexcept>
#include <vector>

#include "tests/harness/uri.h"

namespace tandem::testing {
namespace {

struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using OwnedResult = std::unique_ptr<PGresult, ResultClearer>;

std::string TrimmedMessage(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

void PostgresClient::Closer::operator()(PGconn* conn) const { PQfinish(conn); }

PostgresClient PostgresClient::Connect(const PostgresConnectOptions& options) {
  const std::string port = std::to_string(options.port);
  const std::string timeout = std::to_string(options.connect_timeout.count());
  std::vector<const char*> keywords = {
      "host",    "port",           "user", "dbname", "connect_timeout", "application_name",
      "sslmode", "client_encoding"};
  std::vector<const char*> values = {options.host.c_str(),
                                     port.c_str(),
                                     options.user.c_str(),
                                     options.database.c_str(),
                                     timeout.c_str(),
                                     "tandem-test-harness",
                                     "disable",
                                     "UTF8"};
  if (!options.password.empty()) {
    keywords.push_back("password");
    values.push_back(options.password.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  std::unique_ptr<PGconn, Closer> conn(PQconnectdbParams(keywords.data(), values.data(), 0));
  const std::string endpoint = options.host + ":" + port + "/" + options.database;
  if (!conn) {
    throw std::runtime_error("PQconnectdbParams failed (out of memory)");
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to PostgreSQL at " + endpoint + " as '" +
                             options.user + "': " + TrimmedMessage(PQerrorMessage(conn.get())));
  }
  // NOTICEs (e.g. "schema ... does not exist, skipping") would go to stderr; tests do not want
  // them.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return PostgresClient(std::move(conn), endpoint);
}

PostgresClient PostgresClient::ConnectUri(const std::string& uri) {
  ServerUri parsed = ParseServerUri(uri);
  if (parsed.scheme != "postgres" && parsed.scheme != "postgresql") {
    throw std::runtime_error("not a postgres:// URI: scheme '" + parsed.scheme + "'");
  }
  PostgresConnectOptions options;
  options.host = parsed.host;
  options.port = parsed.port != 0 ? parsed.port : 5432;
  options.user = parsed.user;
  options.password = parsed.password;
  options.database = parsed.path.empty() ? parsed.user : parsed.path;
  return Connect(options);
}

void PostgresClient::Execute(std::string_view sql) { QueryWithColumns(sql); }

QueryResult PostgresClient::QueryWithColumns(std::string_view sql) {
  const std::string text(sql);
  OwnedResult result(PQexec(conn_.get(), text.c_str()));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string message = result ? TrimmedMessage(PQresultErrorMessage(result.get()))
                                 : TrimmedMessage(PQerrorMessage(conn_.get()));
    throw std::runtime_error("PostgreSQL at " + endpoint_ + ": " + message +
                             " in: " + ShortenSql(sql));
  }
  QueryResult out;
  if (status == PGRES_TUPLES_OK) {
    const int columns = PQnfields(result.get());
    const int rows = PQntuples(result.get());
    for (int c = 0; c < columns; ++c) {
      out.columns.emplace_back(PQfname(result.get(), c));
    }
    out.rows.reserve(rows);
    for (int r = 0; r < rows; ++r) {
      ResultRow row;
      row.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(result.get(), r, c)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(
              std::string(PQgetvalue(result.get(), r, c), PQgetlength(result.get(), r, c)));
        }
      }
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

ResultRows PostgresClient::Query(std::string_view sql) { return QueryWithColumns(sql).rows; }

std::optional<std::string> PostgresClient::QueryScalar(std::string_view sql) {
  ResultRows rows = Query(sql);
  if (rows.empty() || rows[0].empty()) {
    return std::nullopt;
  }
  return rows[0][0];
}

void PostgresClient::CopyIn(std::string_view copy_sql, std::string_view data) {
  const std::string text(copy_sql);
  OwnedResult start(PQexec(conn_.get(), text.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) {
    std::string message = start ? TrimmedMessage(PQresultErrorMessage(start.get()))
                                : TrimmedMessage(PQerrorMessage(conn_.get()));
    throw std::runtime_error("PostgreSQL at " + endpoint_ + ": " + message +
                             " in: " + ShortenSql(copy_sql));
  }
  constexpr std::size_t kChunk = 1 << 20;
  for (std::size_t offset = 0; offset < data.size(); offset += kChunk) {
    std::string_view piece = data.substr(offset, kChunk);
    if (PQputCopyData(conn_.get(), piece.data(), static_cast<int>(piece.size())) != 1) {
      throw std::runtime_error("PostgreSQL at " + endpoint_ + ": COPY data failed: " +
                               TrimmedMessage(PQerrorMessage(conn_.get())));
    }
  }
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) {
    throw std::runtime_error("PostgreSQL at " + endpoint_ +
                             ": COPY end failed: " + TrimmedMessage(PQerrorMessage(conn_.get())));
  }
  std::string error;
  while (PGresult* raw = PQgetResult(conn_.get())) {
    OwnedResult result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && error.empty()) {
      error = TrimmedMessage(PQresultErrorMessage(raw));
    }
  }
  if (!error.empty()) {
    throw std::runtime_error("PostgreSQL at " + endpoint_ + ": " + error +
                             " in: " + ShortenSql(copy_sql));
  }
}

std::string PostgresQuote(std::string_view value) {
  std::string result = "'";
  for (char c : value) {
    if (c == '\'') {
      result += '\'';
    }
    result += c;
  }
  return result + "'";
}

}  // namespace tandem::testing
