// `tandem sync` PostgreSQL -> PostgreSQL end to end, as a user runs it, between private servers:
//   - the initial copy and the stream under a concurrent write load (pgbench plus generators that
//     change every column type, update rows beside their TOASTed values, change primary keys,
//     TRUNCATE between inserts, and commit 20,000-row transactions far over
//     logical_decoding_work_mem), stopped with SIGTERM, finished with --until-caught-up; then
//     `tandem verify` is consistent and the slot's confirmed position has followed the target;
//   - --drop-slot removes the slot and the publication after a clean end;
//   - bad input (wal_level replica, a role without REPLICATION, a table without a primary key, a
//     slot held by another consumer, a target without the tables): exit 2 with one stderr line
//     naming the problem and the fix, and nothing written to the target.
// The kill -9 test lives in postgres_sync_cli_kill_test.cc (label stress).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/tools/postgres_sync_support.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

json ParseJson(const CommandOutcome& outcome) {
  json document = json::parse(outcome.out, nullptr, false);
  EXPECT_FALSE(document.is_discarded()) << outcome.out << outcome.err;
  return document;
}

// Waits until `condition` holds or `timeout` passes; the last value of condition().
template <typename Condition>
bool WaitFor(Condition condition, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  return true;
}

bool TargetHasTandemSchema(const PostgresServer& target) {
  return target.QueryScalar("SELECT count(*) FROM pg_namespace WHERE nspname = '_tandem'") != "0";
}

TEST(PostgresSyncCli, CopyAndStreamUnderLoadThenVerifyConsistent) {
  PostgresSyncServers servers = StartPostgresSyncServers();
  PreparePostgresSyncData(servers, 2000);
  const std::string log = servers.dir->path() + "/sync.log";
  {
    PostgresWriteLoad load(servers);
    SyncProcess sync(PostgresSyncArgs(servers, {"--threads", "4"}), log);
    // The copy finishes and the stream applies changes while the load runs.
    ASSERT_TRUE(WaitFor([&] { return sync.Log().find("streaming changes") != std::string::npos; },
                        seconds(90)))
        << sync.Log();
    std::this_thread::sleep_for(seconds(12));
    EXPECT_TRUE(sync.Running()) << sync.Log();
    EXPECT_EQ(sync.StopWith(SIGTERM, seconds(30)), 0) << sync.Log();
    // Streaming goes on from the checkpoint while the load still runs.
    SyncProcess again(PostgresSyncArgs(servers, {"--threads", "4"}), log);
    std::this_thread::sleep_for(seconds(6));
    EXPECT_EQ(again.StopWith(SIGTERM, seconds(30)), 0) << again.Log();
    load.Stop();
    EXPECT_GT(load.transactions(), 100) << load.first_error();
    std::cout << "load: " << load.transactions() << " transactions, " << load.errors()
              << " errors (" << load.first_error() << ")\n";
  }
  CommandOutcome caught_up =
      RunPostgresSync(servers, {"--until-caught-up", "--format", "json"}, seconds(180));
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  json report = ParseJson(caught_up);
  EXPECT_EQ(report.value("stopped", ""), "caught_up");
  EXPECT_TRUE(report.value("ok", false));
  EXPECT_TRUE(report.at("copy").value("already_complete", false));
  EXPECT_EQ(report.at("slot").value("name", "").rfind("tandem_sync_", 0), 0u) << report.dump();

  std::string why;
  EXPECT_TRUE(PostgresTablesConsistent(servers, &why)) << why << "\nsync log:\n"
                                                       << SyncProcess({}, log).Log();
  // The big transactions arrived whole, TRUNCATE was applied, the TOASTed values are there.
  EXPECT_EQ(servers.target->QueryScalar("SELECT count(*) FROM shop.big"),
            servers.source->QueryScalar("SELECT count(*) FROM shop.big"));
  EXPECT_EQ(servers.target->QueryScalar("SELECT count(*) FROM shop.wide WHERE big IS NULL"), "0");

  // The slot released WAL up to what the target confirmed: its confirmed position is the
  // target's checkpoint, which covers everything written.
  std::optional<SlotState> slot = ReadSlotState(*servers.source);
  ASSERT_TRUE(slot.has_value());
  EXPECT_FALSE(slot->active);
  const std::string checkpoint = report.value("position", "");
  EXPECT_EQ("pg:" + slot->confirmed_flush_lsn, checkpoint);
  EXPECT_LT(slot->retained_bytes, 64 << 20) << "the slot still holds much WAL";

  // --drop-slot: a clean end drops the slot and the publication.
  CommandOutcome dropped = RunPostgresSync(servers, {"--until-caught-up", "--drop-slot"});
  ASSERT_EQ(dropped.exit_code, 0) << dropped.out << dropped.err;
  EXPECT_NE(dropped.out.find("dropped replication slot tandem_sync_"), std::string::npos)
      << dropped.out;
  EXPECT_FALSE(ReadSlotState(*servers.source).has_value());
  EXPECT_EQ(servers.source->QueryScalar(
                "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'tandem\\_sync\\_%'"),
            "0");
}

