// Integration tests of PostgresChangeStream (postgres_change_stream.h) and the replication
// connection under it, against the shared PostgreSQL 15 source server (wal_level=logical). Each
// test works in a scratch database of its own with a slot and a publication named uniquely (slots
// are server-wide and few), and drops both in TearDown, before the database.
#include "connectors/postgres/postgres_change_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/pgoutput/pgoutput_message.h"
#include "connectors/postgres/postgres_replication_connection.h"
#include "engine/change_event.h"
#include "engine/position.h"
#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using connectors::postgres::OpenPostgresChangeStream;
using connectors::postgres::PostgresChangeStreamOptions;
using connectors::postgres::PostgresReplicationConnection;
using engine::ChangeEvent;
using engine::ChangeKind;
using engine::ChangeStream;
using engine::ConnectionConfig;
using engine::Lsn;
using engine::Position;
using engine::Result;
using engine::StatusCode;
using engine::Value;
using testing::Side;
using Clock = std::chrono::steady_clock;

constexpr auto kWaitLimit = std::chrono::seconds(30);
constexpr auto kPoll = std::chrono::milliseconds(100);

std::string UniqueSlot(const std::string& what) {
  static std::atomic<int> counter{0};
  return "pgcs_" + what + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Lsn LsnOf(const Position& position) {
  const auto* lsn = std::get_if<Lsn>(&position);
  return lsn != nullptr ? *lsn : Lsn{};
}

// Reads events until `done` holds for what was read (heartbeats are left out unless
// `keep_heartbeats`), or records a failure after kWaitLimit or on an error.
std::vector<ChangeEvent> ReadUntil(ChangeStream& stream,
                                   const std::function<bool(const std::vector<ChangeEvent>&)>& done,
                                   bool keep_heartbeats = false) {
  std::vector<ChangeEvent> events;
  const auto deadline = Clock::now() + kWaitLimit;
  while (!done(events)) {
    if (Clock::now() >= deadline) {
      ADD_FAILURE() << "timed out after " << events.size() << " events";
      return events;
    }
    Result<std::optional<ChangeEvent>> next = stream.Next(kPoll);
    if (!next.ok()) {
      ADD_FAILURE() << next.status().ToString();
      return events;
    }
    if (next->has_value() && (keep_heartbeats || (*next)->kind != ChangeKind::kHeartbeat)) {
      events.push_back(std::move(**next));
    }
  }
  return events;
}

// Until `commits` kCommit events have been read.
std::vector<ChangeEvent> ReadCommits(ChangeStream& stream, int commits,
                                     bool keep_heartbeats = false) {
  return ReadUntil(
      stream,
      [commits](const std::vector<ChangeEvent>& events) {
        int seen = 0;
        for (const ChangeEvent& event : events) {
          seen += event.kind == ChangeKind::kCommit ? 1 : 0;
        }
        return seen >= commits;
      },
      keep_heartbeats);
}

std::vector<ChangeKind> Kinds(const std::vector<ChangeEvent>& events) {
  std::vector<ChangeKind> kinds;
  for (const ChangeEvent& event : events) {
    kinds.push_back(event.kind);
  }
  return kinds;
}

std::string KindNames(const std::vector<ChangeEvent>& events) {
  std::string names;
  for (const ChangeEvent& event : events) {
    names += std::string(names.empty() ? "" : " ") + std::string(ChangeKindName(event.kind));
  }
  return names;
}

class PostgresChangeStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shared() == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
    database_ = std::make_unique<ScratchDatabase>(*Shared(), Side::kSource, "pgcs");
    config_ = Config(database_->Uri());
    database_->Execute(
        "CREATE TABLE public.items (id int PRIMARY KEY, name text, amount numeric(10,2))");
  }

  void TearDown() override {
    stream_.reset();
    if (!slot_.empty()) {
      DropSlot();
    }
    if (!publication_.empty()) {
      database_->Execute("DROP PUBLICATION IF EXISTS " + publication_);
    }
    database_.reset();
  }

  // A publication of `tables` and a pgoutput slot, both dropped in TearDown.
  void CreateSlotAndPublication(const std::string& what, const std::string& tables) {
    const std::string name = UniqueSlot(what);
    database_->Execute("CREATE PUBLICATION " + name + " FOR TABLE " + tables);
    publication_ = name;
    database_->Query("SELECT pg_create_logical_replication_slot('" + name + "', 'pgoutput')");
    slot_ = name;
  }

  // The slot is active until the walsender of a closed stream has exited: retry for a while.
  void DropSlot() {
    const auto deadline = Clock::now() + kWaitLimit;
    for (;;) {
      try {
        database_->Query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = '" +
            slot_ + "'");
        return;
      } catch (const std::runtime_error& error) {
        if (Clock::now() >= deadline || !Contains(error.what(), "is active")) {
          ADD_FAILURE() << "replication slot " << slot_ << " leaked: " << error.what();
          return;
        }
      }
      std::this_thread::sleep_for(kPoll);
    }
  }

  PostgresChangeStreamOptions Options() const {
    PostgresChangeStreamOptions options;
    options.slot = slot_;
    options.publication = publication_;
    options.status_interval = std::chrono::milliseconds(200);
    return options;
  }

  // Opens the stream into stream_, retrying while the slot is still held by a stream closed just
  // before (its walsender exits asynchronously).
  void OpenStream(Lsn start, const PostgresChangeStreamOptions& options) {
    stream_.reset();
    const auto deadline = Clock::now() + kWaitLimit;
    for (;;) {
      Result<std::unique_ptr<ChangeStream>> opened =
          OpenPostgresChangeStream(config_, start, options);
      if (opened.ok()) {
        stream_ = std::move(*opened);
        return;
      }
      if (Clock::now() >= deadline || !Contains(opened.status().message(), "is active")) {
        FAIL() << opened.status().ToString();
      }
      std::this_thread::sleep_for(kPoll);
    }
  }

  void OpenStream() { OpenStream(Lsn{}, Options()); }

  Lsn SlotConfirmedFlush() const {
    testing::ResultRows rows = database_->Query(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'");
    if (rows.empty() || !rows[0][0].has_value()) {
      ADD_FAILURE() << "slot " << slot_ << " not found";
      return Lsn{};
    }
    Result<Lsn> lsn = engine::ParseLsn(*rows[0][0]);
    EXPECT_TRUE(lsn.ok()) << lsn.status().ToString();
    return lsn.ok() ? *lsn : Lsn{};
  }

  Lsn WalFlushEnd() const {
    testing::ResultRows rows = database_->Query("SELECT pg_current_wal_flush_lsn()");
    Result<Lsn> lsn = engine::ParseLsn(rows.at(0).at(0).value_or(""));
    EXPECT_TRUE(lsn.ok()) << lsn.status().ToString();
    return lsn.ok() ? *lsn : Lsn{};
  }

  std::unique_ptr<ScratchDatabase> database_;
  ConnectionConfig config_;
  std::string slot_;
  std::string publication_;
  std::unique_ptr<ChangeStream> stream_;
};

