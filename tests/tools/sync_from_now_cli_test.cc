// `tandem sync --from-now` end to end, between private servers of each engine: the reverse stream
// of a cutover, into a target that already holds the source's data.
//   - MariaDB, PostgreSQL, Redis: source and target hold the same base data; a marker written on
//     the source before the start never reaches the target; what is written after the stream has
//     its checkpoint does; after kill -9 and more writes, a second start with --from-now (which
//     then has no effect) brings everything, nothing doubled (Redis: INCRBY counters; SQL: the
//     target's rows equal the source's minus the marker). Redis: writes in databases 0 and 3 land
//     in their own databases, and the stream continued by partial resync (no reload). A source
//     without a replication backlog is made to create one first: the stream (and one handed
//     over by --checkpoint-now) still starts by partial resync, the target neither emptied nor
//     reloaded.
//   - A target table missing (MariaDB, PostgreSQL): exit 2, one line, nothing streamed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/wait.h"
#include "tests/tools/postgres_sync_support.h"
#include "tests/tools/redis_sync_support.h"
#include "tests/tools/run_tandem.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

bool StreamStarted(SyncProcess& sync) {
  return sync.Log().find("streaming changes") != std::string::npos || !sync.Running();
}

// ---------------------------------------------------------------------------------------------
// MariaDB

constexpr char kMySqlTable[] = "CREATE TABLE fn.t (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)";

void WriteMySqlBase(const MariaDbServer& server) {
  server.Execute("CREATE DATABASE fn");
  server.Execute(kMySqlTable);
  std::string insert = "INSERT INTO fn.t VALUES ";
  for (int id = 1; id <= 20; ++id) {
    insert += (id > 1 ? "," : "") + ("(" + std::to_string(id) + ",'base')");
  }
  server.Execute(insert);
}

std::string MySqlRows(const MariaDbServer& server, const std::string& where = "TRUE") {
  return server
      .QueryScalar(
          "SELECT COALESCE(GROUP_CONCAT(CONCAT(id, '=', v) ORDER BY id), '') FROM fn.t "
          "WHERE " +
          where)
      .value_or("");
}

void InsertMySqlRows(const MariaDbServer& server, int from, int to, const std::string& value) {
  for (int id = from; id <= to; ++id) {
    server.Execute("INSERT INTO fn.t VALUES (" + std::to_string(id) + ",'" + value + "')");
  }
}

TEST(SyncFromNowCli, MariaDbStreamsOnlyWhatFollowsTheStartThroughAKill) {
  SyncServers servers = StartSyncServers();
  WriteMySqlBase(*servers.source);
  WriteMySqlBase(*servers.target);
  // Before the start: on the source only. It must never reach the target.
  servers.source->Execute("INSERT INTO fn.t VALUES (1000, 'before-start')");
  servers.source->Execute("UPDATE fn.t SET v = 'changed-before-start' WHERE id = 1");

  const std::vector<std::string> args = {"--source",   UriWithoutPassword(*servers.source, "fn"),
                                         "--target",   UriWithoutPassword(*servers.target, "fn"),
                                         "--from-now", "--threads",
                                         "2"};
  const std::string log_path = servers.dir->path() + "/sync.log";
  {
    SyncProcess sync(args, log_path);
    ASSERT_TRUE(PollUntil(seconds(120), [&] { return StreamStarted(sync); })) << sync.Log();
    ASSERT_TRUE(sync.Running()) << sync.Log();
    EXPECT_NE(sync.Log().find("--from-now: stream 'sync' starts at mysql:"), std::string::npos)
        << sync.Log();
    EXPECT_EQ(sync.Log().find("initial copy"), std::string::npos) << sync.Log();
    EXPECT_TRUE(TargetHasCheckpoint(*servers.target));

    InsertMySqlRows(*servers.source, 101, 130, "after-start");
    servers.source->Execute("UPDATE fn.t SET v = 'updated-after-start' WHERE id = 2");
    servers.source->Execute("DELETE FROM fn.t WHERE id = 3");
    ASSERT_TRUE(PollUntil(seconds(60), [&] {
      return CountRows(*servers.target, "`fn`.`t` WHERE id BETWEEN 101 AND 130") == 30 &&
             CountRows(*servers.target, "`fn`.`t` WHERE id = 3") == 0;
    })) << sync.Log();
    EXPECT_EQ(MySqlRows(*servers.target, "id = 2"), "2=updated-after-start");
    ASSERT_TRUE(sync.KillNine());
  }
  // Written while no sync runs, then a second start with --from-now: it resumes.
  InsertMySqlRows(*servers.source, 131, 160, "after-kill");
  servers.source->Execute("UPDATE fn.t SET v = 'updated-after-kill' WHERE id BETWEEN 101 AND 105");
  CommandOutcome again = RunSync(*servers.source, "fn", *servers.target,
                                 {"--from-now", "--until-caught-up"}, seconds(120));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("--from-now has no effect: stream 'sync' has a checkpoint at mysql:"),
            std::string::npos)
      << again.out;

  // Everything after the start arrived once; nothing from before it did.
  EXPECT_EQ(CountRows(*servers.target, "`fn`.`t` WHERE id = 1000"), 0);
  EXPECT_EQ(MySqlRows(*servers.target, "id = 1"), "1=base");
  EXPECT_EQ(MySqlRows(*servers.target, "id <> 1 AND id <> 1000"),
            MySqlRows(*servers.source, "id <> 1 AND id <> 1000"));
  EXPECT_EQ(CountRows(*servers.target, "`fn`.`t`"), CountRows(*servers.source, "`fn`.`t`") - 1);
}

