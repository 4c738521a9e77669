#include "tests/tools/writer_migration.h"

#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tests/harness/app_clients.h"
#include "tests/harness/mariadb_server.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/redis_client.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/wait.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kBackend[] = "orders_db";
constexpr int kSeedRows = 300;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The application's insert of one id into items (id, name, qty).
std::string AppInsert(int id) {
  return "INSERT INTO items VALUES (" + std::to_string(id) + ", 'app', 1)";
}

class MariaDbWriterEngine final : public WriterEngine {
 public:
  explicit MariaDbWriterEngine(const std::string& dir)
      : old_(MariaDbServer::Start(dir)), new_(MariaDbServer::Start(dir)) {
    for (const MariaDbServer* server : {old_.get(), new_.get()}) {
      server->Execute("CREATE DATABASE shop");
      server->Execute(std::string("CREATE USER 'app'@'%' IDENTIFIED BY '") + kAppPassword + "'");
      server->Execute("GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'");
    }
    old_->Execute(
        "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT NOT "
        "NULL)");
    std::string insert = "INSERT INTO shop.items VALUES ";
    for (int id = 1; id <= kSeedRows; ++id) {
      insert += (id > 1 ? "," : "") + std::string("(") + std::to_string(id) + ", 'item " +
                std::to_string(id) + "', " + std::to_string(id * 3) + ")";
    }
    old_->Execute(insert);
  }

  const char* name() const override { return "MariaDB"; }
  std::string Uri(MigrationSide side) const override { return Server(side).Uri("shop"); }
  uint16_t Port(MigrationSide side) const override { return Server(side).port(); }

  AppClient App() const override { return MariaDbAppClient("shop", AppInsert); }

  std::set<int> AppIds(MigrationSide side) const override {
    std::set<int> ids;
    for (const ResultRow& row : Server(side).Query("SELECT id FROM shop.items WHERE id >= " +
                                                   std::to_string(WriterMigration::kFirstAppId))) {
      ids.insert(std::stoi(row.at(0).value_or("0")));
    }
    return ids;
  }

  void ChangeBehindTandem(MigrationSide side) const override {
    Server(side).Execute("UPDATE shop.items SET qty = qty + 1000 WHERE id = 7");  // root
  }

  bool FrozenForClients(MigrationSide side) const override {
    return Server(side).QueryScalar("SELECT @@global.read_only") == std::optional<std::string>("1");
  }

 private:
  const MariaDbServer& Server(MigrationSide side) const {
    return side == MigrationSide::kOld ? *old_ : *new_;
  }
  std::unique_ptr<MariaDbServer> old_, new_;
};

// PostgreSQL: database shop, table items (id, name, qty) with 300 seed rows on the old side, the
// table alone on the new one (tandem's sync of PostgreSQL needs the target's tables); role app.
class PostgresWriterEngine final : public WriterEngine {
 public:
  explicit PostgresWriterEngine(const std::string& dir)
      : old_(PostgresServer::Start(dir)), new_(PostgresServer::Start(dir)) {
    for (const PostgresServer* server : {old_.get(), new_.get()}) {
      CreatePostgresAppDatabase(
          *server, "shop",
          "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)",
          "items");
    }
    old_->Execute("INSERT INTO items SELECT g, 'item ' || g, g * 3 FROM generate_series(1, " +
                      std::to_string(kSeedRows) + ") AS g",
                  "shop");
  }

  const char* name() const override { return "PostgreSQL"; }
  std::string Uri(MigrationSide side) const override { return Server(side).Uri("shop"); }
  uint16_t Port(MigrationSide side) const override { return Server(side).port(); }
  AppClient App() const override { return PostgresAppClient("shop", AppInsert); }

  std::set<int> AppIds(MigrationSide side) const override {
    std::set<int> ids;
    for (const ResultRow& row : Server(side).Query(
             "SELECT id FROM items WHERE id >= " + std::to_string(WriterMigration::kFirstAppId),
             "shop")) {
      ids.insert(std::stoi(row.at(0).value_or("0")));
    }
    return ids;
  }