TEST_F(PostgresChangeStreamTest, InsertsUpdatesAndDeletesComeOutFramedWithValues) {
  CreateSlotAndPublication("rows", "public.items");
  OpenStream();
  EXPECT_EQ(stream_->position(), Position(Lsn{}));
  const int64_t before_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  database_->Execute(
      "BEGIN; INSERT INTO public.items VALUES (1, 'one', 1.50), (2, NULL, 2); COMMIT;"
      "BEGIN; UPDATE public.items SET name = 'uno' WHERE id = 1;"
      "DELETE FROM public.items WHERE id = 2; COMMIT;");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 2);
  ASSERT_EQ(Kinds(events),
            (std::vector<ChangeKind>{ChangeKind::kBegin, ChangeKind::kInsert, ChangeKind::kInsert,
                                     ChangeKind::kCommit, ChangeKind::kBegin, ChangeKind::kUpdate,
                                     ChangeKind::kDelete, ChangeKind::kCommit}))
      << KindNames(events);

  const ChangeEvent& first = events[1];
  ASSERT_NE(first.table, nullptr);
  EXPECT_EQ(first.table->id.ToString(), "public.items");
  ASSERT_EQ(first.table->columns.size(), 3u);
  EXPECT_EQ(first.table->columns[2].declared_type, "numeric(10,2)");
  ASSERT_NE(first.table->IdentifyingKey(), nullptr);
  EXPECT_EQ(first.table->IdentifyingKey()->columns, std::vector<int>{0});
  EXPECT_EQ(first.after, (engine::Row{Value::Int(1), Value::Text("one"), Value::Decimal("1.50")}));
  EXPECT_EQ(events[2].after, (engine::Row{Value::Int(2), Value::Null(), Value::Decimal("2.00")}));
  // One schema object per relation version.
  EXPECT_EQ(events[2].table.get(), first.table.get());
  EXPECT_EQ(events[5].table.get(), first.table.get());

  const ChangeEvent& update = events[5];
  EXPECT_TRUE(update.before_key_only);
  EXPECT_EQ(update.before, (engine::Row{Value::Int(1), Value::Null(), Value::Null()}));
  EXPECT_EQ(update.after, (engine::Row{Value::Int(1), Value::Text("uno"), Value::Decimal("1.50")}));
  EXPECT_TRUE(update.unchanged_columns.empty());
  const ChangeEvent& remove = events[6];
  EXPECT_TRUE(remove.before_key_only);
  EXPECT_EQ(remove.before, (engine::Row{Value::Int(2), Value::Null(), Value::Null()}));

  EXPECT_EQ(events[0].transaction_sequence, 1u);
  EXPECT_EQ(events[3].transaction_sequence, 1u);
  EXPECT_EQ(events[4].transaction_sequence, 2u);
  EXPECT_EQ(events[7].transaction_sequence, 2u);
  const Lsn first_commit = LsnOf(events[3].position);
  const Lsn second_commit = LsnOf(events[7].position);
  EXPECT_GT(first_commit, Lsn{});
  EXPECT_GT(second_commit, first_commit);
  EXPECT_EQ(LsnOf(stream_->position()), second_commit);
  for (const ChangeEvent& event : events) {
    EXPECT_GE(event.source_commit_time_us, before_us - 60'000'000) << ChangeKindName(event.kind);
    EXPECT_LE(event.source_commit_time_us, before_us + 60'000'000) << ChangeKindName(event.kind);
  }
}

