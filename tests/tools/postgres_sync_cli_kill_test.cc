// `tandem sync` PostgreSQL -> PostgreSQL killed with kill -9 at random moments, at least 20 times
// in one run: during its initial copy of a 200,000-row table and then mid-stream (at least twice
// while tandem's target session is inside a transaction that wrote, as the target's
// pg_stat_activity shows just before the kill), while a load increments counters in
// multi-statement transactions (some touching hundreds of rows, one in a while every row) and
// inserts and deletes rows. Each restart resumes (the copy from its finished chunks and a fresh
// snapshot, the stream from its checkpoint through the slot). In the end the target's counters
// equal the source's and the load's own tally of committed increments exactly: nothing lost,
// nothing applied twice; `tandem verify` finds both tables consistent; and the slot's confirmed
// position is the target's checkpoint (WAL released as the target confirms).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "tests/harness/wait.h"
#include "tests/tools/counter_load.h"
#include "tests/tools/postgres_sync_support.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kCounters = 2000;
constexpr int kBigRows = 200'000;

// The load, on one connection of the source.
std::unique_ptr<CounterLoad> StartCounterLoad(const PostgresServer& source) {
  auto client = std::make_shared<std::optional<PostgresClient>>();
  CounterLoadOptions options;
  options.counters = kCounters;
  options.first_big_id = kBigRows + 1;
  options.execute = [&source, client](const std::string& sql) {
    if (!*client) {
      client->emplace(PostgresClient::ConnectUri(source.Uri()));
    }
    (*client)->Execute(sql);
  };
  options.insert_thousand_big_rows = [](int64_t first) {
    return "INSERT INTO k.big (id, grp, pad) SELECT " + std::to_string(first) +
           " + g, g % 10, repeat('b', 40) FROM generate_series(0, 999) g";
  };
  return std::make_unique<CounterLoad>(std::move(options));
}

std::vector<int64_t> ReadCounters(const PostgresServer& server) {
  std::vector<int64_t> counters(kCounters + 1, 0);
  for (const ResultRow& row : server.Query("SELECT id, n FROM k.counters ORDER BY id")) {
    const int64_t id = std::stoll(row.at(0).value_or("0"));
    if (id >= 1 && id <= kCounters) {
      counters[id] = std::stoll(row.at(1).value_or("0"));
    }
  }
  return counters;
}

bool TargetHas(const PostgresServer& target, const std::string& sql) {
  try {
    return target.QueryScalar(sql).value_or("0") != "0";
  } catch (const std::exception&) {
    return false;  // _tandem does not exist yet
  }
}