  // An administrator's session overrides default_transaction_read_only (the freeze) explicitly.
  void ChangeBehindTandem(MigrationSide side) const override {
    Server(side).Execute("BEGIN READ WRITE; UPDATE items SET qty = qty + 1000 WHERE id = 7; COMMIT",
                         "shop");
  }

  bool FrozenForClients(MigrationSide side) const override {
    return PostgresDefaultReadOnly(Server(side), "shop") == "on";
  }

  std::optional<std::string> WalPosition(MigrationSide side) const override {
    return Server(side).Query("SELECT pg_current_wal_lsn()::text").at(0).at(0).value_or("");
  }

  bool SlotsConfirmed(MigrationSide side, const std::string& lsn) const override {
    const ResultRows behind = Server(side).Query(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_type = 'logical' AND "
        "confirmed_flush_lsn < '" +
        lsn + "'::pg_lsn");
    return behind.at(0).at(0).value_or("") == "0";
  }

 private:
  const PostgresServer& Server(MigrationSide side) const {
    return side == MigrationSide::kOld ? *old_ : *new_;
  }
  std::unique_ptr<PostgresServer> old_, new_;
};

// Redis: keys item:<id> (db 0), 300 seed keys on the old side; the application's ids are keys
// too. A plain client (the default user) is the application.
constexpr char kRedisItemPrefix[] = "item:";

class RedisWriterEngine final : public WriterEngine {
 public:
  explicit RedisWriterEngine(const std::string& dir)
      : old_(RedisServer::Start(dir)), new_(RedisServer::Start(dir)) {
    std::vector<std::vector<std::string>> seed;
    for (int id = 1; id <= kSeedRows; ++id) {
      seed.push_back({"SET", kRedisItemPrefix + std::to_string(id), "item " + std::to_string(id)});
    }
    old_->Connect().Pipeline(seed);
  }

  const char* name() const override { return "Redis"; }
  std::string Uri(MigrationSide side) const override { return Server(side).Uri(0); }
  uint16_t Port(MigrationSide side) const override { return Server(side).port(); }
  AppClient App() const override { return RedisAppClient(old_->password(), kRedisItemPrefix); }

  std::set<int> AppIds(MigrationSide side) const override {
    std::set<int> ids = RedisIds(Server(side), kRedisItemPrefix);
    ids.erase(ids.begin(), ids.lower_bound(WriterMigration::kFirstAppId));
    return ids;
  }

  void ChangeBehindTandem(MigrationSide side) const override {
    Server(side).Command({"SET", std::string(kRedisItemPrefix) + "7", "changed behind tandem"});
  }

  // CLIENT PAUSE WRITE holds a plain client's SET: frozen when one is not answered at once.
  bool FrozenForClients(MigrationSide side) const override {
    return !RedisWritesAtOnce(Server(side), milliseconds(500));
  }

  bool OldStaysFrozenAfterTheSwitch() const override { return false; }

 private:
  const RedisServer& Server(MigrationSide side) const {
    return side == MigrationSide::kOld ? *old_ : *new_;
  }
  std::unique_ptr<RedisServer> old_, new_;
};

TrafficRigOptions RigFor(const WriterEngine& engine) {
  TrafficRigOptions options;
  options.tcp_backends.push_back(
      {kBackend,
       {{"old", "127.0.0.1:" + std::to_string(engine.Port(MigrationSide::kOld)), 1},
        {"new", "127.0.0.1:" + std::to_string(engine.Port(MigrationSide::kNew)), 0}}});
  return options;
}

// "old" / "new" in the writer backend: ready (not MAINT) with a weight above 0, from one
// `show stat` (columns pxname, svname, ..., weight at 18, status at 17; see HAProxy's CSV).
struct BackendState {
  bool old_in = false;
  bool new_in = false;
};

