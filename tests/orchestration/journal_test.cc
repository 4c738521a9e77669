#include "orchestration/journal.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace tandem::orchestration {
namespace {

using engine::StatusCode;
using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ThisHost() {
  char name[HOST_NAME_MAX + 1] = {};
  EXPECT_EQ(gethostname(name, sizeof name - 1), 0);
  return name;
}

// Field 22 of /proc/<pid>/stat (the start time in clock ticks after boot), or -1.
int64_t ProcessStart(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) {
    return -1;
  }
  std::istringstream fields(line.substr(line.rfind(')') + 1));
  std::string field;
  for (int number = 3; number <= 22; ++number) {
    fields >> field;
  }
  return std::stoll(field);
}

// Waits for `pid` for at most 10 s (then kills it) and returns its wait status.
int WaitForChild(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " did not finish within 10 s; killed";
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

// Runs `body` in a forked child and returns its exit code (-1 when it did not exit normally).
// The child never returns into the test: it _exit()s with what `body` returned.
int RunInChild(const std::function<int()>& body, pid_t* child_pid = nullptr) {
  const pid_t pid = fork();
  if (pid == 0) {
    _exit(body());
  }
  EXPECT_GT(pid, 0) << "fork failed";
  if (pid < 0) {
    return -1;
  }
  if (child_pid != nullptr) {
    *child_pid = pid;
  }
  const int status = WaitForChild(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A raw SQLite connection, for inspecting the file and forging rows as another process would.
class RawDatabase {
 public:
  explicit RawDatabase(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDatabase() { sqlite3_close_v2(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error != nullptr ? error : "") << " in " << sql;
    sqlite3_free(error);
  }

  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
    std::string text;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return text;
  }

  // Writes the controller row as another controller would have.
  void ForgeController(int64_t pid, const std::string& host, int64_t process_start,
                       int64_t heartbeat_at_ms) {
    sqlite3_stmt* statement = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_,
                                 "INSERT OR REPLACE INTO controller(id, pid, host, process_start, "
                                 "token, heartbeat_at) VALUES (1, ?1, ?2, ?3, 'forged', ?4)",
                                 -1, &statement, nullptr),
              SQLITE_OK);
    sqlite3_bind_int64(statement, 1, pid);
    sqlite3_bind_text(statement, 2, host.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(statement, 3, process_start);
    sqlite3_bind_int64(statement, 4, heartbeat_at_ms);
    EXPECT_EQ(sqlite3_step(statement), SQLITE_DONE) << sqlite3_errmsg(db_);
    sqlite3_finalize(statement);
  }

 private:
  sqlite3* db_ = nullptr;
};

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-journal-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/plan.journal";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<Journal> OpenJournal(bool create = true) {
    auto journal = Journal::Open(path_, create);
    EXPECT_TRUE(journal.ok()) << journal.status().ToString();
    return journal.ok() ? std::move(journal).value() : nullptr;
  }

  std::string dir_;
  std::string path_;
};

// --- opening ---

