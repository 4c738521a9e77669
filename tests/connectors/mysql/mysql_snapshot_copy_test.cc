// The consistent snapshot and the resumable initial copy, from private MariaDB sources (so the
// global read lock and the binary log belong to the test) into the shared target:
//   - under a concurrent writer, the rows copied are exactly the transactions at or before the
//     snapshot's GTID position, and its file:offset names the same point;
//   - the global read lock is held well under a second;
//   - a copy stopped part-way resumes without recopying finished chunks and ends equal to the
//     source, with the stream checkpoint at the first snapshot's position;
//   - bad input: missing or keyless source tables, users without privileges on either side.

#include "connectors/mysql/mysql_snapshot_copy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "connectors/mysql/mysql_change_applier.h"
#include "connectors/mysql/mysql_change_stream.h"
#include "connectors/mysql/mysql_snapshot.h"
#include "tests/connectors/mysql/mysql_test_util.h"

namespace tandem::connectors::mysql {
namespace {

using engine::KeyRange;
using engine::Row;
using engine::StatusCode;
using engine::TableId;
using testing::MariaDbServer;
using testing::Side;

// The sequence number of domain 0 in a MariaDB GTID position ("0-5-123,1-2-7" -> 123); -1 when
// the domain is absent.
int64_t DomainZeroSequence(const std::string& gtid_set) {
  size_t start = 0;
  while (start <= gtid_set.size()) {
    size_t end = gtid_set.find(',', start);
    if (end == std::string::npos) end = gtid_set.size();
    const std::string one = gtid_set.substr(start, end - start);
    if (one.starts_with("0-")) {
      return std::stoll(one.substr(one.rfind('-') + 1));
    }
    start = end + 1;
  }
  return -1;
}

class MySqlSnapshotCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = testing::SharedServers::GetOrNull();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS; run through ctest)";
    }
    dir_ = std::make_unique<testing::TempDir>("tandem-snapshot");
    source_ = MariaDbServer::Start(dir_->path());
    db_ = testing::UniqueName("snap");
    stream_ = testing::UniqueName("copy");
  }

  void TearDown() override {
    if (servers_ == nullptr) {
      return;
    }
    servers_->ExecuteMySql(Side::kTarget, "DROP DATABASE IF EXISTS `" + db_ + "`");
    // Tests that fail before the target is touched leave no `_tandem` tables behind.
    for (const char* table : {"checkpoint", "copy_chunk", "copy"}) {
      if (!servers_
               ->QueryMySql(Side::kTarget,
                            std::string("SELECT 1 FROM information_schema.TABLES WHERE "
                                        "TABLE_SCHEMA = '_tandem' AND TABLE_NAME = '") +
                                table + "'")
               .empty()) {
        servers_->ExecuteMySql(Side::kTarget, std::string("DELETE FROM _tandem.") + table +
                                                  " WHERE stream = '" + stream_ + "'");
      }
    }
  }

  engine::ConnectionConfig SourceConfig() { return ConfigFor(source_->Uri(db_)); }
  engine::ConnectionConfig TargetConfig() { return ConfigFor(servers_->mysql_target_uri()); }

  SnapshotCopyOptions Options(size_t threads) {
    SnapshotCopyOptions options;
    options.stream = stream_;
    options.threads = threads;
    return options;
  }

  const testing::SharedServers* servers_ = nullptr;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<MariaDbServer> source_;
  std::string db_;
  std::string stream_;
};

// A writer commits transactions that insert row k and set the counter to k, and records each
// one's GTID. After the copy the target must hold exactly the transactions at or before the
// snapshot position: the rest are what the stream delivers from that position.
class SnapshotUnderWrites : public MySqlSnapshotCopyTest,
                            public ::testing::WithParamInterface<size_t> {};

