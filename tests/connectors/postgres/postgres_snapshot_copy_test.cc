// Integration tests: the initial copy of `tandem sync` PostgreSQL -> PostgreSQL
// (postgres_snapshot_copy.h) and the COPY / snapshot-import methods of PostgresConnection, against
// the shared source and target servers of the ctest fixture. Each test works in scratch databases
// of its own and compares source and target with md5 digests of their ordered rows.
#include "connectors/postgres/postgres_snapshot_copy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/postgres_connection.h"
#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using connectors::postgres::CheckPostgresTargetTables;
using connectors::postgres::CopyPostgresSnapshot;
using connectors::postgres::CopyState;
using connectors::postgres::PostgresConnection;
using connectors::postgres::PostgresSnapshotCopyOptions;
using connectors::postgres::ReadPostgresCopyStatus;
using engine::StatusCode;
using engine::TableId;
using testing::Side;

constexpr auto kWaitLimit = std::chrono::seconds(60);

// A REPEATABLE READ transaction on the source that exported its snapshot, held while it lives (as
// the replication slot's creating session holds the slot's snapshot).
class HeldSnapshot {
 public:
  explicit HeldSnapshot(const engine::ConnectionConfig& source) {
    auto connection = PostgresConnection::Connect(source);
    if (!connection.ok()) {
      ADD_FAILURE() << connection.status().ToString();
      return;
    }
    connection_ = std::move(*connection);
    auto begun = connection_->Query("test", "BEGIN ISOLATION LEVEL REPEATABLE READ");
    EXPECT_TRUE(begun.ok()) << begun.status().ToString();
    auto exported = connection_->Query("test", "SELECT pg_export_snapshot()");
    if (!exported.ok()) {
      ADD_FAILURE() << exported.status().ToString();
      return;
    }
    name_ = exported->String(0, 0);
  }
  const std::string& name() const { return name_; }

 private:
  std::unique_ptr<PostgresConnection> connection_;
  std::string name_;
};

class PostgresSnapshotCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = Shared();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
    source_ = std::make_unique<ScratchDatabase>(*servers_, Side::kSource, "pgcopy");
    target_ = std::make_unique<ScratchDatabase>(*servers_, Side::kTarget, "pgcopy");
    source_config_ = Config(source_->Uri());
    target_config_ = Config(target_->Uri());
  }

  void BothSides(const std::string& sql) const {
    source_->Execute(sql);
    target_->Execute(sql);
  }

  static std::string Value(const ScratchDatabase& database, const std::string& sql) {
    testing::ResultRows rows = database.Query(sql);
    if (rows.empty() || rows[0].empty() || !rows[0][0]) {
      return "<null>";
    }
    return *rows[0][0];
  }

  // md5 over the rows of `table` (`columns` as a row value), in `order`.
  static std::string Digest(const ScratchDatabase& database, const std::string& table,
                            const std::string& columns, const std::string& order) {
    return Value(database, "SELECT count(*) || ':' || coalesce(md5(string_agg(row(" + columns +
                               ")::text, E'\\n' ORDER BY " + order + ")), '-') FROM " + table);
  }

  void ExpectSame(const std::string& table, const std::string& columns,
                  const std::string& order) const {
    EXPECT_EQ(Digest(*source_, table, columns, order), Digest(*target_, table, columns, order))
        << table;
  }

  // Creates public.numbers(id bigint PK) with `rows` rows on the source and empty on the target.
  void CreateNumbers(int64_t rows) const {
    BothSides(
        "CREATE TABLE public.numbers (id bigint PRIMARY KEY, label text NOT NULL, amount "
        "numeric(18,4), at timestamptz)");
    source_->Execute(
        "INSERT INTO public.numbers SELECT g, 'row ' || g || repeat('x', g % 40),"
        " g * 1.5, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'"
        " FROM generate_series(1, " +
        std::to_string(rows) + ") g");
    source_->Execute("ANALYZE public.numbers");
  }

  PostgresSnapshotCopyOptions Options(const std::string& snapshot) const {
    PostgresSnapshotCopyOptions options;
    options.snapshot_name = snapshot;
    options.start_position = engine::Lsn{0x1234ABCD};
    return options;
  }

  const testing::SharedServers* servers_ = nullptr;
  std::unique_ptr<ScratchDatabase> source_;
  std::unique_ptr<ScratchDatabase> target_;
  engine::ConnectionConfig source_config_;
  engine::ConnectionConfig target_config_;
};

