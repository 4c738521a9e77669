// `tandem sync` Redis -> Redis end to end against real servers: a full sync of every type in every
// encoding (with TTLs, four databases, a function library and 1,000,000-element hash, list and
// sorted set), then a live load (redis-benchmark and a generator of every type, MULTI/EXEC,
// EXPIRE, DEL, RENAME, FLUSHDB) streamed through a restart that resumes with a partial resync;
// `tandem verify` proves the target equal. Then the refusals: one line, exit 2, nothing written.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/connectors/redis/redis_every_encoding.h"
#include "tests/harness/redis_client.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wait.h"
#include "tests/tools/redis_sync_support.h"
#include "tests/tools/run_tandem.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

int64_t TotalKeys(const RedisServer& server) {
  int64_t keys = 0;
  for (int db = 0; db < 16; ++db) {
    keys += std::stoll(server.Command({"DBSIZE"}, db));
  }
  return keys;
}

TEST(RedisSyncCli, FullSyncOfEveryEncodingThenLiveLoadThroughARestartIsConsistent) {
  RedisSyncServers servers = StartRedisSyncServers({"--repl-backlog-size", "64mb"});
  EveryEncodingOptions options;
  options.databases = 3;
  options.large = true;
  const EveryEncodingData data = PopulateEveryEncoding(*servers.source, options);
  ASSERT_GT(data.keys_with_ttl, 0);
  servers.source->Command({"SET", "m:f:seed", "x"}, 3);

  const std::string log_path = servers.dir->path() + "/sync.log";
  const std::vector<std::string> args = {"--source", RedisAllDatabases(*servers.source), "--target",
                                         RedisAllDatabases(*servers.target)};
  {
    SyncProcess sync(args, log_path);
    ASSERT_TRUE(PollUntil(seconds(180), [&] {
      return sync.Log().find("streaming changes") != std::string::npos || !sync.Running();
    })) << sync.Log();
    ASSERT_TRUE(sync.Running()) << sync.Log();
    // The live load, while the stream runs: redis-benchmark (database 0, 8 clients pipelining)
    // and the generator of every type and command.
    RedisMixedLoad load(*servers.source);
    SpawnOptions benchmark;
    benchmark.argv = {"redis-benchmark",
                      "-h",
                      "127.0.0.1",
                      "-p",
                      std::to_string(servers.source->port()),
                      "-a",
                      servers.source->password(),
                      "-n",
                      "100000",
                      "-r",
                      "20000",
                      "-c",
                      "8",
                      "-P",
                      "8",
                      "-q",
                      "-t",
                      "set,incr,lpush,rpush,lpop,sadd,hset,zadd,spop"};
    benchmark.log_path = servers.dir->path() + "/benchmark.log";
    RunCommand(benchmark, std::chrono::minutes(3));
    std::this_thread::sleep_for(seconds(2));
    // A restart mid-load: the next run resumes from the checkpoint with a partial resync.
    EXPECT_EQ(sync.StopWith(SIGTERM, seconds(30)), 0) << sync.Log();
    SyncProcess again(args, log_path);
    std::this_thread::sleep_for(seconds(3));
    ASSERT_EQ(load.Stop(), "");
    EXPECT_GT(load.commands(), 1000);
    EXPECT_EQ(again.StopWith(SIGTERM, seconds(30)), 0) << again.Log();
  }
  std::vector<std::string> final_args = {"sync"};
  final_args.insert(final_args.end(), args.begin(), args.end());
  final_args.insert(final_args.end(), {"--until-caught-up", "--format", "json"});
  CommandOutcome caught_up = RunTandem(final_args, {}, seconds(180));
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  const nlohmann::json report = nlohmann::json::parse(caught_up.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << caught_up.out;
  EXPECT_EQ(report.at("stopped"), "caught_up");
  EXPECT_EQ(report.at("redis").at("partial_resyncs"), 1) << caught_up.out;
  EXPECT_EQ(report.at("redis").at("full_resyncs"), 0) << caught_up.out;

  const std::string log = ReadFile(log_path);
  EXPECT_NE(log.find("partial resync: the source continues the stream at offset"),
            std::string::npos)
      << log;

  CommandOutcome verified =
      RunTandem({"verify", "--source", RedisAllDatabases(*servers.source), "--target",
                 RedisAllDatabases(*servers.target), "--format", "json", "--recheck-delay", "0.5"},
                {}, seconds(300));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  // Expiry times are absolute and equal on both sides, not TTLs recomputed at load time.
  int compared = 0;
  for (const auto& [where, encoding] : data.encodings) {
    const auto& [db, key] = where;
    const std::string source_expiry = servers.source->Command({"PEXPIRETIME", key}, db);
    if (source_expiry == "-1" || source_expiry == "-2") {
      continue;
    }
    EXPECT_EQ(servers.target->Command({"PEXPIRETIME", key}, db), source_expiry) << key;
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

// tandem attached to a replica: the replica forwards its primary's stream as is, without the
// SELECT a primary sends after a full resync; the database the stream is in comes from the RDB's
// repl-stream-db field. A second run of a stream is refused while the first holds it.
TEST(RedisSyncCli, ReplicaSourceKeepsTheStreamsDatabaseAndOneRunHoldsTheStream) {
  RedisSyncServers servers = StartRedisSyncServers();
  std::unique_ptr<RedisServer> replica = RedisServer::Start(servers.dir->path());
  replica->StartReplicaOf(*servers.source);
  RedisClient writer = servers.source->Connect(3);
  writer.Command({"SET", "before", "1"});
  replica->WaitForReplicaCatchUp(*servers.source);

  const std::string log_path = servers.dir->path() + "/sync.log";
  const std::vector<std::string> args = {"--source", RedisAllDatabases(*replica), "--target",
                                         RedisAllDatabases(*servers.target)};
  {
    SyncProcess sync(args, log_path);
    ASSERT_TRUE(PollUntil(seconds(60), [&] {
      return sync.Log().find("streaming changes") != std::string::npos || !sync.Running();
    })) << sync.Log();
    // The primary sends no SELECT: its replica's stream is still in database 3.
    writer.Command({"SET", "after", "2"});
    writer.Command({"INCR", "after-counter"});
    std::vector<std::string> second = {"sync"};
    second.insert(second.end(), args.begin(), args.end());
    second.insert(second.end(), {"--until-caught-up"});
    ExpectOneLineExitTwo(RunTandem(second, {}, seconds(60)), "another tandem sync");
    EXPECT_EQ(sync.StopWith(SIGTERM, seconds(30)), 0) << sync.Log();
  }
  std::vector<std::string> final_args = {"sync"};
  final_args.insert(final_args.end(), args.begin(), args.end());
  final_args.insert(final_args.end(), {"--until-caught-up"});
  CommandOutcome caught_up = RunTandem(final_args, {}, seconds(120));
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  EXPECT_EQ(servers.target->Command({"GET", "after"}, 3), "2");
  EXPECT_EQ(servers.target->Command({"GET", "after-counter"}, 3), "1");
  EXPECT_EQ(servers.target->Command({"EXISTS", "after"}, 0), "0");
  CommandOutcome verified =
      RunTandem({"verify", "--source", RedisAllDatabases(*replica), "--target",
                 RedisAllDatabases(*servers.target), "--format", "json"},
                {}, seconds(120));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

// A chain A -> B -> C with the same stream name: B's own sync state, which B's snapshot and
// stream carry, never reaches C.
TEST(RedisSyncCli, ChainedSyncsKeepTheirOwnState) {
  RedisSyncServers servers = StartRedisSyncServers();
  std::unique_ptr<RedisServer> third = RedisServer::Start(servers.dir->path());
  servers.source->Command({"SET", "k", "v"}, 1);
  servers.source->Command({"RPUSH", "l", "a", "b"}, 0);
  for (const auto& [from, to] : {std::pair{servers.source.get(), servers.target.get()},
                                 std::pair{servers.target.get(), third.get()}}) {
    CommandOutcome outcome = RunTandem({"sync", "--source", RedisAllDatabases(*from), "--target",
                                        RedisAllDatabases(*to), "--until-caught-up"},
                                       {}, seconds(120));
    ASSERT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  }
  // Again, now streaming: B's checkpoint writes arrive in its stream to C and are skipped.
  servers.source->Command({"SET", "k", "v2"}, 1);
  for (const auto& [from, to] : {std::pair{servers.source.get(), servers.target.get()},
                                 std::pair{servers.target.get(), third.get()}}) {
    CommandOutcome outcome = RunTandem({"sync", "--source", RedisAllDatabases(*from), "--target",
                                        RedisAllDatabases(*to), "--until-caught-up"},
                                       {}, seconds(120));
    ASSERT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  }
  EXPECT_EQ(third->Command({"GET", "k"}, 1), "v2");
  EXPECT_EQ(third->Command({"LRANGE", "l", "0", "-1"}, 0), "a\nb");
  CommandOutcome verified = RunTandem({"verify", "--source", RedisAllDatabases(*servers.source),
                                       "--target", RedisAllDatabases(*third), "--format", "json"},
                                      {}, seconds(120));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST(RedisSyncCliInput, RefusalsAreOneLineExitTwoAndWriteNothing) {
  RedisSyncServers servers = StartRedisSyncServers();
  servers.source->Command({"SET", "k", "v"});
  const std::string source = RedisAllDatabases(*servers.source);
  const std::string target = RedisAllDatabases(*servers.target);

  // Wrong password.
  const std::string wrong =
      "redis://:not-the-password@127.0.0.1:" + std::to_string(servers.source->port());
  ExpectOneLineExitTwo(RunTandem({"sync", "--source", wrong, "--target", target}), "password");
  // --table does not apply; mixed engines.
  ExpectOneLineExitTwo(
      RunTandem({"sync", "--source", source, "--target", target, "--table", "a.b"}),
      "--table does not apply to Redis");
  ExpectOneLineExitTwo(
      RunTandem({"sync", "--source", source, "--target", "postgres://u@127.0.0.1:1/db"}),
      "two redis://");
  // A source user that may not attach as a replica.
  servers.source->Command({"ACL", "SETUSER", "reader", "on", ">reader-secret", "~*", "+@read",
                           "+info", "+ping", "+acl", "+command", "-psync", "-sync"});
  const std::string reader =
      "redis://reader:reader-secret@127.0.0.1:" + std::to_string(servers.source->port());
  ExpectOneLineExitTwo(RunTandem({"sync", "--source", reader, "--target", target}), "psync");
  // A target holding other data.
  servers.target->Command({"SET", "someone-else", "1"}, 2);
  ExpectOneLineExitTwo(RunTandem({"sync", "--source", source, "--target", target}), "empty it");
  EXPECT_EQ(servers.target->Command({"DBSIZE"}, 0), "0") << "nothing written to the target";
  servers.target->Command({"FLUSHALL"});
  // A target that is a replica.
  std::unique_ptr<RedisServer> replica = RedisServer::Start(servers.dir->path());
  replica->StartReplicaOf(*servers.source);
  ExpectOneLineExitTwo(
      RunTandem({"sync", "--source", source, "--target", RedisAllDatabases(*replica)}),
      "REPLICAOF NO ONE");
  EXPECT_EQ(TotalKeys(*servers.target), 0);
}

// A source holding a key of a module data type: its RDB carries the module value, which tandem
// cannot copy. The refusal is one line naming the type, exit 2, and no user key on the target.
TEST(RedisSyncCliInput, ModuleDataTypeIsRefusedInOneLine) {
  RedisSyncServers servers = StartRedisSyncServers({"--loadmodule", TANDEM_TEST_REDIS_TYPE_MODULE});
  servers.source->Command({"SET", "plain", "v"});
  ASSERT_EQ(servers.source->Command({"tandemtyp.set", "k", "5"}), "OK");
  ASSERT_EQ(servers.source->Command({"TYPE", "k"}), "tandemtyp");

  CommandOutcome outcome =
      RunTandem({"sync", "--source", RedisAllDatabases(*servers.source), "--target",
                 RedisAllDatabases(*servers.target), "--until-caught-up"},
                {}, seconds(120));
  ExpectOneLineExitTwo(outcome, "module type 'tandemtyp'");
  EXPECT_NE(outcome.err.find("tandem cannot copy module data"), std::string::npos) << outcome.err;
  // The refusal comes from the RDB parser while the snapshot streams in, after the target was
  // emptied and marked as loading: the marker stays, so the next run knows the target is partial
  // and loads it again (the lock key stays too; it names this run's connection, now gone). No
  // user key landed: the loader's writes before the module key ("plain", if the RDB holds it
  // first) were still in the connection's send buffer when the parse failed. On a larger source
  // the keys before the module key may land, which the marker covers.
  EXPECT_EQ(servers.target->Command({"EXISTS", "_tandem:loading:sync"}, 0), "1");
  for (int db = 0; db < 16; ++db) {
    const std::string keys = servers.target->Command({"KEYS", "*"}, db);
    std::string::size_type start = 0;
    while (start < keys.size()) {
      std::string::size_type end = keys.find('\n', start);
      if (end == std::string::npos) {
        end = keys.size();
      }
      const std::string key = keys.substr(start, end - start);
      EXPECT_EQ(key.rfind("_tandem:", 0), 0u) << "user key on the target: db " << db << " " << key;
      start = end + 1;
    }
  }
}

}  // namespace
}  // namespace tandem::testing