TEST(SyncFromNowCli, MariaDbMissingTargetTableIsOneLineExitTwo) {
  SyncServers servers = StartSyncServers();
  WriteMySqlBase(*servers.source);
  WriteMySqlBase(*servers.target);
  servers.source->Execute("CREATE TABLE fn.only_on_source (id INT PRIMARY KEY)");
  ExpectOneLineExitTwo(RunSync(*servers.source, "fn", *servers.target, {"--from-now"}, seconds(60)),
                       "has no table fn.only_on_source");
  ExpectOneLineExitTwo(
      RunSync(*servers.source, "", *servers.target,
              {"--from-now", "--table", "fn.t", "--table", "fn.only_on_source"}, seconds(60)),
      "has no table fn.only_on_source");
  EXPECT_FALSE(TargetHasCheckpoint(*servers.target));
  EXPECT_EQ(CountRows(*servers.target, "`fn`.`t`"), 20);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

void WritePostgresBase(const PostgresServer& server) {
  server.Execute(
      "CREATE TABLE public.fn (id int PRIMARY KEY, v text NOT NULL);"
      "INSERT INTO public.fn SELECT g, 'base' FROM generate_series(1, 20) g");
}

std::string PostgresRows(const PostgresServer& server, const std::string& where = "TRUE") {
  return server
      .QueryScalar(
          "SELECT COALESCE(string_agg(id || '=' || v, ',' ORDER BY id), '') FROM "
          "public.fn WHERE " +
          where)
      .value_or("");
}

int64_t PostgresCount(const PostgresServer& server, const std::string& where) {
  return std::stoll(
      server.QueryScalar("SELECT count(*) FROM public.fn WHERE " + where).value_or("-1"));
}

TEST(SyncFromNowCli, PostgresStreamsOnlyWhatFollowsTheSlotThroughAKill) {
  PostgresSyncServers servers = StartPostgresSyncServers();
  WritePostgresBase(*servers.source);
  WritePostgresBase(*servers.target);
  servers.source->Execute("CREATE TABLE public.only_on_source (id int PRIMARY KEY)");

  const std::string source = PostgresUriWithoutPassword(*servers.source);
  const std::string target = PostgresUriWithoutPassword(*servers.target);
  // A target table that does not exist: refused before anything is created.
  ExpectOneLineExitTwo(RunTandem({"sync", "--source", source, "--target", target, "--table",
                                  "public.fn", "--table", "public.only_on_source", "--from-now"},
                                 PasswordEnvironment(), seconds(60)),
                       "does not exist on the target");
  EXPECT_FALSE(ReadSlotState(*servers.source).has_value());

  servers.source->Execute("INSERT INTO public.fn VALUES (1000, 'before-start')");
  servers.source->Execute("UPDATE public.fn SET v = 'changed-before-start' WHERE id = 1");

  const std::vector<std::string> args = {"--source", source,      "--target",  target,
                                         "--table",  "public.fn", "--from-now"};
  const std::string log_path = servers.dir->path() + "/sync.log";
  {
    SyncProcess sync(args, log_path);
    ASSERT_TRUE(PollUntil(seconds(120), [&] { return StreamStarted(sync); })) << sync.Log();
    ASSERT_TRUE(sync.Running()) << sync.Log();
    EXPECT_NE(sync.Log().find("(no snapshot)"), std::string::npos) << sync.Log();
    EXPECT_NE(sync.Log().find("--from-now: stream 'sync' starts at pg:"), std::string::npos)
        << sync.Log();
    ASSERT_TRUE(ReadSlotState(*servers.source).has_value());

    servers.source->Execute(
        "INSERT INTO public.fn SELECT g, 'after-start' FROM generate_series(101, 130) g");
    servers.source->Execute("UPDATE public.fn SET v = 'updated-after-start' WHERE id = 2");
    servers.source->Execute("DELETE FROM public.fn WHERE id = 3");
    ASSERT_TRUE(PollUntil(seconds(60), [&] {
      return PostgresCount(*servers.target, "id BETWEEN 101 AND 130") == 30 &&
             PostgresCount(*servers.target, "id = 3") == 0;
    })) << sync.Log();
    EXPECT_EQ(PostgresRows(*servers.target, "id = 2"), "2=updated-after-start");
    ASSERT_TRUE(sync.KillNine());
  }
  servers.source->Execute(
      "INSERT INTO public.fn SELECT g, 'after-kill' FROM generate_series(131, 160) g");
  // The harness runs synchronous_commit = off; --until-caught-up catches up to the flushed WAL
  // (pg_current_wal_flush_lsn), so the last write commits synchronously, flushing all before it.
  servers.source->Execute(
      "SET synchronous_commit = on; "
      "UPDATE public.fn SET v = 'updated-after-kill' WHERE id BETWEEN 101 AND 105");
  // The second start: resumes from the checkpoint; --drop-slot cleans up once caught up.
  std::vector<std::string> final_args = {"sync"};
  final_args.insert(final_args.end(), args.begin(), args.end());
  final_args.insert(final_args.end(), {"--until-caught-up", "--drop-slot"});
  CommandOutcome again = RunTandem(final_args, PasswordEnvironment(), seconds(120));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("--from-now has no effect: stream 'sync' has a checkpoint at pg:"),
            std::string::npos)
      << again.out;
  EXPECT_FALSE(ReadSlotState(*servers.source).has_value());

  EXPECT_EQ(PostgresCount(*servers.target, "id = 1000"), 0);
  EXPECT_EQ(PostgresRows(*servers.target, "id = 1"), "1=base");
  EXPECT_EQ(PostgresRows(*servers.target, "id <> 1 AND id <> 1000"),
            PostgresRows(*servers.source, "id <> 1 AND id <> 1000"));
  EXPECT_EQ(PostgresCount(*servers.target, "TRUE"), PostgresCount(*servers.source, "TRUE") - 1);
}

