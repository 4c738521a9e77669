// The write cutover (orchestration/write_cutover_step.h) against real servers, for MariaDB,
// PostgreSQL and Redis: two private servers of the engine (old and new), the forward stream and
// the reverse stream as supervised `tandem sync` children of this build, a private HAProxy whose
// TCP backend is the writer route, and an application-like writer inserting through HAProxy with
// an ordinary account (MariaDB: no privilege that bypasses read_only; PostgreSQL: a non-superuser
// role with INSERT and SELECT; Redis: a plain client, bound by CLIENT PAUSE WRITE) at about 300
// writes/s during the cutover and the revert. One fixture runs the same scenario for each engine;
// only how the servers start, how one id is inserted and read back and what "frozen"/"writable"
// look like differ.
//
// What must hold: the writer backend sends writes to the new side after the cutover and to the old
// one after the revert; every insert the writer saw acknowledged is on both sides in the end (the
// reverse stream carried the new side's writes to the old one, the restarted forward stream the
// old side's to the new one); an insert whose outcome the writer could not know (its connection
// broke) is on both sides or on neither; the write pause is measured (the longest gap between two
// acknowledged inserts) and stays under the test's bound; a second CutOverWrites after the switch
// changes nothing and says so; after the revert both sides take an ordinary client's writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "orchestration/write_cutover_step.h"
#include "tests/harness/app_clients.h"
#include "tests/harness/app_writer.h"
#include "tests/harness/files.h"
#include "tests/harness/haproxy_server.h"
#include "tests/harness/mariadb_server.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/redis_client.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/wait.h"
#include "tools/applied_position.h"
#include "tools/database_opener.h"
#include "tools/heartbeat_opener.h"

namespace tandem::orchestration {
namespace {

using std::chrono::milliseconds;
using testing::AppClient;
using testing::AppWriter;
using testing::PollUntil;

constexpr char kBackend[] = "writer";

DatastoreLinkPorts LinkPorts(const std::string& log_directory) {
  DatastoreLinkPorts ports;
  ports.open_database = tools::OpenDatabase;
  ports.open_applied_reader = tools::OpenAppliedPositionReader;
  ports.lag.writer = tools::OpenHeartbeatWriter;
  ports.lag.reader = tools::OpenHeartbeatReader;
  ports.tandem_binary = TANDEM_BINARY_PATH;
  ports.log_directory = log_directory;
  ports.sync_threads = 2;
  return ports;
}

enum class Side { kOld, kNew };

// The scenario, engine-neutral. An engine's fixture starts the two servers (ids 1..200 seeded
// on the old side, the application's account on both) and says how the application writes, how
// the ids present on a side are read, and what "frozen" and "writable" look like for clients.
class WriteCutoverTest : public ::testing::Test {
 protected:
  virtual const char* Engine() const = 0;  // for the printed lines
  // Starts both servers; the old one holds ids 1..200, the new one the same schema, empty.
  virtual void StartServers() = 0;
  virtual std::string Uri(Side side) const = 0;  // tandem's account on the side's datastore
  virtual uint16_t Port(Side side) const = 0;
  virtual AppClient App() const = 0;
  virtual std::set<int> Ids(Side side) const = 0;
  // After the switch: what the engine keeps of the old side's freeze for clients.
  virtual void ExpectOldFrozenForClients() const = 0;
  // After the revert: a new client session can write on `side` at once.
  virtual void ExpectWritable(Side side) const = 0;
  // Between the switch and the revert, through the writer frontend: writes whose replay would show
  // (a Redis INCR counts twice); after the revert, that both sides hold them exactly once, i.e.
  // the forward stream restarted after the revert did not stream the reverse stream's writes back.
  virtual void WriteNonIdempotentOnNew(uint16_t frontend_port) { (void)frontend_port; }
  virtual void ExpectNonIdempotentWritesOnce() const {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartServers());
    testing::HaproxyOptions options;
    options.tcp_backends.push_back({kBackend,
                                    {{"old", "127.0.0.1:" + std::to_string(Port(Side::kOld)), 1},
                                     {"new", "127.0.0.1:" + std::to_string(Port(Side::kNew)), 0}}});
    haproxy_ = testing::HaproxyServer::Start(dir_.path(), options);
    runtime_.emplace(haproxy_->admin_socket_path());