TEST_F(JournalTest, ReopenKeepsRunsStepsSamplesAndApprovals) {
  int64_t run_id = 0;
  int64_t step_id = 0;
  {
    auto journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    EXPECT_EQ(journal->path(), path_);
    auto run = journal->BeginRun("orders-migration", 0xfedcba9876543210ULL);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    run_id = *run;
    auto step = journal->StartStep(run_id, 4, "traffic 25%", {{"weight", 25}});
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    step_id = step->id;
    ASSERT_TRUE(journal
                    ->FinishStep(step_id, StepState::kDone, json::array({{{"name", "lag"}}}),
                                 {{"weight", 25}, {"took_ms", 12}})
                    .ok());
    ASSERT_TRUE(journal->AppendSample(run_id, "traffic", {{"error_rate", 0.01}}).ok());
    ASSERT_TRUE(journal->RequestApproval(run_id, 5).ok());
    ASSERT_TRUE(journal->FinishRun(run_id, RunState::kCompleted, "all six phases passed").ok());
  }
  auto journal = OpenJournal(/*create=*/false);
  ASSERT_NE(journal, nullptr);
  auto run = journal->LatestRun();
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->has_value());
  EXPECT_EQ((*run)->id, run_id);
  EXPECT_EQ((*run)->plan_name, "orders-migration");
  EXPECT_EQ((*run)->plan_digest, 0xfedcba9876543210ULL);
  EXPECT_EQ((*run)->state, RunState::kCompleted);
  EXPECT_EQ((*run)->outcome, "all six phases passed");
  ASSERT_TRUE((*run)->finished_at_ms.has_value());
  EXPECT_GE(*(*run)->finished_at_ms, (*run)->started_at_ms);

  auto steps = journal->Steps(run_id);
  ASSERT_TRUE(steps.ok()) << steps.status().ToString();
  ASSERT_EQ(steps->size(), 1u);
  EXPECT_EQ((*steps)[0].id, step_id);
  EXPECT_EQ((*steps)[0].phase, 4);
  EXPECT_EQ((*steps)[0].name, "traffic 25%");
  EXPECT_EQ((*steps)[0].state, StepState::kDone);
  EXPECT_EQ((*steps)[0].gates, json::array({{{"name", "lag"}}}));
  EXPECT_EQ((*steps)[0].detail, json({{"weight", 25}, {"took_ms", 12}}));

  auto samples = journal->Samples(run_id, "traffic");
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0], json({{"error_rate", 0.01}}));

  auto approved = journal->IsApproved(run_id, 5);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_TRUE(*approved);
}

TEST_F(JournalTest, JournalIsInWalMode) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  RawDatabase raw(path_);
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.QueryText("SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  EXPECT_EQ(raw.QueryText("SELECT value FROM meta WHERE key = 'kind'"), "tandem journal");
}

TEST_F(JournalTest, MissingFileWithoutCreateIsNotFound) {
  auto journal = Journal::Open(path_, /*create=*/false);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), StatusCode::kNotFound);
  EXPECT_NE(journal.status().message().find(path_), std::string::npos);
  EXPECT_NE(journal.status().message().find("has not been run"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(JournalTest, OtherSqliteDatabaseIsRefusedUnchanged) {
  {
    RawDatabase raw(path_);
    raw.Exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
  }
  for (bool create : {true, false}) {
    auto journal = Journal::Open(path_, create);
    ASSERT_FALSE(journal.ok());
    EXPECT_EQ(journal.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(journal.status().message().find(path_), std::string::npos);
    EXPECT_NE(journal.status().message().find("not a tandem journal"), std::string::npos);
  }
  RawDatabase raw(path_);
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "delete");  // the file was not changed
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM sqlite_schema"), "1");
}

TEST_F(JournalTest, FileThatIsNotSqliteIsFailedPrecondition) {
  {
    std::ofstream file(path_);
    for (int i = 0; i < 200; ++i) {
      file << "this is a plan, not a journal\n";
    }
  }
  auto journal = Journal::Open(path_, /*create=*/true);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(journal.status().message().find(path_), std::string::npos);
}

TEST_F(JournalTest, NewerSchemaIsRefused) {
  ASSERT_NE(OpenJournal(), nullptr);
  {
    RawDatabase raw(path_);
    raw.Exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  }
  auto journal = Journal::Open(path_, /*create=*/false);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(journal.status().message().find("newer"), std::string::npos);
  EXPECT_NE(journal.status().message().find(path_), std::string::npos);
}

TEST_F(JournalTest, PathThatCannotBeOpenedIsPermissionDenied) {
  ASSERT_TRUE(std::filesystem::create_directory(path_));
  auto journal = Journal::Open(path_, /*create=*/true);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(journal.status().message().find(path_), std::string::npos);
}

TEST_F(JournalTest, UnwritableDirectoryIsPermissionDenied) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root writes anywhere";
  }
  ASSERT_EQ(chmod(dir_.c_str(), 0500), 0);
  auto journal = Journal::Open(path_, /*create=*/true);
  ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(journal.status().message().find(path_), std::string::npos);
}

