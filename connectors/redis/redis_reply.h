// File: connectors/redis/redis_reply.h
//
// Reply: one RESP2 reply from a Redis server, owned by value. A reply is a tree: arrays hold
// replies. Error replies ("-ERR ...") are replies like any other here, because in a pipeline one
// failed command must not hide the replies of the others; Connection::Command() and
// ErrorReplyToStatus() turn them into a Status where one command is run alone.
//
//   RESP2 prefix  ReplyType   field used
//   +             kStatus     text  ("OK", "PONG"; never contains CR or LF)
//   -             kError      text  ("ERR unknown command ...", "NOPERM ...")
//   :             kInteger    integer
//   $             kString     text  (binary-safe bulk string)
//   $-1 / *-1     kNil        -
//   *             kArray      elements
//
// Thread safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::connectors::redis {

enum class ReplyType { kString, kStatus, kError, kInteger, kNil, kArray };

// "string", "status", "error", "integer", "nil", "array".
std::string_view ReplyTypeName(ReplyType type);

struct Reply {
  ReplyType type = ReplyType::kNil;
  std::string text;             // kString, kStatus, kError
  int64_t integer = 0;          // kInteger
  std::vector<Reply> elements;  // kArray

  static Reply String(std::string value) { return {ReplyType::kString, std::move(value), 0, {}}; }
  static Reply Status(std::string value) { return {ReplyType::kStatus, std::move(value), 0, {}}; }
  static Reply Error(std::string value) { return {ReplyType::kError, std::move(value), 0, {}}; }
  static Reply Integer(int64_t value) { return {ReplyType::kInteger, {}, value, {}}; }
  static Reply Nil() { return {}; }
  static Reply Array(std::vector<Reply> values) {
    return {ReplyType::kArray, {}, 0, std::move(values)};
  }

  bool is_error() const { return type == ReplyType::kError; }
  bool is_nil() const { return type == ReplyType::kNil; }
  // True for kString and kStatus: the reply carries text that is data, not an error.
  bool is_text() const { return type == ReplyType::kString || type == ReplyType::kStatus; }

  // A readable rendering for tests and diagnostics: "OK", "(error) ERR x", "(integer) 5", "(nil)",
  // "[a, (integer) 1]". Strings are shown raw (they may contain any bytes).
  std::string DebugString() const;

  friend bool operator==(const Reply&, const Reply&) = default;
};

}  // namespace tandem::connectors::redis
