// `tandem run PLAN` through phases 1-6 with a MariaDB datastore whose writes go through an HAProxy
// TCP writer backend, and `tandem run PLAN --rollback`:
//   - a rollback handed to the controller while it watches phase 6: the writes come back to the
//     old side (the reverse stream drained into it first), the traffic back on the old servers,
//     every acknowledged write on the old side; the forward stream then resumes from where the
//     rollback handed it over;
//   - kill -9 of the controller in phase 6, then --rollback by a new process: the same;
//   - kill -9 in phase 6, then --resume: the window goes on from where it was, and the run
//     completes with the decommission verdict.
// An ordinary application account (read_only binds it) writes through the writer frontend; writes
// made on the new side after the switch reach the old side through the reverse stream.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/harness/files.h"
#include "tests/harness/mariadb_server.h"
#include "tests/harness/mysql_client.h"
#include "tests/harness/wait.h"
#include "tests/tools/run_plan_support.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kRows = 300;

std::string ItemsInsert(int rows) {
  std::string insert = "INSERT INTO shop.items VALUES ";
  for (int id = 1; id <= rows; ++id) {
    insert += (id > 1 ? "," : "") + std::string("(") + std::to_string(id) + ", 'item " +
              std::to_string(id) + "', " + std::to_string(id * 3) + ")";
  }
  return insert;
}

nlohmann::json Status(const std::string& plan) {
  return nlohmann::json::parse(StatusJson(plan), nullptr, false);
}

const nlohmann::json* FindStep(const nlohmann::json& status, const std::string& name) {
  if (!status.contains("steps")) return nullptr;
  for (const nlohmann::json& step : status["steps"]) {
    if (step["name"] == name) return &step;
  }
  return nullptr;
}

// Two private MariaDB servers (old with the items, new with the database only), the application's
// account on both, HAProxy with the HTTP traffic backend and the TCP writer backend orders_db, and
// a plan with phase 6 watching for `window`.
class WriterMigration {
 public:
  explicit WriterMigration(const std::string& window)
      : servers_dir_("tandem-run-rollback"),
        old_(MariaDbServer::Start(servers_dir_.path())),
        new_(MariaDbServer::Start(servers_dir_.path())),
        rig_(RigOptions(*old_, *new_)) {
    for (const MariaDbServer* server : {old_.get(), new_.get()}) {
      server->Execute("CREATE DATABASE shop");
      server->Execute("CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret'");
      server->Execute("GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'");
    }
    old_->Execute(
        "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT NOT "
        "NULL)");
    old_->Execute(ItemsInsert(kRows));
    const std::string datastore =
        "[[datastore]]\nname = \"orders\"\nsource = \"" + old_->Uri("shop") + "\"\ntarget = \"" +
        new_->Uri("shop") +
        "\"\nmax_lag = \"1s\"\nlag_for = \"2s\"\n"
        "writer = { haproxy_backend = \"orders_db\", old = \"old\", new = \"new\" }\n\n";
    plan_ = WritePlan(rig_.dir(), "shop.toml",
                      "name = \"shop\"\nrollback_budget = \"5m\"\n\n" + datastore +
                          rig_.TrafficToml({{"steps", "[25, 100]"}}) + "\n[monitor]\nwindow = \"" +
                          window + "\"\nverify_every = \"3s\"\n");
  }

  const std::string& plan() const { return plan_; }
  MariaDbServer& old_side() { return *old_; }
  MariaDbServer& new_side() { return *new_; }
  TrafficRig& rig() { return rig_; }

  // The application's account through HAProxy's writer frontend.
  MySqlClient App() {
    MySqlConnectOptions options;
    options.port = rig_.haproxy().frontend_port("orders_db");
    options.user = "app";
    options.password = "app-secret";
    options.database = "shop";
    return MySqlClient::Connect(options);
  }