    auto source = engine::ParseConnectionUri(Uri(Side::kOld), "source", "");
    auto target = engine::ParseConnectionUri(Uri(Side::kNew), "target", "");
    ASSERT_TRUE(source.ok() && target.ok());
    plan_.name = "shop";
    plan_.source = *source;
    plan_.target = *target;
    plan_.source_uri_redacted = source->Redacted();
    plan_.target_uri_redacted = target->Redacted();
    plan_.writer = WriterRoute{kBackend, "old", "new"};
    forward_ = std::make_unique<DatastoreLink>(plan_, LinkPorts(dir_.path()));
    DatastoreLinkOptions reverse_options;
    reverse_options.start_at_source_end = true;
    reverse_ = std::make_unique<DatastoreLink>(ReversePlan(plan_), LinkPorts(dir_.path()),
                                               reverse_options);
  }

  void TearDown() override {
    if (reverse_) reverse_->Stop();
    if (forward_) forward_->Stop();
    if (HasFailure()) {
      for (const char* log : {"/shop.sync.log", "/shop.reverse.sync.log"}) {
        std::fprintf(stderr, "---- %s\n%s\n", log, testing::ReadFile(dir_.path() + log).c_str());
      }
    }
  }

  WriteCutoverPorts Ports() {
    WriteCutoverPorts ports;
    ports.open_database = tools::OpenDatabase;
    ports.haproxy = &*runtime_;
    ports.forward = forward_.get();
    ports.reverse = reverse_.get();
    ports.record = [this](const nlohmann::json& entry) {
      journal_.push_back(entry);
      return engine::Status::Ok();
    };
    ports.recorded = journal_;
    return ports;
  }

