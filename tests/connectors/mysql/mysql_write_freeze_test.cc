// The MySQL connector's write freeze (connectors/mysql/mysql_write_freeze.h) against a private
// MariaDB server (never the shared fixtures: read_only is server-wide), with an ordinary account
// writing through it; and its pure helpers.

#include "connectors/mysql/mysql_write_freeze.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "tests/connectors/mysql/mysql_test_util.h"
#include "tests/harness/files.h"
#include "tests/harness/mariadb_server.h"
#include "tests/harness/mysql_client.h"
#include "tests/harness/wait.h"

namespace tandem::connectors::mysql {
namespace {

using engine::BinlogPosition;
using engine::FreezeOptions;
using engine::Position;
using engine::StatusCode;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::MariaDbServer;
using testing::MySqlClient;

// ---- pure helpers ----

TEST(MySqlWriteFreezeHelpers, LockWaitSecondsRoundsUpToAtLeastOne) {
  EXPECT_EQ(LockWaitSeconds(milliseconds(0)), 1);
  EXPECT_EQ(LockWaitSeconds(milliseconds(-5)), 1);
  EXPECT_EQ(LockWaitSeconds(milliseconds(1)), 1);
  EXPECT_EQ(LockWaitSeconds(milliseconds(1000)), 1);
  EXPECT_EQ(LockWaitSeconds(milliseconds(1001)), 2);
  EXPECT_EQ(LockWaitSeconds(milliseconds(2500)), 3);
}

TEST(MySqlWriteFreezeHelpers, ReplicationAndSystemThreadsAreProtected) {
  EXPECT_TRUE(IsProtectedThread("tandem", "Binlog Dump"));
  EXPECT_TRUE(IsProtectedThread("tandem", "Binlog Dump GTID"));
  EXPECT_TRUE(IsProtectedThread("system user", "Slave_SQL"));
  EXPECT_TRUE(IsProtectedThread("root", "Slave_worker"));
  EXPECT_TRUE(IsProtectedThread("event_scheduler", "Daemon"));
  EXPECT_TRUE(IsProtectedThread("", "Sleep"));
  EXPECT_FALSE(IsProtectedThread("app", "Sleep"));
  EXPECT_FALSE(IsProtectedThread("app", "Query"));
}

TEST(MySqlWriteFreezeHelpers, MissingPrivilegesPerServer) {
  const GrantSet none = GrantSet::Parse({"GRANT USAGE ON *.* TO `app`@`%`"});
  EXPECT_EQ(MissingFreezePrivileges(none, true, 101106),
            (std::vector<std::string>{"READ ONLY ADMIN", "CONNECTION ADMIN", "PROCESS"}));
  EXPECT_EQ(MissingFreezePrivileges(none, false, 80036),
            (std::vector<std::string>{"SYSTEM_VARIABLES_ADMIN", "CONNECTION_ADMIN", "PROCESS"}));
  EXPECT_EQ(MissingFreezePrivileges(none, true, 100406),
            (std::vector<std::string>{"SUPER", "PROCESS"}));

  const GrantSet all = GrantSet::Parse({"GRANT ALL PRIVILEGES ON *.* TO `tandem`@`%`"});
  EXPECT_TRUE(MissingFreezePrivileges(all, true, 101106).empty());
  EXPECT_TRUE(MissingFreezePrivileges(all, false, 80036).empty());

  const GrantSet super = GrantSet::Parse({"GRANT SUPER, PROCESS ON *.* TO `old`@`%`"});
  EXPECT_TRUE(MissingFreezePrivileges(super, true, 100611).empty());
  // MariaDB 10.11 no longer lets SUPER set read_only.
  EXPECT_EQ(MissingFreezePrivileges(super, true, 101106),
            (std::vector<std::string>{"READ ONLY ADMIN"}));

  const GrantSet exact =
      GrantSet::Parse({"GRANT PROCESS, CONNECTION ADMIN, READ_ONLY ADMIN ON *.* TO `ops`@`%`"});
  EXPECT_TRUE(MissingFreezePrivileges(exact, true, 101106).empty());
}

TEST(MySqlWriteFreezeHelpers, BinlogPositionFromShowMasterStatus) {
  auto position = BinlogPositionFrom("mariadb-bin.000003", "1234", "0-1-42");
  ASSERT_TRUE(position.ok()) << position.status().ToString();
  EXPECT_EQ(*position, (BinlogPosition{"mariadb-bin.000003", 1234, "0-1-42"}));
  EXPECT_EQ(engine::Serialize(*position), "mysql:mariadb-bin.000003:1234;gtid=0-1-42");

  auto mysql = BinlogPositionFrom("binlog.000001", "157", "3E11FA47-71CA:1-5,\nAB12:1-3");
  ASSERT_TRUE(mysql.ok());
  EXPECT_EQ(mysql->gtid_set, "3E11FA47-71CA:1-5,AB12:1-3");

  EXPECT_EQ(BinlogPositionFrom("bin.000001", "12x", "").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(BinlogPositionFrom("", "4", "").status().code(), StatusCode::kCorruption);
}

// ---- against a private MariaDB server ----

constexpr char kAppPassword[] = "app-pass-1";

bool IsReadOnlyError(const std::exception& error) {
  return std::string(error.what()).find("read-only") != std::string::npos ||
         std::string(error.what()).find("read_only") != std::string::npos;
}

class MySqlWriteFreezeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("tandem-mysql-freeze");
    server_ = MariaDbServer::Start(dir_->path()).release();
    server_->Execute(
        "CREATE DATABASE app;"
        "CREATE TABLE app.items (id BIGINT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64));"
        "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pass-1';"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON app.items TO 'app'@'%';"
        "CREATE USER 'weak'@'%' IDENTIFIED BY 'weak-pass-1';"
        "GRANT SELECT, INSERT ON app.* TO 'weak'@'%';"
        "CREATE USER 'half'@'%' IDENTIFIED BY 'half-pass-1';"
        "GRANT READ ONLY ADMIN ON *.* TO 'half'@'%'");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    database_ = OpenOrThrow(server_->Uri("app"));
    freeze_ = database_->write_freeze();
    ASSERT_NE(freeze_, nullptr);
    server_->Execute("SET GLOBAL read_only = OFF; DELETE FROM app.items");
  }
  void TearDown() override {
    // CI once saw this suite's server go away in the middle of Freeze's PROCESSLIST/INNODB_TRX
    // listing: on a failure, show what the server logged.
    if (HasFailure()) {
      std::cerr << "server log tail:\n"
                << tandem::testing::ReadFileTail(server_->log_path()) << "\n";
    }
    server_->Execute("SET GLOBAL read_only = OFF");
  }