TEST_F(PostgresChangeStreamTest, UnchangedToastValueIsListedNotSent) {
  database_->Execute(
      "CREATE TABLE public.docs (id int PRIMARY KEY, body text, n int);"
      "ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL");
  CreateSlotAndPublication("toast", "public.docs");
  OpenStream();
  database_->Execute(
      "INSERT INTO public.docs SELECT 1, string_agg(md5(i::text), '') , 0 "
      "FROM generate_series(1, 3000) i");
  database_->Execute("UPDATE public.docs SET n = 1 WHERE id = 1");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 2);
  ASSERT_EQ(events.size(), 6u) << KindNames(events);
  ASSERT_EQ(events[1].kind, ChangeKind::kInsert);
  EXPECT_EQ(events[1].after[1].text().size(), 3000u * 32);
  const ChangeEvent& update = events[4];
  ASSERT_EQ(update.kind, ChangeKind::kUpdate);
  EXPECT_EQ(update.unchanged_columns, std::vector<int>{1});
  EXPECT_TRUE(update.after[1].is_null());
  EXPECT_EQ(update.after[2], Value::Int(1));
  EXPECT_TRUE(update.before_key_only);
  EXPECT_EQ(update.before[0], Value::Int(1));
}

TEST_F(PostgresChangeStreamTest, PrimaryKeyChangeGivesTheOldKey) {
  CreateSlotAndPublication("pkchange", "public.items");
  OpenStream();
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  database_->Execute("UPDATE public.items SET id = 10 WHERE id = 1");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 2);
  ASSERT_EQ(events.size(), 6u) << KindNames(events);
  const ChangeEvent& update = events[4];
  ASSERT_EQ(update.kind, ChangeKind::kUpdate);
  EXPECT_TRUE(update.before_key_only);
  EXPECT_EQ(update.before, (engine::Row{Value::Int(1), Value::Null(), Value::Null()}));
  EXPECT_EQ(update.after,
            (engine::Row{Value::Int(10), Value::Text("one"), Value::Decimal("1.00")}));
}