  // Waits until the forward stream has applied everything the old side holds now.
  void WaitForForwardCatchUp() {
    ASSERT_TRUE(PollUntil(milliseconds(60'000), [&] { return forward_->Progress().copy_done; }));
    auto position = forward_->SourcePosition();
    ASSERT_TRUE(position.ok()) << position.status().ToString();
    auto waited = forward_->WaitUntilApplied(*position, milliseconds(30'000), [] { return false; });
    ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  }

  // The scenario: cutover under writes, a second cutover, revert under writes, then nothing lost.
  void WritesMoveToNewAndBackWithNothingLost() {
    ASSERT_TRUE(forward_->StartStream().ok());
    ASSERT_NO_FATAL_FAILURE(WaitForForwardCatchUp());
    ASSERT_EQ(Ids(Side::kNew).size(), 200u) << "the forward stream's copy is incomplete";
    // The lag measurement runs, as in `tandem run` (its heartbeats write into the old side, which
    // the freeze will block).
    ASSERT_TRUE(PollUntil(milliseconds(20'000), [&] { return forward_->Lag().has_value(); }));
    AppWriter writer(App(), haproxy_->frontend_port(kBackend), 1000);
    ASSERT_TRUE(PollUntil(milliseconds(20'000), [&] { return writer.acknowledged() > 300; }));

    writer.ResetGap();
    WriteCutoverOptions options;
    options.lock_wait = milliseconds(500);
    auto cutover = CutOverWrites(plan_, Ports(), options);
    ASSERT_TRUE(cutover.ok()) << cutover.status().ToString();
    ASSERT_TRUE(cutover->problem.empty()) << cutover->problem;
    EXPECT_TRUE(cutover->switched);
    const int64_t after_switch = writer.acknowledged();
    ASSERT_TRUE(PollUntil(milliseconds(20'000),
                          [&] { return writer.acknowledged() > after_switch + 300; }));
    const milliseconds cutover_gap = writer.longest_gap();
    std::printf("%s write pause at cutover: server %lld ms, client's longest gap %lld ms\n",
                Engine(), static_cast<long long>(cutover->detail["write_pause_ms"].get<int64_t>()),
                static_cast<long long>(cutover_gap.count()));
    std::printf("%s cutover sub-steps: %s\n", Engine(),
                cutover->detail["sub_steps"].dump().c_str());
    EXPECT_LT(cutover_gap, milliseconds(10'000)) << cutover->detail.dump();
    EXPECT_EQ(cutover->detail["verify"]["consistent"], true) << cutover->detail.dump();
    // The writes now land on the new side, and the reverse stream carries them to the old one.
    const std::set<int> during = writer.acknowledged_ids();
    ASSERT_TRUE(PollUntil(milliseconds(30'000), [&] {
      const std::set<int> on_old = Ids(Side::kOld);
      return std::includes(on_old.begin(), on_old.end(), during.begin(), during.end());
    })) << "acknowledged writes missing on the old side";
    const std::set<int> on_new = Ids(Side::kNew);
    EXPECT_TRUE(on_new.count(*during.rbegin()))
        << "the latest acknowledged write is not on the new side";
    ExpectOldFrozenForClients();

    ASSERT_NO_FATAL_FAILURE(WriteNonIdempotentOnNew(haproxy_->frontend_port(kBackend)));

    // Nothing changes when the cutover is run again (a resumed run).
    auto again = CutOverWrites(plan_, Ports(), options);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->detail["already_switched"], true);

    writer.ResetGap();
    auto revert = RevertWrites(plan_, Ports(), options);
    ASSERT_TRUE(revert.ok()) << revert.status().ToString();
    ASSERT_TRUE(revert->problem.empty()) << revert->problem;
    const int64_t after_revert = writer.acknowledged();
    ASSERT_TRUE(PollUntil(milliseconds(20'000),
                          [&] { return writer.acknowledged() > after_revert + 300; }));
    std::printf("%s write pause at revert: server %lld ms, client's longest gap %lld ms\n",
                Engine(), static_cast<long long>(revert->detail["write_pause_ms"].get<int64_t>()),
                static_cast<long long>(writer.longest_gap().count()));
    std::printf("%s revert sub-steps: %s\n", Engine(), revert->detail["sub_steps"].dump().c_str());
    std::fflush(stdout);
    EXPECT_LT(writer.longest_gap(), milliseconds(10'000)) << revert->detail.dump();
    writer.Stop();
    ExpectWritable(Side::kOld);
    ExpectWritable(Side::kNew);

    // Every acknowledged write is on both sides; an insert whose connection broke is on both or
    // on neither once the streams caught up.
    const std::set<int> acked = writer.acknowledged_ids();
    const std::set<int> uncertain = writer.uncertain_ids();
    ASSERT_TRUE(PollUntil(milliseconds(30'000), [&] { return Ids(Side::kNew) == Ids(Side::kOld); }))
        << "old and new differ after the revert";
    const std::set<int> on_old = Ids(Side::kOld);
    for (int id : acked) {
      EXPECT_TRUE(on_old.count(id)) << "acknowledged insert " << id << " lost";
    }
    for (int id : on_old) {
      EXPECT_TRUE(id <= 200 || acked.count(id) || uncertain.count(id))
          << "row " << id << " was never written";
    }
    EXPECT_GE(journal_.size(), 8u);
    ASSERT_NO_FATAL_FAILURE(WaitForForwardCatchUp());
    ExpectNonIdempotentWritesOnce();
  }

  testing::TempDir dir_{"tandem-write-cutover"};
  std::unique_ptr<testing::HaproxyServer> haproxy_;
  std::optional<HaproxyRuntime> runtime_;
  DatastorePlan plan_;
  std::unique_ptr<DatastoreLink> forward_, reverse_;
  std::vector<nlohmann::json> journal_;
};

using testing::kAppPassword;

// --- MariaDB ---------------------------------------------------------------------------------

class MariaDbWriteCutover : public WriteCutoverTest {
 protected:
  void StartServers() override {
    old_ = testing::MariaDbServer::Start(dir_.path());
    new_ = testing::MariaDbServer::Start(dir_.path());
    for (const testing::MariaDbServer* server : {old_.get(), new_.get()}) {
      server->Execute("CREATE DATABASE shop");
      // An ordinary application account: no READ ONLY ADMIN, so read_only binds it.
      server->Execute(std::string("CREATE USER 'app'@'%' IDENTIFIED BY '") + kAppPassword + "'");
      server->Execute("GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'");
    }
    old_->Execute(
        "CREATE TABLE shop.items (id INT PRIMARY KEY, note VARCHAR(20) NOT NULL) ENGINE=InnoDB");
    std::string insert = "INSERT INTO shop.items VALUES ";
    for (int id = 1; id <= 200; ++id) {
      insert += (id > 1 ? "," : "") + std::string("(") + std::to_string(id) + ", 'seed')";
    }
    old_->Execute(insert);
  }
  const testing::MariaDbServer& Server(Side side) const {
    return side == Side::kOld ? *old_ : *new_;
  }
  std::string Uri(Side side) const override { return Server(side).Uri("shop"); }
  uint16_t Port(Side side) const override { return Server(side).port(); }
  const char* Engine() const override { return "MariaDB"; }

  AppClient App() const override {
    return testing::MariaDbAppClient("shop", [](int id) {
      return "INSERT INTO items (id, note) VALUES (" + std::to_string(id) + ", 'w')";
    });
  }

  std::set<int> Ids(Side side) const override {
    std::set<int> ids;
    for (const auto& row : Server(side).Query("SELECT id FROM shop.items")) {
      ids.insert(std::stoi(*row[0]));
    }
    return ids;
  }

  void ExpectOldFrozenForClients() const override {
    EXPECT_EQ(*old_->QueryScalar("SELECT @@global.read_only"), "1");
  }
  void ExpectWritable(Side side) const override {
    EXPECT_EQ(*Server(side).QueryScalar("SELECT @@global.read_only"), "0");
  }

  std::unique_ptr<testing::MariaDbServer> old_, new_;
};

TEST_F(MariaDbWriteCutover, WritesMoveToNewAndBackWithNothingLost) {
  WritesMoveToNewAndBackWithNothingLost();
}

// A writer backend that already sends the writes to the new side, with no switch of this run in
// the journal, is not taken for a finished cutover: nothing was frozen, drained or verified. The
// step stops and touches nothing.
TEST_F(MariaDbWriteCutover, WritesOnTheNewSideWithoutThisRunsSwitchAreRefused) {
  ASSERT_TRUE(runtime_->SetWeight(kBackend, "new", 1).ok());
  ASSERT_TRUE(runtime_->SetServerState(kBackend, "old", "maint").ok());
  auto cutover = CutOverWrites(plan_, Ports(), WriteCutoverOptions{});
  ASSERT_TRUE(cutover.ok()) << cutover.status().ToString();
  EXPECT_FALSE(cutover->switched);
  EXPECT_NE(cutover->problem.find("no cutover of this run switched them"), std::string::npos)
      << cutover->problem;
  EXPECT_EQ(*old_->QueryScalar("SELECT @@global.read_only"), "0");
  EXPECT_TRUE(journal_.empty());
  auto on_new = WritesOnNewSide(plan_, *runtime_);
  ASSERT_TRUE(on_new.ok());
  EXPECT_TRUE(*on_new);
}

// --- PostgreSQL ------------------------------------------------------------------------------

class PostgresWriteCutover : public WriteCutoverTest {
 protected:
  void StartServers() override {
    // Both sides decode their WAL: the old one for the forward stream, the new one for the
    // reverse stream (the harness's default wal_level is logical).
    old_ = testing::PostgresServer::Start(dir_.path());
    new_ = testing::PostgresServer::Start(dir_.path());
    for (const testing::PostgresServer* server : {old_.get(), new_.get()}) {
      // An ordinary application role: no superuser, so default_transaction_read_only binds it.
      testing::CreatePostgresAppDatabase(
          *server, "shop", "CREATE TABLE items (id integer PRIMARY KEY, note text NOT NULL)",
          "items");
    }
    old_->Execute("INSERT INTO items SELECT g, 'seed' FROM generate_series(1, 200) AS g", "shop");
  }
  const testing::PostgresServer& Server(Side side) const {
    return side == Side::kOld ? *old_ : *new_;
  }
  std::string Uri(Side side) const override { return Server(side).Uri("shop"); }
  uint16_t Port(Side side) const override { return Server(side).port(); }
  const char* Engine() const override { return "PostgreSQL"; }

  AppClient App() const override {
    return testing::PostgresAppClient("shop", [](int id) {
      return "INSERT INTO items (id, note) VALUES (" + std::to_string(id) + ", 'w')";
    });
  }

  std::set<int> Ids(Side side) const override {
    std::set<int> ids;
    for (const auto& row : Server(side).Query("SELECT id FROM items", "shop")) {
      ids.insert(std::stoi(*row[0]));
    }
    return ids;
  }

  // A new session's default, which is what an application's next connection gets.
  std::string DefaultReadOnly(Side side) const {
    return testing::PostgresDefaultReadOnly(Server(side), "shop");
  }
  void ExpectOldFrozenForClients() const override { EXPECT_EQ(DefaultReadOnly(Side::kOld), "on"); }
  void ExpectWritable(Side side) const override { EXPECT_EQ(DefaultReadOnly(side), "off"); }

  std::unique_ptr<testing::PostgresServer> old_, new_;
};

TEST_F(PostgresWriteCutover, WritesMoveToNewAndBackWithNothingLost) {
  WritesMoveToNewAndBackWithNothingLost();
}

// --- Redis -----------------------------------------------------------------------------------

constexpr char kRedisItemPrefix[] = "item:";

class RedisWriteCutover : public WriteCutoverTest {
 protected:
  void StartServers() override {
    old_ = testing::RedisServer::Start(dir_.path());
    new_ = testing::RedisServer::Start(dir_.path());
    std::vector<std::vector<std::string>> seed;
    for (int id = 1; id <= 200; ++id) {
      seed.push_back({"SET", kRedisItemPrefix + std::to_string(id), "seed"});
    }
    old_->Connect().Pipeline(seed);
  }
  const testing::RedisServer& Server(Side side) const { return side == Side::kOld ? *old_ : *new_; }
  std::string Uri(Side side) const override { return Server(side).Uri(0); }
  uint16_t Port(Side side) const override { return Server(side).port(); }
  const char* Engine() const override { return "Redis"; }

  // A plain client (the default user): CLIENT PAUSE WRITE holds its writes. A write held by the
  // pause waits until HAProxy shuts its session down; the client's timeout bounds it anyway.
  AppClient App() const override {
    return testing::RedisAppClient(old_->password(), kRedisItemPrefix);
  }

  std::set<int> Ids(Side side) const override {
    return testing::RedisIds(Server(side), kRedisItemPrefix);
  }

  // The old side's pause is lifted before the reverse stream starts (it writes there); out of the
  // writer backend, no client reaches it. Nothing to check on the server itself.
  void ExpectOldFrozenForClients() const override {}

  // A SET of a key outside the items answers at once (no pause holds it).
  void ExpectWritable(Side side) const override {
    EXPECT_TRUE(testing::RedisWritesAtOnce(Server(side), milliseconds(500)))
        << Engine() << (side == Side::kOld ? " old" : " new");
  }

  void WriteNonIdempotentOnNew(uint16_t frontend_port) override {
    testing::RedisConnectOptions options;
    options.port = frontend_port;
    options.password = old_->password();
    options.timeout = milliseconds(2000);
    testing::RedisClient client = testing::RedisClient::Connect(options);
    for (int i = 0; i < kIncrements; ++i) {
      ASSERT_EQ(client.Command({"INCR", kCounterKey}), std::to_string(i + 1));
    }
  }

  void ExpectNonIdempotentWritesOnce() const override {
    for (Side side : {Side::kOld, Side::kNew}) {
      EXPECT_EQ(Server(side).CommandValue({"GET", kCounterKey}).text, std::to_string(kIncrements))
          << (side == Side::kOld ? "old" : "new") << " side";
    }
  }

  static constexpr int kIncrements = 50;
  static constexpr const char* kCounterKey = "counter:incr";
  std::unique_ptr<testing::RedisServer> old_, new_;
};

TEST_F(RedisWriteCutover, WritesMoveToNewAndBackWithNothingLost) {
  WritesMoveToNewAndBackWithNothingLost();
}

}  // namespace
}  // namespace tandem::orchestration