TEST_P(SnapshotUnderWrites, CopiedRowsAreExactlyTheTransactionsBeforeThePosition) {
  const size_t threads = GetParam();
  source_->Execute("CREATE DATABASE `" + db_ + "`; CREATE TABLE `" + db_ +
                   "`.t (id INT PRIMARY KEY, payload VARCHAR(20)) ENGINE=InnoDB; CREATE TABLE `" +
                   db_ +
                   "`.counter (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB; INSERT INTO `" +
                   db_ + "`.counter VALUES (0, 0)");
  std::mutex mu;
  std::map<int, int64_t> sequence_of;  // k -> GTID sequence number of its transaction
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    testing::MySqlClient client = source_->ConnectAdmin();
    for (int k = 1; !stop.load(); ++k) {
      client.Execute("BEGIN; INSERT INTO `" + db_ + "`.t VALUES (" + std::to_string(k) +
                     ", 'x'); UPDATE `" + db_ + "`.counter SET n = " + std::to_string(k) +
                     " WHERE id = 0; COMMIT");
      const std::string gtid = client.QueryScalar("SELECT @@last_gtid").value_or("");
      {
        std::lock_guard<std::mutex> lock(mu);
        sequence_of[k] = DomainZeroSequence(gtid);
      }
      committed = k;
    }
  });
  struct StopWriter {
    std::atomic<bool>& stop;
    std::thread& writer;
    ~StopWriter() {
      stop = true;
      writer.join();
    }
  } stop_writer{stop, writer};
  ASSERT_TRUE(
      testing::PollUntil(std::chrono::seconds(30), [&] { return committed.load() >= 100; }));

  SnapshotCopyOptions options = Options(threads);
  options.chunk_rows = 25;  // several chunks per table, copied while the writer goes on
  options.batch_rows = 10;
  auto copied =
      CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "t"}, {db_, "counter"}}, options);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  const int after_copy = committed.load();
  ASSERT_TRUE(testing::PollUntil(std::chrono::seconds(30),
                                 [&] { return committed.load() >= after_copy + 20; }));
  stop = true;

  const engine::BinlogPosition& position = copied->start_position;
  const int64_t snapshot_sequence = DomainZeroSequence(position.gtid_set);
  ASSERT_GT(snapshot_sequence, 0) << position.gtid_set;
  // The file:offset names the same point as the GTID position.
  EXPECT_EQ(source_->QueryScalar("SELECT BINLOG_GTID_POS('" + position.file + "', " +
                                 std::to_string(position.offset) + ")"),
            std::optional<std::string>(position.gtid_set));

  std::set<int> expected;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [k, sequence] : sequence_of) {
      if (sequence <= snapshot_sequence) {
        expected.insert(k);
      }
    }
  }
  ASSERT_FALSE(expected.empty());
  std::set<int> rows;
  for (const auto& row : servers_->QueryMySql(Side::kTarget, "SELECT id FROM `" + db_ + "`.t")) {
    rows.insert(std::stoi(row.at(0).value_or("0")));
  }
  EXPECT_EQ(rows, expected);
  EXPECT_EQ(servers_->QueryMySql(Side::kTarget, "SELECT n FROM `" + db_ + "`.counter").at(0).at(0),
            std::optional<std::string>(std::to_string(*expected.rbegin())));
  EXPECT_LT(*expected.rbegin(), committed.load());  // the writer went on past the snapshot

  if (threads > 1) {
    EXPECT_GT(copied->global_lock_held.count(), 0);
    EXPECT_LT(copied->global_lock_held, std::chrono::milliseconds(1000));
  } else {
    EXPECT_EQ(copied->global_lock_held.count(), 0);  // MariaDB needs no lock for one connection
  }
  std::cout << "[ measured ] threads=" << threads
            << " global read lock held: " << copied->global_lock_held.count() << " us\n";

  // The stream's checkpoint is the snapshot position.
  auto applier = MySqlChangeApplier::Open(TargetConfig());
  ASSERT_TRUE(applier.ok()) << applier.status().ToString();
  auto checkpoint = (*applier)->ReadCheckpoint(stream_);
  ASSERT_TRUE(checkpoint.ok() && checkpoint->has_value());
  EXPECT_EQ((*checkpoint)->position, engine::Position(position));
}