TEST_F(PostgresChangeStreamTest, ReplicaIdentityFullGivesFullBeforeImages) {
  database_->Execute(
      "ALTER TABLE public.items REPLICA IDENTITY FULL;"
      "INSERT INTO public.items VALUES (1, 'one', 1)");
  CreateSlotAndPublication("full", "public.items");
  OpenStream();
  database_->Execute("UPDATE public.items SET name = 'uno' WHERE id = 1");
  database_->Execute("DELETE FROM public.items WHERE id = 1");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 2);
  ASSERT_EQ(events.size(), 6u) << KindNames(events);
  const engine::Row old_row{Value::Int(1), Value::Text("one"), Value::Decimal("1.00")};
  const engine::Row new_row{Value::Int(1), Value::Text("uno"), Value::Decimal("1.00")};
  ASSERT_EQ(events[1].kind, ChangeKind::kUpdate);
  EXPECT_FALSE(events[1].before_key_only);
  EXPECT_EQ(events[1].before, old_row);
  EXPECT_EQ(events[1].after, new_row);
  ASSERT_EQ(events[4].kind, ChangeKind::kDelete);
  EXPECT_FALSE(events[4].before_key_only);
  EXPECT_EQ(events[4].before, new_row);
}

TEST_F(PostgresChangeStreamTest, TruncateInsideATransactionSplitsItAtTheLastSafePosition) {
  CreateSlotAndPublication("truncate", "public.items");
  OpenStream();
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  database_->Execute(
      "BEGIN; INSERT INTO public.items VALUES (2, 'two', 2);"
      "TRUNCATE public.items RESTART IDENTITY;"
      "INSERT INTO public.items VALUES (3, 'three', 3); COMMIT");
  // Heartbeats kept: one may come between the transactions and move the last safe position.
  std::vector<ChangeEvent> all = ReadCommits(*stream_, 3, /*keep_heartbeats=*/true);
  std::vector<ChangeEvent> events;
  Lsn safe;  // the last resume point before the second transaction's kBegin
  int begins = 0;
  for (ChangeEvent& event : all) {
    if (event.kind == ChangeKind::kBegin) {
      ++begins;
    }
    if (begins < 2 && (event.kind == ChangeKind::kCommit || event.kind == ChangeKind::kHeartbeat)) {
      safe = LsnOf(event.position);
    }
    if (event.kind != ChangeKind::kHeartbeat) {
      events.push_back(std::move(event));
    }
  }
  ASSERT_EQ(Kinds(events),
            (std::vector<ChangeKind>{ChangeKind::kBegin, ChangeKind::kInsert, ChangeKind::kCommit,
                                     ChangeKind::kBegin, ChangeKind::kInsert, ChangeKind::kCommit,
                                     ChangeKind::kDdl, ChangeKind::kBegin, ChangeKind::kInsert,
                                     ChangeKind::kCommit}))
      << KindNames(events);
  EXPECT_EQ(events[4].after[0], Value::Int(2));
  // The part before the TRUNCATE closes at the last safe position, not this transaction's.
  EXPECT_EQ(LsnOf(events[5].position), safe);
  EXPECT_GE(safe, LsnOf(events[2].position));
  const ChangeEvent& ddl = events[6];
  EXPECT_EQ(ddl.statement, "TRUNCATE ONLY \"public\".\"items\" RESTART IDENTITY");
  ASSERT_NE(ddl.table, nullptr);
  EXPECT_EQ(ddl.table->id.ToString(), "public.items");
  EXPECT_EQ(LsnOf(ddl.position), safe);
  EXPECT_GT(ddl.transaction_sequence, events[5].transaction_sequence);
  EXPECT_GT(events[7].transaction_sequence, ddl.transaction_sequence);
  EXPECT_EQ(events[8].after[0], Value::Int(3));
  EXPECT_GT(LsnOf(events[9].position), safe);
}

