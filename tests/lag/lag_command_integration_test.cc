// `tandem lag` against real servers joined by their native replication: a MariaDB replica, a
// PostgreSQL physical standby (undelayed, and with recovery_min_apply_delay 50 ms and 200 ms), a
// PostgreSQL logical subscription and a Redis replica; plus the gate failing when replication
// stops mid-run and "cannot measure" when the target does not replicate from the source.
//
// Skew immunity is by construction and these tests rely on it: every lag is the difference of
// two readings of the tandem process's own monotonic clock (lag/lag_clock.h); no server clock is
// read on the way (the heartbeat ports in engine/heartbeat.h do not even offer one). The delayed
// standby tests show the figure tracks the real apply delay to within a few milliseconds.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/harness/local_servers.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

using nlohmann::json;

constexpr auto kCommandTimeout = std::chrono::seconds(90);

// Runs `tandem lag` with `args` and --format json; the parsed report is in *report (null when
// stdout was not JSON).
CommandOutcome RunLag(std::vector<std::string> args, json* report) {
  args.insert(args.begin(), "lag");
  args.push_back("--format");
  args.push_back("json");
  CommandOutcome outcome = RunTandem(args, {}, kCommandTimeout);
  *report = json::parse(outcome.out, nullptr, /*allow_exceptions=*/false);
  if (report->is_object()) {
    // The measured figures, for the test log.
    std::cout << "[ figures  ] samples " << report->value("samples", 0) << ", p50 "
              << report->value("p50_ms", 0.0) << " ms, p99 " << report->value("p99_ms", 0.0)
              << " ms, max " << report->value("max_ms", 0.0) << " ms, error p50 "
              << report->value("measurement_error_p50_ms", 0.0) << " ms / p99 "
              << report->value("measurement_error_ms", 0.0) << " ms, verdict "
              << report->value("verdict", "") << std::endl;
  }
  return outcome;
}

std::string Describe(const CommandOutcome& outcome) {
  return "exit " + std::to_string(outcome.exit_code) + "\nstdout:\n" + outcome.out + "\nstderr:\n" +
         outcome.err;
}

// The positional measure `name` (with `unit`) of a report, or -1.
int64_t Measure(const json& report, const std::string& name, const std::string& unit) {
  if (!report.contains("positional") || report["positional"].is_null()) {
    return -1;
  }
  for (const json& measure : report["positional"]["measures"]) {
    if (measure["name"] == name && measure["unit"] == unit) {
      return measure["behind"].get<int64_t>();
    }
  }
  return -1;
}

// The observer's typical resolution (median error bound) is below a millisecond; single samples
// can be wider when the shared test machine deschedules the observer thread.
void ExpectSubMillisecondResolution(const json& report) {
  EXPECT_LT(report["measurement_error_p50_ms"].get<double>(), 1.0) << report.dump(2);
  EXPECT_GT(report["measurement_error_p50_ms"].get<double>(), 0.0) << report.dump(2);
}

TEST(LagCommand, MariaDbReplicaPassesTheGateWithMillisecondLag) {
  TempDir dir("lag-mariadb");
  auto source = MariaDbServer::Start(dir.path());
  auto replica = MariaDbServer::Start(dir.path());
  replica->StartReplicaOf(*source);
  json report;
  CommandOutcome outcome = RunLag({"--source", source->Uri(), "--target", replica->Uri(),
                                   "--max-lag", "100", "--for", "2", "--duration", "20"},
                                  &report);
  ASSERT_EQ(outcome.exit_code, 0) << Describe(outcome);
  ASSERT_TRUE(report.is_object()) << Describe(outcome);
  EXPECT_TRUE(report["ok"].get<bool>());
  EXPECT_EQ(report["verdict"], "passed");
  EXPECT_GT(report["samples"].get<int64_t>(), 50);
  // An undelayed replica on loopback: a few milliseconds at most.
  EXPECT_LT(report["p50_ms"].get<double>(), 5.0) << report.dump(2);
  ExpectSubMillisecondResolution(report);
  EXPECT_EQ(report["positional"]["kind"], "mariadb_gtid") << report.dump(2);
  EXPECT_GE(Measure(report, "executed", "transactions"), 0) << report.dump(2);
  EXPECT_GE(Measure(report, "executed", "bytes"), 0) << report.dump(2);
  // The process removed its heartbeat row when it ended.
  EXPECT_EQ(source->QueryScalar("SELECT COUNT(*) FROM _tandem.heartbeat"), "0");
}