TEST_F(PostgresSnapshotCopyTest, CopiesEveryTypeAcrossWorkersAndCompletes) {
  CreateNumbers(20000);
  BothSides(
      "CREATE TABLE public.tenants (tenant text NOT NULL, code text NOT NULL, note text,"
      " PRIMARY KEY (tenant, code))");
  source_->Execute(
      "INSERT INTO public.tenants SELECT 'tenant ' || (g % 7) || ' ''q\"\\', 'c' || g, "
      "CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 6000) g");
  source_->Execute("ANALYZE public.tenants");
  BothSides("CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')");
  BothSides("CREATE DOMAIN public.positive AS integer CHECK (VALUE > 0)");
  BothSides(
      "CREATE TABLE public.types (id integer PRIMARY KEY, b bytea, j jsonb, n numeric(30,10),"
      " ts timestamptz, d date, iv interval, f float8, u uuid, flag boolean, ints integer[],"
      " texts text[], m public.mood, p public.positive, big text,"
      " twice integer GENERATED ALWAYS AS (id * 2) STORED)");
  source_->Execute(
      "INSERT INTO public.types (id, b, j, n, ts, d, iv, f, u, flag, ints, texts, m, p, big)"
      " SELECT g, decode(md5(g::text) || '00ff', 'hex'),"
      " jsonb_build_object('k', g, 's', 'v\"' || g, 'a', jsonb_build_array(g, null, true)),"
      " g * 12345.6789012345, timestamptz '2020-02-29 12:34:56.789012+00' + g * interval '1 day',"
      " date '2000-01-01' + g, make_interval(days => g, secs => g / 7.0), g / 3.0,"
      " md5(g::text)::uuid, g % 2 = 0, ARRAY[g, g + 1, NULL], ARRAY['a,b', 'q\"' || g, NULL],"
      " (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::public.mood, g,"
      " CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(i::text || g), '') FROM"
      " generate_series(1, 4000) i) END FROM generate_series(1, 300) g");
  source_->Execute("INSERT INTO public.types (id) VALUES (1000)");  // every nullable column NULL
  // Column order differs on the target: COPY names the columns.
  source_->Execute("CREATE TABLE public.reordered (id integer PRIMARY KEY, a text, b integer)");
  target_->Execute("CREATE TABLE public.reordered (b integer, a text, id integer PRIMARY KEY)");
  source_->Execute(
      "INSERT INTO public.reordered SELECT g, 'a' || g, g FROM generate_series(1, 50) g");

  HeldSnapshot snapshot(source_config_);
  PostgresSnapshotCopyOptions options = Options(snapshot.name());
  options.chunk_rows = 1000;
  auto copied = CopyPostgresSnapshot(
      source_config_, target_config_,
      {{"public", "numbers"}, {"public", "tenants"}, {"public", "types"}, {"public", "reordered"}},
      options);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_FALSE(copied->already_complete);
  EXPECT_EQ(copied->rows_copied, 20000 + 6000 + 301 + 50);
  EXPECT_GE(copied->chunks_copied, 20 + 3 + 1 + 1);
  EXPECT_EQ(copied->chunks_skipped, 0);
  EXPECT_EQ(copied->start_position, engine::Lsn{0x1234ABCD});

  ExpectSame("public.numbers", "id, label, amount, at", "id");
  ExpectSame("public.tenants", "tenant, code, note", "tenant COLLATE \"C\", code COLLATE \"C\"");
  ExpectSame("public.types", "id, b, j, n, ts, d, iv, f, u, flag, ints, texts, m, p, big, twice",
             "id");
  ExpectSame("public.reordered", "id, a, b", "id");
  EXPECT_EQ(Value(*target_, "SELECT length(big) FROM public.types WHERE id = 10"), "128000");

  EXPECT_EQ(Value(*target_, "SELECT count(*) FROM _tandem.copy"), "0");
  EXPECT_EQ(Value(*target_, "SELECT count(*) FROM _tandem.copy_chunk"), "0");
  EXPECT_EQ(Value(*target_, "SELECT position FROM _tandem.checkpoint WHERE stream = 'sync'"),
            "pg:0/1234ABCD");
  auto status = ReadPostgresCopyStatus(target_config_, "sync");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->state, CopyState::kComplete);
  EXPECT_EQ(status->start_position, engine::Lsn{0x1234ABCD});

  auto again =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, Options(""));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_complete);
  EXPECT_EQ(again->start_position, engine::Lsn{0x1234ABCD});
}

