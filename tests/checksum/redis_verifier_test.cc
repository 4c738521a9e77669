// VerifyRedis against private Redis servers: every type, TTLs and several databases compare equal;
// each injected divergence is found exactly (kind and columns), in both digest modes; equal data
// in different encodings is consistent; a native replica under a concurrent write load yields no
// false positives; a key that expires during the check is not a difference; tandem's own keys
// ("_tandem:...") are skipped on both sides.
#include "checksum/redis_verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "connectors/redis/redis_database.h"
#include "engine/connection_config.h"
#include "tests/harness/local_servers.h"

namespace tandem::checksum {
namespace {

using testing::RedisServer;
using testing::TempDir;

engine::Result<std::unique_ptr<engine::Database>> OpenRedis(const engine::ConnectionConfig& c) {
  auto opened = connectors::redis::OpenRedisDatabase(c);
  if (!opened.ok()) {
    return opened.status();
  }
  return std::unique_ptr<engine::Database>(std::move(*opened));
}

engine::ConnectionConfig Config(const RedisServer& server) {
  auto config = engine::ParseConnectionUri(server.Uri(0), "--source", "");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

RedisVerifyOptions FastOptions(engine::ValueFetch fetch) {
  RedisVerifyOptions options;
  options.fetch = fetch;
  options.threads = 2;
  options.recheck_delay = std::chrono::milliseconds(100);
  options.recheck_attempts = 2;
  return options;
}

RedisVerifyReport MustVerify(const RedisServer& source, const RedisServer& target,
                             const RedisVerifyOptions& options) {
  auto report = VerifyRedis(Config(source), Config(target), OpenRedis, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  if (!report.ok()) {
    return {};
  }
  return std::move(*report);
}

// "db:key" -> "kind:col,col" for every difference of the report.
std::map<std::string, std::string> Differences(const RedisVerifyReport& report) {
  std::map<std::string, std::string> out;
  for (size_t t = 0; t < report.report.tables.size(); ++t) {
    for (const Difference& difference : report.report.tables[t].differences) {
      std::string text = DifferenceKindName(difference.kind);
      text += ":";
      for (size_t i = 0; i < difference.columns.size(); ++i) {
        text += (i == 0 ? "" : ",") + difference.columns[i];
      }
      out[std::to_string(report.databases[t]) + ":" + difference.key.at(0).text()] = text;
    }
  }
  return out;
}

testing::RedisSampleDataOptions Sample(int rows, int64_t expire_at) {
  testing::RedisSampleDataOptions options;
  options.rows = rows;
  options.databases = {0, 1, 2};
  options.expire_at_unix_ms = expire_at;
  return options;
}

class RedisVerifierTest : public ::testing::TestWithParam<engine::ValueFetch> {
 protected:
  void StartPair(const std::vector<std::string>& target_config = {}) {
    source_ = RedisServer::Start(dir_.path());
    target_ = RedisServer::Start(dir_.path());
    if (!target_config.empty()) {
      std::vector<std::string> command = {"CONFIG", "SET"};
      command.insert(command.end(), target_config.begin(), target_config.end());
      target_->Command(command);
    }
  }
  void LoadBoth(int rows) {
    const int64_t expire_at = testing::DefaultSampleExpiryUnixMs();
    testing::LoadRedisSampleData(source_->ConnectOptions(), Sample(rows, expire_at));
    testing::LoadRedisSampleData(target_->ConnectOptions(), Sample(rows, expire_at));
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> source_;
  std::unique_ptr<RedisServer> target_;
};

TEST_P(RedisVerifierTest, EveryTypeWithTtlsInSeveralDatabasesIsConsistent) {
  StartPair();
  LoadBoth(300);
  RedisVerifyReport report = MustVerify(*source_, *target_, FastOptions(GetParam()));
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  ASSERT_EQ(report.databases, (std::vector<int>{0, 1, 2}));
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(report.report.tables[t].source_rows, 300);
    EXPECT_EQ(report.report.tables[t].target_rows, 300);
    for (const char* type : {"string", "list", "set", "zset", "hash", "stream"}) {
      ASSERT_TRUE(report.types[t].count(type)) << type;
      EXPECT_GT(report.types[t].at(type).source, 0) << type;
      EXPECT_EQ(report.types[t].at(type).source, report.types[t].at(type).target) << type;
    }
    // strings: string, counter, blob, session keys: 4 in 10.
    EXPECT_EQ(report.types[t].at("string").source, 120);
  }
  EXPECT_EQ(report.rechecked_keys, 0);
  nlohmann::json json = report.ToJson();
  EXPECT_EQ(json["consistent"], true);
  EXPECT_EQ(json["tables"][0]["types"]["hash"]["source"], 30);
}

TEST_P(RedisVerifierTest, EachInjectedDivergenceIsFoundExactly) {
  StartPair();
  LoadBoth(200);
  const RedisServer& t = *target_;
  t.Command({"DEL", "string:10"}, 0);                          // missing
  t.Command({"SET", "extra:key", "surplus"}, 1);               // extra
  t.Command({"HSET", "hash:13", "field-0", "changed"}, 0);     // hash field (listpack)
  t.Command({"HSET", "hash:103", "field-599", "changed"}, 2);  // hash field (600 fields, paged)
  t.Command({"LSET", "list:14", "0", "changed"}, 1);           // list element
  t.Command({"LSET", "list:4", "999", "changed"}, 0);          // last of 1000 elements, paged
  // A changed score: the first member's score plus one.
  testing::RedisValue first = t.CommandValue({"ZRANGE", "zset:17", "0", "0", "WITHSCORES"}, 0);
  ASSERT_EQ(first.elements.size(), 2u);
  t.Command({"ZINCRBY", "zset:17", "1", first.elements[0].text}, 0);
  t.Command({"PEXPIRE", "string:20", "1000000"}, 0);   // a TTL where the source has none
  t.Command({"PEXPIRE", "session:19", "7200000"}, 1);  // a TTL an hour longer
  t.Command({"DEL", "set:16"}, 2);                     // a different type under the same name
  t.Command({"SET", "set:16", "now a string"}, 2);
  t.Command({"XGROUP", "CREATE", "stream:18", "newgroup", "0"}, 0);  // consumer groups differ
  const std::string binary_key = std::string("intset:\0\xff:25", 12);
  t.Command({"SADD", binary_key, "999999"}, 1);  // a binary key name

  RedisVerifyReport report = MustVerify(*source_, *target_, FastOptions(GetParam()));
  EXPECT_FALSE(report.Consistent());
  const std::map<std::string, std::string> expected = {
      {"0:string:10", "missing:"},       {"1:extra:key", "extra:"},
      {"0:hash:13", "changed:value"},    {"2:hash:103", "changed:value"},
      {"1:list:14", "changed:value"},    {"0:list:4", "changed:value"},
      {"0:zset:17", "changed:value"},    {"0:string:20", "changed:ttl"},
      {"1:session:19", "changed:ttl"},   {"2:set:16", "changed:type"},
      {"0:stream:18", "changed:groups"}, {"1:" + binary_key, "changed:value"},
  };
  EXPECT_EQ(Differences(report), expected) << report.ToText();
  nlohmann::json json = report.ToJson();
  bool found_extra = false;
  for (const nlohmann::json& difference : json["tables"][1]["differences"]) {
    if (difference["key"] == nlohmann::json{{"key", "extra:key"}}) {
      found_extra = true;
      EXPECT_EQ(difference["kind"], "extra");
    }
  }
  EXPECT_TRUE(found_extra) << json.dump(2);
}

TEST_P(RedisVerifierTest, EqualDataInDifferentEncodingsIsConsistent) {
  // The target keeps every hash and sorted set as a hash table / skiplist and every set of
  // integers as a hash table; the source keeps small ones as listpacks and intsets.
  StartPair({"hash-max-listpack-entries", "0", "zset-max-listpack-entries", "0",
             "set-max-intset-entries", "0"});
  LoadBoth(200);
  EXPECT_EQ(source_->Command({"OBJECT", "ENCODING", "hash:13"}), "listpack");
  EXPECT_EQ(target_->Command({"OBJECT", "ENCODING", "hash:13"}), "hashtable");
  EXPECT_EQ(source_->Command({"OBJECT", "ENCODING", "intset:15"}), "intset");
  EXPECT_EQ(target_->Command({"OBJECT", "ENCODING", "intset:15"}), "hashtable");
  EXPECT_EQ(source_->Command({"OBJECT", "ENCODING", "zset:17"}), "listpack");
  EXPECT_EQ(target_->Command({"OBJECT", "ENCODING", "zset:17"}), "skiplist");
  RedisVerifyReport report = MustVerify(*source_, *target_, FastOptions(GetParam()));
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  EXPECT_EQ(report.rechecked_keys, 0);
}

TEST_P(RedisVerifierTest, TandemsOwnKeysAreNeitherComparedNorCounted) {
  // A sync's checkpoint and state live only on the target, a heartbeat with a different value on
  // each side; none of them is user data.
  StartPair();
  LoadBoth(50);
  target_->Command({"SET", "_tandem:checkpoint:redis-sync/0", "redis:x:1\n1\n1"}, 0);
  target_->Command({"SET", "_tandem:sync:state", "streaming"}, 0);
  source_->Command({"SET", "_tandem:heartbeat:7", "3 100", "PX", "3600000"}, 1);
  target_->Command({"SET", "_tandem:heartbeat:7", "2 90", "PX", "3600000"}, 1);
  source_->Command({"SET", "_tandem:heartbeat:8", "1 10"}, 2);  // not yet on the target
  RedisVerifyReport report = MustVerify(*source_, *target_, FastOptions(GetParam()));
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  ASSERT_EQ(report.databases, (std::vector<int>{0, 1, 2}));
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(report.report.tables[t].source_rows, 50) << t;
    EXPECT_EQ(report.report.tables[t].target_rows, 50) << t;
  }
}

TEST_P(RedisVerifierTest, KeyExpiringDuringTheCheckIsNotADifference) {
  StartPair();
  LoadBoth(50);
  source_->Command({"SET", "short-lived", "v", "PX", "300"}, 0);  // the target never had it
  RedisVerifyOptions options = FastOptions(GetParam());
  options.recheck_delay = std::chrono::milliseconds(600);
  RedisVerifyReport report = MustVerify(*source_, *target_, options);
  EXPECT_TRUE(report.Consistent()) << report.ToText();
}

TEST_P(RedisVerifierTest, TtlsWithinTheToleranceAreEqual) {
  StartPair();
  source_->Command({"SET", "k", "v", "PX", "100000"}, 3);
  target_->Command({"SET", "k", "v", "PX", "100600"}, 3);
  RedisVerifyOptions options = FastOptions(GetParam());
  options.databases = {3};
  EXPECT_TRUE(MustVerify(*source_, *target_, options).Consistent());
  options.ttl_tolerance = std::chrono::milliseconds(100);
  EXPECT_EQ(Differences(MustVerify(*source_, *target_, options)),
            (std::map<std::string, std::string>{{"3:k", "changed:ttl"}}));
}

TEST_P(RedisVerifierTest, MaxOpsHoldsTheCommandRateAgainstEachServer) {
  StartPair();
  testing::RedisSampleDataOptions sample = Sample(150, testing::DefaultSampleExpiryUnixMs());
  sample.databases = {0};
  testing::LoadRedisSampleData(source_->ConnectOptions(), sample);
  testing::LoadRedisSampleData(target_->ConnectOptions(), sample);
  auto processed = [](const RedisServer& server) {
    return std::stoll(
        testing::RedisInfoField(server.Command({"INFO", "stats"}), "total_commands_processed"));
  };
  RedisVerifyOptions options = FastOptions(GetParam());
  options.max_ops = 400;
  const int64_t before = processed(*source_);
  const auto start = std::chrono::steady_clock::now();
  RedisVerifyReport report = MustVerify(*source_, *target_, options);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t commands = processed(*source_) - before;
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  // Connection setup (AUTH, SELECT, CLIENT SETNAME, INFO) is not throttled: allow for it.
  EXPECT_GT(commands, 400);
  EXPECT_LE(static_cast<double>(commands - 60) / elapsed, 400 * 1.1)
      << commands << " commands in " << elapsed << " s";
}

TEST_P(RedisVerifierTest, NativeReplicaUnderWriteLoadHasNoFalsePositives) {
  source_ = RedisServer::Start(dir_.path());
  target_ = RedisServer::Start(dir_.path());
  target_->StartReplicaOf(*source_);
  const int rows = 2000;
  testing::LoadRedisSampleData(source_->ConnectOptions(),
                               Sample(rows, testing::DefaultSampleExpiryUnixMs()));
  target_->WaitForReplicaCatchUp(*source_);

  // A bounded generator: pipelined writes to random keys of the sample data (every type), new
  // keys that expire within 200 ms, and deletions, until verify is done (at most 60 s).
  std::atomic<bool> done{false};
  std::atomic<int64_t> writes{0};
  std::thread generator([&] {
    std::vector<testing::RedisClient> clients;
    for (int db = 0; db < 3; ++db) {
      clients.push_back(source_->Connect(db));
    }
    std::mt19937_64 random(42);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int64_t serial = 0;
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      std::vector<std::vector<std::string>> commands;
      const int db = static_cast<int>(random() % 3);
      for (int i = 0; i < 50; ++i) {
        const int64_t k = static_cast<int64_t>(random() % rows);
        const std::string n = std::to_string(k);
        const std::string v = std::to_string(random() % 1000);
        switch (k % 10) {
          case 0:
          case 1:
            commands.push_back({"SET", "string:" + n, "gen-" + v});
            break;
          case 3:
            commands.push_back({"HSET", "hash:" + n, "field-" + v, v});
            break;
          case 4:
            commands.push_back({"RPUSH", "list:" + n, v});
            break;
          case 5:
          case 6:
            commands.push_back({"SADD", "set:" + n, v});
            break;
          case 7:
            commands.push_back({"ZADD", "zset:" + n, v, "m" + v});
            break;
          case 8:
            commands.push_back({"XADD", "stream:" + n, "*", "f", v});
            break;
          case 9:
            commands.push_back({"PEXPIRE", "session:" + n, std::to_string(100000 + k)});
            break;
          default:
            commands.push_back({"DEL", "blob:" + n});
        }
        commands.push_back({"SET", "gen:" + std::to_string(serial++), v, "PX", "200"});
      }
      clients[static_cast<size_t>(db)].Pipeline(commands);
      writes += static_cast<int64_t>(commands.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  RedisVerifyOptions options = FastOptions(GetParam());
  options.recheck_attempts = 3;
  const int64_t writes_before = writes.load();
  RedisVerifyReport report = MustVerify(*source_, *target_, options);
  const int64_t writes_during = writes.load() - writes_before;
  done = true;
  generator.join();
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  EXPECT_GT(writes_during, 0);
  std::cout << "writes during verify: " << writes_during
            << ", keys re-checked: " << report.rechecked_keys << ", elapsed "
            << report.report.elapsed_s << " s\n";
}

INSTANTIATE_TEST_SUITE_P(DigestModes, RedisVerifierTest,
                         ::testing::Values(engine::ValueFetch::kValues,
                                           engine::ValueFetch::kServerDigest),
                         [](const ::testing::TestParamInfo<engine::ValueFetch>& info) {
                           return info.param == engine::ValueFetch::kValues ? "Values" : "Lua";
                         });

}  // namespace
}  // namespace tandem::checksum
