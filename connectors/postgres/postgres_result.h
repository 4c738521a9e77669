// File: connectors/postgres/postgres_result.h
//
// PgResult: the one owner of a libpq PGresult*, with typed accessors for the text-format results
// the connector reads (catalog rows, settings, assessment facts). Values are returned by copy or
// as views into the PGresult, which stay valid while the PgResult lives.
//
// Thread safety: owned by one thread; movable, not copyable.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::connectors::postgres {

class PgResult {
 public:
  PgResult() = default;
  // Takes ownership of `result` (may be nullptr).
  explicit PgResult(PGresult* result) : result_(result) {}
  ~PgResult() { Reset(); }
  PgResult(PgResult&& other) noexcept : result_(other.release()) {}
  PgResult& operator=(PgResult&& other) noexcept {
    if (this != &other) {
      Reset(other.release());
    }
    return *this;
  }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  // Frees the held result and takes ownership of `result`.
  void Reset(PGresult* result = nullptr) {
    if (result_ != nullptr) {
      PQclear(result_);
    }
    result_ = result;
  }
  // Gives up ownership; the caller must PQclear the returned pointer.
  PGresult* release() {
    PGresult* result = result_;
    result_ = nullptr;
    return result;
  }
  PGresult* get() const { return result_; }
  explicit operator bool() const { return result_ != nullptr; }

  ExecStatusType status() const { return PQresultStatus(result_); }
  int rows() const { return PQntuples(result_); }
  int columns() const { return PQnfields(result_); }

  // REQUIRES for every accessor below: 0 <= row < rows(), 0 <= column < columns().
  bool IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
  // The value's text; "" for NULL. A view into the result.
  std::string_view View(int row, int column) const {
    return std::string_view(PQgetvalue(result_, row, column),
                            static_cast<size_t>(PQgetlength(result_, row, column)));
  }
  std::string String(int row, int column) const { return std::string(View(row, column)); }
  // A boolean printed as "t"/"f"; false for NULL.
  bool Bool(int row, int column) const { return View(row, column) == "t"; }
  // An integer column; `fallback` for NULL or text that is not an integer.
  int64_t Int(int row, int column, int64_t fallback = 0) const;
  // A floating-point column; `fallback` for NULL or text that is not a number.
  double Double(int row, int column, double fallback = 0) const;

 private:
  PGresult* result_ = nullptr;
};

}  // namespace tandem::connectors::postgres
