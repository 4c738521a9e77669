// `tandem sync` Redis -> Redis killed with kill -9 at random moments, at least 20 times in one
// run: during its snapshot load of 300,000 keys (the first three kills) and then at random
// moments after each run began streaming, while a load commits
// MULTI/EXEC blocks of INCRBY on 2,000 counters (keeping an exact tally) and a generator writes
// every type. Each restart resumes: a run killed during the load loads again from a new full
// resync; a run killed mid-stream resumes from the target's checkpoint with PSYNC, which the
// source answers +CONTINUE (its backlog is large enough), so the log shows partial resyncs. In the
// end the target's counters equal the tally exactly (nothing lost, nothing applied twice:
// INCRBY is not idempotent) and `tandem verify` finds every database consistent.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/redis_client.h"
#include "tests/harness/wait.h"
#include "tests/tools/counter_load.h"
#include "tests/tools/redis_sync_support.h"
#include "tests/tools/run_tandem.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kCounters = 2000;
constexpr int kSeedKeys = 300'000;

size_t Count(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

bool TargetHas(const RedisServer& target, const std::string& key) {
  try {
    return target.Command({"EXISTS", key}, 0) != "0";
  } catch (const std::exception&) {
    return false;
  }
}

TEST(RedisSyncCliKill, KilledAtRandomMomentsResumesWithEveryIncrementExactlyOnce) {
  const auto started = Clock::now();
  RedisSyncServers servers = StartRedisSyncServers({"--repl-backlog-size", "256mb"});
  {
    RedisClient client = servers.source->Connect(0);
    std::vector<std::vector<std::string>> batch;
    for (int i = 0; i < kSeedKeys; ++i) {
      const std::string n = std::to_string(i);
      switch (i % 4) {
        case 0:
          batch.push_back({"SET", "seed:s:" + n, std::string(40, 'v')});
          break;
        case 1:
          batch.push_back({"HSET", "seed:h:" + n, "a", n, "b", "x"});
          break;
        case 2:
          batch.push_back({"RPUSH", "seed:l:" + n, n, "y", "z"});
          break;
        default:
          batch.push_back({"ZADD", "seed:z:" + n, "1.5", n, "2", "w"});
          break;
      }
      if (batch.size() == 10'000) {
        client.Pipeline(batch);
        batch.clear();
      }
    }
    client.Pipeline(batch);
  }

  RedisCounterLoad counters(*servers.source, kCounters);
  RedisMixedLoad mixed(*servers.source);
  ASSERT_TRUE(PollUntil(seconds(30), [&] { return counters.transactions() >= 20; }));

  const std::vector<std::string> args = {"--source", RedisAllDatabases(*servers.source), "--target",
                                         RedisAllDatabases(*servers.target)};
  const unsigned seed = std::random_device{}();  // printed, so a failure can be replayed
  std::mt19937 random(seed);
  std::cout << "kill delays seeded with " << seed << "\n";
  const std::string log_path = servers.dir->path() + "/sync.log";
  int kills = 0;
  int during_load = 0;
  int mid_stream = 0;
  while (kills < 20 || mid_stream < 10) {
    ASSERT_LT(kills, 60) << "the stream never got going between kills";
    // This run's lines come after what earlier runs wrote.
    const size_t log_before = std::filesystem::exists(log_path) ? ReadFile(log_path).size() : 0;
    SyncProcess sync(args, log_path);
    int delay_ms = 0;
    if (kills < 3) {
      // Strike inside the snapshot load: once the target is marked as loading.
      PollUntil(seconds(30), [&] {
        return TargetHas(*servers.target, "_tandem:loading:sync") || !sync.Running();
      });
      delay_ms = std::uniform_int_distribution<int>(0, 300)(random);
    } else {
      // A load cannot resume half-way (a new full resync starts over), so on a busy machine
      // random kills could strike every reload before it ends: the rest strike at random moments
      // once this run streams (a run that resumes with a partial resync gets there at once).
      PollUntil(seconds(120), [&] {
        return sync.Log().find("streaming changes", log_before) != std::string::npos ||
               !sync.Running();
      });
      delay_ms = std::uniform_int_distribution<int>(0, 2500)(random);
    }
    // The kill moment is the stimulus: a fixed, random delay is the point here.
    std::this_thread::sleep_for(milliseconds(delay_ms));
    ASSERT_TRUE(sync.KillNine()) << "sync exited by itself:\n" << sync.Log();
    ++kills;
    std::string where;
    if (TargetHas(*servers.target, "_tandem:loading:sync")) {
      ++during_load;
      where = "during the snapshot load";
    } else if (TargetHas(*servers.target, "_tandem:checkpoint:sync")) {
      ++mid_stream;
      where = "mid-stream";
    } else {
      where = "before the load started";
    }
    std::cout << "kill " << kills << " after " << delay_ms << " ms: " << where << "\n";
  }
  std::cout << kills << " kills: " << during_load << " during the load, " << mid_stream
            << " mid-stream; " << counters.transactions() << " counter transactions so far\n";
  EXPECT_GE(during_load, 1) << "no kill landed during the snapshot load";

  ASSERT_EQ(counters.Stop(), "");
  ASSERT_EQ(mixed.Stop(), "");
  std::vector<std::string> final_args = {"sync"};
  final_args.insert(final_args.end(), args.begin(), args.end());
  final_args.insert(final_args.end(), {"--until-caught-up", "--format", "json"});
  CommandOutcome caught_up = RunTandem(final_args, {}, seconds(180));
  ASSERT_FALSE(caught_up.timed_out);
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  const nlohmann::json report = nlohmann::json::parse(caught_up.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << caught_up.out;
  EXPECT_EQ(report.at("stopped"), "caught_up");

  // Restarts after mid-stream kills resumed with partial resyncs, not new full loads.
  const std::string log = ReadFile(log_path);
  const size_t partial = Count(log, "partial resync: the source continues the stream");
  const size_t full = Count(log, "loading the source's snapshot");
  std::cout << "log: " << partial << " partial resyncs, " << full << " full resyncs\n";
  EXPECT_GE(partial, static_cast<size_t>(mid_stream) - 1) << log;
  EXPECT_EQ(report.at("redis").at("partial_resyncs"), 1);

  const std::vector<int64_t> source = ReadRedisCounters(*servers.source, kCounters);
  const std::vector<int64_t> target = ReadRedisCounters(*servers.target, kCounters);
  const std::vector<int64_t>& tally = counters.tally();
  EXPECT_EQ(CountersDifferingFromTally(source, target, tally), 0);

  CommandOutcome verified =
      RunTandem({"verify", "--source", RedisAllDatabases(*servers.source), "--target",
                 RedisAllDatabases(*servers.target), "--format", "json", "--recheck-delay", "0.5"},
                {}, seconds(300));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  std::cout << "events applied " << report.at("events_applied") << "; elapsed "
            << std::chrono::duration<double>(Clock::now() - started).count() << " s\n";
}

}  // namespace
}  // namespace tandem::testing