INSTANTIATE_TEST_SUITE_P(Connections, SnapshotUnderWrites, ::testing::Values(1, 4));

TEST_F(MySqlSnapshotCopyTest, StoppedCopyResumesWithoutRecopyingFinishedChunks) {
  testing::LoadMySqlSampleData(source_->Uri(), {.rows = 1000, .database = db_});
  const std::vector<TableId> tables = {
      {db_, "all_types"}, {db_, "order_lines"}, {db_, "customers"}};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> first_run_rows{0};
  SnapshotCopyOptions options = Options(2);
  options.chunk_rows = 100;
  options.batch_rows = 40;
  options.stop = &stop;
  options.on_batch = [&](int64_t rows) {
    if ((first_run_rows += rows) >= 900) {
      stop = true;
    }
  };
  auto stopped = CopySnapshot(SourceConfig(), TargetConfig(), tables, options);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), StatusCode::kCancelled) << stopped.status().ToString();
  const auto done_chunks = servers_->QueryMySql(
      Side::kTarget,
      "SELECT COUNT(*) FROM _tandem.copy_chunk WHERE stream = '" + stream_ + "' AND done = 1");
  EXPECT_GT(std::stoi(done_chunks.at(0).at(0).value_or("0")), 0);
  const std::optional<std::string> first_position =
      servers_
          ->QueryMySql(Side::kTarget,
                       "SELECT position FROM _tandem.copy WHERE stream = '" + stream_ + "'")
          .at(0)
          .at(0);
  ASSERT_TRUE(first_position.has_value());

  // A later write on the source does not matter to this check: the second run copies only what
  // the first did not commit, from a new snapshot.
  options.stop = nullptr;
  options.on_batch = nullptr;
  auto resumed = CopySnapshot(SourceConfig(), TargetConfig(), tables, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_GT(resumed->chunks_skipped, 0);
  EXPECT_EQ(resumed->rows_copied + first_run_rows.load(), 3000);

  auto source = OpenOrThrow(source_->Uri(db_));
  auto target = OpenOrThrow(servers_->mysql_target_uri(db_));
  for (const TableId& id : tables) {
    auto schema = source->DescribeTable(id);
    ASSERT_TRUE(schema.ok());
    EXPECT_EQ(ReadAll(*target, *schema, KeyRange::All()),
              ReadAll(*source, *schema, KeyRange::All()))
        << id.ToString();
  }
  // The checkpoint is the first snapshot's position, and the progress rows are gone.
  auto applier = MySqlChangeApplier::Open(TargetConfig());
  ASSERT_TRUE(applier.ok());
  auto checkpoint = (*applier)->ReadCheckpoint(stream_);
  ASSERT_TRUE(checkpoint.ok() && checkpoint->has_value());
  EXPECT_EQ(engine::Serialize((*checkpoint)->position), *first_position);
  EXPECT_EQ(servers_
                ->QueryMySql(Side::kTarget,
                             "SELECT COUNT(*) FROM _tandem.copy_chunk WHERE "
                             "stream = '" +
                                 stream_ + "'")
                .at(0)
                .at(0),
            std::optional<std::string>("0"));
  // Once complete, a new run does nothing.
  auto again = CopySnapshot(SourceConfig(), TargetConfig(), tables, options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_complete);
  EXPECT_EQ(engine::Serialize(again->start_position), *first_position);
}

