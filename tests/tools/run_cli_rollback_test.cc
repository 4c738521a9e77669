// `tandem run PLAN` through phases 1-6 with a datastore whose writes go through an HAProxy TCP
// writer backend, an application writing through it at 300 writes/s with an ordinary account the
// whole time (tests/tools/writer_migration.h), and `tandem run PLAN --rollback`. The first four
// cases run for MariaDB, PostgreSQL and Redis; the kill during each sub-step for MariaDB:
//   - a rollback handed to the controller while it watches phase 6: the writes come back to the
//     old side (the reverse stream drained into it first), the traffic back on the old servers;
//     every acknowledged write is on the old side, and on the new one once the forward stream,
//     resumed from where the rollback handed it over, caught up;
//   - kill -9 of the controller in phase 6, then --rollback by a new process (with --report);
//   - kill -9 in phase 6, then --resume: the window goes on and the run completes with the
//     decommission verdict, every write on the new side;
//   - a breach in phase 6 (a row changed on the old side behind tandem's back) with
//     rollback_on_breach: the controller rolls the migration back by itself;
//   - kill -9 of the controller during each sub-step of the write cutover (the moment the journal
//     shows the step or the sub-step before it, or held by TANDEM_FAULT_HOLD inside the writer
//     switch; the latter for PostgreSQL and Redis too), then --resume and, separately, --rollback;
//   - kill -9 inside the DNS update that follows (held before it is sent and after it is applied),
//     then --resume (one switch update in all) or --rollback (records, writes and traffic back).
// Throughout, the writer backend never has both servers in it (the watcher of WriterMigration).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <thread>

#include "orchestration/journal.h"
#include "tests/harness/files.h"
#include "tests/harness/knot_server.h"
#include "tests/harness/tls_certificates.h"
#include "tests/harness/tls_listener.h"
#include "tests/harness/wait.h"
#include "tests/tools/dns_plan.h"
#include "tests/tools/run_plan_support.h"
#include "tests/tools/run_tandem.h"
#include "tests/tools/writer_migration.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const nlohmann::json* FindStep(const nlohmann::json& status, const std::string& name) {
  if (!status.contains("steps")) return nullptr;
  for (const nlohmann::json& step : status["steps"]) {
    if (step["name"] == name) return &step;
  }
  return nullptr;
}

std::unique_ptr<WriterMigration> StartMigration(
    const WriterMigration::Options& options,
    WriterMigration::EngineStarter engine = StartMariaDbWriterEngine) {
  return std::make_unique<WriterMigration>(engine, options);
}

// The engines of the phase 6 tests.
struct Engine {
  const char* name;
  WriterMigration::EngineStarter start;
};
void PrintTo(const Engine& engine, std::ostream* out) { *out << engine.name; }

constexpr Engine kEngines[] = {
    {"MariaDb", StartMariaDbWriterEngine},
    {"Postgres", StartPostgresWriterEngine},
    {"Redis", StartRedisWriterEngine},
};

class RunCliRollback : public ::testing::TestWithParam<Engine> {};

