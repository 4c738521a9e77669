#include "tests/harness/redis_client.h"

#include <hiredis/hiredis.h>

#include <sstream>
#include <stdexcept>

#include "tests/harness/uri.h"

namespace tandem::testing {
namespace {

RedisValue Copy(const redisReply* reply) {
  RedisValue value;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      value.type = RedisValue::Type::kString;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      value.type = RedisValue::Type::kStatus;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::Type::kInteger;
      value.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::Type::kArray;
      for (size_t i = 0; i < reply->elements; ++i) {
        value.elements.push_back(Copy(reply->element[i]));
      }
      break;
    default:
      value.type = RedisValue::Type::kNil;
  }
  return value;
}

// The command for messages: its name and first argument (usually the key), never AUTH secrets.
std::string Describe(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return "(empty command)";
  }
  std::string text = argv[0];
  if (argv.size() > 1 && argv[0] != "AUTH" && argv[0] != "auth" && argv[0] != "CONFIG" &&
      argv[0] != "config") {
    text += " " + argv[1].substr(0, 80);
  }
  return text;
}

}  // namespace

std::string RedisValue::ToString() const {
  switch (type) {
    case Type::kString:
    case Type::kStatus:
      return text;
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kNil:
      return "(nil)";
    case Type::kArray: {
      std::string result;
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) {
          result += '\n';
        }
        result += elements[i].ToString();
      }
      return result;
    }
  }
  return "";
}

void RedisClient::Closer::operator()(redisContext* context) const { redisFree(context); }

RedisClient RedisClient::Connect(const RedisConnectOptions& options) {
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(options.timeout.count() / 1000);
  timeout.tv_usec = static_cast<suseconds_t>((options.timeout.count() % 1000) * 1000);
  std::unique_ptr<redisContext, Closer> context(
      redisConnectWithTimeout(options.host.c_str(), options.port, timeout));
  const std::string endpoint =
      options.host + ":" + std::to_string(options.port) + "/" + std::to_string(options.database);
  if (!context) {
    throw std::runtime_error("cannot allocate a Redis context");
  }
  if (context->err != 0) {
    throw std::runtime_error("cannot connect to Redis at " + endpoint + ": " + context->errstr);
  }
  redisSetTimeout(context.get(), timeout);
  RedisClient client(std::move(context), endpoint);
  if (!options.password.empty()) {
    client.CommandValue({"AUTH", options.password});
  }
  if (options.database != 0) {
    client.CommandValue({"SELECT", std::to_string(options.database)});
  }
  return client;
}

RedisClient RedisClient::ConnectUri(const std::string& uri) {
  ServerUri parsed = ParseServerUri(uri);
  if (parsed.scheme != "redis") {
    throw std::runtime_error("not a redis:// URI: scheme '" + parsed.scheme + "'");
  }
  RedisConnectOptions options;
  options.host = parsed.host;
  options.port = parsed.port != 0 ? parsed.port : 6379;
  options.password = parsed.password;
  options.database = parsed.path.empty() ? 0 : std::stoi(parsed.path);
  return Connect(options);
}

void RedisClient::Append(const std::vector<std::string>& argv) {
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  pointers.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), pointers.data(),
                             lengths.data()) != REDIS_OK) {
    throw std::runtime_error("Redis at " + endpoint_ + ": cannot queue " + Describe(argv) + ": " +
                             context_->errstr);
  }
}

RedisValue RedisClient::ReadReply(std::string* error) {
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
    throw std::runtime_error("Redis at " + endpoint_ + ": connection error: " + context_->errstr);
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                     freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    *error = std::string(reply->str, reply->len);
  }
  return Copy(reply.get());
}

RedisValue RedisClient::CommandValue(const std::vector<std::string>& argv) {
  Append(argv);
  std::string error;
  RedisValue value = ReadReply(&error);
  if (!error.empty()) {
    throw std::runtime_error("Redis at " + endpoint_ + ": " + Describe(argv) + ": " + error);
  }
  return value;
}

std::string RedisClient::Command(const std::vector<std::string>& argv) {
  return CommandValue(argv).ToString();
}

std::vector<RedisValue> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands) {
    Append(argv);
  }
  std::vector<RedisValue> replies;
  replies.reserve(commands.size());
  std::string first_error;
  for (const auto& argv : commands) {
    std::string error;
    replies.push_back(ReadReply(&error));
    if (!error.empty() && first_error.empty()) {
      first_error = Describe(argv) + ": " + error;
    }
  }
  if (!first_error.empty()) {
    throw std::runtime_error("Redis at " + endpoint_ + ": " + first_error);
  }
  return replies;
}

std::string RedisInfoField(const std::string& info, const std::string& field) {
  std::istringstream lines(info);
  std::string line;
  const std::string prefix = field + ":";
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.rfind(prefix, 0) == 0) {
      return line.substr(prefix.size());
    }
  }
  return "";
}

}  // namespace tandem::testing