  static std::string AppUri() {
    return "mysql://app:" + std::string(kAppPassword) +
           "@127.0.0.1:" + std::to_string(server_->port()) + "/app";
  }
  static int64_t RowCount() {
    return std::stoll(server_->QueryScalar("SELECT COUNT(*) FROM app.items").value_or("-1"));
  }
  BinlogPosition PositionOrDie() {
    auto position = freeze_->CurrentPosition();
    EXPECT_TRUE(position.ok()) << position.status().ToString();
    if (!position.ok() || !std::holds_alternative<BinlogPosition>(*position)) {
      ADD_FAILURE() << "no binlog position";
      return {};
    }
    return std::get<BinlogPosition>(*position);
  }

  static testing::TempDir* dir_;
  static MariaDbServer* server_;
  std::unique_ptr<engine::SqlDatabase> database_;
  engine::WriteFreeze* freeze_ = nullptr;
};

testing::TempDir* MySqlWriteFreezeTest::dir_ = nullptr;
MariaDbServer* MySqlWriteFreezeTest::server_ = nullptr;

TEST_F(MySqlWriteFreezeTest, OrdinaryAccountIsRefusedWhileFrozenAndWritesAfterThaw) {
  MySqlClient app = MySqlClient::ConnectUri(AppUri());
  app.Execute("INSERT INTO items (note) VALUES ('before')");

  auto state = freeze_->State();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->frozen);
  EXPECT_EQ(state->detail, "read_only=OFF super_read_only=n/a");