// The whole initial-copy contract under writes: a copy stopped part-way and resumed from a second
// snapshot, followed by the binlog stream from the stored position (the first snapshot's) applied
// through MySqlChangeApplier, ends exactly equal to the source, although the two snapshots differ.
TEST_F(MySqlSnapshotCopyTest, ResumedCopyPlusStreamFromItsPositionEqualsTheSource) {
  source_->Execute("CREATE DATABASE `" + db_ + "`; CREATE TABLE `" + db_ +
                   "`.t (id INT PRIMARY KEY, u VARCHAR(20) NOT NULL UNIQUE, v INT NOT NULL,"
                   " note TEXT) ENGINE=InnoDB; INSERT INTO `" +
                   db_ + "`.t SELECT seq, CONCAT('u', seq), 0, REPEAT('n', seq % 50) FROM `" + db_ +
                   "`.seq_1_to_3000");
  std::atomic<bool> stop_writer{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    testing::MySqlClient client = source_->ConnectAdmin();
    uint64_t random = 12345;
    auto next = [&](int bound) {
      random = random * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<int>((random >> 33) % static_cast<uint64_t>(bound)) + 1;
    };
    const std::string t = "`" + db_ + "`.t";
    for (int i = 3001; !stop_writer.load(); ++i) {
      const std::string id = std::to_string(next(3000));
      switch (i % 5) {
        case 0:
          client.Execute("UPDATE " + t + " SET v = v + 1 WHERE id = " + id);
          break;
        case 1:
          client.Execute("DELETE FROM " + t + " WHERE id = " + id);
          break;
        case 2:
          client.Execute("INSERT INTO " + t + " VALUES (" + std::to_string(i) + ", 'u" +
                         std::to_string(i) + "', 0, 'new')");
          break;
        case 3:  // primary key change
          client.Execute("UPDATE IGNORE " + t + " SET id = id + 1000000 WHERE id = " + id);
          break;
        default:  // a transaction of several changes, one a unique-value change
          client.Execute(
              "BEGIN; UPDATE " + t + " SET note = 'txn' WHERE id = " + id + "; UPDATE IGNORE " + t +
              " SET u = CONCAT(u, 'x') WHERE id = " + std::to_string(next(3000)) + "; COMMIT");
          break;
      }
      ++writes;
    }
  });
  struct StopWriter {
    std::atomic<bool>& stop;
    std::thread& writer;
    ~StopWriter() {
      stop = true;
      if (writer.joinable()) writer.join();
    }
  } stop_guard{stop_writer, writer};
  ASSERT_TRUE(testing::PollUntil(std::chrono::seconds(30), [&] { return writes.load() >= 50; }));

  std::atomic<bool> stop_copy{false};
  std::atomic<int64_t> copied_rows{0};
  SnapshotCopyOptions options = Options(2);
  options.chunk_rows = 300;
  options.batch_rows = 50;
  options.stop = &stop_copy;
  options.on_batch = [&](int64_t rows) {
    if ((copied_rows += rows) >= 1000) stop_copy = true;
  };
  auto stopped = CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "t"}}, options);
  ASSERT_EQ(stopped.status().code(), StatusCode::kCancelled) << stopped.status().ToString();
  const int writes_between = writes.load();
  ASSERT_TRUE(testing::PollUntil(std::chrono::seconds(30),
                                 [&] { return writes.load() >= writes_between + 50; }));
  options.stop = nullptr;
  options.on_batch = nullptr;
  auto copied = CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "t"}}, options);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  const int writes_after = writes.load();
  ASSERT_TRUE(testing::PollUntil(std::chrono::seconds(30),
                                 [&] { return writes.load() >= writes_after + 50; }));
  stop_writer = true;
  writer.join();
  const int64_t final_sequence =
      DomainZeroSequence(source_->QueryScalar("SELECT @@GLOBAL.gtid_binlog_pos").value_or(""));

  // Stream from the checkpoint and apply, transaction by transaction, until the source's end.
  auto applier = MySqlChangeApplier::Open(TargetConfig());
  ASSERT_TRUE(applier.ok()) << applier.status().ToString();
  auto checkpoint = (*applier)->ReadCheckpoint(stream_);
  ASSERT_TRUE(checkpoint.ok() && checkpoint->has_value());
  auto stream = OpenMySqlChangeStream(SourceConfig(),
                                      std::get<engine::BinlogPosition>((*checkpoint)->position),
                                      {.tables = {{db_, "t"}}});
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  std::vector<engine::ChangeEvent> transaction;
  int64_t applied = 0;
  int64_t reached = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (reached < final_sequence && std::chrono::steady_clock::now() < deadline) {
    auto event = (*stream)->Next(std::chrono::milliseconds(200));
    ASSERT_TRUE(event.ok()) << event.status().ToString();
    if (!event->has_value()) continue;
    engine::ChangeEvent& change = **event;
    if (change.IsRowChange()) {
      transaction.push_back(std::move(change));
    } else if (change.kind == engine::ChangeKind::kCommit) {
      applied += static_cast<int64_t>(transaction.size());
      ASSERT_TRUE((*applier)->Begin().ok());
      const engine::Status status = (*applier)->Apply(transaction);
      ASSERT_TRUE(status.ok()) << status.ToString();
      const engine::Status committed =
          (*applier)->Commit({stream_, change.position, change.transaction_sequence, applied});
      ASSERT_TRUE(committed.ok()) << committed.ToString();
      transaction.clear();
    }
    if (change.kind == engine::ChangeKind::kCommit ||
        change.kind == engine::ChangeKind::kHeartbeat) {
      if (const auto* at = std::get_if<engine::BinlogPosition>(&change.position)) {
        reached = std::max(reached, DomainZeroSequence(at->gtid_set));
      }
    }
  }
  ASSERT_GE(reached, final_sequence) << "the stream did not reach the source's end in time";
  EXPECT_GT(applied, 0);

  auto source = OpenOrThrow(source_->Uri(db_));
  auto target = OpenOrThrow(servers_->mysql_target_uri(db_));
  auto schema = source->DescribeTable({db_, "t"});
  ASSERT_TRUE(schema.ok());
  const std::vector<Row> expected = ReadAll(*source, *schema, KeyRange::All());
  EXPECT_EQ(ReadAll(*target, *schema, KeyRange::All()), expected);
  EXPECT_GT(expected.size(), 2000u);
}