  // Starts the run and waits until it watches phase 6; then writes through the writer frontend
  // (the new side takes them) and waits until the reverse stream brought them to the old side.
  void RunIntoPhaseSix(std::unique_ptr<TandemProcess>* run) {
    *run = std::make_unique<TandemProcess>(
        std::vector<std::string>{"run", plan_, "--format", "json"}, plan_ + ".log");
    ASSERT_TRUE(PollUntil(milliseconds(240'000), [&] {
      if (!(*run)->Running()) return true;
      const nlohmann::json status = Status(plan_);
      return !status.is_discarded() && status.value("step", "") == "monitor";
    }));
    ASSERT_TRUE((*run)->Running()) << (*run)->Log();
    const nlohmann::json status = Status(plan_);
    const nlohmann::json* writes = FindStep(status, "writes orders");
    ASSERT_NE(writes, nullptr) << status.dump();
    EXPECT_EQ((*writes)["state"], "done") << writes->dump();
    EXPECT_EQ(*old_->QueryScalar("SELECT @@global.read_only"), "1");
    MySqlClient app = App();
    for (int id = 1001; id <= 1020; ++id) {
      app.Execute("INSERT INTO items VALUES (" + std::to_string(id) + ", 'on new', 1)");
    }
    app.Execute("UPDATE items SET qty = 777 WHERE id = 7");
    EXPECT_EQ(*new_->QueryScalar("SELECT COUNT(*) FROM shop.items WHERE id > 1000"), "20");
    ASSERT_TRUE(PollUntil(milliseconds(30'000), [&] {
      return old_->QueryScalar("SELECT COUNT(*) FROM shop.items WHERE id > 1000") ==
                 std::optional<std::string>("20") &&
             old_->QueryScalar("SELECT qty FROM shop.items WHERE id = 7") ==
                 std::optional<std::string>("777");
    })) << "the reverse stream did not bring the new side's writes to the old side";
    // One more, right before the rollback: the rollback's drain must bring it.
    app.Execute("INSERT INTO items VALUES (1021, 'last on new', 1)");
  }

  // After a rollback: the run's journal, the writer backend, both servers and the forward stream.
  void ExpectRolledBack(const std::string& rollback_output) {
    const nlohmann::json status = Status(plan_);
    ASSERT_FALSE(status.is_discarded());
    EXPECT_EQ(status["state"], "rolled_back") << status.dump();
    for (const char* name : {"undo writes orders", "undo traffic"}) {
      const nlohmann::json* undo = FindStep(status, name);
      ASSERT_NE(undo, nullptr) << name << " missing: " << status.dump();
      EXPECT_EQ((*undo)["state"], "done") << undo->dump();
    }
    const nlohmann::json* writes = FindStep(status, "writes orders");
    ASSERT_NE(writes, nullptr);
    EXPECT_EQ((*writes)["state"], "undone");
    EXPECT_NE(status["outcome"].get<std::string>().find("rolled back in"), std::string::npos)
        << status.dump();
    EXPECT_NE(rollback_output.find("rolled back"), std::string::npos) << rollback_output;
    std::printf("%s\n", status["outcome"].get<std::string>().c_str());
    std::fflush(stdout);
    EXPECT_EQ(rig_.WeightShareOfNew(), 0.0) << rig_.WeightsText();

    // Both sides writable for tandem, the old one for the application again; nothing written on
    // the new side is missing on the old one.
    EXPECT_EQ(*old_->QueryScalar("SELECT @@global.read_only"), "0");
    EXPECT_EQ(*new_->QueryScalar("SELECT @@global.read_only"), "0");
    EXPECT_EQ(*old_->QueryScalar("SELECT COUNT(*) FROM shop.items WHERE id > 1000"), "21");
    EXPECT_EQ(*old_->QueryScalar("SELECT qty FROM shop.items WHERE id = 7"), "777");
    App().Execute("INSERT INTO items VALUES (1022, 'back on old', 1)");
    EXPECT_EQ(*old_->QueryScalar("SELECT name FROM shop.items WHERE id = 1022"), "back on old");
    EXPECT_FALSE(new_->QueryScalar("SELECT name FROM shop.items WHERE id = 1022").has_value());

    // The forward stream resumes from where the rollback handed it over: the write made on the
    // old side since arrives, and both sides end equal.
    CommandOutcome synced =
        RunTandem({"sync", "--source", old_->Uri("shop"), "--target", new_->Uri("shop"), "--stream",
                   "orders", "--until-caught-up"},
                  {}, seconds(120));
    ASSERT_EQ(synced.exit_code, 0) << synced.out << synced.err;
    EXPECT_EQ(*new_->QueryScalar("SELECT name FROM shop.items WHERE id = 1022"), "back on old");
    EXPECT_EQ(old_->QueryScalar("SELECT COUNT(*), SUM(qty), SUM(CRC32(name)) FROM shop.items"),
              new_->QueryScalar("SELECT COUNT(*), SUM(qty), SUM(CRC32(name)) FROM shop.items"));
  }