TEST(PostgresSyncCliKill, KilledAtRandomMomentsResumesWithEveryIncrementExactlyOnce) {
  const auto started = Clock::now();
  PostgresSyncServers servers = StartPostgresSyncServers();
  const std::string schema =
      "CREATE SCHEMA k; CREATE TABLE k.counters (id int PRIMARY KEY, n bigint NOT NULL); "
      "CREATE TABLE k.big (id bigint PRIMARY KEY, grp int NOT NULL, pad text NOT NULL);";
  servers.source->Execute(schema + "INSERT INTO k.counters SELECT g, 0 FROM generate_series(1, " +
                          std::to_string(kCounters) +
                          ") g; INSERT INTO k.big SELECT g, g % 10, repeat('p', 60) FROM "
                          "generate_series(1, " +
                          std::to_string(kBigRows) + ") g");
  servers.target->Execute(schema);

  std::unique_ptr<CounterLoad> load_owner = StartCounterLoad(*servers.source);
  CounterLoad& load = *load_owner;
  ASSERT_TRUE(PollUntil(seconds(30), [&] { return load.transactions() >= 20; }));

  const std::vector<std::string> args = {
      "--source",       PostgresUriWithoutPassword(*servers.source),
      "--target",       PostgresUriWithoutPassword(*servers.target),
      "--table",        "k.counters",
      "--table",        "k.big",
      "--threads",      "2",
      "--copy-threads", "2"};
  const unsigned seed = std::random_device{}();  // printed, so a failure can be replayed
  std::mt19937 random(seed);
  std::cout << "kill delays seeded with " << seed << "\n";
  int kills = 0;
  int during_copy = 0;
  int mid_stream = 0;
  int before_copy = 0;
  int mid_transaction = 0;  // mid-stream kills while tandem had a writing target transaction
  const std::string log_path = servers.dir->path() + "/sync.log";
  while (kills < 20 || mid_stream < 5 || mid_transaction < 2) {
    ASSERT_LT(kills, 80) << "the stream never got going between kills";
    SyncProcess sync(args, log_path);
    // The copy takes about a second here: the first kills wait until it is under way and then
    // strike at a random moment inside it; the rest come at random moments of the run.
    int delay_ms = 0;
    if (kills < 3) {
      PollUntil(seconds(20), [&] {
        return TargetHas(*servers.target, "SELECT count(*) FROM _tandem.copy") || !sync.Running();
      });
      delay_ms = std::uniform_int_distribution<int>(0, 400)(random);
    } else {
      delay_ms = std::uniform_int_distribution<int>(200, 3000)(random);
    }
    // The kill moment is the stimulus: a fixed, random delay is the point here.
    std::this_thread::sleep_for(milliseconds(delay_ms));
    // Only tandem writes to the target: a session of it inside a transaction that has an xid
    // (it wrote), seen just before the kill, is an apply the kill cuts in the middle.
    const bool open_transaction =
        TargetHas(*servers.target,
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tandem' AND "
                  "backend_xid IS NOT NULL");
    ASSERT_TRUE(sync.KillNine()) << "sync exited by itself:\n" << sync.Log();
    ++kills;
    std::string where;
    if (TargetHas(*servers.target, "SELECT count(*) FROM _tandem.copy")) {
      ++during_copy;
      where = "during the copy";
    } else if (TargetHas(*servers.target, "SELECT count(*) FROM _tandem.checkpoint")) {
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
  std::vector<std::string> final_args = {"sync"};
  final_args.insert(final_args.end(), args.begin(), args.end());
  final_args.insert(final_args.end(), {"--until-caught-up", "--format", "json"});
  CommandOutcome caught_up = RunTandem(final_args, PasswordEnvironment(), seconds(180));
  ASSERT_FALSE(caught_up.timed_out);
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  const nlohmann::json report = nlohmann::json::parse(caught_up.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << caught_up.out;
  EXPECT_EQ(report.at("stopped"), "caught_up");

  CommandOutcome verified =
      RunTandem({"verify", "--source", PostgresUriWithoutPassword(*servers.source), "--target",
                 PostgresUriWithoutPassword(*servers.target), "--table", "k.counters", "--table",
                 "k.big", "--format", "json"},
                PasswordEnvironment(), seconds(120));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  const std::vector<int64_t> source = ReadCounters(*servers.source);
  const std::vector<int64_t> target = ReadCounters(*servers.target);
  const std::vector<int64_t>& tally = load.tally();
  EXPECT_EQ(CountersDifferingFromTally(source, target, tally), 0);
  EXPECT_EQ(servers.source->QueryScalar("SELECT count(*) FROM k.big"),
            servers.target->QueryScalar("SELECT count(*) FROM k.big"));

  // WAL is released as the target confirms: the slot's confirmed position is the checkpoint.
  std::optional<SlotState> slot = ReadSlotState(*servers.source);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ("pg:" + slot->confirmed_flush_lsn, report.value("position", ""));
  std::cout << load.transactions() << " load transactions; events applied "
            << report.at("events_applied") << "; slot retains " << slot->retained_bytes
            << " bytes; elapsed " << std::chrono::duration<double>(Clock::now() - started).count()
            << " s\n";
}

}  // namespace
}  // namespace tandem::testing
