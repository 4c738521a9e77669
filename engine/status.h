// File: engine/status.h
//
// Status and Result<T>: how every tandem library reports failure. Exceptions stay at the edge
// (option parsing in tools/); everything below returns a Status or a Result<T>.
//
// A Status carries a code (what kind of failure, which decides the exit code and whether a stream
// should reconnect) and a message that names the object and, where there is one, the fix. Messages
// never contain passwords: build them from ConnectionConfig::Redacted().
//
// Thread safety: Status and Result<T> are values; distinct objects may be used from distinct
// threads freely, and a const object may be shared.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tandem::engine {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,       // bad input from the user: a URI, a flag, a plan key. Permanent.
  kNotFound,              // a named object does not exist: a table, a database, a key. Permanent.
  kConnectionFailed,      // the server could not be reached or went away. Retryable.
  kAuthenticationFailed,  // the server refused the credentials. Permanent.
  kPermissionDenied,      // logged in, but a privilege is missing. Permanent.
  kUnsupported,           // a server version, setting or type tandem cannot handle. Permanent.
  kFailedPrecondition,    // the servers are not in a state that allows the operation. Permanent.
  kCorruption,            // bytes from a server or file do not decode. Permanent.
  kTimeout,               // a wait ran past its deadline. Retryable.
  kUnavailable,  // transient server-side refusal (too many connections, lock wait). Retryable.
  kCancelled,    // stopped on request (SIGINT/SIGTERM). Not an error to report.
  kInternal,     // a bug in tandem: an invariant did not hold. Permanent.
};

// Returns a short lower-case name for `code`, e.g. "connection failed".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  // REQUIRES: code != kOk (use Status::Ok()).
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != StatusCode::kOk);  // an OK status carries no message; see Ok()
  }

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Whether retrying the same operation later (for example after reconnecting) may succeed.
  bool retryable() const;

  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status WithContext(std::string_view context) const;

  // "<code name>: <message>", or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Factories for the common codes, so call sites read as what went wrong.
Status InvalidArgument(std::string message);
Status NotFound(std::string message);
Status ConnectionFailed(std::string message);
Status AuthenticationFailed(std::string message);
Status PermissionDenied(std::string message);
Status Unsupported(std::string message);
Status FailedPrecondition(std::string message);
Status Corruption(std::string message);
Status Timeout(std::string message);
Status Unavailable(std::string message);
Status Cancelled(std::string message);
Status Internal(std::string message);

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit from a value and from an error, so `return value;` and `return NotFound(...)` work.
  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  // REQUIRES: !status.ok().
  Result(Status status) : storage_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    assert(!std::get<1>(storage_).ok());  // a Result built from a status is an error by contract
  }

  bool ok() const { return storage_.index() == 0; }
  // The error; an OK status when this holds a value. The reference lives as long as this Result.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(storage_);
  }

  // REQUIRES: ok().
  T& value() & { return std::get<0>(storage_); }
  const T& value() const& { return std::get<0>(storage_); }
  T&& value() && { return std::get<0>(std::move(storage_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> storage_;
};

namespace internal {
inline Status AsStatus(Status status) { return status; }
template <typename T>
Status AsStatus(const Result<T>& result) {
  return result.status();
}
}  // namespace internal

}  // namespace tandem::engine

#define TANDEM_CONCAT_INNER(a, b) a##b
#define TANDEM_CONCAT(a, b) TANDEM_CONCAT_INNER(a, b)

// Returns from the enclosing function with the error if `expr` (a Status or Result) failed.
#define TANDEM_RETURN_IF_ERROR(expr)                                                      \
  do {                                                                                    \
    ::tandem::engine::Status tandem_status_ = ::tandem::engine::internal::AsStatus(expr); \
    if (!tandem_status_.ok()) {                                                           \
      return tandem_status_;                                                              \
    }                                                                                     \
  } while (false)

// Like TANDEM_RETURN_IF_ERROR, and prefixes the message with `context` (a string expression).
#define TANDEM_RETURN_IF_ERROR_CONTEXT(expr, context)                                     \
  do {                                                                                    \
    ::tandem::engine::Status tandem_status_ = ::tandem::engine::internal::AsStatus(expr); \
    if (!tandem_status_.ok()) {                                                           \
      return tandem_status_.WithContext(context);                                         \
    }                                                                                     \
  } while (false)

// `TANDEM_ASSIGN_OR_RETURN(auto x, Function());` declares x from a Result's value, or returns its
// error.
#define TANDEM_ASSIGN_OR_RETURN(lhs, expr) \
  TANDEM_ASSIGN_OR_RETURN_IMPL(TANDEM_CONCAT(tandem_result_, __LINE__), lhs, expr)
#define TANDEM_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                                 \
  if (!result.ok()) {                                   \
    return result.status();                             \
  }                                                     \
  lhs = std::move(result).value()