  for (int round = 0; round < 2; ++round) {
    auto report = freeze_->Freeze(FreezeOptions{});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->sessions_ended, 0);
    EXPECT_NE(report->detail.find("read_only=ON"), std::string::npos) << report->detail;
    state = freeze_->State();
    ASSERT_TRUE(state.ok());
    EXPECT_TRUE(state->frozen);
    EXPECT_EQ(state->detail, "read_only=ON super_read_only=n/a");
  }
  try {
    app.Execute("INSERT INTO items (note) VALUES ('during')");
    ADD_FAILURE() << "an ordinary INSERT succeeded on a frozen server";
  } catch (const std::exception& error) {
    EXPECT_TRUE(IsReadOnlyError(error)) << error.what();
  }
  EXPECT_EQ(RowCount(), 1);
  // Letting tandem's privileged writers through keeps ordinary clients frozen (MariaDB has no
  // super_read_only: nothing changes).
  ASSERT_TRUE(freeze_->AdmitPrivilegedWriters().ok());
  state = freeze_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->detail, "read_only=ON super_read_only=n/a");
  EXPECT_THROW(app.Execute("INSERT INTO items (note) VALUES ('during')"), std::runtime_error);
  server_->Execute("INSERT INTO app.items (note) VALUES ('admin')");  // root: READ ONLY ADMIN
  EXPECT_EQ(RowCount(), 2);

  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(freeze_->Thaw().ok());
    state = freeze_->State();
    ASSERT_TRUE(state.ok());
    EXPECT_FALSE(state->frozen);
  }
  app.Execute("INSERT INTO items (note) VALUES ('after')");
  EXPECT_EQ(RowCount(), 3);
  // Not frozen: nothing to admit through.
  EXPECT_EQ(freeze_->AdmitPrivilegedWriters().code(), engine::StatusCode::kFailedPrecondition);
}

TEST_F(MySqlWriteFreezeTest, ServerRefusesTheCommitOfAWriteBegunBeforeReadOnly) {
  // What MariaDB itself does with a transaction that wrote before read_only turned on: SET GLOBAL
  // read_only = ON does not wait for it, and its COMMIT fails with the read-only error.
  MySqlClient app = MySqlClient::ConnectUri(AppUri());
  app.Execute("START TRANSACTION; INSERT INTO items (note) VALUES ('open')");
  MySqlClient admin = server_->ConnectAdmin();
  admin.Execute("SET SESSION lock_wait_timeout = 1; SET GLOBAL read_only = ON");
  try {
    app.Execute("COMMIT");
    ADD_FAILURE() << "a write begun before read_only committed";
  } catch (const std::exception& error) {
    EXPECT_TRUE(IsReadOnlyError(error)) << error.what();
  }
  app.Execute("ROLLBACK");
  admin.Execute("SET GLOBAL read_only = OFF");
  EXPECT_EQ(RowCount(), 0);
}

