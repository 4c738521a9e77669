#include "connectors/postgres/postgres_result.h"

#include <charconv>

namespace tandem::connectors::postgres {

int64_t PgResult::Int(int row, int column, int64_t fallback) const {
  if (IsNull(row, column)) {
    return fallback;
  }
  std::string_view text = View(row, column);
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return fallback;
  }
  return value;
}

double PgResult::Double(int row, int column, double fallback) const {
  if (IsNull(row, column)) {
    return fallback;
  }
  std::string_view text = View(row, column);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return fallback;
  }
  return value;
}

}  // namespace tandem::connectors::postgres