// --checkpoint-now with the stream's slot in place (tandem run's forward stream after a switch):
// with --advance-slot the slot is then moved up to the handed-over position, so it no longer keeps
// the WAL before it; what the source committed before the hand-over is never streamed.
TEST(SyncFromNowCli, PostgresCheckpointNowAdvancesTheSlotAndSkipsWhatCameBefore) {
  PostgresSyncServers servers = StartPostgresSyncServers();
  WritePostgresBase(*servers.source);
  WritePostgresBase(*servers.target);
  const std::string source = PostgresUriWithoutPassword(*servers.source);
  const std::string target = PostgresUriWithoutPassword(*servers.target);
  const std::vector<std::string> args = {"sync",      "--source",   source,
                                         "--target",  target,       "--table",
                                         "public.fn", "--from-now", "--until-caught-up"};
  CommandOutcome first = RunTandem(args, PasswordEnvironment(), seconds(120));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::optional<SlotState> before = ReadSlotState(*servers.source);
  ASSERT_TRUE(before.has_value());
  ASSERT_FALSE(before->active);

  // Written while the stream is stopped, then handed over: the slot keeps this WAL until then.
  // (Committed synchronously: the harness runs synchronous_commit = off, whose commits may not be
  // written yet when the position is read.)
  servers.source->Execute(
      "SET synchronous_commit = on; "
      "INSERT INTO public.fn SELECT g, 'before-handover' FROM generate_series(201, 230) g");
  const std::string wal_at_handover =
      servers.source->Query("SELECT pg_current_wal_insert_lsn()::text").at(0).at(0).value_or("");
  const ResultRows held = servers.source->Query("SELECT '" + before->confirmed_flush_lsn +
                                                "'::pg_lsn < '" + wal_at_handover + "'::pg_lsn");
  ASSERT_EQ(held.at(0).at(0).value_or(""), "t") << "the slot does not hold the new WAL";
  std::vector<std::string> handover = {"sync", "--source", source,      "--target",
                                       target, "--table",  "public.fn", "--checkpoint-now"};
  // Without --advance-slot (the hand-over inside a cutover's or a rollback's pause) the slot stays
  // where it is: the stream moves it once it runs.
  CommandOutcome handed = RunTandem(handover, PasswordEnvironment(), seconds(120));
  ASSERT_EQ(handed.exit_code, 0) << handed.out << handed.err;
  EXPECT_EQ(ReadSlotState(*servers.source)->confirmed_flush_lsn, before->confirmed_flush_lsn);
  handover.push_back("--advance-slot");
  handed = RunTandem(handover, PasswordEnvironment(), seconds(120));
  ASSERT_EQ(handed.exit_code, 0) << handed.out << handed.err;
  EXPECT_NE(handed.out.find("--advance-slot: replication slot of stream 'sync' at"),
            std::string::npos)
      << handed.out;
  const std::optional<SlotState> after = ReadSlotState(*servers.source);
  ASSERT_TRUE(after.has_value());
  const ResultRows moved = servers.source->Query("SELECT '" + after->confirmed_flush_lsn +
                                                 "'::pg_lsn >= '" + wal_at_handover + "'::pg_lsn");
  EXPECT_EQ(moved.at(0).at(0).value_or(""), "t")
      << "slot at " << after->confirmed_flush_lsn << " (was " << before->confirmed_flush_lsn
      << "), WAL at the hand-over " << wal_at_handover;
  // Only with a hand-over, and only for PostgreSQL: one line, exit 2.
  ExpectOneLineExitTwo(RunTandem({"sync", "--source", source, "--target", target, "--table",
                                  "public.fn", "--advance-slot"},
                                 PasswordEnvironment(), seconds(60)),
                       "--advance-slot moves a PostgreSQL source's slot up to a hand-over");

  servers.source->Execute(
      "SET synchronous_commit = on; INSERT INTO public.fn VALUES (231, 'after-handover')");
  CommandOutcome resumed = RunTandem(args, PasswordEnvironment(), seconds(120));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(PostgresCount(*servers.target, "id BETWEEN 201 AND 230"), 0);
  EXPECT_EQ(PostgresRows(*servers.target, "id = 231"), "231=after-handover");
}