TEST_F(PostgresChangeStreamTest, AcknowledgeMovesTheSlotToThatPositionAndNoFurther) {
  CreateSlotAndPublication("ack", "public.items");
  const Lsn created = SlotConfirmedFlush();
  OpenStream();
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  database_->Execute("INSERT INTO public.items VALUES (2, 'two', 2)");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 2);
  ASSERT_EQ(events.size(), 6u) << KindNames(events);
  const Lsn first = LsnOf(events[2].position);
  const Lsn second = LsnOf(events[5].position);
  ASSERT_GT(second, first);

  // Several status intervals without an acknowledgement: the slot stays where it was created.
  const auto drive = [&](std::chrono::milliseconds how_long, const std::function<bool()>& until) {
    const auto deadline = Clock::now() + how_long;
    while (Clock::now() < deadline) {
      Result<std::optional<ChangeEvent>> next = stream_->Next(kPoll);
      if (!next.ok()) {
        ADD_FAILURE() << next.status().ToString();
        return false;
      }
      if (until && until()) {
        return true;
      }
    }
    return false;
  };
  drive(std::chrono::milliseconds(1500), nullptr);
  EXPECT_EQ(SlotConfirmedFlush(), created);

  stream_->Acknowledge(events[2].position);
  EXPECT_TRUE(drive(kWaitLimit, [&] { return SlotConfirmedFlush() == first; }))
      << "confirmed_flush_lsn " << engine::FormatLsn(SlotConfirmedFlush()) << ", expected "
      << engine::FormatLsn(first);
  // Heartbeats come meanwhile; none of them is acknowledged, so the slot stays at `first`.
  drive(std::chrono::milliseconds(1500), nullptr);
  EXPECT_EQ(SlotConfirmedFlush(), first);

  // Acknowledged from another thread, as the pipeline does.
  std::thread([&] { stream_->Acknowledge(events[5].position); }).join();
  EXPECT_TRUE(drive(kWaitLimit, [&] { return SlotConfirmedFlush() == second; }))
      << "confirmed_flush_lsn " << engine::FormatLsn(SlotConfirmedFlush());
}

TEST_F(PostgresChangeStreamTest, IdleStreamHeartbeatsAndReadsThroughTheWalEnd) {
  CreateSlotAndPublication("idle", "public.items");
  OpenStream();
  database_->Execute(
      "CREATE TABLE public.unpublished (id int PRIMARY KEY);"
      "INSERT INTO public.unpublished VALUES (1)");
  const Lsn end = WalFlushEnd();
  bool heartbeat = false;
  bool read_through = false;
  const auto deadline = Clock::now() + kWaitLimit;
  while (!(heartbeat && read_through) && Clock::now() < deadline) {
    Result<std::optional<ChangeEvent>> next = stream_->Next(kPoll);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (next->has_value()) {
      EXPECT_EQ((*next)->kind, ChangeKind::kHeartbeat) << ChangeKindName((*next)->kind);
      heartbeat = heartbeat || (*next)->kind == ChangeKind::kHeartbeat;
    }
    Result<bool> through = stream_->HasReadThrough(end);
    ASSERT_TRUE(through.ok()) << through.status().ToString();
    read_through = *through;
  }
  EXPECT_TRUE(heartbeat);
  EXPECT_TRUE(read_through) << "position " << engine::Serialize(stream_->position()) << ", end "
                            << engine::FormatLsn(end);
  EXPECT_GE(LsnOf(stream_->position()), end);
  EXPECT_FALSE(stream_->HasReadThrough(engine::BinlogPosition{"bin.000001", 4, ""}).ok());
}

