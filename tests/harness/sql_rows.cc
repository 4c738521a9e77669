#include "tests/harness/sql_rows.h"

#include <stdexcept>

namespace tandem::testing {

std::string ShortenSql(std::string_view sql, std::size_t max_chars) {
  if (sql.size() <= max_chars) {
    return std::string(sql);
  }
  return std::string(sql.substr(0, max_chars)) + "... (" + std::to_string(sql.size()) +
         " characters)";
}

const std::optional<std::string>& QueryResult::Get(std::size_t row,
                                                   const std::string& column) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == column) {
      if (row >= rows.size()) {
        throw std::runtime_error("query result has no row " + std::to_string(row));
      }
      return rows[row].at(i);
    }
  }
  throw std::runtime_error("query result has no column '" + column + "'");
}

}  // namespace tandem::testing
