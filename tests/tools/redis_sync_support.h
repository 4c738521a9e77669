// File: tests/tools/redis_sync_support.h
//
// What the Redis `tandem sync` command-line tests share: a private source and target redis-server
// pair, URIs covering every database, and the source's write loads:
//
//   RedisMixedLoad    one connection writing every type across databases 0..2 (strings, lists,
//                     sets, sorted sets, hashes, streams), MULTI/EXEC blocks, EXPIRE/PEXPIRE (short
//                     ones that really expire while the stream runs), DEL, RENAME, and FLUSHDB of
//                     database 3 now and then.
//   RedisCounterLoad  MULTI/EXEC blocks of INCRBY on counters c:1..c:N (database 1), with an exact
//                     tally of what the source committed, so a test can tell a lost or doubled
//                     command on the target.
//
// Thread safety: each load runs its own thread; tally() only after Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/files.h"
#include "tests/harness/redis_server.h"

namespace tandem::testing {

struct RedisSyncServers {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<RedisServer> source;
  std::unique_ptr<RedisServer> target;
};

// Both servers with the harness password; `source_args` appended to the source's command line.
RedisSyncServers StartRedisSyncServers(const std::vector<std::string>& source_args = {});

// redis://:password@127.0.0.1:PORT (no database: tandem verify compares every one).
std::string RedisAllDatabases(const RedisServer& server);

class RedisMixedLoad {
 public:
  explicit RedisMixedLoad(const RedisServer& source, uint64_t seed = 7);
  ~RedisMixedLoad();
  RedisMixedLoad(const RedisMixedLoad&) = delete;
  RedisMixedLoad& operator=(const RedisMixedLoad&) = delete;
  // Stops and joins; the load's error ("" when none).
  std::string Stop();
  int64_t commands() const { return commands_.load(); }

 private:
  void Run(const RedisServer& source, uint64_t seed);
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> commands_{0};
  std::string error_;
  std::thread thread_;
};

class RedisCounterLoad {
 public:
  RedisCounterLoad(const RedisServer& source, int counters);
  ~RedisCounterLoad();
  RedisCounterLoad(const RedisCounterLoad&) = delete;
  RedisCounterLoad& operator=(const RedisCounterLoad&) = delete;
  std::string Stop();
  // REQUIRES: stopped. Index = counter number (1..counters).
  const std::vector<int64_t>& tally() const { return tally_; }
  int64_t transactions() const { return transactions_.load(); }

 private:
  void Run(const RedisServer& source);
  std::vector<int64_t> tally_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::string error_;
  std::thread thread_;
};

// The counters c:1..c:count of database 1 on `server` (absent = 0), index = counter number.
std::vector<int64_t> ReadRedisCounters(const RedisServer& server, int count);

}  // namespace tandem::testing