TEST_F(MySqlSnapshotCopyTest, CopyThroughput) {
  source_->Execute("CREATE DATABASE `" + db_ + "`; CREATE TABLE `" + db_ +
                   "`.bulk (id BIGINT PRIMARY KEY, a INT, b VARCHAR(64), c DATETIME(6),"
                   " d DECIMAL(12,2)) ENGINE=InnoDB; INSERT INTO `" +
                   db_ +
                   "`.bulk SELECT seq, seq * 7, CONCAT('row-', seq, '-', REPEAT('x', seq % 40)),"
                   " '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq / 100 FROM `" +
                   db_ + "`.seq_1_to_200000");
  SnapshotCopyOptions options = Options(4);
  options.chunk_rows = 20000;
  auto copied = CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "bulk"}}, options);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->rows_copied, 200000);
  EXPECT_EQ(servers_->QueryMySql(Side::kTarget,
                                 "SELECT COUNT(*), SUM(a), SUM(LENGTH(b)) FROM `" + db_ + "`.bulk"),
            source_->Query("SELECT COUNT(*), SUM(a), SUM(LENGTH(b)) FROM `" + db_ + "`.bulk"));
  std::cout << "[ measured ] copied 200000 rows with 4 threads in " << copied->elapsed.count()
            << " s = " << static_cast<int64_t>(200000 / copied->elapsed.count())
            << " rows/s; global read lock held " << copied->global_lock_held.count() << " us\n";
}

TEST_F(MySqlSnapshotCopyTest, MissingAndKeylessSourceTablesAreRefused) {
  testing::LoadMySqlSampleData(source_->Uri(), {.rows = 10, .database = db_});
  auto missing = CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "no_such_table"}}, Options(2));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("no_such_table"), std::string::npos);

  auto keyless = CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "events_log"}}, Options(2));
  ASSERT_FALSE(keyless.ok());
  EXPECT_EQ(keyless.status().code(), StatusCode::kUnsupported) << keyless.status().ToString();
  EXPECT_NE(keyless.status().message().find("primary key"), std::string::npos);

  source_->Execute("CREATE TABLE `" + db_ + "`.old_engine (id INT PRIMARY KEY) ENGINE=MyISAM");
  auto myisam = CopySnapshot(SourceConfig(), TargetConfig(), {{db_, "old_engine"}}, Options(2));
  ASSERT_FALSE(myisam.ok());
  EXPECT_EQ(myisam.status().code(), StatusCode::kUnsupported) << myisam.status().ToString();
}

