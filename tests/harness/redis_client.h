// File: tests/harness/redis_client.h
//
// RedisClient: a test-side Redis connection over hiredis (RESP2), used by the harness for admin
// commands, replication setup and loading sample data. Independent of the code under test
// (connectors/redis). Errors (connection failures and error replies) are std::runtime_error
// naming the server and the command; the password never appears.
//
// Thread safety: a RedisClient is owned by one thread at a time (movable, not copyable).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

typedef struct redisContext redisContext;

namespace tandem::testing {

// A reply, copied out of hiredis.
struct RedisValue {
  enum class Type { kString, kStatus, kInteger, kNil, kArray };
  Type type = Type::kNil;
  std::string text;                  // kString, kStatus (binary-safe)
  long long integer = 0;             // kInteger
  std::vector<RedisValue> elements;  // kArray

  // The reply as one string, like redis-cli prints it without decoration: strings and statuses
  // as they are, integers in decimal, nil as "(nil)", array elements formatted the same way and
  // joined with '\n' (nested arrays are flattened).
  std::string ToString() const;
};

struct RedisConnectOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string password;  // "" = no AUTH; secret: never part of an error message
  int database = 0;
  std::chrono::milliseconds timeout{10000};  // connect and command timeout
};

class RedisClient {
 public:
  // Connects, authenticates and selects the database. Throws std::runtime_error.
  static RedisClient Connect(const RedisConnectOptions& options);
  // Connects with a redis://:password@host:port/N URI.
  static RedisClient ConnectUri(const std::string& uri);

  RedisClient(RedisClient&&) noexcept = default;
  RedisClient& operator=(RedisClient&&) noexcept = default;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  ~RedisClient() = default;

  // Sends one command (binary-safe arguments) and returns its reply. Throws on an error reply.
  RedisValue CommandValue(const std::vector<std::string>& argv);
  // CommandValue(argv).ToString().
  std::string Command(const std::vector<std::string>& argv);

  // Sends all commands before reading any reply (pipelining) and returns the replies in order.
  // All replies are read; then, if any was an error, throws naming the first failing command.
  std::vector<RedisValue> Pipeline(const std::vector<std::vector<std::string>>& commands);

  // The underlying handle, owned by this object. Valid while it lives.
  redisContext* handle() const { return context_.get(); }

 private:
  struct Closer {
    void operator()(redisContext* context) const;
  };

  RedisClient(std::unique_ptr<redisContext, Closer> context, std::string endpoint)
      : context_(std::move(context)), endpoint_(std::move(endpoint)) {}

  void Append(const std::vector<std::string>& argv);
  // Reads one reply; the error text (if it is an error reply) goes to *error.
  RedisValue ReadReply(std::string* error);

  std::unique_ptr<redisContext, Closer> context_;
  std::string endpoint_;  // "host:port/db", for messages
};

// The value of `field` in the text of an INFO reply ("field:value" lines); "" if absent.
std::string RedisInfoField(const std::string& info, const std::string& field);

}  // namespace tandem::testing