TEST_F(PostgresChangeStreamTest, IdleStreamOutlivesTheReadTimeout) {
  // read_timeout bounds commands and statement_timeout, never the wait for changes.
  config_ = Config(database_->Uri("?read_timeout=1"));
  CreateSlotAndPublication("outlive", "public.items");
  OpenStream();
  const auto idle_until = Clock::now() + std::chrono::milliseconds(3500);
  while (Clock::now() < idle_until) {
    Result<std::optional<ChangeEvent>> next = stream_->Next(kPoll);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
  }
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 1);
  EXPECT_EQ(events.size(), 3u) << KindNames(events);
}

TEST_F(PostgresChangeStreamTest, AddedColumnTheTargetLacksFailsNamingIt) {
  ScratchDatabase target(*Shared(), Side::kTarget, "pgcst");
  target.Execute("CREATE TABLE public.items (id int PRIMARY KEY, name text, amount numeric(10,2))");
  CreateSlotAndPublication("ddl", "public.items");
  PostgresChangeStreamOptions options = Options();
  options.target = Config(target.Uri());
  OpenStream(Lsn{}, options);
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 1);
  ASSERT_EQ(events.size(), 3u) << KindNames(events);

  database_->Execute(
      "ALTER TABLE public.items ADD COLUMN extra int;"
      "INSERT INTO public.items VALUES (2, 'two', 2, 7)");
  engine::Status failure;
  const auto deadline = Clock::now() + kWaitLimit;
  while (failure.ok() && Clock::now() < deadline) {
    Result<std::optional<ChangeEvent>> next = stream_->Next(kPoll);
    if (!next.ok()) {
      failure = next.status();
    } else if (next->has_value()) {
      // Nothing of the new shape may come out (a kBegin may not either: it opens a transaction
      // the stream cannot deliver).
      EXPECT_TRUE((*next)->kind == ChangeKind::kHeartbeat) << ChangeKindName((*next)->kind);
    }
  }
  EXPECT_EQ(failure.code(), StatusCode::kFailedPrecondition) << failure.ToString();
  EXPECT_TRUE(Contains(failure.message(), "public.items")) << failure.message();
  EXPECT_TRUE(Contains(failure.message(), "extra")) << failure.message();
  EXPECT_TRUE(Contains(failure.message(), "ALTER TABLE")) << failure.message();

  // Once the target has the column, a reopened stream goes on from the last commit.
  target.Execute("ALTER TABLE public.items ADD COLUMN extra int");
  OpenStream(LsnOf(events[2].position), options);
  std::vector<ChangeEvent> resumed = ReadCommits(*stream_, 1);
  ASSERT_EQ(resumed.size(), 3u) << KindNames(resumed);
  EXPECT_EQ(resumed[1].after, (engine::Row{Value::Int(2), Value::Text("two"),
                                           Value::Decimal("2.00"), Value::Int(7)}));
  stream_.reset();
}

TEST_F(PostgresChangeStreamTest, DroppedColumnWithoutATargetFailsNamingIt) {
  CreateSlotAndPublication("drop", "public.items");
  OpenStream();
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  ASSERT_EQ(ReadCommits(*stream_, 1).size(), 3u);
  database_->Execute("ALTER TABLE public.items DROP COLUMN amount");
  database_->Execute("INSERT INTO public.items VALUES (2, 'two')");
  engine::Status failure;
  const auto deadline = Clock::now() + kWaitLimit;
  while (failure.ok() && Clock::now() < deadline) {
    Result<std::optional<ChangeEvent>> next = stream_->Next(kPoll);
    if (!next.ok()) {
      failure = next.status();
    } else if (next->has_value()) {
      EXPECT_EQ((*next)->kind, ChangeKind::kHeartbeat) << ChangeKindName((*next)->kind);
    }
  }
  EXPECT_EQ(failure.code(), StatusCode::kFailedPrecondition) << failure.ToString();
  EXPECT_TRUE(Contains(failure.message(), "amount dropped")) << failure.message();
}