TEST(LagCommand, MariaDbReplicationStoppedMidRunFailsTheGateSayingTheHeartbeatStopped) {
  TempDir dir("lag-mariadb-stop");
  auto source = MariaDbServer::Start(dir.path());
  auto replica = MariaDbServer::Start(dir.path());
  replica->StartReplicaOf(*source);
  json report;
  CommandOutcome outcome;
  std::thread command([&] {
    outcome = RunLag({"--source", source->Uri(), "--target", replica->Uri(), "--max-lag", "100",
                      "--for", "6", "--duration", "12"},
                     &report);
  });
  // Once heartbeats are arriving on the replica, stop its SQL thread.
  const bool arriving = PollUntil(std::chrono::seconds(30), [&] {
    auto rows = replica->QueryScalar(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_tandem'");
    return rows && *rows == "1" &&
           replica->QueryScalar("SELECT COUNT(*) FROM _tandem.heartbeat WHERE seq > 20") ==
               std::optional<std::string>("1");
  });
  replica->Execute("STOP SLAVE SQL_THREAD");
  command.join();
  ASSERT_TRUE(arriving) << Describe(outcome);
  ASSERT_EQ(outcome.exit_code, 1) << Describe(outcome);
  ASSERT_TRUE(report.is_object()) << Describe(outcome);
  EXPECT_FALSE(report["ok"].get<bool>());
  EXPECT_EQ(report["verdict"], "failed");
  EXPECT_NE(report["reason"].get<std::string>().find("the heartbeat stopped arriving"),
            std::string::npos)
      << report.dump(2);
  EXPECT_TRUE(report["stalled"].get<bool>());
  // It failed as soon as the 6 s hold could no longer fit in the 12 s, not at the end.
  EXPECT_LT(report["elapsed_s"].get<double>(), 11.0);
  // Positional lag shows the stopped thread.
  EXPECT_NE(report["positional"].dump().find("SQL thread"), std::string::npos) << report.dump(2);
}

// Starts a standby of `primary` with `delay` and checks tandem lag's p50 is within 5 ms of it.
void ExpectStandbyLag(const std::string& delay, double expected_ms) {
  TempDir dir("lag-postgres");
  auto primary = PostgresServer::Start(dir.path());
  std::vector<std::string> settings;
  if (!delay.empty()) {
    settings.push_back("recovery_min_apply_delay = '" + delay + "'");
  }
  auto standby = PostgresServer::StartStandbyOf(*primary, dir.path(), settings);
  json report;
  CommandOutcome outcome =
      RunLag({"--source", primary->Uri(), "--target", standby->Uri(), "--duration", "4"}, &report);
  ASSERT_EQ(outcome.exit_code, 0) << Describe(outcome);
  ASSERT_TRUE(report.is_object()) << Describe(outcome);
  EXPECT_GT(report["samples"].get<int64_t>(), 100) << report.dump(2);
  if (expected_ms == 0) {
    EXPECT_LT(report["p50_ms"].get<double>(), 5.0) << report.dump(2);
  } else {
    EXPECT_NEAR(report["p50_ms"].get<double>(), expected_ms, 5.0) << report.dump(2);
  }
  ExpectSubMillisecondResolution(report);
  EXPECT_EQ(report["positional"]["kind"], "postgres_physical") << report.dump(2);
  EXPECT_GE(Measure(report, "replay", "bytes"), 0) << report.dump(2);
  EXPECT_GE(Measure(report, "sent", "bytes"), 0) << report.dump(2);
}

TEST(LagCommand, PostgresStandbyUndelayedLagIsAFewMilliseconds) { ExpectStandbyLag("", 0); }

TEST(LagCommand, PostgresStandbyWithApplyDelay50msMeasures50ms) { ExpectStandbyLag("50ms", 50); }

TEST(LagCommand, PostgresStandbyWithApplyDelay200msMeasures200ms) {
  ExpectStandbyLag("200ms", 200);
}

TEST(LagCommand, PostgresLogicalSubscriptionCarriesTheHeartbeat) {
  TempDir dir("lag-postgres-logical");
  auto publisher = PostgresServer::Start(dir.path());
  auto subscriber = PostgresServer::Start(dir.path());
  // Logical replication carries no DDL: the table exists on both sides before the subscription.
  const std::string ddl =
      "CREATE SCHEMA IF NOT EXISTS _tandem; CREATE TABLE IF NOT EXISTS _tandem.heartbeat "
      "(writer_id bigint PRIMARY KEY, seq bigint NOT NULL, sent_ns bigint NOT NULL, "
      "written_at timestamptz NOT NULL DEFAULT clock_timestamp())";
  publisher->Execute(ddl);
  subscriber->Execute(ddl);
  publisher->Execute("CREATE PUBLICATION lag_pub FOR ALL TABLES");
  subscriber->Execute("CREATE SUBSCRIPTION lag_sub CONNECTION 'host=127.0.0.1 port=" +
                      std::to_string(publisher->port()) + " user=tandem password=" +
                      std::string(kTestPassword) + " dbname=tandem' PUBLICATION lag_pub");
  ASSERT_TRUE(PollUntil(std::chrono::seconds(60), [&] {
    return subscriber->QueryScalar(
               "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'") ==
           std::optional<std::string>("0");
  }));
  json report;
  CommandOutcome outcome = RunLag({"--source", publisher->Uri(), "--target", subscriber->Uri(),
                                   "--max-lag", "100", "--for", "1", "--duration", "20"},
                                  &report);
  ASSERT_EQ(outcome.exit_code, 0) << Describe(outcome);
  ASSERT_TRUE(report.is_object()) << Describe(outcome);
  EXPECT_GT(report["samples"].get<int64_t>(), 20);
  EXPECT_LT(report["p50_ms"].get<double>(), 20.0) << report.dump(2);
  EXPECT_EQ(report["positional"]["kind"], "postgres_logical") << report.dump(2);
  EXPECT_GE(Measure(report, "confirmed_flush", "bytes"), 0) << report.dump(2);
  subscriber->Execute("DROP SUBSCRIPTION lag_sub");
}

TEST(LagCommand, RedisReplicaPassesTheGate) {
  TempDir dir("lag-redis");
  auto master = RedisServer::Start(dir.path());
  auto replica = RedisServer::Start(dir.path());
  replica->StartReplicaOf(*master);
  json report;
  CommandOutcome outcome = RunLag({"--source", master->Uri(), "--target", replica->Uri(),
                                   "--max-lag", "50", "--for", "1", "--duration", "20"},
                                  &report);
  ASSERT_EQ(outcome.exit_code, 0) << Describe(outcome);
  ASSERT_TRUE(report.is_object()) << Describe(outcome);
  EXPECT_GT(report["samples"].get<int64_t>(), 50);
  EXPECT_LT(report["p50_ms"].get<double>(), 5.0) << report.dump(2);
  EXPECT_EQ(report["positional"]["kind"], "redis") << report.dump(2);
  EXPECT_GE(Measure(report, "processed", "bytes"), 0) << report.dump(2);
  EXPECT_EQ(master->Command({"EXISTS", "_tandem:heartbeat:" +
                                           std::to_string(report["writer_id"].get<int64_t>())}),
            "0");
}

TEST(LagCommand, ATargetThatDoesNotReplicateFromTheSourceCannotBeMeasured) {
  TempDir dir("lag-redis-unlinked");
  auto first = RedisServer::Start(dir.path());
  auto second = RedisServer::Start(dir.path());
  json report;
  CommandOutcome outcome =
      RunLag({"--source", first->Uri(), "--target", second->Uri(), "--max-lag", "100", "--for", "1",
              "--duration", "20", "--first-heartbeat-timeout", "2"},
             &report);
  ASSERT_EQ(outcome.exit_code, 2) << Describe(outcome);
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find("not replicating from this source"), std::string::npos) << outcome.err;
  ASSERT_TRUE(report.is_object()) << Describe(outcome);
  EXPECT_EQ(report["verdict"], "cannot measure");
  EXPECT_EQ(report["samples"], 0);
  EXPECT_NE(report.value("positional_error", ""), "") << report.dump(2);
}

}  // namespace
}  // namespace tandem::testing