TEST_F(PostgresSnapshotCopyTest, CopiesTheExportedSnapshotNotLaterChanges) {
  CreateNumbers(3000);
  const std::string before = Digest(*source_, "public.numbers", "id, label, amount, at", "id");
  HeldSnapshot snapshot(source_config_);
  source_->Execute("UPDATE public.numbers SET label = 'changed' WHERE id % 10 = 0");
  source_->Execute("DELETE FROM public.numbers WHERE id < 100");
  source_->Execute("INSERT INTO public.numbers VALUES (5000000, 'late', 1, now())");

  PostgresSnapshotCopyOptions options = Options(snapshot.name());
  options.chunk_rows = 500;
  auto copied =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, options);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->rows_copied, 3000);
  EXPECT_EQ(Digest(*target_, "public.numbers", "id, label, amount, at", "id"), before);
  EXPECT_NE(Digest(*source_, "public.numbers", "id, label, amount, at", "id"), before);
}

// A leftover row in chunk 5's range is locked on the target, so the single worker blocks there
// after finishing chunks 0-4: the stop is requested exactly then, the worker finishes chunk 5 and
// stops. The restart copies the rest from a fresh snapshot and keeps the first start position.
TEST_F(PostgresSnapshotCopyTest, StopThenRestartFinishesExactlyAndRemovesLeftovers) {
  CreateNumbers(10000);
  target_->Execute(
      "INSERT INTO public.numbers VALUES (2600, 'leftover', 0, NULL),"
      " (9999999, 'beyond the last key', 0, NULL)");
  testing::PostgresClient locker = target_->ConnectAdmin();
  locker.Query("BEGIN");
  locker.Query("SELECT * FROM public.numbers WHERE id = 2600 FOR UPDATE");

  HeldSnapshot snapshot(source_config_);
  std::atomic<bool> stop{false};
  PostgresSnapshotCopyOptions options = Options(snapshot.name());
  options.threads = 1;
  options.chunk_rows = 500;  // 20 chunks of 500 keys; 2600 is in chunk 5
  options.stop = &stop;
  engine::Result<connectors::postgres::PostgresSnapshotCopyResult> first =
      engine::Internal("not run");
  std::thread copier([&] {
    first = CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, options);
  });
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  bool reached = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Value(*target_,
              "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
              "current_database() AND query LIKE 'DELETE FROM%'") == "1") {
      reached = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  locker.Query("ROLLBACK");
  copier.join();
  ASSERT_TRUE(reached) << "the worker never blocked on the locked leftover";
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kCancelled) << first.status().ToString();
  EXPECT_EQ(Value(*target_, "SELECT count(*) FROM _tandem.copy_chunk WHERE done"), "6");
  EXPECT_EQ(Value(*target_, "SELECT label FROM public.numbers WHERE id = 2600"), "row 2600");

  auto status = ReadPostgresCopyStatus(target_config_, "sync");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->state, CopyState::kInProgress);
  EXPECT_EQ(status->start_position, engine::Lsn{0x1234ABCD});

  // A change between the runs: the restart's fresh snapshot sees it in a chunk not yet copied.
  source_->Execute("UPDATE public.numbers SET label = 'after the stop' WHERE id = 9000");
  PostgresSnapshotCopyOptions restart = Options("");
  restart.start_position = engine::Lsn{0x9999};  // ignored: the recorded start is kept
  restart.threads = 3;
  restart.chunk_rows = 500;
  auto second =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, restart);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->chunks_skipped, 6);
  EXPECT_EQ(second->chunks_copied, 14);
  EXPECT_EQ(second->rows_copied, 7000);
  EXPECT_EQ(second->start_position, engine::Lsn{0x1234ABCD});
  ExpectSame("public.numbers", "id, label, amount, at", "id");
  EXPECT_EQ(Value(*target_, "SELECT count(*) FROM public.numbers WHERE id = 9999999"), "0");
  EXPECT_EQ(Value(*target_, "SELECT position FROM _tandem.checkpoint WHERE stream = 'sync'"),
            "pg:0/1234ABCD");
}