TEST_F(PostgresChangeStreamTest, ReopeningFromALaterPositionDoesNotRedeliver) {
  CreateSlotAndPublication("reopen", "public.items");
  OpenStream();
  database_->Execute("INSERT INTO public.items VALUES (1, 'one', 1)");
  database_->Execute("INSERT INTO public.items VALUES (2, 'two', 2)");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 2);
  ASSERT_EQ(events.size(), 6u) << KindNames(events);

  OpenStream(LsnOf(events[2].position), Options());
  EXPECT_EQ(stream_->position(), events[2].position);
  database_->Execute("INSERT INTO public.items VALUES (3, 'three', 3)");
  std::vector<ChangeEvent> resumed = ReadCommits(*stream_, 2);
  ASSERT_EQ(resumed.size(), 6u) << KindNames(resumed);
  EXPECT_EQ(resumed[1].after[0], Value::Int(2));
  EXPECT_EQ(resumed[4].after[0], Value::Int(3));
  EXPECT_EQ(resumed[2].position, events[5].position);
}

TEST_F(PostgresChangeStreamTest, TransactionLargerThanDecodingMemoryArrivesComplete) {
  // The walsender decodes with its database's settings: spill past 64 kB.
  database_->Execute("ALTER DATABASE " + database_->name() +
                     " SET logical_decoding_work_mem = "
                     "'64kB'");
  CreateSlotAndPublication("large", "public.items");
  OpenStream();
  constexpr int kRows = 20000;
  database_->Execute(
      "SET logical_decoding_work_mem = '64kB';"
      "INSERT INTO public.items SELECT i, repeat('x', 100) || i, i "
      "FROM generate_series(1, " +
      std::to_string(kRows) + ") i");
  std::vector<ChangeEvent> events = ReadCommits(*stream_, 1);
  ASSERT_EQ(events.size(), static_cast<size_t>(kRows) + 2);
  EXPECT_EQ(events.front().kind, ChangeKind::kBegin);
  EXPECT_EQ(events.back().kind, ChangeKind::kCommit);
  for (int i = 0; i < kRows; ++i) {
    const ChangeEvent& event = events[i + 1];
    ASSERT_EQ(event.kind, ChangeKind::kInsert) << i;
    ASSERT_EQ(event.after[0], Value::Int(i + 1)) << i;
  }
  // Statistics reach the view with a delay: wait for them a little, but only note their absence
  // (the completeness above is what this test asserts).
  bool spilled = false;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!spilled && Clock::now() < deadline) {
    ASSERT_TRUE(stream_->Next(kPoll).ok());
    testing::ResultRows rows = database_->Query(
        "SELECT spill_bytes FROM pg_stat_replication_slots WHERE slot_name = '" + slot_ + "'");
    spilled = !rows.empty() && rows[0][0].has_value() && *rows[0][0] != "0";
  }
  if (!spilled) {
    std::cout << "note: pg_stat_replication_slots shows no spill for " << slot_ << " yet\n";
  }
}

TEST_F(PostgresChangeStreamTest, MissingSlotIsAFailedPreconditionNamingIt) {
  database_->Execute("CREATE PUBLICATION pgcs_nopub_" + std::to_string(getpid()) +
                     " FOR TABLE public.items");
  publication_ = "pgcs_nopub_" + std::to_string(getpid());
  PostgresChangeStreamOptions options;
  options.slot = UniqueSlot("absent");
  options.publication = publication_;
  Result<std::unique_ptr<ChangeStream>> opened = OpenPostgresChangeStream(config_, Lsn{}, options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition) << opened.status().ToString();
  EXPECT_TRUE(Contains(opened.status().message(), options.slot)) << opened.status().message();
  EXPECT_FALSE(Contains(opened.status().message(), "tandem-secret"));
}