 private:
  static TrafficRigOptions RigOptions(const MariaDbServer& old_side,
                                      const MariaDbServer& new_side) {
    TrafficRigOptions options;
    options.tcp_backends.push_back({"orders_db",
                                    {{"old", "127.0.0.1:" + std::to_string(old_side.port()), 1},
                                     {"new", "127.0.0.1:" + std::to_string(new_side.port()), 0}}});
    return options;
  }

  TempDir servers_dir_;
  std::unique_ptr<MariaDbServer> old_, new_;
  TrafficRig rig_;
  std::string plan_;
};

TEST(RunCliRollback, ARollbackHandedToTheControllerInPhaseSixBringsEveryWriteBack) {
  WriterMigration migration("10m");
  std::unique_ptr<TandemProcess> run;
  ASSERT_NO_FATAL_FAILURE(migration.RunIntoPhaseSix(&run));
  CommandOutcome rollback = RunTandem({"run", migration.plan(), "--rollback"}, {}, seconds(180));
  EXPECT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err << run->Log();
  EXPECT_NE(rollback.out.find("handed to the running controller"), std::string::npos)
      << rollback.out;
  // The controller ends the run: stopped and rolled back on request (exit 1).
  std::optional<int> run_exit = run->WaitForExit(seconds(60));
  ASSERT_TRUE(run_exit.has_value()) << run->Log();
  EXPECT_EQ(*run_exit, 1) << run->Log();
  EXPECT_NE(run->Log().find("\"state\":\"rolled back\""), std::string::npos) << run->Log();
  migration.ExpectRolledBack(rollback.out);
  // A second --rollback changes nothing and says so.
  CommandOutcome again = RunTandem({"run", migration.plan(), "--rollback"}, {}, seconds(60));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("was rolled back already"), std::string::npos) << again.out;
}

TEST(RunCliRollback, AfterAKillNineInPhaseSixARollbackBringsEveryWriteBack) {
  WriterMigration migration("10m");
  std::unique_ptr<TandemProcess> run;
  ASSERT_NO_FATAL_FAILURE(migration.RunIntoPhaseSix(&run));
  ASSERT_TRUE(run->KillNine());
  const std::string report = migration.rig().dir() + "/report.html";
  CommandOutcome rollback =
      RunTandem({"run", migration.plan(), "--rollback", "--report", report}, {}, seconds(180));
  EXPECT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
  migration.ExpectRolledBack(rollback.out);
  // The report of the real run: the page and its data, the write pause and the rollback in them.
  const std::string page = ReadFile(report);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  const nlohmann::json data =
      nlohmann::json::parse(ReadFile(migration.rig().dir() + "/report.json"), nullptr, false);
  ASSERT_FALSE(data.is_discarded());
  EXPECT_EQ(data["run"]["state"], "rolled_back") << data["run"].dump();
  EXPECT_FALSE(data["rollback"]["events"].empty()) << data["rollback"].dump();
  EXPECT_FALSE(data["write_pause"].empty()) << data.dump().substr(0, 2000);
}

TEST(RunCliRollback, AfterAKillNineInPhaseSixAResumedRunCompletesWithTheVerdict) {
  WriterMigration migration("25s");
  std::unique_ptr<TandemProcess> run;
  ASSERT_NO_FATAL_FAILURE(migration.RunIntoPhaseSix(&run));
  ASSERT_TRUE(run->KillNine());
  TandemProcess resumed({"run", migration.plan(), "--resume", "--format", "json"},
                        migration.plan() + ".resume.log");
  std::optional<int> exit_code = resumed.WaitForExit(seconds(120));
  ASSERT_TRUE(exit_code.has_value()) << resumed.Log();
  EXPECT_EQ(*exit_code, 0) << resumed.Log();
  const nlohmann::json status = Status(migration.plan());
  EXPECT_EQ(status["state"], "completed") << status.dump();
  const nlohmann::json* watch = FindStep(status, "monitor");
  ASSERT_NE(watch, nullptr) << status.dump();
  EXPECT_EQ((*watch)["state"], "done");
  EXPECT_EQ((*watch)["detail"]["decommission"], true) << watch->dump();
  EXPECT_NE(status["outcome"].get<std::string>().find("the old side may be decommissioned"),
            std::string::npos)
      << status.dump();
  // The reverse stream ran until the end: the write made just before the kill is on the old side.
  EXPECT_EQ(*migration.old_side().QueryScalar("SELECT name FROM shop.items WHERE id = 1021"),
            "last on new");
}

}  // namespace
}  // namespace tandem::testing