TEST_F(PostgresSnapshotCopyTest, CopyStatusGoesFromNoneToInProgressToComplete) {
  CreateNumbers(100);
  auto none = ReadPostgresCopyStatus(target_config_, "s1");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->state, CopyState::kNone);

  HeldSnapshot snapshot(source_config_);
  std::atomic<bool> stop{true};
  PostgresSnapshotCopyOptions options = Options(snapshot.name());
  options.stream = "s1";
  options.stop = &stop;
  auto stopped =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, options);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), StatusCode::kCancelled);
  auto in_progress = ReadPostgresCopyStatus(target_config_, "s1");
  ASSERT_TRUE(in_progress.ok()) << in_progress.status().ToString();
  EXPECT_EQ(in_progress->state, CopyState::kInProgress);
  EXPECT_EQ(in_progress->start_position, engine::Lsn{0x1234ABCD});
  // Another stream is not affected; a worker checkpoint "<stream>/<n>" counts as complete.
  auto other = ReadPostgresCopyStatus(target_config_, "s");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->state, CopyState::kNone);
  target_->Execute(
      "INSERT INTO _tandem.checkpoint (stream, position, transaction_sequence, events_applied)"
      " VALUES ('s/0', 'pg:0/AB', 0, 0), ('s/1', 'pg:1/0', 0, 0), ('sx', 'pg:9/0', 0, 0)");
  other = ReadPostgresCopyStatus(target_config_, "s");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->state, CopyState::kComplete);
  EXPECT_EQ(other->start_position, engine::Lsn{uint64_t{1} << 32});

  options.stop = nullptr;
  options.snapshot_name.clear();
  auto resumed =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->rows_copied, 100);
  auto complete = ReadPostgresCopyStatus(target_config_, "s1");
  ASSERT_TRUE(complete.ok());
  EXPECT_EQ(complete->state, CopyState::kComplete);
  EXPECT_EQ(complete->start_position, engine::Lsn{0x1234ABCD});
}

TEST_F(PostgresSnapshotCopyTest, MissingTargetTableOrColumnIsFailedPrecondition) {
  source_->Execute("CREATE TABLE public.only_source (id integer PRIMARY KEY)");
  source_->Execute("CREATE TABLE public.wide (id integer PRIMARY KEY, extra text)");
  target_->Execute("CREATE TABLE public.wide (id integer PRIMARY KEY)");
  source_->Execute("CREATE TABLE public.narrow (id integer PRIMARY KEY)");
  target_->Execute("CREATE TABLE public.narrow (id integer PRIMARY KEY, surplus text)");
  BothSides("CREATE TABLE public.fine (id integer PRIMARY KEY, v text)");

  EXPECT_TRUE(CheckPostgresTargetTables(source_config_, target_config_, {{"public", "fine"}}).ok());
  engine::Status missing =
      CheckPostgresTargetTables(source_config_, target_config_, {{"public", "only_source"}});
  EXPECT_EQ(missing.code(), StatusCode::kFailedPrecondition) << missing.ToString();
  EXPECT_NE(missing.message().find("public.only_source"), std::string::npos);
  EXPECT_NE(missing.message().find("pg_dump --schema-only"), std::string::npos);
  EXPECT_EQ(missing.message().find("tandem-secret"), std::string::npos);
  engine::Status column =
      CheckPostgresTargetTables(source_config_, target_config_, {{"public", "wide"}});
  EXPECT_EQ(column.code(), StatusCode::kFailedPrecondition) << column.ToString();
  EXPECT_NE(column.message().find("column extra"), std::string::npos) << column.message();
  engine::Status surplus =
      CheckPostgresTargetTables(source_config_, target_config_, {{"public", "narrow"}});
  EXPECT_EQ(surplus.code(), StatusCode::kFailedPrecondition) << surplus.ToString();
  EXPECT_NE(surplus.message().find("column surplus"), std::string::npos) << surplus.message();

  HeldSnapshot snapshot(source_config_);
  auto copied =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "fine"}, {"public", "wide"}},
                           Options(snapshot.name()));
  ASSERT_FALSE(copied.ok());
  EXPECT_EQ(copied.status().code(), StatusCode::kFailedPrecondition);
  auto status = ReadPostgresCopyStatus(target_config_, "sync");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, CopyState::kNone);  // refused before anything was recorded
}

