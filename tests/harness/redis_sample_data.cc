// The Redis sample data set (contract in sample_data.h), loaded with pipelining.

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <stdexcept>

#include "tests/harness/sample_data.h"
#include "tests/harness/sample_random.h"
#include "tests/harness/uri.h"

namespace tandem::testing {
namespace {

using Commands = std::vector<std::vector<std::string>>;

constexpr size_t kCommandsPerPipeline = 2000;
// Stream entry IDs start here (milliseconds), so they are the same on every load.
constexpr int64_t kStreamEpochMs = 1700000000000LL;

std::string KeyName(const std::string& prefix, const char* kind, int64_t k) {
  if (k % 50 == 25) {
    return prefix + kind + ":" + std::string("\0\xff", 2) + ":" + std::to_string(k);
  }
  return prefix + kind + ":" + std::to_string(k);
}

std::string Score(SampleRandom& r) {
  const int64_t pick = r.Range(0, 99);
  if (pick == 0) {
    return "-inf";
  }
  if (pick == 1) {
    return "+inf";
  }
  const double mantissa = r.Unit() - 0.5;
  const int64_t exponent = r.Range(-3, 6);
  return FormatDouble(mantissa * std::pow(10.0, static_cast<double>(exponent)), 17);
}

// Appends the commands that (re)create key number `k` of database `db`.
void KeyCommands(const RedisSampleDataOptions& options, int db, int64_t k, Commands& out) {
  SampleRandom r(options.seed, "redis-db" + std::to_string(db), static_cast<uint64_t>(k));
  const std::string& prefix = options.key_prefix;
  const bool big = k % 100 == (k % 10);  // the first of each kind in every hundred keys
  std::string key;
  switch (k % 10) {
    case 0:
      key = KeyName(prefix, "string", k);
      out.push_back({"SET", key, r.Text(0, 80)});
      break;
    case 1:
      key = KeyName(prefix, "counter", k);
      out.push_back({"SET", key, std::to_string(r.Range(-1000000000000LL, 1000000000000LL))});
      break;
    case 2:
      key = KeyName(prefix, "blob", k);
      out.push_back({"SET", key, r.Bytes(1000, 4000)});
      break;
    case 3: {
      key = KeyName(prefix, "hash", k);
      out.push_back({"DEL", key});
      std::vector<std::string> command = {"HSET", key};
      const int64_t fields = big ? 600 : r.Range(1, 10);
      for (int64_t i = 0; i < fields; ++i) {
        command.push_back("field-" + std::to_string(i));
        command.push_back(r.Text(0, 30));
      }
      out.push_back(std::move(command));
      break;
    }
    case 4: {
      key = KeyName(prefix, "list", k);
      out.push_back({"DEL", key});
      std::vector<std::string> command = {"RPUSH", key};
      const int64_t elements = big ? 1000 : r.Range(1, 20);
      for (int64_t i = 0; i < elements; ++i) {
        command.push_back(r.Text(0, 20));  // duplicates and empty strings allowed
      }
      out.push_back(std::move(command));
      break;
    }
    case 5: {
      key = KeyName(prefix, "intset", k);
      out.push_back({"DEL", key});
      std::vector<std::string> command = {"SADD", key};
      const int64_t members = big ? 600 : r.Range(1, 20);  // 600 > set-max-intset-entries (512)
      for (int64_t i = 0; i < members; ++i) {
        command.push_back(std::to_string(r.Range(-100000, 100000)));
      }
      out.push_back(std::move(command));
      break;
    }
    case 6: {
      key = KeyName(prefix, "set", k);
      out.push_back({"DEL", key});
      std::vector<std::string> command = {"SADD", key};
      const int64_t members = big ? 600 : r.Range(1, 20);
      for (int64_t i = 0; i < members; ++i) {
        command.push_back(r.Text(1, 20));
      }
      out.push_back(std::move(command));
      break;
    }
    case 7: {
      key = KeyName(prefix, "zset", k);
      out.push_back({"DEL", key});
      std::vector<std::string> command = {"ZADD", key};
      const int64_t members = big ? 600 : r.Range(1, 20);
      for (int64_t i = 0; i < members; ++i) {
        command.push_back(Score(r));
        command.push_back("member-" + std::to_string(i) + "-" + r.Words(0, 8));
      }
      out.push_back(std::move(command));
      break;
    }
    case 8: {
      key = KeyName(prefix, "stream", k);
      out.push_back({"DEL", key});
      const int64_t entries = r.Range(2, 10);
      std::string first_id;
      for (int64_t i = 0; i < entries; ++i) {
        const std::string id =
            std::to_string(kStreamEpochMs + k * 1000 + i * 7) + "-" + std::to_string(i % 3);
        if (i == 0) {
          first_id = id;
        }
        const int64_t amount = r.Range(1, 100000);
        out.push_back({"XADD", key, id, "event", r.Words(3, 12), "amount", std::to_string(amount)});
      }
      if (k % 20 == 8) {
        out.push_back({"XGROUP", "CREATE", key, "cg", "0"});
        out.push_back({"XREADGROUP", "GROUP", "cg", "alice", "COUNT", "2", "STREAMS", key, ">"});
        out.push_back({"XACK", key, "cg", first_id});
      }
      break;
    }
    default: {
      key = KeyName(prefix, "session", k);
      out.push_back({"SET", key, "token-" + r.Words(16, 32)});
      out.push_back({"PEXPIREAT", key, std::to_string(options.expire_at_unix_ms)});
      return;
    }
  }
  if (k % 7 == 0) {
    out.push_back({"PEXPIREAT", key, std::to_string(options.expire_at_unix_ms)});
  }
}

}  // namespace

int64_t DefaultSampleExpiryUnixMs() {
  const auto now = std::chrono::system_clock::now() + std::chrono::hours(1);
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() * 1000;
}

void LoadRedisSampleData(const RedisConnectOptions& connect,
                         const RedisSampleDataOptions& options) {
  if (options.rows < 0) {
    throw std::runtime_error("LoadRedisSampleData: rows must be >= 0");
  }
  RedisSampleDataOptions resolved = options;
  if (resolved.expire_at_unix_ms == 0) {
    resolved.expire_at_unix_ms = DefaultSampleExpiryUnixMs();
  }
  for (int db : resolved.databases) {
    RedisConnectOptions db_connect = connect;
    db_connect.database = db;
    RedisClient client = RedisClient::Connect(db_connect);
    Commands commands;
    for (int64_t k = 0; k < resolved.rows; ++k) {
      KeyCommands(resolved, db, k, commands);
      if (commands.size() >= kCommandsPerPipeline) {
        client.Pipeline(commands);
        commands.clear();
      }
    }
    if (!commands.empty()) {
      client.Pipeline(commands);
    }
  }
}

void LoadRedisSampleData(const RedisServer& server, int rows) {
  RedisSampleDataOptions options;
  options.rows = rows;
  LoadRedisSampleData(server.ConnectOptions(), options);
}

void LoadRedisSampleData(const std::string& uri, const RedisSampleDataOptions& options) {
  ServerUri parsed = ParseServerUri(uri);
  RedisConnectOptions connect;
  connect.host = parsed.host;
  connect.port = parsed.port != 0 ? parsed.port : 6379;
  connect.password = parsed.password;
  LoadRedisSampleData(connect, options);
}

}  // namespace tandem::testing
