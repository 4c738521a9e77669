// RedisWriteFreeze against private redis-servers started by the test (never the shared fixture
// servers: a pause would stall every other test). An ordinary client (the harness's hiredis
// connection, independent of the code under test) writes while the freeze is on; the replication
// offset is checked against a real replica that has read up to it.
#include "connectors/redis/redis_write_freeze.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <compare>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "connectors/redis/redis_database.h"
#include "connectors/redis/redis_info.h"
#include "engine/position.h"
#include "tests/connectors/redis/redis_test_support.h"
#include "tests/harness/local_servers.h"

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;
using tandem::connectors::redis::testing::OpenUri;
using tandem::testing::PollUntil;
using tandem::testing::RedisClient;
using tandem::testing::RedisInfoField;
using tandem::testing::RedisOptions;
using tandem::testing::RedisServer;
using tandem::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string UserUri(const RedisServer& server, const std::string& user,
                    const std::string& password) {
  return "redis://" + user + ":" + password + "@127.0.0.1:" + std::to_string(server.port()) + "/0";
}

int64_t BlockedClients(const RedisServer& server) {
  return std::stoll(RedisInfoField(server.Command({"INFO", "clients"}), "blocked_clients"));
}

// The pause state the server itself reports, or nullopt (Redis 7.0 reports none).
std::optional<ServerPauseState> ReportedPause(const RedisServer& server) {
  return ParsePauseState(InfoFields::Parse(server.Command({"INFO", "clients"})));
}

int64_t OffsetOf(const engine::Position& position) {
  return std::get<engine::ReplicationOffset>(position).offset;
}

// One command from an ordinary client on its own connection and thread, timed. The destructor
// unpauses the server (so a failed test cannot leave the thread blocked) and joins.
class TimedWrite {
 public:
  TimedWrite(const RedisServer& server, std::vector<std::string> argv)
      : server_(server), client_(server.Connect()) {
    thread_ = std::thread([this, argv = std::move(argv)] {
      std::string reply;
      try {
        reply = client_.Command(argv);
      } catch (const std::exception& error) {
        reply = std::string("error: ") + error.what();
      }
      std::lock_guard<std::mutex> lock(mu_);
      reply_ = reply;
      finished_at_ = Clock::now();
      done_ = true;
    });
  }
  ~TimedWrite() {
    try {
      server_.Command({"CLIENT", "UNPAUSE"});
    } catch (const std::exception&) {
    }
    thread_.join();
  }

  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  std::string reply() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reply_;
  }
  Clock::time_point finished_at() const {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_at_;
  }

 private:
  const RedisServer& server_;
  RedisClient client_;  // writer thread only
  std::thread thread_;
  mutable std::mutex mu_;
  bool done_ = false;              // guarded by mu_
  std::string reply_;              // guarded by mu_
  Clock::time_point finished_at_;  // guarded by mu_
};

class RedisWriteFreezeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-write-freeze"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::unique_ptr<RedisServer> StartServer(const RedisOptions& options = {}) {
    return RedisServer::Start(dir_->path(), options);
  }

  // Opens tandem's database on `uri` into db_ and returns its write freeze.
  engine::WriteFreeze* OpenFreeze(const std::string& uri) {
    auto db = OpenUri(uri);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) {
      return nullptr;
    }
    db_ = std::move(*db);
    return db_->write_freeze();
  }

  engine::Position Position(engine::WriteFreeze& freeze) {
    auto position = freeze.CurrentPosition();
    EXPECT_TRUE(position.ok()) << position.status().ToString();
    return position.ok() ? *position : engine::Position();
  }

  static TempDir* dir_;
  std::unique_ptr<engine::KeyValueDatabase> db_;
};

TempDir* RedisWriteFreezeTest::dir_ = nullptr;