// Runs the plan with the application writing until the controller watches phase 6.
std::unique_ptr<TandemProcess> RunIntoPhaseSix(WriterMigration& migration) {
  migration.StartWriter();
  auto run = std::make_unique<TandemProcess>(
      std::vector<std::string>{"run", migration.plan(), "--format", "json"},
      migration.plan() + ".log");
  EXPECT_TRUE(migration.WaitForStep(*run, "monitor", milliseconds(240'000))) << run->Log();
  EXPECT_TRUE(migration.WritesOnNew());
  // The application's writes on the new side reach the old one through the reverse stream.
  const int64_t acknowledged = migration.writer().acknowledged();
  EXPECT_TRUE(PollUntil(milliseconds(20'000),
                        [&] { return migration.writer().acknowledged() > acknowledged + 300; }));
  const std::set<int> on_new = migration.engine().AppIds(MigrationSide::kNew);
  EXPECT_TRUE(PollUntil(milliseconds(20'000), [&] {
    const std::set<int> on_old = migration.engine().AppIds(MigrationSide::kOld);
    return std::includes(on_old.begin(), on_old.end(), on_new.begin(), on_new.end());
  })) << "the reverse stream did not bring the new side's writes to the old side";
  // PostgreSQL: the stopped forward stream's slot on the old side is moved up in phase 6 (every
  // slot_advance_every, 2 s here) instead of keeping the WAL the reverse stream writes there.
  if (const std::optional<std::string> wal = migration.engine().WalPosition(MigrationSide::kOld)) {
    EXPECT_TRUE(
        PollUntil(milliseconds(20'000),
                  [&] { return migration.engine().SlotsConfirmed(MigrationSide::kOld, *wal); }))
        << "the forward stream's slot on the old side stays behind " << *wal;
  }
  return run;
}

void ExpectRolledBack(WriterMigration& migration, const std::string& rollback_output) {
  const nlohmann::json status = migration.Status();
  ASSERT_FALSE(status.is_discarded());
  EXPECT_EQ(status["state"], "rolled_back") << status.dump();
  const nlohmann::json* writes = FindStep(status, "writes orders");
  ASSERT_NE(writes, nullptr);
  if ((*writes)["state"] != "failed") {  // a cutover killed before it failed needs its undo
    const nlohmann::json* undo = FindStep(status, "undo writes orders");
    ASSERT_NE(undo, nullptr) << status.dump();
    EXPECT_EQ((*undo)["state"], "done") << undo->dump();
    EXPECT_EQ((*writes)["state"], "undone");
  }
  EXPECT_NE(status["outcome"].get<std::string>().find("rolled back in"), std::string::npos)
      << status.dump();
  EXPECT_NE(rollback_output.find("rolled back"), std::string::npos) << rollback_output;
  std::printf("%s\n", status["outcome"].get<std::string>().c_str());
  std::fflush(stdout);
  EXPECT_EQ(migration.rig().WeightShareOfNew(), 0.0) << migration.rig().WeightsText();
  EXPECT_FALSE(migration.WritesOnNew());
  EXPECT_FALSE(migration.engine().FrozenForClients(MigrationSide::kOld));
  EXPECT_FALSE(migration.engine().FrozenForClients(MigrationSide::kNew));
  // The application writes on the old side again for a moment, then nothing is missing anywhere.
  migration.StartWriter();
  EXPECT_TRUE(
      PollUntil(milliseconds(20'000), [&] { return migration.writer().acknowledged() > 100; }));
  migration.ExpectNothingLost(MigrationSide::kOld);
}

TEST_P(RunCliRollback, ARollbackHandedToTheControllerInPhaseSixBringsEveryWriteBack) {
  auto migration = StartMigration({}, GetParam().start);
  auto run = RunIntoPhaseSix(*migration);
  ASSERT_FALSE(HasFailure()) << run->Log();
  CommandOutcome rollback = RunTandem({"run", migration->plan(), "--rollback"}, {}, seconds(180));
  EXPECT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err << run->Log();
  EXPECT_NE(rollback.out.find("handed to the running controller"), std::string::npos)
      << rollback.out;
  // The controller ends the run: stopped and rolled back on request (exit 1).
  std::optional<int> run_exit = run->WaitForExit(seconds(60));
  ASSERT_TRUE(run_exit.has_value()) << run->Log();
  EXPECT_EQ(*run_exit, 1) << run->Log();
  EXPECT_NE(run->Log().find("\"state\":\"rolled back\""), std::string::npos) << run->Log();
  ExpectRolledBack(*migration, rollback.out);
  // A second --rollback changes nothing and says so.
  CommandOutcome again = RunTandem({"run", migration->plan(), "--rollback"}, {}, seconds(60));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("was rolled back already"), std::string::npos) << again.out;
}

TEST_P(RunCliRollback, AfterAKillNineInPhaseSixARollbackBringsEveryWriteBack) {
  auto migration = StartMigration({}, GetParam().start);
  auto run = RunIntoPhaseSix(*migration);
  ASSERT_FALSE(HasFailure()) << run->Log();
  ASSERT_TRUE(run->KillNine());
  const std::string report = migration->rig().dir() + "/report.html";
  CommandOutcome rollback =
      RunTandem({"run", migration->plan(), "--rollback", "--report", report}, {}, seconds(180));
  EXPECT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
  ExpectRolledBack(*migration, rollback.out);
  // The report of the real run: the page and its data, the write pause and the rollback in them.
  const std::string page = ReadFile(report);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  const nlohmann::json data =
      nlohmann::json::parse(ReadFile(migration->rig().dir() + "/report.json"), nullptr, false);
  ASSERT_FALSE(data.is_discarded());
  EXPECT_EQ(data["run"]["state"], "rolled_back") << data["run"].dump();
  EXPECT_FALSE(data["rollback"]["events"].empty()) << data["rollback"].dump();
  EXPECT_FALSE(data["write_pause"].empty()) << data.dump().substr(0, 2000);
}

TEST_P(RunCliRollback, AfterAKillNineInPhaseSixAResumedRunCompletesWithTheVerdict) {
  auto migration = StartMigration({.window = "25s"}, GetParam().start);
  auto run = RunIntoPhaseSix(*migration);
  ASSERT_FALSE(HasFailure()) << run->Log();
  ASSERT_TRUE(run->KillNine());
  TandemProcess resumed({"run", migration->plan(), "--resume", "--format", "json"},
                        migration->plan() + ".resume.log");
  std::optional<int> exit_code = resumed.WaitForExit(seconds(120));
  ASSERT_TRUE(exit_code.has_value()) << resumed.Log();
  EXPECT_EQ(*exit_code, 0) << resumed.Log();
  const nlohmann::json status = migration->Status();
  EXPECT_EQ(status["state"], "completed") << status.dump();
  const nlohmann::json* watch = FindStep(status, "monitor");
  ASSERT_NE(watch, nullptr) << status.dump();
  EXPECT_EQ((*watch)["state"], "done");
  EXPECT_EQ((*watch)["detail"]["decommission"], true) << watch->dump();
  EXPECT_NE(status["outcome"].get<std::string>().find("the old side may be decommissioned"),
            std::string::npos)
      << status.dump();
  EXPECT_TRUE(migration->WritesOnNew());
  migration->ExpectNothingLost(MigrationSide::kNew);
}

TEST_P(RunCliRollback, ABreachInPhaseSixRollsBackWhenThePlanSaysSo) {
  auto migration = StartMigration({.rollback_on_breach = true}, GetParam().start);
  auto run = RunIntoPhaseSix(*migration);
  ASSERT_FALSE(HasFailure()) << run->Log();
  // Behind tandem's back: a seed row changed on the old side (the freeze binds the application,
  // not an administrator). The periodic verify of new against old finds it.
  migration->engine().ChangeBehindTandem(MigrationSide::kOld);
  std::optional<int> exit_code = run->WaitForExit(seconds(90));
  ASSERT_TRUE(exit_code.has_value()) << run->Log();
  EXPECT_EQ(*exit_code, 1) << run->Log();
  const std::string log = run->Log();
  EXPECT_NE(log.find("breach in phase 6: consistency orders.reverse"), std::string::npos) << log;
  const nlohmann::json status = migration->Status();
  EXPECT_NE(status["outcome"].get<std::string>().find("rolled back in"), std::string::npos)
      << status.dump();
  EXPECT_EQ(status["state"], "rolled_back") << status.dump();
  EXPECT_FALSE(migration->WritesOnNew());
  migration->ExpectNothingLost(MigrationSide::kOld);
}

INSTANTIATE_TEST_SUITE_P(PerEngine, RunCliRollback, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return std::string(info.param.name);
                         });

// A certificate the clients would refuse stops the DNS switch, which follows the write cutover:
// before DNS changes, the writes go back to the old side with the traffic (the run rolls back).
TEST(RunCliRollback, ARefusedCertificateAtTheDnsSwitchBringsWritesAndTrafficBack) {
  TempDir certs_dir("writer-tls");
  for (const RefusedCertificate& tls_case : RefusedCertificates(certs_dir.path())) {
    SCOPED_TRACE(tls_case.what);
    TlsListener listener(tls_case.cert, tls_case.key, certs_dir.path() + "/s_server.log");
    TempDir knot_dir("writer-knot");
    auto knot = KnotServer::Start(knot_dir.path(), ExampleZone(4));
    const std::string dns = DnsToml(*knot, TlsToml(listener.address(), tls_case.ca), 1);
    auto migration = StartMigration({.extra_plan = dns});
    migration->StartWriter();
    CommandOutcome run = RunTandem({"run", migration->plan()}, {}, seconds(240));
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_NE(run.err.find(tls_case.expect), std::string::npos) << run.err;
    const nlohmann::json status = migration->Status();
    EXPECT_EQ(status["state"], "rolled_back") << status.dump();
    const nlohmann::json* writes = FindStep(status, "writes orders");
    ASSERT_NE(writes, nullptr) << status.dump();
    EXPECT_EQ((*writes)["state"], "undone") << status.dump();
    EXPECT_EQ(knot->Read(KnotServer::Role::kPrimary, "www", "A").at(0).value, "192.0.2.10");
    EXPECT_EQ(migration->rig().WeightShareOfNew(), 0.0) << migration->rig().WeightsText();
    EXPECT_FALSE(migration->WritesOnNew());
    EXPECT_FALSE(migration->engine().FrozenForClients(MigrationSide::kOld));
    migration->ExpectNothingLost(MigrationSide::kOld);
  }
}

// kill -9 of the controller during the write cutover. Without a `hold`, the kill lands right after
// the journal shows `after` (the writes step's start when empty): during the sub-step that follows
// it. With one, the controller runs with TANDEM_FAULT_HOLD at that point (orchestration/
// fault_hold.h) and is killed while it holds there: inside the writer switch, whose window between
// the journal's "switching" and HAProxy's answer is otherwise about a millisecond.
struct KillPoint {
  const char* during;
  const char* after;
  const char* hold = nullptr;
  bool new_in_at_kill = false;  // with a hold: whether the new server is in the writer backend
};
enum class Recovery { kResume, kRollback };

void PrintTo(const KillPoint& point, std::ostream* out) { *out << point.during; }
void PrintTo(Recovery recovery, std::ostream* out) {
  *out << (recovery == Recovery::kResume ? "resume" : "rollback");
}

// The newest sub-step of the cutover the journal holds ("" when none).
std::string LastCutoverSubStep(const std::string& journal_path) {
  auto journal = orchestration::Journal::Open(journal_path, /*create=*/false);
  if (!journal.ok()) return "";
  auto latest = (*journal)->LatestRun();
  if (!latest.ok() || !*latest) return "";
  auto samples = (*journal)->Samples((*latest)->id, "write_cutover");
  std::string last;
  if (samples.ok()) {
    for (const nlohmann::json& sample : *samples) {
      if (sample.value("direction", "") == "cutover") last = sample.value("sub_step", "");
    }
  }
  return last;
}

class KillDuringCutover : public ::testing::TestWithParam<std::tuple<Engine, KillPoint, Recovery>> {
};

// Polls the run's journal (every 2 ms) until it shows `after`. False when the run ended first.
bool WaitForJournal(const std::string& journal_path, TandemProcess& run, const std::string& after) {
  std::unique_ptr<orchestration::Journal> journal;
  return PollUntil(
             milliseconds(240'000),
             [&] {
               if (!run.Running()) return true;
               if (!journal) {
                 auto opened = orchestration::Journal::Open(journal_path, /*create=*/false);
                 if (!opened.ok()) return false;
                 journal = std::move(*opened);
               }
               auto latest = journal->LatestRun();
               if (!latest.ok() || !*latest) return false;
               if (after.empty()) {
                 auto step = journal->FindStep((*latest)->id, "writes orders");
                 return step.ok() && step->has_value();
               }
               auto samples = journal->Samples((*latest)->id, "write_cutover");
               if (!samples.ok()) return false;
               for (const nlohmann::json& sample : *samples) {
                 if (sample.value("direction", "") == "cutover" &&
                     sample.value("sub_step", "") == after) {
                   return true;
                 }
               }
               return false;
             },
             milliseconds(2)) &&
         run.Running();
}

// `tandem run --resume` after a kill: the run completes with the writes on the new side (the old
// one out of the writer backend, and frozen where the engine's freeze lasts), every acknowledged
// write kept.
void ResumeToCompletion(WriterMigration& migration) {
  TandemProcess resumed({"run", migration.plan(), "--resume", "--format", "json"},
                        migration.plan() + ".resume.log");
  std::optional<int> exit_code = resumed.WaitForExit(seconds(180));
  ASSERT_TRUE(exit_code.has_value()) << resumed.Log();
  ASSERT_EQ(*exit_code, 0) << resumed.Log();
  const nlohmann::json status = migration.Status();
  EXPECT_EQ(status["state"], "completed") << status.dump();
  EXPECT_TRUE(migration.WritesOnNew());
  EXPECT_FALSE(migration.engine().FrozenForClients(MigrationSide::kNew));
  EXPECT_EQ(migration.engine().FrozenForClients(MigrationSide::kOld),
            migration.engine().OldStaysFrozenAfterTheSwitch());
  migration.ExpectNothingLost(MigrationSide::kNew);
}

// Polls the run's log (every 2 ms) until the controller says it holds at `point`. False when the
// run ended first.
bool WaitForFaultHold(TandemProcess& run, const std::string& point) {
  const std::string line = "tandem: fault hold at " + point + " ";
  return PollUntil(
             milliseconds(240'000),
             [&] { return !run.Running() || run.Log().find(line) != std::string::npos; },
             milliseconds(2)) &&
         run.Running();
}

TEST_P(KillDuringCutover, NothingIsLostAndNeverTwoWritablePrimaries) {
  const auto [engine, point, recovery] = GetParam();
  auto migration = StartMigration({.window = "3s"}, engine.start);
  migration->StartWriter();
  std::vector<std::string> env;
  if (point.hold) env.push_back(std::string("TANDEM_FAULT_HOLD=") + point.hold + "=60s");
  TandemProcess run({"run", migration->plan(), "--format", "json"}, migration->plan() + ".log",
                    env);
  const std::string journal_path = migration->rig().dir() + "/shop.journal.db";
  if (point.hold) {
    ASSERT_TRUE(WaitForFaultHold(run, point.hold)) << run.Log();
  } else {
    ASSERT_TRUE(WaitForJournal(journal_path, run, point.after)) << run.Log();
  }
  ASSERT_TRUE(run.KillNine());
  // Where the kill landed: the journal's newest sub-step is still the one waited for (else the
  // controller raced past it and the kill hit a later sub-step; printed, and failed only for a
  // held controller, which cannot race: every kill point must be survivable).
  const std::string landed = LastCutoverSubStep(journal_path);
  std::printf("killed during %s: the journal's newest sub-step is '%s' (waited for '%s')\n",
              point.during, landed.c_str(), point.after);
  std::fflush(stdout);
  if (point.hold) {
    EXPECT_EQ(landed, point.after);
    EXPECT_EQ(migration->WritesOnNew(), point.new_in_at_kill) << migration->rig().WeightsText();
  }
  if (recovery == Recovery::kResume) {
    ResumeToCompletion(*migration);
  } else {
    CommandOutcome rollback = RunTandem({"run", migration->plan(), "--rollback"}, {}, seconds(180));
    ASSERT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
    ExpectRolledBack(*migration, rollback.out);
  }
}

constexpr KillPoint kKillPoints[] = {
    {"Freeze", ""},
    {"Drain", "freeze"},
    {"FinalVerify", "drain"},
    {"ReverseStart", "verify"},
    {"WriterSwitch", "reverse"},
    // Inside the writer switch: its intent journaled, the new server not in yet; then in, the
    // switch not journaled as done yet.
    {"SwitchBeforeTheNewServerIsIn", "switching", "writes.switching", false},
    {"SwitchAfterTheNewServerIsIn", "switching", "writes.switched", true},
};
constexpr KillPoint kInsideTheSwitch[] = {kKillPoints[5], kKillPoints[6]};

std::string KillCaseName(
    const ::testing::TestParamInfo<std::tuple<Engine, KillPoint, Recovery>>& info) {
  return std::string(std::get<0>(info.param).name) + std::get<1>(info.param).during +
         (std::get<2>(info.param) == Recovery::kResume ? "ThenResume" : "ThenRollback");
}

// Every sub-step for MariaDB; inside the writer switch for PostgreSQL and Redis too, whose resumed
// cutover after the switch starts their own reverse streams.
INSTANTIATE_TEST_SUITE_P(
    EverySubStep, KillDuringCutover,
    ::testing::Combine(::testing::Values(kEngines[0]), ::testing::ValuesIn(kKillPoints),
                       ::testing::Values(Recovery::kResume, Recovery::kRollback)),
    KillCaseName);
INSTANTIATE_TEST_SUITE_P(InsideTheSwitch, KillDuringCutover,
                         ::testing::Combine(::testing::Values(kEngines[1], kEngines[2]),
                                            ::testing::ValuesIn(kInsideTheSwitch),
                                            ::testing::Values(Recovery::kResume,
                                                              Recovery::kRollback)),
                         KillCaseName);

// kill -9 of the controller inside the DNS update, which follows the write cutover: held
// (TANDEM_FAULT_HOLD) after the update's intent is journaled and before it is sent, or after the
// primary applied it and before that is journaled. Then --resume completes with exactly one
// switch update (the SOA serial moves once), or --rollback brings the records (if they moved),
// the writes and the traffic back; every acknowledged write is kept either way.
struct DnsKillPoint {
  const char* hold;
  bool updated_at_kill;  // whether the primary holds the new value when the kill lands
};
void PrintTo(const DnsKillPoint& point, std::ostream* out) { *out << point.hold; }

class KillDuringDnsUpdate : public ::testing::TestWithParam<std::tuple<DnsKillPoint, Recovery>> {};

TEST_P(KillDuringDnsUpdate, NothingIsLostAndTheZoneIsChangedOnceEachWay) {
  const auto [point, recovery] = GetParam();
  TempDir knot_dir("writer-knot");
  auto knot = KnotServer::Start(knot_dir.path(), ExampleZone(4));
  const uint32_t serial_at_start = knot->Serial(KnotServer::Role::kPrimary);
  auto migration = StartMigration({.window = "3s", .extra_plan = DnsToml(*knot, "", 1)});
  migration->StartWriter();
  const auto www = [&](KnotServer::Role role) { return knot->Read(role, "www", "A").at(0).value; };
  {
    TandemProcess run({"run", migration->plan(), "--format", "json"}, migration->plan() + ".log",
                      {std::string("TANDEM_FAULT_HOLD=") + point.hold + "=60s"});
    ASSERT_TRUE(WaitForFaultHold(run, point.hold)) << run.Log();
    ASSERT_TRUE(run.KillNine());
  }
  // Phase 1 lowered the TTL (+1); the kill landed before or after the switch's update.
  const uint32_t serial_lowered = serial_at_start + 1;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary),
            serial_lowered + (point.updated_at_kill ? 1 : 0));
  EXPECT_EQ(www(KnotServer::Role::kPrimary),
            point.updated_at_kill ? "198.51.100.10" : "192.0.2.10");
  EXPECT_TRUE(migration->WritesOnNew()) << migration->rig().WeightsText();

  if (recovery == Recovery::kResume) {
    ResumeToCompletion(*migration);
    EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_lowered + 1) << "a second update";
    for (KnotServer::Role role : {KnotServer::Role::kPrimary, KnotServer::Role::kSecondary}) {
      EXPECT_EQ(www(role), "198.51.100.10");
    }
  } else {
    CommandOutcome rollback = RunTandem({"run", migration->plan(), "--rollback"}, {}, seconds(180));
    ASSERT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
    // Records that moved go back in one more update; records that never moved are left alone.
    EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary),
              serial_lowered + (point.updated_at_kill ? 2 : 0));
    for (KnotServer::Role role : {KnotServer::Role::kPrimary, KnotServer::Role::kSecondary}) {
      EXPECT_EQ(www(role), "192.0.2.10");
    }
    ExpectRolledBack(*migration, rollback.out);
  }
}

constexpr DnsKillPoint kDnsKillPoints[] = {
    {"dns.updating", false},
    {"dns.updated", true},
};

INSTANTIATE_TEST_SUITE_P(
    InsideTheUpdate, KillDuringDnsUpdate,
    ::testing::Combine(::testing::ValuesIn(kDnsKillPoints),
                       ::testing::Values(Recovery::kResume, Recovery::kRollback)),
    [](const ::testing::TestParamInfo<std::tuple<DnsKillPoint, Recovery>>& info) {
      return std::string(std::get<0>(info.param).updated_at_kill ? "AfterTheUpdate"
                                                                 : "BeforeTheUpdate") +
             (std::get<1>(info.param) == Recovery::kResume ? "ThenResume" : "ThenRollback");
    });

}  // namespace
}  // namespace tandem::testing
