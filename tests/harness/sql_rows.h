// File: tests/harness/sql_rows.h
//
// Query results as the harness hands them to tests: every value in the server's text form
// (binary-safe std::string; PostgreSQL bytea as "\x..." hex), SQL NULL as std::nullopt.
//
// Thread safety: value types.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::testing {

using ResultRow = std::vector<std::optional<std::string>>;
using ResultRows = std::vector<ResultRow>;

struct QueryResult {
  std::vector<std::string> columns;  // column names, in order
  ResultRows rows;

  // The value of `column` in row `row`. Throws std::runtime_error if there is no such column or
  // row.
  const std::optional<std::string>& Get(std::size_t row, const std::string& column) const;
};

// `sql` cut to `max_chars` characters (with a note of its full length) for error messages.
std::string ShortenSql(std::string_view sql, std::size_t max_chars = 300);

}  // namespace tandem::testing