// --- runs ---

TEST_F(JournalTest, RunLifecycle) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto none = journal->LatestRun();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  auto first = journal->BeginRun("plan", 1);
  auto second = journal->BeginRun("plan", 2);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_LT(*first, *second);
  ASSERT_TRUE(journal->SetRunState(*second, RunState::kWaiting).ok());
  auto latest = journal->LatestRun();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->id, *second);
  EXPECT_EQ((*latest)->state, RunState::kWaiting);
  EXPECT_FALSE((*latest)->finished_at_ms.has_value());
  EXPECT_EQ((*latest)->outcome, "");

  EXPECT_EQ(journal->SetRunState(*second, RunState::kInterrupted).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(journal->FinishRun(*second, RunState::kRunning, "no").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(journal->SetRunState(*second + 100, RunState::kRunning).code(), StatusCode::kNotFound);
  ASSERT_TRUE(journal->FinishRun(*second, RunState::kRolledBack, "phase 4 gate failed").ok());
  latest = journal->LatestRun();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->state, RunState::kRolledBack);
  EXPECT_TRUE((*latest)->finished_at_ms.has_value());
}

TEST(JournalStateNames, MatchTheStoredText) {
  EXPECT_STREQ(RunStateName(RunState::kRunning), "running");
  EXPECT_STREQ(RunStateName(RunState::kWaiting), "waiting");
  EXPECT_STREQ(RunStateName(RunState::kCompleted), "completed");
  EXPECT_STREQ(RunStateName(RunState::kRolledBack), "rolled_back");
  EXPECT_STREQ(RunStateName(RunState::kFailed), "failed");
  EXPECT_STREQ(RunStateName(RunState::kInterrupted), "interrupted");
  EXPECT_STREQ(StepStateName(StepState::kStarted), "started");
  EXPECT_STREQ(StepStateName(StepState::kDone), "done");
  EXPECT_STREQ(StepStateName(StepState::kFailed), "failed");
  EXPECT_STREQ(StepStateName(StepState::kUndone), "undone");
  EXPECT_STREQ(StepStateName(StepState::kSkipped), "skipped");
}

// --- steps ---

TEST_F(JournalTest, StartStepReturnsTheExistingStepUntouched) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto run = journal->BeginRun("plan", 7);
  ASSERT_TRUE(run.ok());
  auto first = journal->StartStep(*run, 4, "traffic 25%", {{"weight", 25}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->state, StepState::kStarted);
  EXPECT_FALSE(first->finished_at_ms.has_value());
  EXPECT_EQ(first->gates, json::array());

  auto again = journal->StartStep(*run, 4, "traffic 25%", {{"weight", 99}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->started_at_ms, first->started_at_ms);
  EXPECT_EQ(again->detail, json({{"weight", 25}}));

  ASSERT_TRUE(journal->FinishStep(first->id, StepState::kDone, json::array(), {{"ok", true}}).ok());
  auto resumed = journal->StartStep(*run, 4, "traffic 25%", json::object());
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->state, StepState::kDone);
  EXPECT_EQ(resumed->detail, json({{"ok", true}}));

  auto steps = journal->Steps(*run);
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(steps->size(), 1u);

  // The same name in another run is another step.
  auto other_run = journal->BeginRun("plan", 7);
  ASSERT_TRUE(other_run.ok());
  auto other = journal->StartStep(*other_run, 4, "traffic 25%", json::object());
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id, first->id);
  EXPECT_EQ(other->state, StepState::kStarted);

  EXPECT_EQ(journal->StartStep(*other_run + 100, 1, "x", json::object()).status().code(),
            StatusCode::kNotFound);
}