TEST_F(PostgresSnapshotCopyTest, KeylessTableIsRefused) {
  BothSides("CREATE TABLE public.keyless (a integer, b text)");
  BothSides("CREATE TABLE public.nullable_unique (a integer UNIQUE, b text)");
  HeldSnapshot snapshot(source_config_);
  for (const char* name : {"keyless", "nullable_unique"}) {
    auto copied = CopyPostgresSnapshot(source_config_, target_config_, {{"public", name}},
                                       Options(snapshot.name()));
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().code(), StatusCode::kFailedPrecondition)
        << copied.status().ToString();
    EXPECT_NE(copied.status().message().find(std::string("public.") + name), std::string::npos);
    EXPECT_NE(copied.status().message().find("primary key"), std::string::npos);
  }
}

TEST_F(PostgresSnapshotCopyTest, FirstCopyNeedsASnapshotAndAValidName) {
  CreateNumbers(10);
  auto no_snapshot =
      CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, Options(""));
  ASSERT_FALSE(no_snapshot.ok());
  EXPECT_EQ(no_snapshot.status().code(), StatusCode::kFailedPrecondition);
  auto bad_name = CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}},
                                       Options("00000003-0000001B-1'; DROP TABLE x; --"));
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument) << bad_name.status().ToString();
  auto gone = CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}},
                                   Options("00000003-0000001B-1"));
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().code(), StatusCode::kOk);
  EXPECT_EQ(Value(*source_, "SELECT count(*) FROM public.numbers"), "10");
}

TEST_F(PostgresSnapshotCopyTest, CopyOutErrorFromTheReaderCancelsAndKeepsTheConnection) {
  CreateNumbers(50000);
  auto connection = PostgresConnection::Connect(source_config_);
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  int pieces = 0;
  engine::Status stopped =
      (*connection)
          ->CopyOut(
              "test", "COPY (SELECT * FROM public.numbers) TO STDOUT", [&](std::string_view data) {
                EXPECT_FALSE(data.empty());
                return ++pieces == 10 ? engine::Internal("reader gave up") : engine::Status::Ok();
              });
  EXPECT_EQ(stopped.code(), StatusCode::kInternal) << stopped.ToString();
  EXPECT_EQ(pieces, 10);
  auto after = (*connection)->Query("test", "SELECT count(*) FROM public.numbers");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->String(0, 0), "50000");

  engine::Status wrong = (*connection)->CopyOut("test", "SELECT 1", [](std::string_view) {
    return engine::Status::Ok();
  });
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument) << wrong.ToString();
  auto still = (*connection)->Query("test", "SELECT 2");
  ASSERT_TRUE(still.ok()) << still.status().ToString();
}

TEST_F(PostgresSnapshotCopyTest, SilentCopyOutIsCancelledAfterTheReadTimeout) {
  auto connection = PostgresConnection::Connect(Config(source_->Uri("?read_timeout=1")));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  engine::Status silent =
      (*connection)->CopyOut("test", "COPY (SELECT pg_sleep(30)) TO STDOUT", [](std::string_view) {
        return engine::Status::Ok();
      });
  EXPECT_EQ(silent.code(), StatusCode::kTimeout) << silent.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  auto after = (*connection)->Query("test", "SELECT 1");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
}