BackendState ReadBackend(HaproxyServer& haproxy) {
  BackendState state;
  std::istringstream lines(haproxy.AdminCommand("show stat -1 4 -1"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(std::string(kBackend) + ",", 0) != 0) continue;
    std::vector<std::string> fields;
    std::istringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) fields.push_back(cell);
    if (fields.size() < 19) continue;
    const bool in = !Contains(fields[17], "MAINT") && fields[18] != "0";
    if (fields[1] == "old") state.old_in = in;
    if (fields[1] == "new") state.new_in = in;
  }
  return state;
}

}  // namespace

std::unique_ptr<WriterEngine> StartMariaDbWriterEngine(const std::string& dir) {
  return std::make_unique<MariaDbWriterEngine>(dir);
}

std::unique_ptr<WriterEngine> StartPostgresWriterEngine(const std::string& dir) {
  return std::make_unique<PostgresWriterEngine>(dir);
}

std::unique_ptr<WriterEngine> StartRedisWriterEngine(const std::string& dir) {
  return std::make_unique<RedisWriterEngine>(dir);
}

WriterMigration::WriterMigration(EngineStarter start_engine, const Options& options)
    : servers_dir_("tandem-writer-migration"),
      engine_(start_engine(servers_dir_.path())),
      rig_(std::make_unique<TrafficRig>(RigFor(*engine_))) {
  // max_lag 10 s and latency_slack 250 ms: these tests are about where the writes go and what is
  // kept, not about lag or response times (other tests gate on those). With ctest running the
  // sanitizer builds beside them on the 2 cores (load average 5), PostgreSQL's streams under the
  // 300 writes/s writer were seen to stall their heartbeat for 1-3 s, and the p95 gate to fail
  // phase 4.
  const std::string datastore =
      "[[datastore]]\nname = \"orders\"\nsource = \"" + engine_->Uri(MigrationSide::kOld) +
      "\"\ntarget = \"" + engine_->Uri(MigrationSide::kNew) +
      "\"\nmax_lag = \"10s\"\nlag_for = \"2s\"\n"
      "writer = { haproxy_backend = \"orders_db\", old = \"old\", new = \"new\" }\n\n";
  plan_ = WritePlan(
      rig_->dir(), "shop.toml",
      "name = \"shop\"\nrollback_budget = \"5m\"\n\n" + datastore +
          rig_->TrafficToml({{"steps", "[25, 100]"}, {"latency_slack", "\"250ms\""}}) +
          "\n[monitor]\nwindow = \"" + options.window +
          "\"\nverify_every = \"3s\"\nslot_advance_every = \"2s\"\nrollback_on_breach = " +
          (options.rollback_on_breach ? "true" : "false") + "\n" + options.extra_plan);
  watcher_ = std::thread([this] { Watch(); });
}

WriterMigration::~WriterMigration() {
  if (writer_) writer_->Stop();
  stop_watch_.store(true);
  if (watcher_.joinable()) watcher_.join();
}

nlohmann::json WriterMigration::Status() const {
  return nlohmann::json::parse(StatusJson(plan_), nullptr, false);
}

void WriterMigration::StartWriter() {
  if (writer_) {  // a running writer is stopped first: its ids recorded, its range never reused
    std::set<int> acknowledged, uncertain;
    StopWriter(&acknowledged, &uncertain);
  }
  writer_ = std::make_unique<AppWriter>(engine_->App(), rig_->haproxy().frontend_port(kBackend),
                                        next_id_, 300, std::chrono::minutes(10));
}