TEST_F(JournalTest, GatesAndDetailRoundTripAsJson) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto run = journal->BeginRun("plan", 7);
  ASSERT_TRUE(run.ok());
  auto step = journal->StartStep(*run, 4, "traffic 50%", json::object());
  ASSERT_TRUE(step.ok());

  const json live = json::array({{{"name", "error_rate"},
                                  {"value", 0.002},
                                  {"threshold", 0.01},
                                  {"samples", 40},
                                  {"ok", true}}});
  ASSERT_TRUE(journal->UpdateStepGates(step->id, live).ok());
  auto found = journal->FindStep(*run, "traffic 50%");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->gates, live);
  EXPECT_EQ((*found)->state, StepState::kStarted);

  const json final_gates =
      json::array({{{"name", "error_rate"},
                    {"value", 0.03},
                    {"threshold", 0.01},
                    {"samples", 300},
                    {"ok", false}},
                   {{"name", "p99 latency"}, {"value", nullptr}, {"ok", true}}});
  const json detail = {{"reason", "error rate 3% > 1% \"over\" 30s"}, {"weights", {50, 50}}};
  ASSERT_TRUE(journal->FinishStep(step->id, StepState::kFailed, final_gates, detail).ok());
  found = journal->FindStep(*run, "traffic 50%");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->state, StepState::kFailed);
  EXPECT_EQ((*found)->gates, final_gates);
  EXPECT_EQ((*found)->detail, detail);
  ASSERT_TRUE((*found)->finished_at_ms.has_value());
  EXPECT_GE(*(*found)->finished_at_ms, (*found)->started_at_ms);

  // A finished step's gates are final; unknown steps are not found.
  EXPECT_EQ(journal->UpdateStepGates(step->id, live).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(journal->UpdateStepGates(step->id + 100, live).code(), StatusCode::kNotFound);
  EXPECT_EQ(journal->FinishStep(step->id + 100, StepState::kDone, live, json::object()).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(journal->FinishStep(step->id, StepState::kStarted, live, json::object()).code(),
            StatusCode::kInvalidArgument);
  auto missing = journal->FindStep(*run, "traffic 75%");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(JournalTest, StepsComeInTheOrderTheyStarted) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto run = journal->BeginRun("plan", 7);
  ASSERT_TRUE(run.ok());
  const std::vector<std::string> names = {"preflight", "initial load", "catch up", "traffic 1%",
                                          "traffic 100%"};
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(journal->StartStep(*run, static_cast<int>(i + 1), names[i], json::object()).ok());
  }
  auto steps = journal->Steps(*run);
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ((*steps)[i].name, names[i]);
    EXPECT_EQ((*steps)[i].phase, static_cast<int>(i + 1));
    if (i > 0) {
      EXPECT_LT((*steps)[i - 1].id, (*steps)[i].id);
    }
  }
}

// --- samples and approvals ---

TEST_F(JournalTest, SamplesKeepInsertionOrderPerRunAndKind) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto run = journal->BeginRun("plan", 7);
  auto other = journal->BeginRun("plan", 7);
  ASSERT_TRUE(run.ok() && other.ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(journal->AppendSample(*run, "lag", {{"i", i}}).ok());
    ASSERT_TRUE(journal->AppendSample(*run, "traffic", {{"i", 100 + i}}).ok());
  }
  ASSERT_TRUE(journal->AppendSample(*other, "lag", {{"i", -1}}).ok());
  auto lag = journal->Samples(*run, "lag");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  ASSERT_EQ(lag->size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ((*lag)[i]["i"], i);
  }
  auto traffic = journal->Samples(*run, "traffic");
  ASSERT_TRUE(traffic.ok());
  ASSERT_EQ(traffic->size(), 20u);
  EXPECT_EQ(traffic->front()["i"], 100);
  auto none = journal->Samples(*run, "consistency");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(journal->AppendSample(*other + 100, "lag", json::object()).code(),
            StatusCode::kNotFound);
}