TEST_F(PostgresSnapshotCopyTest, CopyInBlockedOnTheTargetTimesOutAndRecovers) {
  target_->Execute("CREATE TABLE public.sink (id integer PRIMARY KEY)");
  testing::PostgresClient locker = target_->ConnectAdmin();
  locker.Query("BEGIN");
  locker.Query("INSERT INTO public.sink VALUES (1)");  // uncommitted: a COPY of key 1 waits
  auto connection = PostgresConnection::Connect(Config(target_->Uri("?read_timeout=1")));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*connection)->BeginCopyIn("test", "COPY public.sink (id) FROM STDIN").ok());
  ASSERT_TRUE((*connection)->PutCopyData("test", "1\n").ok());
  auto ended = (*connection)->EndCopyIn("test");
  locker.Query("ROLLBACK");
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.status().code(), StatusCode::kTimeout) << ended.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  auto after = (*connection)->Query("test", "SELECT count(*) FROM public.sink");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->String(0, 0), "0");
}

TEST_F(PostgresSnapshotCopyTest, CopyInRejectsBadDataAndAbortKeepsNothing) {
  BothSides("CREATE TABLE public.sink (id integer PRIMARY KEY, v text)");
  auto connection = PostgresConnection::Connect(target_config_);
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  PostgresConnection& target = **connection;
  ASSERT_TRUE(target.BeginCopyIn("test", "COPY public.sink (id, v) FROM STDIN").ok());
  ASSERT_TRUE(target.PutCopyData("test", "1\tone\n2\ttwo\n").ok());
  auto stored = target.EndCopyIn("test");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(*stored, 2);

  ASSERT_TRUE(target.BeginCopyIn("test", "COPY public.sink (id, v) FROM STDIN").ok());
  ASSERT_TRUE(target.PutCopyData("test", "3\tthree\n").ok());
  target.AbortCopyIn("test abort");
  ASSERT_TRUE(target.BeginCopyIn("test", "COPY public.sink (id, v) FROM STDIN").ok());
  engine::Status put = target.PutCopyData("test", "not a number\tx\n");
  auto ended = put.ok() ? target.EndCopyIn("test") : engine::Result<int64_t>(put);
  ASSERT_FALSE(ended.ok());
  EXPECT_NE(ended.status().message().find("integer"), std::string::npos)
      << ended.status().ToString();
  auto count = target.Query("test", "SELECT count(*) FROM public.sink");
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(count->String(0, 0), "2");
  auto literal = target.QuoteLiteral("it's \\ here");
  ASSERT_TRUE(literal.ok());
  auto echoed = target.Query("test", "SELECT " + *literal);
  ASSERT_TRUE(echoed.ok()) << echoed.status().ToString();
  EXPECT_EQ(echoed->String(0, 0), "it's \\ here");
}

// Not a pass/fail bound (shared 2-core machine): records the copy speed of 300,000 rows with 4
// workers in text and binary format, and with one worker and one chunk (a plain COPY pipe).
TEST_F(PostgresSnapshotCopyTest, MeasuresCopySpeed) {
  CreateNumbers(300000);
  struct Run {
    const char* name;
    bool binary;
    size_t threads;
    int64_t chunk_rows;
  };
  for (const Run& run :
       {Run{"text, 4 workers", false, 4, 50000}, Run{"binary, 4 workers", true, 4, 50000},
        Run{"text, 1 worker, 1 chunk", false, 1, 1000000}}) {
    target_->Execute("TRUNCATE public.numbers");
    target_->Execute("DROP SCHEMA IF EXISTS _tandem CASCADE");
    HeldSnapshot snapshot(source_config_);
    PostgresSnapshotCopyOptions options = Options(snapshot.name());
    options.binary = run.binary;
    options.threads = run.threads;
    options.chunk_rows = run.chunk_rows;
    auto copied =
        CopyPostgresSnapshot(source_config_, target_config_, {{"public", "numbers"}}, options);
    ASSERT_TRUE(copied.ok()) << copied.status().ToString();
    EXPECT_EQ(copied->rows_copied, 300000);
    ExpectSame("public.numbers", "id, label, amount, at", "id");
    const double seconds = copied->elapsed.count();
    std::printf("[ speed    ] %s: %lld rows in %.2f s = %.0f rows/s (%lld chunks)\n", run.name,
                static_cast<long long>(copied->rows_copied), seconds,
                static_cast<double>(copied->rows_copied) / seconds,
                static_cast<long long>(copied->chunks_copied));
  }
}

}  // namespace
}  // namespace tandem::postgres_test
