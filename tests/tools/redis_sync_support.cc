#include "tests/tools/redis_sync_support.h"

#include <chrono>
#include <exception>
#include <random>
#include <utility>

#include "tests/harness/redis_client.h"

namespace tandem::testing {

RedisSyncServers StartRedisSyncServers(const std::vector<std::string>& source_args) {
  RedisSyncServers servers;
  servers.dir = std::make_unique<TempDir>("tandem-redis-sync");
  RedisOptions source_options;
  source_options.extra_args = source_args;
  servers.source = RedisServer::Start(servers.dir->path(), source_options);
  servers.target = RedisServer::Start(servers.dir->path());
  return servers;
}

std::string RedisAllDatabases(const RedisServer& server) {
  return "redis://:" + server.password() + "@127.0.0.1:" + std::to_string(server.port());
}

RedisMixedLoad::RedisMixedLoad(const RedisServer& source, uint64_t seed)
    : thread_([this, &source, seed] { Run(source, seed); }) {}

RedisMixedLoad::~RedisMixedLoad() { Stop(); }

std::string RedisMixedLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  return error_;
}

void RedisMixedLoad::Run(const RedisServer& source, uint64_t seed) {
  try {
    RedisClient client = source.Connect(0);
    std::mt19937_64 random(seed);
    auto pick = [&](int n) { return static_cast<int>(random() % static_cast<uint64_t>(n)); };
    int database = 0;
    int64_t round = 0;
    while (!stop_) {
      ++round;
      const int next_database = pick(3);
      std::vector<std::vector<std::string>> batch;
      if (next_database != database) {
        batch.push_back({"SELECT", std::to_string(next_database)});
        database = next_database;
      }
      const std::string n = std::to_string(pick(300));
      const std::string value = std::to_string(random());
      switch (pick(14)) {
        case 0:
          batch.push_back({"SET", "m:s:" + n, value});
          batch.push_back({"APPEND", "m:s:" + n, "+"});
          break;
        case 1:
          batch.push_back({"INCRBY", "m:i:" + n, std::to_string(pick(100))});
          break;
        case 2:
          batch.push_back({"RPUSH", "m:l:" + n, value, "x", "y"});
          batch.push_back({"LTRIM", "m:l:" + n, "0", "50"});
          break;
        case 3:
          batch.push_back({"SADD", "m:set:" + n, value, std::to_string(pick(20))});
          batch.push_back({"SREM", "m:set:" + n, std::to_string(pick(20))});
          break;
        case 4:
          batch.push_back({"ZADD", "m:z:" + n, std::to_string(pick(1000)) + ".25", value});
          batch.push_back({"ZINCRBY", "m:z:" + n, "1.5", value});
          break;
        case 5:
          batch.push_back({"HSET", "m:h:" + n, "f" + std::to_string(pick(40)), value});
          batch.push_back({"HINCRBY", "m:h:" + n, "count", "1"});
          break;
        case 6:
          batch.push_back({"XADD", "m:x:" + n, "MAXLEN", "~", "100", "*", "v", value});
          break;
        case 7:  // a MULTI/EXEC touching several types at once
          batch.push_back({"MULTI"});
          batch.push_back({"SET", "m:s:" + n, value});
          batch.push_back({"HSET", "m:h:" + n, "tx", value});
          batch.push_back({"LPUSH", "m:l:" + n, value});
          batch.push_back({"EXEC"});
          break;
        case 8:  // short expirations that pass while the stream runs, and long ones
          batch.push_back({"SET", "m:t:" + n, value, "PX", std::to_string(50 + pick(500))});
          batch.push_back({"EXPIRE", "m:s:" + n, std::to_string(3600 + pick(100))});
          break;
        case 9:
          batch.push_back({"DEL", "m:s:" + n, "m:h:" + std::to_string(pick(300))});
          break;
        case 10:
          batch.push_back({"SET", "m:r:" + n, value});
          batch.push_back({"RENAME", "m:r:" + n, "m:r:renamed:" + n});
          break;
        case 11:
          batch.push_back({"PERSIST", "m:s:" + n});
          batch.push_back({"SETRANGE", "m:s:" + n, "2", "zz"});
          break;
        case 12:
          batch.push_back({"SELECT", "3"});
          batch.push_back({"SET", "m:f:" + n, value});
          if (round % 200 == 0) {
            batch.push_back({"FLUSHDB"});
          }
          batch.push_back({"SELECT", std::to_string(database)});
          break;
        default:
          batch.push_back({"SMOVE", "m:set:" + n, "m:set:" + std::to_string(pick(300)), value});
          batch.push_back({"ZREM", "m:z:" + n, value});
          break;
      }
      client.Pipeline(batch);
      commands_ += static_cast<int64_t>(batch.size());
    }
  } catch (const std::exception& error) {
    error_ = error.what();
  }
}

RedisCounterLoad::RedisCounterLoad(const RedisServer& source, int counters)
    : tally_(static_cast<size_t>(counters) + 1, 0), thread_([this, &source] { Run(source); }) {}

RedisCounterLoad::~RedisCounterLoad() { Stop(); }

std::string RedisCounterLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  return error_;
}

void RedisCounterLoad::Run(const RedisServer& source) {
  try {
    RedisClient client = source.Connect(1);
    std::mt19937_64 random(11);
    const int counters = static_cast<int>(tally_.size()) - 1;
    while (!stop_) {
      // One MULTI/EXEC of 1-20 increments (a counter may appear twice), committed when EXEC
      // answers; the tally only counts what the source confirmed.
      std::vector<std::vector<std::string>> batch = {{"MULTI"}};
      std::vector<std::pair<int, int64_t>> increments;
      const int size = 1 + static_cast<int>(random() % 20);
      for (int i = 0; i < size; ++i) {
        const int id = 1 + static_cast<int>(random() % static_cast<uint64_t>(counters));
        const int64_t by = 1 + static_cast<int64_t>(random() % 5);
        batch.push_back({"INCRBY", "c:" + std::to_string(id), std::to_string(by)});
        increments.emplace_back(id, by);
      }
      batch.push_back({"EXEC"});
      client.Pipeline(batch);
      for (const auto& [id, by] : increments) {
        tally_[static_cast<size_t>(id)] += by;
      }
      ++transactions_;
    }
  } catch (const std::exception& error) {
    error_ = error.what();
  }
}

std::vector<int64_t> ReadRedisCounters(const RedisServer& server, int count) {
  RedisClient client = server.Connect(1);
  std::vector<std::vector<std::string>> gets;
  for (int id = 1; id <= count; ++id) {
    gets.push_back({"GET", "c:" + std::to_string(id)});
  }
  std::vector<int64_t> counters(static_cast<size_t>(count) + 1, 0);
  std::vector<RedisValue> values = client.Pipeline(gets);
  for (int id = 1; id <= count; ++id) {
    const RedisValue& value = values[static_cast<size_t>(id - 1)];
    counters[static_cast<size_t>(id)] =
        value.type == RedisValue::Type::kString ? std::stoll(value.text) : 0;
  }
  return counters;
}

}  // namespace tandem::testing