TEST_F(MySqlWriteFreezeTest, OpenTransactionIsKilledAndItsInsertNeverVisible) {
  MySqlClient app = MySqlClient::ConnectUri(AppUri());
  app.Execute("START TRANSACTION; INSERT INTO items (note) VALUES ('uncommitted')");
  MySqlClient reader = MySqlClient::ConnectUri(AppUri());  // an open read-only transaction
  reader.Execute("START TRANSACTION; SELECT COUNT(*) FROM items");
  // InnoDB refreshes what INFORMATION_SCHEMA.INNODB_TRX shows at most every 0.1 s (see the
  // header): an earlier test's listing must not hide these two.
  std::this_thread::sleep_for(milliseconds(150));

  const auto start = steady_clock::now();
  auto report = freeze_->Freeze(FreezeOptions{.lock_wait = milliseconds(1000)});
  const auto elapsed = steady_clock::now() - start;
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->sessions_ended, 2) << report->detail;
  EXPECT_NE(report->detail.find("killed 2 connections"), std::string::npos) << report->detail;
  EXPECT_LT(elapsed, std::chrono::seconds(4));

  EXPECT_THROW(app.Execute("COMMIT"), std::runtime_error);
  EXPECT_THROW(reader.Execute("SELECT 1"), std::runtime_error);
  EXPECT_EQ(RowCount(), 0);
  ASSERT_TRUE(freeze_->Thaw().ok());
  EXPECT_EQ(RowCount(), 0);
}