// One stderr line, exit 2, naming `expected`; nothing written to the target.
void ExpectRefused(const CommandOutcome& outcome, const std::string& expected,
                   const PostgresServer& target) {
  EXPECT_EQ(outcome.exit_code, 2) << outcome.out << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find(expected), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("tandem-secret"), std::string::npos) << outcome.err;
  EXPECT_FALSE(TargetHasTandemSchema(target)) << outcome.err;
}

TEST(PostgresSyncCli, RefusesBadSourcesAndTargetsWithOneLine) {
  PostgresSyncServers servers = StartPostgresSyncServers();
  PreparePostgresSyncData(servers, 50);

  // A table without a primary key (the sample data's events_log, REPLICA IDENTITY DEFAULT).
  CommandOutcome keyless =
      RunTandem({"sync", "--source", PostgresUriWithoutPassword(*servers.source), "--target",
                 PostgresUriWithoutPassword(*servers.target), "--table", "shop.events_log"},
                PasswordEnvironment(), seconds(60));
  ExpectRefused(keyless, "primary key", *servers.target);

  // A role without the REPLICATION attribute.
  servers.source->Execute(
      "CREATE ROLE plain LOGIN PASSWORD 'tandem-secret'; GRANT SELECT ON ALL TABLES IN SCHEMA "
      "shop TO plain; GRANT USAGE ON SCHEMA shop TO plain");
  CommandOutcome no_replication = RunTandem(
      {"sync", "--source",
       "postgres://plain@127.0.0.1:" + std::to_string(servers.source->port()) + "/tandem",
       "--target", PostgresUriWithoutPassword(*servers.target), "--table", "shop.customers"},
      PasswordEnvironment(), seconds(60));
  ExpectRefused(no_replication, "REPLICATION", *servers.target);

  // The target lacks a table.
  servers.target->Execute("DROP TABLE shop.scratch");
  CommandOutcome missing = RunPostgresSync(servers, {});
  ExpectRefused(missing, "shop.scratch", *servers.target);
  EXPECT_FALSE(ReadSlotState(*servers.source).has_value()) << "a refused run created the slot";

  // A slot another consumer holds: after a first run of shop.customers, pg_recvlogical streams
  // from the stream's slot.
  CommandOutcome first = RunTandem({"sync", "--source", PostgresUriWithoutPassword(*servers.source),
                                    "--target", PostgresUriWithoutPassword(*servers.target),
                                    "--table", "shop.customers", "--until-caught-up"},
                                   PasswordEnvironment(), seconds(60));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  std::optional<SlotState> slot = ReadSlotState(*servers.source);
  ASSERT_TRUE(slot.has_value());
  servers.source->Execute("CREATE PUBLICATION holder FOR TABLE shop.customers");
  ChildProcess holder =
      ChildProcess::Spawn({.argv = {PostgresBinDir() + "/pg_recvlogical", "-h", "127.0.0.1", "-p",
                                    std::to_string(servers.source->port()), "-U", "tandem", "-d",
                                    "tandem", "-S", slot->name, "--start", "-o", "proto_version=1",
                                    "-o", "publication_names=holder", "-f", "/dev/null"},
                           .env = {std::string("PGPASSWORD=") + kTestPassword},
                           .drop_env_prefixes = {"PG"},
                           .log_path = servers.dir->path() + "/recvlogical.log"});
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<SlotState> state = ReadSlotState(*servers.source);
        return state && state->active;
      },
      seconds(20)));
  CommandOutcome held =
      RunTandem({"sync", "--source", PostgresUriWithoutPassword(*servers.source), "--target",
                 PostgresUriWithoutPassword(*servers.target), "--table", "shop.customers"},
                PasswordEnvironment(), seconds(60));
  EXPECT_EQ(held.exit_code, 2) << held.out << held.err;
  EXPECT_EQ(LineCount(held.err), 1) << held.err;
  EXPECT_NE(held.err.find(slot->name), std::string::npos) << held.err;
  EXPECT_NE(held.err.find("in use"), std::string::npos) << held.err;
  holder.Stop(SIGINT, seconds(10));

  // wal_level = replica.
  PostgresOptions replica;
  replica.wal_level = "replica";
  std::unique_ptr<PostgresServer> physical = PostgresServer::Start(servers.dir->path(), replica);
  physical->Execute("CREATE TABLE t (id int PRIMARY KEY)");
  servers.target->Execute("CREATE TABLE public.t (id int PRIMARY KEY)");
  CommandOutcome wal_level =
      RunTandem({"sync", "--source",
                 "postgres://tandem@127.0.0.1:" + std::to_string(physical->port()) + "/tandem",
                 "--target", PostgresUriWithoutPassword(*servers.target), "--table", "public.t"},
                PasswordEnvironment(), seconds(60));
  EXPECT_EQ(wal_level.exit_code, 2) << wal_level.out << wal_level.err;
  EXPECT_EQ(LineCount(wal_level.err), 1) << wal_level.err;
  EXPECT_NE(wal_level.err.find("wal_level"), std::string::npos) << wal_level.err;

  // Mixed engines and flags that only make sense for PostgreSQL.
  CommandOutcome mixed = RunTandem({"sync", "--source", PostgresUriWithoutPassword(*servers.source),
                                    "--target", "mysql://tandem@127.0.0.1:1/x"},
                                   PasswordEnvironment(), seconds(30));
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("PostgreSQL to PostgreSQL"), std::string::npos) << mixed.err;
}

}  // namespace
}  // namespace tandem::testing
