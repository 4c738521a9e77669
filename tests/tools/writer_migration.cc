#include "tests/tools/writer_migration.h"

#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tests/harness/mariadb_server.h"
#include "tests/harness/mysql_client.h"
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

class MariaDbWriterEngine final : public WriterEngine {
 public:
  explicit MariaDbWriterEngine(const std::string& dir)
      : old_(MariaDbServer::Start(dir)), new_(MariaDbServer::Start(dir)) {
    for (const MariaDbServer* server : {old_.get(), new_.get()}) {
      server->Execute("CREATE DATABASE shop");
      server->Execute("CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret'");
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

  AppClient App() const override {
    AppClient app;
    app.connect = [](uint16_t port) -> std::function<void(int)> {
      MySqlConnectOptions options;
      options.port = port;
      options.user = "app";
      options.password = "app-secret";
      options.database = "shop";
      options.connect_timeout = seconds(2);
      auto client = std::make_shared<MySqlClient>(MySqlClient::Connect(options));
      return [client](int id) {
        client->Execute("INSERT INTO items VALUES (" + std::to_string(id) + ", 'app', 1)");
      };
    };
    app.refused = [](const std::string& error) {
      return Contains(error, "read-only") || Contains(error, "read_only");
    };
    return app;
  }

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

WriterMigration::WriterMigration(EngineStarter start_engine, const Options& options)
    : servers_dir_("tandem-writer-migration"),
      engine_(start_engine(servers_dir_.path())),
      rig_(std::make_unique<TrafficRig>(RigFor(*engine_))) {
  const std::string datastore =
      "[[datastore]]\nname = \"orders\"\nsource = \"" + engine_->Uri(MigrationSide::kOld) +
      "\"\ntarget = \"" + engine_->Uri(MigrationSide::kNew) +
      "\"\nmax_lag = \"1s\"\nlag_for = \"2s\"\n"
      "writer = { haproxy_backend = \"orders_db\", old = \"old\", new = \"new\" }\n\n";
  plan_ = WritePlan(rig_->dir(), "shop.toml",
                    "name = \"shop\"\nrollback_budget = \"5m\"\n\n" + datastore +
                        rig_->TrafficToml({{"steps", "[25, 100]"}}) + "\n[monitor]\nwindow = \"" +
                        options.window + "\"\nverify_every = \"3s\"\nrollback_on_breach = " +
                        (options.rollback_on_breach ? "true" : "false") + "\n");
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
  // The stream that runs after the run: old -> new when the writes are on the old side (stream
  // "orders"), new -> old otherwise ("orders.reverse").
  const bool forward = writes_on == MigrationSide::kOld;
  CommandOutcome synced =
      RunTandem({"sync", "--source", engine_->Uri(writes_on), "--target", engine_->Uri(other),
                 "--stream", forward ? "orders" : "orders.reverse", "--until-caught-up"},
                {}, seconds(120));
  ASSERT_EQ(synced.exit_code, 0) << synced.out << synced.err;
  EXPECT_EQ(engine_->AppIds(other), held) << "the sides differ after the stream caught up";
  EXPECT_EQ(BothInBackend(), "");
}

}  // namespace tandem::testing