TEST_F(MySqlWriteFreezeTest, StatementHoldingTheLockPastLockWaitIsKilled) {
  server_->Execute("INSERT INTO app.items (note) VALUES ('one')");
  // An UPDATE that sleeps 9 s per row holds the lock SET GLOBAL read_only waits for.
  std::atomic<bool> update_failed{false};
  std::thread slow([&] {
    MySqlClient app = MySqlClient::ConnectUri(AppUri());
    try {
      app.Execute("UPDATE items SET note = 'slow' WHERE SLEEP(IF(id > 0, 9, 0)) = 0");
    } catch (const std::exception&) {
      update_failed.store(true);
    }
  });
  // Until the UPDATE runs (MariaDB does not list it in INNODB_TRX before it has written).
  const auto wait_until = steady_clock::now() + std::chrono::seconds(5);
  while (steady_clock::now() < wait_until &&
         server_->QueryScalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                              "WHERE STATE = 'User sleep'") != "1") {
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto connection = MySqlConnection::Open(ConfigFor(server_->Uri()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  ASSERT_TRUE((*connection)->Execute("SET SESSION lock_wait_timeout = 77", "setting").ok());
  auto freeze = NewMySqlWriteFreeze(**connection);
  const auto start = steady_clock::now();
  auto report = freeze->Freeze(FreezeOptions{.lock_wait = milliseconds(1000)});
  const auto elapsed = steady_clock::now() - start;
  slow.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->sessions_ended, 1) << report->detail;
  EXPECT_GE(elapsed, milliseconds(900)) << report->detail;  // the first SET timed out
  EXPECT_LT(elapsed, std::chrono::seconds(5)) << report->detail;
  EXPECT_TRUE(update_failed.load());
  EXPECT_EQ(server_->QueryScalar("SELECT note FROM app.items"), "one");
  // The freezing session's lock_wait_timeout is restored.
  auto timeout = (*connection)->QueryText("SELECT @@SESSION.lock_wait_timeout", "reading");
  ASSERT_TRUE(timeout.ok());
  EXPECT_EQ((*timeout)[0][0], "77");
  EXPECT_TRUE(freeze->Thaw().ok());
}

TEST_F(MySqlWriteFreezeTest, ReplicaBinlogDumpConnectionIsNeverKilled) {
  // A replica streams the binlog through a `Binlog Dump` connection, as tandem's change stream
  // does; the kill path of Freeze (forced by a long statement) must leave it alone.
  testing::TempDir replica_dir("tandem-mysql-freeze-replica");
  auto replica = MariaDbServer::Start(replica_dir.path());
  replica->StartReplicaOf(*server_);
  const auto dump_id = server_->QueryScalar(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
  ASSERT_TRUE(dump_id.has_value());

  server_->Execute("INSERT INTO app.items (note) VALUES ('one')");
  std::thread slow([&] {
    MySqlClient app = MySqlClient::ConnectUri(AppUri());
    try {
      app.Execute("UPDATE items SET note = 'slow' WHERE SLEEP(IF(id > 0, 9, 0)) = 0");
    } catch (const std::exception&) {
    }
  });
  const auto wait_until = steady_clock::now() + std::chrono::seconds(5);
  while (steady_clock::now() < wait_until &&
         server_->QueryScalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                              "WHERE STATE = 'User sleep'") != "1") {
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto report = freeze_->Freeze(FreezeOptions{.lock_wait = milliseconds(1000)});
  slow.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->sessions_ended, 1) << report->detail;
  EXPECT_EQ(server_->QueryScalar(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"),
            dump_id);
  ASSERT_TRUE(freeze_->Thaw().ok());
  server_->Execute("INSERT INTO app.items (note) VALUES ('two')");
  replica->WaitForReplicaCatchUp(*server_, std::chrono::seconds(20));
  EXPECT_EQ(replica->QueryScalar("SELECT COUNT(*) FROM app.items"), "2");
}

TEST_F(MySqlWriteFreezeTest, PositionCoversWritesAndStandsStillWhileFrozen) {
  const BinlogPosition before = PositionOrDie();
  EXPECT_NE(before.file, "");
  MySqlClient app = MySqlClient::ConnectUri(AppUri());
  for (int i = 0; i < 5; ++i) {
    app.Execute("INSERT INTO items (note) VALUES ('w')");
  }
  const BinlogPosition written = PositionOrDie();
  auto order = engine::Compare(written, before);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, std::strong_ordering::greater);
  EXPECT_FALSE(written.gtid_set.empty());
  EXPECT_EQ(written.gtid_set, server_->QueryScalar("SELECT @@gtid_binlog_pos").value_or(""));

  ASSERT_TRUE(freeze_->Freeze(FreezeOptions{}).ok());
  const BinlogPosition frozen = PositionOrDie();
  order = engine::Compare(frozen, written);
  ASSERT_TRUE(order.ok());
  EXPECT_NE(*order, std::strong_ordering::less);
  auto parsed = engine::ParsePosition(engine::Serialize(frozen));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(std::get<BinlogPosition>(*parsed), frozen);

  EXPECT_THROW(app.Execute("INSERT INTO items (note) VALUES ('refused')"), std::runtime_error);
  EXPECT_EQ(PositionOrDie(), frozen);
  ASSERT_TRUE(freeze_->Thaw().ok());
}

TEST_F(MySqlWriteFreezeTest, MissingPrivilegeIsPermissionDeniedNamingTheGrant) {
  auto weak =
      OpenOrThrow("mysql://weak:weak-pass-1@127.0.0.1:" + std::to_string(server_->port()) + "/app");
  auto report = weak->write_freeze()->Freeze(FreezeOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(report.status().message().find(
                "GRANT READ ONLY ADMIN, CONNECTION ADMIN, PROCESS ON *.* TO 'weak'@'%'"),
            std::string::npos)
      << report.status().message();
  EXPECT_EQ(report.status().message().find("weak-pass-1"), std::string::npos);

  auto half = OpenOrThrow("mysql://half:half-pass-1@127.0.0.1:" + std::to_string(server_->port()));
  report = half->write_freeze()->Freeze(FreezeOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(report.status().message().find("GRANT CONNECTION ADMIN, PROCESS ON *.* TO 'half'@'%'"),
            std::string::npos)
      << report.status().message();

  // Thaw has no pre-check: the server's refusal is mapped.
  ASSERT_TRUE(freeze_->Freeze(FreezeOptions{}).ok());
  const engine::Status thaw = weak->write_freeze()->Thaw();
  EXPECT_EQ(thaw.code(), StatusCode::kPermissionDenied) << thaw.ToString();
  EXPECT_NE(thaw.message().find("GRANT READ ONLY ADMIN"), std::string::npos) << thaw.ToString();
  auto state = weak->write_freeze()->State();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_TRUE(state->frozen);

  auto position = weak->write_freeze()->CurrentPosition();
  ASSERT_FALSE(position.ok());
  EXPECT_EQ(position.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(position.status().message().find("GRANT BINLOG MONITOR ON *.* TO 'weak'@'%'"),
            std::string::npos)
      << position.status().message();
  ASSERT_TRUE(freeze_->Thaw().ok());
}

TEST_F(MySqlWriteFreezeTest, ConcurrentWriterHasNoAcknowledgedWriteAfterTheFreeze) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acknowledged{0};
  std::atomic<int64_t> uncertain{0};  // the connection broke mid-statement
  std::atomic<int64_t> refused{0};
  std::atomic<int64_t> last_ack_start_ns{0};  // steady clock, start of the newest acked insert
  std::thread writer([&] {
    std::optional<MySqlClient> client;
    const auto deadline = steady_clock::now() + std::chrono::seconds(30);
    while (!stop.load() && steady_clock::now() < deadline) {
      if (!client) {
        try {
          client.emplace(MySqlClient::ConnectUri(AppUri()));
        } catch (const std::exception&) {
          std::this_thread::sleep_for(milliseconds(10));
          continue;
        }
      }
      const auto start = steady_clock::now();
      try {
        client->Execute("INSERT INTO items (note) VALUES ('c')");
        acknowledged.fetch_add(1);
        last_ack_start_ns.store(start.time_since_epoch().count());
      } catch (const std::exception& error) {
        if (IsReadOnlyError(error)) {
          refused.fetch_add(1);
        } else {
          uncertain.fetch_add(1);
          client.reset();
        }
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  // Until the writer is well under way (bounded: a loaded machine writes slower).
  tandem::testing::PollUntil(milliseconds(10000), [&] { return acknowledged.load() > 50; });
  auto report = freeze_->Freeze(FreezeOptions{.lock_wait = milliseconds(1000)});
  const auto returned = steady_clock::now();
  const int64_t acked_at_freeze = acknowledged.load();
  const BinlogPosition frozen = PositionOrDie();
  // Until the writer has been refused a few times (bounded).
  tandem::testing::PollUntil(milliseconds(10000), [&] { return refused.load() > 20; });
  stop.store(true);
  writer.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  EXPECT_GT(acked_at_freeze, 50) << "the writer hardly wrote before the freeze";
  EXPECT_GT(refused.load(), 20) << "the writer did not keep trying after the freeze";
  EXPECT_LE(last_ack_start_ns.load(), returned.time_since_epoch().count())
      << "an insert begun after Freeze returned was acknowledged";
  // An insert in flight when Freeze killed its connection has an outcome the writer cannot know
  // (at most one: the writer has one connection); it is in the table or not, and covered by the
  // position either way.
  EXPECT_LE(uncertain.load(), 1) << report->detail;
  EXPECT_GE(RowCount(), acknowledged.load());
  EXPECT_LE(RowCount(), acknowledged.load() + uncertain.load());
  // Every acknowledged insert is at or before the position read after the freeze: nothing was
  // logged since.
  EXPECT_EQ(PositionOrDie(), frozen);
  ASSERT_TRUE(freeze_->Thaw().ok());
}

TEST(MySqlWriteFreezeNoBinlogTest, CurrentPositionIsFailedPreconditionWithoutBinlog) {
  testing::TempDir dir("tandem-mysql-freeze-nobin");
  auto server = MariaDbServer::Start(dir.path(), testing::MariaDbOptions{.log_bin = false});
  auto database = OpenOrThrow(server->Uri());
  auto position = database->write_freeze()->CurrentPosition();
  ASSERT_FALSE(position.ok());
  EXPECT_EQ(position.status().code(), StatusCode::kFailedPrecondition)
      << position.status().ToString();
  EXPECT_NE(position.status().message().find("log_bin"), std::string::npos)
      << position.status().ToString();
}

}  // namespace
}  // namespace tandem::connectors::mysql