void WriterMigration::StopWriter(std::set<int>* acknowledged, std::set<int>* uncertain) {
  if (writer_) {
    writer_->Stop();
    const std::set<int> acked = writer_->acknowledged_ids();
    const std::set<int> unknown = writer_->uncertain_ids();
    acknowledged_.insert(acked.begin(), acked.end());
    uncertain_.insert(unknown.begin(), unknown.end());
    if (!acked.empty()) next_id_ = std::max(next_id_, *acked.rbegin() + 1);
    if (!unknown.empty()) next_id_ = std::max(next_id_, *unknown.rbegin() + 1);
    next_id_ += 1000;  // ids the writer may have tried beyond the last known one
    writer_.reset();
  }
  *acknowledged = acknowledged_;
  *uncertain = uncertain_;
}

bool WriterMigration::WritesOnNew() {
  const BackendState state = ReadBackend(rig_->haproxy());
  return state.new_in && !state.old_in;
}

std::string WriterMigration::BothInBackend() const {
  std::lock_guard<std::mutex> lock(watch_mu_);
  return both_in_;
}

void WriterMigration::Watch() {
  while (!stop_watch_.load()) {
    try {
      const BackendState state = ReadBackend(rig_->haproxy());
      if (state.old_in && state.new_in) {
        std::lock_guard<std::mutex> lock(watch_mu_);
        both_in_ += "both servers in the writer backend at " +
                    std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) +
                    "; ";
      }
    } catch (const std::exception&) {
      // HAProxy's socket busy for a moment: the next reading counts.
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool WriterMigration::WaitForStep(TandemProcess& run, const std::string& step,
                                  milliseconds timeout) {
  return PollUntil(timeout,
                   [&] {
                     if (!run.Running()) return true;
                     const nlohmann::json status = Status();
                     return !status.is_discarded() && status.value("step", "") == step;
                   }) &&
         run.Running();
}

void WriterMigration::ExpectNothingLost(MigrationSide writes_on) {
  std::set<int> acknowledged, uncertain;
  StopWriter(&acknowledged, &uncertain);
  EXPECT_GT(acknowledged.size(), 0u);
  const MigrationSide other =
      writes_on == MigrationSide::kOld ? MigrationSide::kNew : MigrationSide::kOld;
  const std::set<int> held = engine_->AppIds(writes_on);
  for (int id : acknowledged) {
    EXPECT_TRUE(held.count(id)) << "acknowledged write " << id << " lost on the "
                                << (writes_on == MigrationSide::kOld ? "old" : "new") << " side";
  }
  for (int id : held) {
    EXPECT_TRUE(acknowledged.count(id) || uncertain.count(id)) << "id " << id << " never written";
  }
  EXPECT_EQ(BothInBackend(), "");
  // The stream that runs after the run: old -> new when the writes are on the old side (stream
  // "orders"), new -> old otherwise ("orders.reverse").
  const bool forward = writes_on == MigrationSide::kOld;
  // A completed run ended the reverse stream of a PostgreSQL datastore: caught up, its slot on
  // the new side dropped (the outcome says so), so nothing streams to the old side any more.
  const nlohmann::json status = Status();
  if (!forward && !status.is_discarded() && status.value("state", "") == "completed" &&
      Contains(status.value("outcome", ""), "replication slot on the new side dropped")) {
    return;
  }
  CommandOutcome synced =
      RunTandem({"sync", "--source", engine_->Uri(writes_on), "--target", engine_->Uri(other),
                 "--stream", forward ? "orders" : "orders.reverse", "--until-caught-up"},
                {}, seconds(120));
  ASSERT_EQ(synced.exit_code, 0) << synced.out << synced.err;
  const std::set<int> on_other = engine_->AppIds(other);
  std::string missing, extra;
  for (int id : held) missing += on_other.count(id) ? "" : std::to_string(id) + " ";
  for (int id : on_other) extra += held.count(id) ? "" : std::to_string(id) + " ";
  EXPECT_TRUE(missing.empty() && extra.empty())
      << "the sides differ after the stream caught up: missing on the other side: " << missing
      << "; only on the other side: " << extra << "\n"
      << synced.out << synced.err;
}

}  // namespace tandem::testing