// ---------------------------------------------------------------------------------------------
// Redis

void WriteRedisBase(const RedisServer& server) {
  for (int i = 1; i <= 20; ++i) {
    server.Command({"SET", "base:" + std::to_string(i), "base"}, 0);
    server.Command({"SET", "base:" + std::to_string(i), "base"}, 3);
  }
}

bool RedisHas(const RedisServer& server, const std::string& key, int db) {
  return server.Command({"EXISTS", key}, db) == "1";
}

TEST(SyncFromNowCli, RedisContinuesFromTheOffsetInTheRightDatabasesThroughAKill) {
  RedisSyncServers servers = StartRedisSyncServers({"--repl-backlog-size", "16mb"});
  WriteRedisBase(*servers.source);
  WriteRedisBase(*servers.target);
  // The source has a replication backlog as a primary that had a replica does (as after the
  // forward stream of a migration): a replica attached once.
  {
    std::unique_ptr<RedisServer> replica =
        RedisServer::Start(servers.dir->path() + "/replica", RedisOptions{});
    replica->StartReplicaOf(*servers.source);
  }
  // Before the start: on the source only, in two databases. Must never reach the target.
  servers.source->Command({"SET", "marker:before", "x"}, 0);
  servers.source->Command({"SET", "marker:before", "x"}, 3);
  servers.source->Command({"SET", "base:1", "changed-before-start"}, 3);

  const std::vector<std::string> args = {"--source",   RedisAllDatabases(*servers.source),
                                         "--target",   RedisAllDatabases(*servers.target),
                                         "--from-now", "--stream",
                                         "back"};
  const std::string log_path = servers.dir->path() + "/sync.log";
  {
    SyncProcess sync(args, log_path);
    ASSERT_TRUE(PollUntil(seconds(120), [&] { return StreamStarted(sync); })) << sync.Log();
    ASSERT_TRUE(sync.Running()) << sync.Log();
    EXPECT_NE(sync.Log().find("--from-now: stream 'back' starts at redis:"), std::string::npos)
        << sync.Log();

    // The first write after the start: in database 0, which the source propagates without a
    // SELECT (its stream is in database 0 there); the stream must know that.
    servers.source->Command({"SET", "after:db0", "zero"}, 0);
    servers.source->Command({"SET", "after:db3", "three"}, 3);
    servers.source->Command({"INCRBY", "counter", "7"}, 3);
    servers.source->Command({"INCRBY", "counter", "11"}, 0);
    ASSERT_TRUE(PollUntil(seconds(60), [&] {
      return servers.target->Command({"GET", "after:db3"}, 3) == "three" &&
             servers.target->Command({"GET", "counter"}, 0) == "11";
    })) << sync.Log();
    EXPECT_EQ(servers.target->Command({"GET", "after:db0"}, 0), "zero");
    EXPECT_FALSE(RedisHas(*servers.target, "after:db0", 3));
    EXPECT_FALSE(RedisHas(*servers.target, "after:db3", 0));
    EXPECT_EQ(servers.target->Command({"GET", "counter"}, 3), "7");
    // Continued by partial resync: a full resync would have loaded the markers.
    EXPECT_NE(sync.Log().find("partial resync"), std::string::npos) << sync.Log();
    EXPECT_EQ(sync.Log().find("full resync"), std::string::npos) << sync.Log();
    ASSERT_TRUE(sync.KillNine());
  }
  servers.source->Command({"INCRBY", "counter", "100"}, 3);
  servers.source->Command({"INCRBY", "counter", "1000"}, 0);
  servers.source->Command({"SET", "after-kill:db3", "three"}, 3);
  std::vector<std::string> final_args = {"sync"};
  final_args.insert(final_args.end(), args.begin(), args.end());
  final_args.push_back("--until-caught-up");
  CommandOutcome again = RunTandem(final_args, {}, seconds(120));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("--from-now has no effect: stream 'back' has a checkpoint at redis:"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(again.out.find("full resync"), std::string::npos) << again.out;

  // Exactly once (INCRBY is not idempotent), in the right databases; nothing from before.
  EXPECT_EQ(servers.target->Command({"GET", "counter"}, 3), "107");
  EXPECT_EQ(servers.target->Command({"GET", "counter"}, 0), "1011");
  EXPECT_EQ(servers.target->Command({"GET", "after-kill:db3"}, 3), "three");
  EXPECT_FALSE(RedisHas(*servers.target, "after-kill:db3", 0));
  EXPECT_FALSE(RedisHas(*servers.target, "marker:before", 0));
  EXPECT_FALSE(RedisHas(*servers.target, "marker:before", 3));
  EXPECT_EQ(servers.target->Command({"GET", "base:1"}, 3), "base");
  // The bookkeeping writes that pinned the start's database stay on the source, before the start.
  EXPECT_TRUE(RedisHas(*servers.source, "_tandem:from-now:back", 0));
  EXPECT_TRUE(RedisHas(*servers.source, "_tandem:from-now:back", 1));
  EXPECT_FALSE(RedisHas(*servers.target, "_tandem:from-now:back", 0));
  EXPECT_FALSE(RedisHas(*servers.target, "_tandem:from-now:back", 1));
}

bool BacklogActive(const RedisServer& server) {
  const std::string info = server.Command({"INFO", "replication"}, 0);
  if (info.find("repl_backlog_active:0") != std::string::npos) return false;
  EXPECT_NE(info.find("repl_backlog_active:1"), std::string::npos) << info;
  return true;
}

// A source without a replication backlog (no replica ever attached: the new side of a cutover)
// is made to create one before its offset is taken, so the stream's first PSYNC is continued
// (a partial resync): the target is neither emptied nor reloaded (a key only it holds stays, a
// key written on the source before the start never arrives), and what follows the start does.
TEST(SyncFromNowCli, RedisSourceWithoutBacklogGetsOneAndTheStreamStartsByPartialResync) {
  RedisSyncServers servers = StartRedisSyncServers();
  WriteRedisBase(*servers.source);
  WriteRedisBase(*servers.target);
  ASSERT_FALSE(BacklogActive(*servers.source));
  servers.source->Command({"SET", "marker:before", "x"}, 3);
  servers.target->Command({"SET", "only:target", "kept"}, 3);

  const std::vector<std::string> args = {"--source", RedisAllDatabases(*servers.source), "--target",
                                         RedisAllDatabases(*servers.target), "--from-now"};
  const std::string log_path = servers.dir->path() + "/sync.log";
  SyncProcess sync(args, log_path);
  ASSERT_TRUE(PollUntil(seconds(120), [&] { return StreamStarted(sync); })) << sync.Log();
  ASSERT_TRUE(sync.Running()) << sync.Log();
  EXPECT_NE(sync.Log().find("had no replication backlog: tandem attached to it as a replica"),
            std::string::npos)
      << sync.Log();
  EXPECT_TRUE(BacklogActive(*servers.source));
  servers.source->Command({"SET", "after:db3", "three"}, 3);
  servers.source->Command({"INCRBY", "counter", "5"}, 0);
  ASSERT_TRUE(PollUntil(seconds(60), [&] {
    return servers.target->Command({"GET", "after:db3"}, 3) == "three" &&
           servers.target->Command({"GET", "counter"}, 0) == "5";
  })) << sync.Log();
  EXPECT_NE(sync.Log().find("partial resync"), std::string::npos) << sync.Log();
  EXPECT_EQ(sync.Log().find("full resync"), std::string::npos) << sync.Log();
  EXPECT_EQ(sync.Log().find("has no replication backlog"), std::string::npos) << sync.Log();
  EXPECT_EQ(servers.target->Command({"GET", "only:target"}, 3), "kept");
  EXPECT_FALSE(RedisHas(*servers.target, "marker:before", 3));
  EXPECT_FALSE(RedisHas(*servers.target, "after:db3", 0));
  ASSERT_TRUE(sync.KillNine());
}

// --checkpoint-now on a source without a backlog: the same, for a stream handed over and started
// later (the reverse stream of tandem run's cutover).
TEST(SyncFromNowCli, RedisCheckpointNowOnASourceWithoutBacklogIsContinuedByPartialResync) {
  RedisSyncServers servers = StartRedisSyncServers();
  WriteRedisBase(*servers.source);
  WriteRedisBase(*servers.target);
  ASSERT_FALSE(BacklogActive(*servers.source));
  servers.source->Command({"SET", "marker:before", "x"}, 3);
  servers.target->Command({"SET", "only:target", "kept"}, 3);
  const std::vector<std::string> args = {"sync", "--source", RedisAllDatabases(*servers.source),
                                         "--target", RedisAllDatabases(*servers.target)};
  std::vector<std::string> handover = args;
  handover.push_back("--checkpoint-now");
  CommandOutcome handed = RunTandem(handover, {}, seconds(60));
  ASSERT_EQ(handed.exit_code, 0) << handed.out << handed.err;
  EXPECT_NE(handed.out.find("had no replication backlog: tandem attached to it as a replica"),
            std::string::npos)
      << handed.out;
  EXPECT_TRUE(BacklogActive(*servers.source));

  servers.source->Command({"SET", "after:db3", "three"}, 3);
  std::vector<std::string> stream = args;
  stream.push_back("--until-caught-up");
  CommandOutcome streamed = RunTandem(stream, {}, seconds(120));
  ASSERT_EQ(streamed.exit_code, 0) << streamed.out << streamed.err;
  EXPECT_NE(streamed.out.find("partial resync"), std::string::npos) << streamed.out;
  EXPECT_EQ(streamed.out.find("full resync"), std::string::npos) << streamed.out;
  EXPECT_EQ(servers.target->Command({"GET", "after:db3"}, 3), "three");
  EXPECT_EQ(servers.target->Command({"GET", "only:target"}, 3), "kept");
  EXPECT_FALSE(RedisHas(*servers.target, "marker:before", 3));
}

}  // namespace
}  // namespace tandem::testing