TEST_F(MySqlSnapshotCopyTest, SourceUserWithoutReloadIsToldTheGrant) {
  testing::LoadMySqlSampleData(source_->Uri(), {.rows = 10, .database = db_});
  source_->Execute(
      "CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-pw';"
      " GRANT SELECT, BINLOG MONITOR ON *.* TO 'limited'@'%'");
  engine::ConnectionConfig config = SourceConfig();
  config.user = "limited";
  config.password = "limited-pw";
  auto refused = MySqlSnapshot::Open(config, {.connections = 2});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("GRANT RELOAD ON *.*"), std::string::npos)
      << refused.status().message();
  // One MariaDB connection needs no global lock, so no RELOAD.
  auto single = MySqlSnapshot::Open(config, {.connections = 1});
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_FALSE((*single)->used_global_lock());
  EXPECT_FALSE((*single)->position().file.empty());
}

// A long-running write statement makes FLUSH TABLES WITH READ LOCK wait (and every other writer
// queue behind the waiting lock): the wait is bounded by lock_wait_timeout and reported as
// kTimeout. (A long SELECT does not hold the lock up on MariaDB 10.5+.)
TEST_F(MySqlSnapshotCopyTest, LongRunningStatementMakesTheSnapshotTimeOutNotStall) {
  source_->Execute("CREATE DATABASE `" + db_ + "`; CREATE TABLE `" + db_ +
                   "`.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO `" + db_ +
                   "`.t VALUES (1)");
  std::atomic<bool> started{false};
  std::thread long_query([&] {
    testing::MySqlClient client = source_->ConnectAdmin();
    started = true;
    client.Execute("UPDATE `" + db_ + "`.t SET id = id + 0 WHERE SLEEP(6) = 0");
  });
  ASSERT_TRUE(testing::PollUntil(std::chrono::seconds(10), [&] {
    return started.load() && source_->QueryScalar(
                                 "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO "
                                 "LIKE 'UPDATE %SLEEP(6)%'") == std::optional<std::string>("1");
  }));
  const auto start = std::chrono::steady_clock::now();
  auto snapshot = MySqlSnapshot::Open(
      SourceConfig(), {.connections = 2, .lock_wait_timeout = std::chrono::seconds(1)});
  const auto waited = std::chrono::steady_clock::now() - start;
  long_query.join();
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), StatusCode::kTimeout) << snapshot.status().ToString();
  EXPECT_LT(waited, std::chrono::seconds(4));
}

TEST_F(MySqlSnapshotCopyTest, TargetUserWithoutPrivilegesIsRefused) {
  testing::LoadMySqlSampleData(source_->Uri(), {.rows = 10, .database = db_});
  const std::string user = testing::UniqueName("ro");
  servers_->ExecuteMySql(Side::kTarget, "CREATE USER '" + user +
                                            "'@'%' IDENTIFIED BY 'ro-pw'; GRANT SELECT ON "
                                            "*.* TO '" +
                                            user + "'@'%'");
  struct DropUser {
    const testing::SharedServers& servers;
    std::string user;
    ~DropUser() { servers.ExecuteMySql(Side::kTarget, "DROP USER IF EXISTS '" + user + "'@'%'"); }
  } drop_user{*servers_, user};
  engine::ConnectionConfig target = TargetConfig();
  target.user = user;
  target.password = "ro-pw";
  auto refused = CopySnapshot(SourceConfig(), target, {{db_, "customers"}}, Options(2));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
}

}  // namespace
}  // namespace tandem::connectors::mysql