TEST_F(PostgresChangeStreamTest, ActiveSlotIsRetryableAndNamesTheHolder) {
  CreateSlotAndPublication("busy", "public.items");
  OpenStream();
  Result<std::unique_ptr<ChangeStream>> second =
      OpenPostgresChangeStream(config_, Lsn{}, Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
  EXPECT_TRUE(second.status().retryable());
  EXPECT_TRUE(Contains(second.status().message(), "PID")) << second.status().message();
}

TEST_F(PostgresChangeStreamTest, TableWithoutKeyIsUnsupported) {
  database_->Execute("CREATE TABLE public.loose (a int, b text)");
  CreateSlotAndPublication("nokey", "public.loose");
  OpenStream();
  database_->Execute("INSERT INTO public.loose VALUES (1, 'x')");
  engine::Status failure;
  const auto deadline = Clock::now() + kWaitLimit;
  while (failure.ok() && Clock::now() < deadline) {
    Result<std::optional<ChangeEvent>> next = stream_->Next(kPoll);
    if (!next.ok()) {
      failure = next.status();
    } else if (next->has_value()) {
      EXPECT_EQ((*next)->kind, ChangeKind::kHeartbeat) << ChangeKindName((*next)->kind);
    }
  }
  EXPECT_EQ(failure.code(), StatusCode::kUnsupported) << failure.ToString();
  EXPECT_TRUE(Contains(failure.message(), "public.loose")) << failure.message();
  EXPECT_TRUE(Contains(failure.message(), "PRIMARY KEY")) << failure.message();
}

TEST_F(PostgresChangeStreamTest, ReplicationConnectionRunsCommandsAndRefusesThemWhileStreaming) {
  Result<std::unique_ptr<PostgresReplicationConnection>> connection =
      PostgresReplicationConnection::Connect(config_);
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  Result<connectors::postgres::PgResult> system =
      (*connection)->Command("identifying the system", "IDENTIFY_SYSTEM");
  ASSERT_TRUE(system.ok()) << system.status().ToString();
  ASSERT_EQ(system->rows(), 1);
  EXPECT_TRUE(engine::ParseLsn(system->String(0, 2)).ok()) << system->String(0, 2);
  Result<connectors::postgres::PgResult> sql = (*connection)->Command("selecting", "SELECT 42");
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_EQ(sql->String(0, 0), "42");
  Result<connectors::postgres::PgResult> bad = (*connection)->Command("failing", "SELEC 1");
  EXPECT_FALSE(bad.ok());

  CreateSlotAndPublication("conn", "public.items");
  ASSERT_TRUE((*connection)
                  ->StartLogicalReplication(
                      slot_, Lsn{},
                      {{"proto_version", "1"}, {"publication_names", "\"" + publication_ + "\""}})
                  .ok());
  EXPECT_TRUE((*connection)->streaming());
  EXPECT_EQ((*connection)->Command("too late", "SELECT 1").status().code(),
            StatusCode::kFailedPrecondition);
  // The server answers a status update that asks for a reply with a keepalive ('k').
  namespace pg = connectors::postgres::pgoutput;
  ASSERT_TRUE(
      (*connection)
          ->SendCopyData(pg::EncodeStandbyStatusUpdate(0, 0, 0, pg::PostgresEpochMicrosNow(),
                                                       /*reply_requested=*/true))
          .ok());
  bool keepalive = false;
  const auto deadline = Clock::now() + kWaitLimit;
  while (!keepalive && Clock::now() < deadline) {
    Result<std::optional<std::string>> data = (*connection)->ReadCopyData(kPoll);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    keepalive = data->has_value() && !(*data)->empty() && (**data)[0] == 'k';
  }
  EXPECT_TRUE(keepalive);
}

}  // namespace
}  // namespace tandem::postgres_test
