// `tandem sync` killed with kill -9 at random moments, at least 20 times in one run, first during
// its initial copy of a 200,000-row table and then mid-stream (at least twice while a target
// transaction is open, as the target's INNODB_TRX shows just before the kill), while a load
// increments counters in multi-statement transactions (some touching hundreds of rows, so kills
// land while such a transaction is being applied) and inserts and deletes rows. Each restart
// resumes (the copy from its finished chunks, the stream from its checkpoint). In the end the
// target's counters equal the source's and the load's own tally of committed increments exactly:
// nothing lost, nothing applied twice; and `tandem verify` finds both tables consistent.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "tests/tools/counter_load.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kCounters = 2000;
constexpr int kBigRows = 200'000;

// The load, on one admin connection of the source.
std::unique_ptr<CounterLoad> StartCounterLoad(const MariaDbServer& source) {
  auto client = std::make_shared<std::optional<MySqlClient>>();
  CounterLoadOptions options;
  options.counters = kCounters;
  options.first_big_id = kBigRows + 1;
  options.execute = [&source, client](const std::string& sql) {
    if (!*client) {
      client->emplace(source.ConnectAdmin());
    }
    (*client)->Execute(sql);
  };
  options.insert_thousand_big_rows = [](int64_t first) {
    return "INSERT INTO k.big (id, grp, pad) SELECT " + std::to_string(first) +
           " + seq, seq % 10, REPEAT('b', 40) FROM k.seq_0_to_999";
  };
  return std::make_unique<CounterLoad>(std::move(options));
}

std::vector<int64_t> ReadCounters(const MariaDbServer& server) {
  std::vector<int64_t> counters(kCounters + 1, 0);
  for (const ResultRow& row : server.Query("SELECT id, n FROM k.counters ORDER BY id")) {
    const int64_t id = std::stoll(row.at(0).value_or("0"));
    if (id >= 1 && id <= kCounters) {
      counters[id] = std::stoll(row.at(1).value_or("0"));
    }
  }
  return counters;
}

TEST(SyncCliKill, KilledAtRandomMomentsResumesWithEveryIncrementExactlyOnce) {
  const auto started = Clock::now();
  SyncServers servers = StartSyncServers();
  servers.source->Execute(
      "CREATE DATABASE k; CREATE TABLE k.counters (id INT PRIMARY KEY, n BIGINT NOT NULL) "
      "ENGINE=InnoDB; INSERT INTO k.counters SELECT seq, 0 FROM k.seq_1_to_" +
      std::to_string(kCounters) +
      "; CREATE TABLE k.big (id BIGINT PRIMARY KEY, grp INT NOT NULL, pad VARCHAR(100) NOT NULL) "
      "ENGINE=InnoDB; INSERT INTO k.big SELECT seq, seq % 10, REPEAT('p', 60) FROM "
      "k.seq_1_to_" +
      std::to_string(kBigRows));

  std::unique_ptr<CounterLoad> load_owner = StartCounterLoad(*servers.source);
  CounterLoad& load = *load_owner;
  ASSERT_TRUE(PollUntil(seconds(30), [&] { return load.transactions() >= 20; }));

  const std::vector<std::string> args = {"--source",  UriWithoutPassword(*servers.source, "k"),
                                         "--target",  UriWithoutPassword(*servers.target),
                                         "--table",   "k.counters",
                                         "--table",   "k.big",
                                         "--threads", "2"};
  const unsigned seed = std::random_device{}();  // printed, so a failure can be replayed
  std::mt19937 random(seed);
  std::cout << "kill delays seeded with " << seed << "\n";
  int kills = 0;
  int during_copy = 0;
  int mid_stream = 0;
  int before_copy = 0;
  int mid_transaction = 0;  // mid-stream kills while tandem had a target transaction open
  const std::string log_path = servers.dir->path() + "/sync.log";
  while (kills < 20 || mid_stream < 5 || mid_transaction < 2) {
    ASSERT_LT(kills, 80) << "the stream never got going between kills";
    SyncProcess sync(args, log_path);
    const int delay_ms = std::uniform_int_distribution<int>(50, 700)(random);
    // The kill moment is the stimulus: a fixed, random delay is the point here.
    std::this_thread::sleep_for(milliseconds(delay_ms));
    // Only tandem writes to the target: an open transaction there that modified rows, seen just
    // before the kill, is an apply the kill cuts in the middle (the server rolls it back).
    const bool open_transaction = servers.target
                                      ->QueryScalar(
                                          "SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                                          "WHERE trx_rows_modified > 0")
                                      .value_or("0") != "0";
    ASSERT_TRUE(sync.KillNine()) << "sync exited by itself:\n" << sync.Log();
    ++kills;
    // Where did it land? A _tandem.copy row: the copy was in progress (it is deleted in the
    // transaction that commits the stream's first checkpoint).
    std::string where;
    if (TargetHasCopyInProgress(*servers.target)) {
      ++during_copy;
      where = "during the copy (" +
              servers.target
                  ->QueryScalar(
                      "SELECT CONCAT(SUM(rows_copied), ' rows, ', SUM(done), '/', "
                      "COUNT(*), ' chunks done') FROM _tandem.copy_chunk")
                  .value_or("no plan yet") +
              ")";
    } else if (TargetHasCheckpoint(*servers.target)) {
      ++mid_stream;
      where = "mid-stream";
      if (open_transaction) {
        ++mid_transaction;
        where += ", in the middle of a target transaction";
      }
    } else {
      ++before_copy;
      where = "before the copy started";
    }
    std::cout << "kill " << kills << " after " << delay_ms << " ms: " << where << "\n";
  }
  std::cout << kills << " kills: " << during_copy << " during the copy, " << mid_stream
            << " mid-stream (" << mid_transaction << " of them mid-transaction), " << before_copy
            << " before the copy started; " << load.transactions() << " load transactions so far\n";
  EXPECT_GE(during_copy, 1) << "no kill landed during the initial copy";

  const std::string load_error = load.Stop();
  ASSERT_EQ(load_error, "");
  CommandOutcome caught_up = RunSync(
      *servers.source, "k", *servers.target,
      {"--table", "k.counters", "--table", "k.big", "--until-caught-up", "--format", "json"},
      seconds(180));
  ASSERT_FALSE(caught_up.timed_out);
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  const nlohmann::json report = nlohmann::json::parse(caught_up.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << caught_up.out;
  EXPECT_EQ(report.at("stopped"), "caught_up");

  CommandOutcome verified = RunVerify(*servers.source, *servers.target, "k",
                                      {"--table", "k.counters", "--table", "k.big"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  const nlohmann::json verify_report = nlohmann::json::parse(verified.out, nullptr, false);
  ASSERT_FALSE(verify_report.is_discarded()) << verified.out;
  EXPECT_TRUE(verify_report.value("consistent", false)) << verified.out;

  const std::vector<int64_t> source = ReadCounters(*servers.source);
  const std::vector<int64_t> target = ReadCounters(*servers.target);
  const std::vector<int64_t>& tally = load.tally();
  EXPECT_EQ(CountersDifferingFromTally(source, target, tally), 0);
  EXPECT_EQ(CountRows(*servers.source, "k.big"), CountRows(*servers.target, "k.big"));
  std::cout << load.transactions() << " load transactions, " << load.increments() << " increments, "
            << CountRows(*servers.target, "k.big") << " rows in k.big; events applied "
            << report.at("events_applied") << "; elapsed "
            << std::chrono::duration<double>(Clock::now() - started).count() << " s\n";
}

}  // namespace
}  // namespace tandem::testing