TEST_F(JournalTest, ApprovalIsPerRunAndPhase) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto run = journal->BeginRun("plan", 7);
  auto other = journal->BeginRun("plan", 7);
  ASSERT_TRUE(run.ok() && other.ok());
  auto approved = journal->IsApproved(*run, 5);
  ASSERT_TRUE(approved.ok());
  EXPECT_FALSE(*approved);
  {
    // `tandem approve` is another process with its own Journal.
    auto approver = OpenJournal(/*create=*/false);
    ASSERT_NE(approver, nullptr);
    ASSERT_TRUE(approver->RequestApproval(*run, 5).ok());
    ASSERT_TRUE(approver->RequestApproval(*run, 5).ok());  // twice is harmless
  }
  approved = journal->IsApproved(*run, 5);
  ASSERT_TRUE(approved.ok());
  EXPECT_TRUE(*approved);
  approved = journal->IsApproved(*run, 6);
  ASSERT_TRUE(approved.ok());
  EXPECT_FALSE(*approved);
  approved = journal->IsApproved(*other, 5);
  ASSERT_TRUE(approved.ok());
  EXPECT_FALSE(*approved);
  EXPECT_EQ(journal->RequestApproval(*other + 100, 5).code(), StatusCode::kNotFound);
}

// --- the controller lock ---

// Exit codes of a child that tries to take the lock.
constexpr int kChildAcquired = 0;
constexpr int kChildRefusedNamingParent = 10;
constexpr int kChildRefusedOtherwise = 11;
constexpr int kChildOtherError = 12;
constexpr int kChildOpenFailed = 13;

int TryAcquireInChild(const std::string& path, pid_t expected_holder) {
  auto journal = Journal::Open(path, /*create=*/false);
  if (!journal.ok()) {
    return kChildOpenFailed;
  }
  engine::Status status = (*journal)->AcquireController();
  if (status.ok()) {
    return kChildAcquired;
  }
  if (status.code() != StatusCode::kFailedPrecondition) {
    return kChildOtherError;
  }
  const std::string& message = status.message();
  const std::string pid = std::to_string(expected_holder);
  const bool names_holder = message.find("another controller (pid " + pid + " on host ") == 0 &&
                            message.find("alive, last seen") != std::string::npos &&
                            message.find("kill " + pid) != std::string::npos;
  return names_holder ? kChildRefusedNamingParent : kChildRefusedOtherwise;
}

TEST_F(JournalTest, LockIsReentrantRenewableAndReleasable) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  auto none = journal->Controller();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(journal->RenewController().code(), StatusCode::kFailedPrecondition);

  ASSERT_TRUE(journal->AcquireController().ok());
  ASSERT_TRUE(journal->AcquireController().ok());  // the same process again
  ASSERT_TRUE(journal->RenewController().ok());
  auto holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->pid, getpid());
  EXPECT_EQ((*holder)->host, ThisHost());
  EXPECT_TRUE((*holder)->alive);
  EXPECT_LE(NowMs() - (*holder)->heartbeat_at_ms, 5000);

  journal->ReleaseController();
  auto released = journal->Controller();
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(released->has_value());
}

TEST_F(JournalTest, SecondProcessIsRefusedWhileTheLockIsHeld) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_TRUE(journal->AcquireController().ok());
  const pid_t parent = getpid();
  EXPECT_EQ(RunInChild([&] { return TryAcquireInChild(path_, parent); }),
            kChildRefusedNamingParent);
  // The refusal did not disturb the holder.
  EXPECT_TRUE(journal->RenewController().ok());
  journal->ReleaseController();
  EXPECT_EQ(RunInChild([&] { return TryAcquireInChild(path_, parent); }), kChildAcquired);
}

TEST_F(JournalTest, LockOfADeadProcessIsTakenOver) {
  ASSERT_NE(OpenJournal(), nullptr);
  pid_t child = 0;
  // The child takes the lock and exits without releasing it.
  ASSERT_EQ(RunInChild([&] { return TryAcquireInChild(path_, 0); }, &child), kChildAcquired);
  auto journal = OpenJournal(/*create=*/false);
  ASSERT_NE(journal, nullptr);
  auto holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->pid, child);
  EXPECT_FALSE((*holder)->alive);
  ASSERT_TRUE(journal->AcquireController().ok());
  holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->pid, getpid());
  EXPECT_TRUE((*holder)->alive);
}