TEST(RedisWriteFreezeHelpers, HoldMustBeBetweenOneSecondAndOneHour) {
  EXPECT_TRUE(ValidateFreezeHold(1s).ok());
  EXPECT_TRUE(ValidateFreezeHold(1h).ok());
  EXPECT_EQ(ValidateFreezeHold(999ms).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateFreezeHold(3'600'001ms).code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(ValidateFreezeHold(0ms).message(), HasSubstr("between 1000 ms (1 s) and 3600000 ms"));
}

TEST(RedisWriteFreezeHelpers, PauseStateIsReadWhereTheServerReportsIt) {
  EXPECT_FALSE(ParsePauseState(InfoFields::Parse("# Clients\r\nconnected_clients:3\r\n")));
  auto paused = ParsePauseState(InfoFields::Parse(
      "paused_reason:client_pause\r\npaused_actions:write\r\npaused_timeout_milliseconds:812\r\n"));
  ASSERT_TRUE(paused.has_value());
  EXPECT_TRUE(paused->frozen());
  EXPECT_EQ(paused->reason, "client_pause");
  EXPECT_EQ(paused->timeout_ms, 812);
  auto running =
      ParsePauseState(InfoFields::Parse("paused_reason:none\r\npaused_actions:none\r\n"));
  ASSERT_TRUE(running.has_value());
  EXPECT_FALSE(running->frozen());
}

TEST(RedisWriteFreezeHelpers, ReplicationPositionNeedsIdAndOffset) {
  const std::string id = "21dfe928394779f8e74c754c3785457bc3adf650";
  auto position = ParseReplicationPosition(
      InfoFields::Parse("role:master\r\nmaster_replid:" + id + "\r\nmaster_repl_offset:280\r\n"),
      "redis://h:1/0");
  ASSERT_TRUE(position.ok()) << position.status().ToString();
  EXPECT_EQ(engine::Serialize(*position), "redis:" + id + ":280");
  auto no_offset =
      ParseReplicationPosition(InfoFields::Parse("master_replid:" + id + "\r\n"), "redis://h:1/0");
  EXPECT_EQ(no_offset.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(no_offset.status().message(), HasSubstr("master_repl_offset"));
  auto bad_id = ParseReplicationPosition(
      InfoFields::Parse("master_replid:xyz\r\nmaster_repl_offset:1\r\n"), "redis://h:1/0");
  EXPECT_EQ(bad_id.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(WriteFreezeAclFix(""), "ACL SETUSER default +client|pause +client|unpause +info");
}

// 1. Writes from other connections wait while frozen and complete at Thaw; reads do not wait;
//    Freeze and Thaw are idempotent.
TEST_F(RedisWriteFreezeTest, FreezeHoldsWritesUntilThawButServesReads) {
  auto server = StartServer();
  engine::WriteFreeze* freeze = OpenFreeze(server->Uri());
  ASSERT_NE(freeze, nullptr);
  RedisClient app = server->Connect();
  EXPECT_EQ(app.Command({"SET", "k", "before"}), "OK");

  auto frozen = freeze->Freeze({.hold = 30s});
  ASSERT_TRUE(frozen.ok()) << frozen.status().ToString();
  EXPECT_EQ(frozen->sessions_ended, 0);
  EXPECT_THAT(frozen->detail, HasSubstr("CLIENT PAUSE 30000 WRITE"));
  auto renewed = freeze->Freeze({.hold = 30s});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_THAT(renewed->detail, HasSubstr("renewed"));

  TimedWrite write(*server, {"SET", "k", "during"});
  ASSERT_TRUE(PollUntil(5s, [&] { return BlockedClients(*server) == 1; }));
  const auto read_start = Clock::now();
  EXPECT_EQ(app.Command({"GET", "k"}), "before");
  EXPECT_LT(Clock::now() - read_start, 1s);

  auto state = freeze->State();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_TRUE(state->frozen) << state->detail;
  if (ReportedPause(*server).has_value()) {
    EXPECT_THAT(state->detail, HasSubstr("paused_actions=write"));
  } else {
    EXPECT_THAT(state->detail, HasSubstr("pause state not visible on Redis "));
    EXPECT_THAT(state->detail, HasSubstr("paused for WRITE by this connection until"));
  }
  // Still waiting a while later: the pause, not a slow server, holds it.
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(write.done());
  EXPECT_EQ(BlockedClients(*server), 1);

  const auto thawed_at = Clock::now();
  ASSERT_TRUE(freeze->Thaw().ok());
  ASSERT_TRUE(PollUntil(5s, [&] { return write.done(); }));
  EXPECT_EQ(write.reply(), "OK");
  EXPECT_GE(write.finished_at(), thawed_at);
  EXPECT_LT(write.finished_at() - thawed_at, 1s);
  EXPECT_EQ(app.Command({"GET", "k"}), "during");

  ASSERT_TRUE(freeze->Thaw().ok());
  state = freeze->State();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->frozen) << state->detail;
  if (!ReportedPause(*server).has_value()) {
    EXPECT_THAT(state->detail, HasSubstr("this connection holds no pause"));
  }
  EXPECT_EQ(app.Command({"SET", "k", "after"}), "OK");
}

// 2. Without renewal the pause ends by itself after `hold`.
TEST_F(RedisWriteFreezeTest, PauseExpiresOnItsOwnAfterHold) {
  auto server = StartServer();
  engine::WriteFreeze* freeze = OpenFreeze(server->Uri());
  ASSERT_NE(freeze, nullptr);
  EXPECT_EQ(freeze->Freeze({.hold = 999ms}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(freeze->Freeze({.hold = 2h}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->Command({"SET", "k", "not paused"}), "OK");

  const auto start = Clock::now();
  auto frozen = freeze->Freeze({.hold = 1s});
  ASSERT_TRUE(frozen.ok()) << frozen.status().ToString();
  TimedWrite write(*server, {"SET", "k", "v"});
  ASSERT_TRUE(PollUntil(5s, [&] { return write.done(); }));
  EXPECT_EQ(write.reply(), "OK");
  const auto waited = write.finished_at() - start;
  // The server ends the pause 1 s after it ran CLIENT PAUSE (its own clock, checked at least
  // every 100 ms); 50 ms of slack for the clocks.
  EXPECT_GE(waited, 950ms);
  EXPECT_LT(waited, 3s);

  auto state = freeze->State();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->frozen) << state->detail;
  if (!ReportedPause(*server).has_value()) {
    EXPECT_THAT(state->detail, HasSubstr("the pause this connection set expired at"));
  }
}

// 3. CurrentPosition is the stream's kind of position, orders after earlier ones, and while
//    paused moves only by the replication PINGs a Redis 7.0 primary keeps sending its replicas.
TEST_F(RedisWriteFreezeTest, PositionOrdersAndHoldsWhilePaused) {
  auto server = StartServer();
  engine::WriteFreeze* freeze = OpenFreeze(server->Uri());
  ASSERT_NE(freeze, nullptr);

  // No replica: no backlog, the offset need not move, but it never goes back.
  engine::Position lone_before = Position(*freeze);
  ASSERT_TRUE(std::holds_alternative<engine::ReplicationOffset>(lone_before));
  EXPECT_EQ(std::get<engine::ReplicationOffset>(lone_before).replication_id.size(), 40u);
  EXPECT_EQ(server->Command({"SET", "a", "1"}), "OK");
  engine::Position lone_after = Position(*freeze);
  auto lone_order = engine::Compare(lone_after, lone_before);
  ASSERT_TRUE(lone_order.ok()) << lone_order.status().ToString();
  EXPECT_TRUE(std::is_gteq(*lone_order));
  auto parsed = engine::ParsePosition(engine::Serialize(lone_after));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, lone_after);

  // With a replica (the first one gives the server a backlog and a new replication id).
  auto replica = StartServer();
  replica->StartReplicaOf(*server);
  engine::Position before = Position(*freeze);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(server->Command({"SET", "key" + std::to_string(i), "value"}), "OK");
  }
  engine::Position after = Position(*freeze);
  auto order = engine::Compare(after, before);
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(*order, std::strong_ordering::greater);
  replica->WaitForReplicaCatchUp(*server);

  EXPECT_EQ(server->Command({"CONFIG", "SET", "repl-ping-replica-period", "1"}), "OK");
  ASSERT_TRUE(freeze->Freeze({.hold = 30s}).ok());
  const bool pause_reported = ReportedPause(*server).has_value();
  engine::Position frozen_at = Position(*freeze);
  TimedWrite write(*server, {"SET", "key0", "changed while paused"});
  ASSERT_TRUE(PollUntil(5s, [&] { return BlockedClients(*server) == 1; }));
  // Watch the offset for 3 s (three ping periods).
  int64_t moved = 0;
  const auto watch_end = Clock::now() + 3s;
  while (Clock::now() < watch_end) {
    engine::Position now = Position(*freeze);
    auto now_order = engine::Compare(now, frozen_at);
    ASSERT_TRUE(now_order.ok()) << now_order.status().ToString();
    moved = OffsetOf(now) - OffsetOf(frozen_at);
    // Only whole "*1\r\n$4\r\nPING\r\n" (14 bytes) may have been added.
    EXPECT_EQ(moved % 14, 0) << moved;
    std::this_thread::sleep_for(250ms);
  }
  if (pause_reported) {
    EXPECT_EQ(moved, 0) << "a server reporting paused_actions also stops replica PINGs";
  } else {
    EXPECT_GT(moved, 0) << "Redis 7.0 keeps pinging its replicas while writes are paused";
  }
  // The replica has everything up to now and the paused write is in neither server.
  replica->WaitForReplicaCatchUp(*server);
  EXPECT_EQ(replica->Command({"GET", "key0"}), "value");
  EXPECT_EQ(server->Command({"GET", "key0"}), "value");
  EXPECT_FALSE(write.done());

  ASSERT_TRUE(freeze->Thaw().ok());
  ASSERT_TRUE(PollUntil(5s, [&] { return write.done(); }));
  EXPECT_EQ(write.reply(), "OK");
  EXPECT_GT(OffsetOf(Position(*freeze)), OffsetOf(frozen_at) + moved);
}

// 4. A user without client|pause (or info) is told the ACL statement that fixes it.
TEST_F(RedisWriteFreezeTest, MissingPermissionNamesTheAclFix) {
  auto server = StartServer();
  const std::string password = "freeze-pw-6071";
  server->Command({"ACL", "SETUSER", "nopause", "on", ">" + password, "~*", "&*", "+@all",
                   "-client|pause", "-client|unpause", "-info"});
  engine::WriteFreeze* freeze = OpenFreeze(UserUri(*server, "nopause", password));
  ASSERT_NE(freeze, nullptr);
  const std::string fix = "ACL SETUSER nopause +client|pause +client|unpause +info";

  auto frozen = freeze->Freeze({.hold = 30s});
  EXPECT_EQ(frozen.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(frozen.status().message(), HasSubstr(fix));
  EXPECT_THAT(frozen.status().message(), HasSubstr("CLIENT PAUSE"));
  EXPECT_THAT(frozen.status().message(), Not(HasSubstr(password)));
  engine::Status thawed = freeze->Thaw();
  EXPECT_EQ(thawed.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(thawed.message(), HasSubstr(fix));
  auto position = freeze->CurrentPosition();
  EXPECT_EQ(position.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(position.status().message(), HasSubstr(fix));
  auto state = freeze->State();
  EXPECT_EQ(state.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(state.status().message(), HasSubstr(fix));
  // Nothing was paused.
  const auto write_start = Clock::now();
  EXPECT_EQ(server->Command({"SET", "k", "v"}), "OK");
  EXPECT_LT(Clock::now() - write_start, 1s);

  // The fix is enough (ACL changes apply to open connections).
  server->Command({"ACL", "SETUSER", "nopause", "+client|pause", "+client|unpause", "+info"});
  EXPECT_TRUE(freeze->Freeze({.hold = 30s}).ok());
  EXPECT_TRUE(freeze->CurrentPosition().ok());
  EXPECT_TRUE(freeze->Thaw().ok());
}

// An ordinary application writing a few hundred times a second, each acknowledged write recorded.
class Writer {
 public:
  explicit Writer(const RedisServer& server) : server_(server), client_(server.Connect()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }

  // Stops after the write in flight; unpauses the server first so that write cannot hang.
  void Stop() {
    if (!thread_.joinable()) {
      return;
    }
    stop_ = true;
    try {
      server_.Command({"CLIENT", "UNPAUSE"});
    } catch (const std::exception&) {
    }
    thread_.join();
  }

  int64_t acknowledged() const { return acknowledged_.load(); }
  int64_t incr_acknowledged() const { return incr_acknowledged_.load(); }
  std::string error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  // Values of the SETs acknowledged so far, by key.
  std::vector<std::pair<std::string, std::string>> sets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sets_;
  }

 private:
  void Run() {
    for (int64_t i = 0; !stop_.load(); ++i) {
      try {
        if (i % 2 == 0) {
          const std::string key = "w:" + std::to_string(i);
          client_.Command({"SET", key, std::to_string(i)});
          std::lock_guard<std::mutex> lock(mu_);
          sets_.emplace_back(key, std::to_string(i));
        } else {
          client_.Command({"INCR", "counter"});
          incr_acknowledged_.fetch_add(1);
        }
        acknowledged_.fetch_add(1);
      } catch (const std::exception& error) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = error.what();
        return;
      }
      std::this_thread::sleep_for(3ms);
    }
  }

  const RedisServer& server_;
  RedisClient client_;  // writer thread only
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acknowledged_{0};
  std::atomic<int64_t> incr_acknowledged_{0};
  mutable std::mutex mu_;
  std::string error_;                                      // guarded by mu_
  std::vector<std::pair<std::string, std::string>> sets_;  // guarded by mu_
};

// 5. The freeze guarantee under a concurrent writer: nothing is acknowledged while frozen, and the
//    position read after Freeze covers every acknowledged write (a replica that has read up to it
//    holds them all).
TEST_F(RedisWriteFreezeTest, ConcurrentWriterIsCoveredByThePositionAtFreeze) {
  auto server = StartServer();
  auto replica = StartServer();
  replica->StartReplicaOf(*server);
  // No replication PINGs during the test: the offset moves only with writes.
  EXPECT_EQ(server->Command({"CONFIG", "SET", "repl-ping-replica-period", "3600"}), "OK");
  engine::WriteFreeze* freeze = OpenFreeze(server->Uri());
  ASSERT_NE(freeze, nullptr);

  Writer writer(*server);
  ASSERT_TRUE(PollUntil(10s, [&] { return writer.acknowledged() >= 150; }));
  auto frozen = freeze->Freeze({.hold = 30s});
  ASSERT_TRUE(frozen.ok()) << frozen.status().ToString();
  const int64_t acknowledged_at_freeze = writer.acknowledged();
  engine::Position at_freeze = Position(*freeze);
  ASSERT_TRUE(PollUntil(5s, [&] { return BlockedClients(*server) == 1; }));
  // The writer has one command in flight at a time: at most that one, run by the server before
  // the pause, is acknowledged after Freeze returned; the next one waits.
  const int64_t acknowledged_when_blocked = writer.acknowledged();
  EXPECT_LE(acknowledged_when_blocked, acknowledged_at_freeze + 1);
  EXPECT_EQ(Position(*freeze), at_freeze);

  // Frozen for a while: nothing more is acknowledged and the offset does not move.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(writer.acknowledged(), acknowledged_when_blocked);
  EXPECT_EQ(Position(*freeze), at_freeze);
  EXPECT_EQ(BlockedClients(*server), 1);

  // Every acknowledged write is at or before at_freeze: the replica, having read up to it, has
  // them.
  replica->WaitForReplicaCatchUp(*server);
  EXPECT_EQ(std::stoll(replica->Command({"GET", "counter"})), writer.incr_acknowledged());
  EXPECT_EQ(std::stoll(server->Command({"GET", "counter"})), writer.incr_acknowledged());
  const auto sets = writer.sets();
  ASSERT_FALSE(sets.empty());
  RedisClient replica_client = replica->Connect();
  for (const auto& [key, value] : sets) {
    ASSERT_EQ(replica_client.Command({"GET", key}), value) << key;
  }
  EXPECT_EQ(std::stoll(replica->Command({"DBSIZE"})), static_cast<int64_t>(sets.size()) + 1);
  EXPECT_EQ(std::stoll(replica->Command({"DBSIZE"})), std::stoll(server->Command({"DBSIZE"})));

  ASSERT_TRUE(freeze->Thaw().ok());
  ASSERT_TRUE(
      PollUntil(10s, [&] { return writer.acknowledged() >= acknowledged_when_blocked + 50; }));
  writer.Stop();
  EXPECT_EQ(writer.error(), "");
  auto order = engine::Compare(Position(*freeze), at_freeze);
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(*order, std::strong_ordering::greater);
  EXPECT_EQ(std::stoll(server->Command({"GET", "counter"})), writer.incr_acknowledged());
}

}  // namespace
}  // namespace tandem::connectors::redis