TEST_F(JournalTest, LockOfAReusedPidIsTakenOver) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  const pid_t live = getppid();  // alive while this test runs, and not this process
  const int64_t start = ProcessStart(live);
  ASSERT_GT(start, 0);
  {
    RawDatabase raw(path_);
    raw.ForgeController(live, ThisHost(), start, NowMs());
  }
  engine::Status refused = journal->AcquireController();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("pid " + std::to_string(live)), std::string::npos);

  {
    RawDatabase raw(path_);
    raw.ForgeController(live, ThisHost(), start + 1, NowMs());
  }
  auto holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_FALSE((*holder)->alive);
  ASSERT_TRUE(journal->AcquireController().ok());
  holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->pid, getpid());
}

TEST_F(JournalTest, LockOnAnotherHostExpiresAfterTenSecondsWithoutHeartbeat) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  {
    RawDatabase raw(path_);
    raw.ForgeController(4242, "other-host.invalid", 1, NowMs() - 2000);
  }
  engine::Status refused = journal->AcquireController();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("pid 4242 on host other-host.invalid"), std::string::npos);

  {
    RawDatabase raw(path_);
    raw.ForgeController(4242, "other-host.invalid", 1, NowMs() - 11000);
  }
  auto holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_FALSE((*holder)->alive);
  EXPECT_TRUE(journal->AcquireController().ok());
}

TEST_F(JournalTest, RenewAfterTakeoverFails) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_TRUE(journal->AcquireController().ok());
  {
    // Make this process's row look like a reused pid, so another process may take it over.
    RawDatabase raw(path_);
    raw.Exec("UPDATE controller SET process_start = process_start + 1");
  }
  pid_t child = 0;
  ASSERT_EQ(RunInChild([&] { return TryAcquireInChild(path_, 0); }, &child), kChildAcquired);
  engine::Status renewed = journal->RenewController();
  EXPECT_EQ(renewed.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(renewed.message().find("taken over by pid " + std::to_string(child)), std::string::npos)
      << renewed.message();
  // Releasing after losing the lock leaves the new holder's row alone.
  journal->ReleaseController();
  auto holder = journal->Controller();
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->pid, child);
}

// --- crash durability ---

TEST_F(JournalTest, StepStartedBeforeSigkillIsStillStarted) {
  int64_t run_id = 0;
  {
    auto journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    auto run = journal->BeginRun("plan", 7);
    ASSERT_TRUE(run.ok());
    run_id = *run;
  }
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    auto journal = Journal::Open(path_, /*create=*/false);
    if (!journal.ok() || !(*journal)->StartStep(run_id, 4, "traffic 25%", json::object()).ok()) {
      _exit(1);
    }
    const char byte = 'x';
    if (write(ready[1], &byte, 1) != 1) {
      _exit(2);
    }
    // Wait to be killed before FinishStep; give up after 10 s so nothing outlives the test.
    std::this_thread::sleep_for(std::chrono::seconds(10));
    _exit(3);
  }
  close(ready[1]);
  pollfd poll_fd{ready[0], POLLIN, 0};
  const int polled = poll(&poll_fd, 1, 5000);
  char byte = 0;
  const bool step_written = polled == 1 && read(ready[0], &byte, 1) == 1;
  close(ready[0]);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  const int status = WaitForChild(child);
  ASSERT_TRUE(step_written) << "the child did not write the step";
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  auto journal = OpenJournal(/*create=*/false);
  ASSERT_NE(journal, nullptr);
  auto step = journal->FindStep(run_id, "traffic 25%");
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  ASSERT_TRUE(step->has_value());
  EXPECT_EQ((*step)->state, StepState::kStarted);
  EXPECT_FALSE((*step)->finished_at_ms.has_value());
}

}  // namespace
}  // namespace tandem::orchestration
