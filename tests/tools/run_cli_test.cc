// `tandem run PLAN` with a [traffic] section against a real HAProxy in front of test HTTP
// backends: the healthy path through every share, gate failures that send traffic back to the old
// servers, status and approval, the single-controller lock, and refused input that touches nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/tools/run_plan_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

struct ShareWindow {
  double weight_share = 0;  // what the weights give the new servers
  HttpLoadCounts counts;    // the load generator's responses while they held
  double seconds = 0;
};

// Follows a run: every 100 ms reads the weights; each stretch with the same weights becomes a
// window (its first 300 ms left out: requests in flight at the change). Returns when the run
// exits (the exit code in *exit_code) or after `timeout`.
std::vector<ShareWindow> FollowRun(TrafficRig& rig, TandemProcess& run, seconds timeout,
                                   std::optional<int>* exit_code) {
  std::vector<ShareWindow> windows;
  double share = rig.WeightShareOfNew();
  auto changed_at = Clock::now();
  std::optional<HttpLoadCounts> start_counts;
  auto close_window = [&] {
    if (!start_counts) return;
    ShareWindow window;
    window.weight_share = share;
    window.counts = rig.load().Snapshot() - *start_counts;
    window.seconds = std::chrono::duration<double>(Clock::now() - changed_at).count() - 0.3;
    windows.push_back(window);
  };
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    *exit_code = run.WaitForExit(milliseconds(100));
    if (*exit_code) break;
    const double now_share = rig.WeightShareOfNew();
    if (!start_counts && Clock::now() - changed_at >= milliseconds(300)) {
      start_counts = rig.load().Snapshot();
    }
    if (now_share != share) {
      close_window();
      share = now_share;
      changed_at = Clock::now();
      start_counts.reset();
    }
  }
  close_window();
  return windows;
}

std::string TrafficOnlyPlan(TrafficRig& rig, const std::map<std::string, std::string>& overrides,
                            const std::string& top = "") {
  return "name = \"web\"\n" + top + "\n" + rig.TrafficToml(overrides);
}

nlohmann::json Status(const std::string& plan) {
  const std::string text = StatusJson(plan);
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded()) << "status is not JSON: " << text;
  return json;
}

TEST(RunCli, HealthyRunShiftsEveryShareWithinThreePointsAndStatusShowsTheGates) {
  TrafficRig rig;
  const std::string plan = WritePlan(rig.dir(), "web.toml", TrafficOnlyPlan(rig, {}));
  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
  std::optional<int> exit_code;
  std::vector<ShareWindow> windows = FollowRun(rig, run, seconds(120), &exit_code);
  ASSERT_TRUE(exit_code.has_value()) << "the run did not end: " << run.Log();
  EXPECT_EQ(*exit_code, 0) << run.Log();

  // Every step's share, measured by the load generator while the weights held it.
  for (int target : {5, 25, 50, 75, 100}) {
    bool seen = false;
    for (const ShareWindow& window : windows) {
      if (std::abs(window.weight_share - target) > 0.01 || window.counts.responses < 200) {
        continue;
      }
      seen = true;
      const double measured = window.counts.PercentFrom(rig.new_names());
      EXPECT_NEAR(measured, target, 3.0) << "step " << target << "%: " << window.counts.ToString();
      EXPECT_EQ(window.counts.status_5xx, 0) << window.counts.ToString();
    }
    EXPECT_TRUE(seen) << "no window at " << target << "% with enough requests; log: " << run.Log();
  }
  EXPECT_NEAR(rig.WeightShareOfNew(), 100.0, 0.01);

  nlohmann::json status = Status(plan);
  EXPECT_EQ(status["name"], "web");
  EXPECT_EQ(status["state"], "completed");
  EXPECT_EQ(status["phase"], 4);
  EXPECT_EQ(status["phase_name"], "traffic");
  std::vector<std::string> names;
  for (const nlohmann::json& step : status["steps"]) {
    names.push_back(step["name"]);
    EXPECT_EQ(step["state"], "done") << step.dump();
    if (step["name"].get<std::string>().rfind("traffic ", 0) == 0) {
      std::set<std::string> gates;
      for (const nlohmann::json& gate : step["gates"]) {
        gates.insert(gate["name"]);
        EXPECT_TRUE(gate["ok"].get<bool>()) << gate.dump();
        EXPECT_GE(gate["samples"].get<int64_t>(), gate["min_samples"].get<int64_t>());
        EXPECT_TRUE(gate.contains("value") && gate.contains("threshold"));
      }
      EXPECT_EQ(gates, (std::set<std::string>{"error_rate", "latency_median", "latency_p95"}));
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"assessment", "baseline", "traffic 5%", "traffic 25%",
                                             "traffic 50%", "traffic 75%", "traffic 100%"}));
  const std::string log = run.Log();
  EXPECT_NE(log.find("\"state\":\"dwell\""), std::string::npos) << log;
}

// The new servers start failing a tenth of requests once they carry 25%.
TEST(RunCli, ErrorsAtTheNewServersFromTheTwentyFivePercentStepStopTheRunAndTrafficGoesBack) {
  TrafficRig rig;
  const std::string plan = WritePlan(rig.dir(), "web.toml", TrafficOnlyPlan(rig, {}));
  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
  const auto deadline = Clock::now() + seconds(60);
  while (Clock::now() < deadline && rig.WeightShareOfNew() < 24.9 && run.Running()) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_NEAR(rig.WeightShareOfNew(), 25.0, 0.01) << run.Log();
  rig.new_backend().SetFailureRatio(0.10);
  std::optional<int> exit_code = run.WaitForExit(seconds(60));
  ASSERT_TRUE(exit_code.has_value()) << run.Log();
  EXPECT_EQ(*exit_code, 1) << run.Log();
  EXPECT_EQ(rig.WeightShareOfNew(), 0.0) << rig.WeightsText();
  const std::string log = run.Log();
  EXPECT_NE(log.find("gate error_rate failed at traffic 25%"), std::string::npos) << log;

  nlohmann::json status = Status(plan);
  EXPECT_EQ(status["state"], "failed");
  const nlohmann::json& failed = status["steps"].back();
  EXPECT_EQ(failed["name"], "traffic 25%");
  EXPECT_EQ(failed["state"], "failed");
  const nlohmann::json& gate = failed["detail"]["failed_gate"];
  EXPECT_EQ(gate["name"], "error_rate");
  EXPECT_GT(gate["value"].get<double>(), gate["threshold"].get<double>());
  EXPECT_GE(gate["samples"].get<int64_t>(), 40);
  EXPECT_LT(failed["detail"]["abort_ms"].get<double>(), 1000.0);
}

// The new servers answer 100 ms late from the first step on.
TEST(RunCli, ASlowNewServerStopsTheRunAtTheFivePercentStep) {
  TrafficRig rig;
  rig.new_backend().SetExtraDelay(milliseconds(100));
  const std::string plan = WritePlan(rig.dir(), "web.toml", TrafficOnlyPlan(rig, {}));
  CommandOutcome outcome = RunTandem({"run", plan}, {}, seconds(90));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  EXPECT_NE(outcome.err.find("gate latency_"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("failed at traffic 5%"), std::string::npos) << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_EQ(rig.WeightShareOfNew(), 0.0) << rig.WeightsText();
}

TEST(RunCli, DryRunPrintsEveryStepWithGateAndInverseAndTouchesNothing) {
  TrafficRig rig;
  const std::string before = rig.WeightsText();
  const std::string plan = WritePlan(rig.dir(), "web.toml", TrafficOnlyPlan(rig, {}));
  CommandOutcome outcome = RunTandem({"run", plan, "--dry-run"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  for (const char* expected : {"phase 1 - assessment", "phase 4 - traffic", "baseline",
                               "traffic 5%", "traffic 100%", "gate:", "inverse:"}) {
    EXPECT_NE(outcome.out.find(expected), std::string::npos) << expected << "\n" << outcome.out;
  }
  EXPECT_EQ(rig.WeightsText(), before);
  EXPECT_FALSE(std::ifstream(rig.dir() + "/web.journal.db").good()) << "dry run made a journal";
}

TEST(RunCli, ApprovalPausesBeforeThePhaseUntilTandemApprove) {
  TrafficRig rig;
  const std::string plan =
      WritePlan(rig.dir(), "web.toml",
                TrafficOnlyPlan(rig, {{"steps", "[50, 100]"}}, "approve = [\"traffic\"]\n"));
  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
  const auto deadline = Clock::now() + seconds(30);
  nlohmann::json status;
  while (Clock::now() < deadline) {
    // Until the run has made its journal, status has nothing to say.
    status = nlohmann::json::parse(StatusJson(plan), nullptr, /*allow_exceptions=*/false);
    if (!status.is_discarded() && status.value("state", "") == "waiting") break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_FALSE(status.is_discarded()) << run.Log();
  ASSERT_EQ(status.value("state", ""), "waiting") << status.dump() << run.Log();
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(rig.WeightShareOfNew(), 0.0);
  CommandOutcome approved = RunTandem({"approve", plan});
  EXPECT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_NE(approved.out.find("approved phase 4 (traffic)"), std::string::npos) << approved.out;
  std::optional<int> exit_code = run.WaitForExit(seconds(60));
  ASSERT_TRUE(exit_code.has_value()) << run.Log();
  EXPECT_EQ(*exit_code, 0) << run.Log();
  EXPECT_EQ(Status(plan)["state"], "completed");
}

TEST(RunCli, ASecondControllerAndARunWithoutResumeOverAnUnfinishedJournalAreRefused) {
  TrafficRig rig;
  const std::string plan =
      WritePlan(rig.dir(), "web.toml", TrafficOnlyPlan(rig, {{"dwell", "\"30s\""}}));
  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
  const auto deadline = Clock::now() + seconds(30);
  while (Clock::now() < deadline && rig.WeightShareOfNew() < 4.9) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_NEAR(rig.WeightShareOfNew(), 5.0, 0.01) << run.Log();

  CommandOutcome second = RunTandem({"run", plan, "--resume"});
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("another controller (pid " + std::to_string(run.pid())),
            std::string::npos)
      << second.err;
  EXPECT_EQ(LineCount(second.err), 1) << second.err;

  nlohmann::json status = Status(plan);
  EXPECT_EQ(status["state"], "running");
  EXPECT_EQ(status["step"], "traffic 5%");
  EXPECT_FALSE(status["steps"].back()["gates"].empty()) << status.dump();

  ASSERT_TRUE(run.KillNine());
  EXPECT_EQ(Status(plan)["state"], "interrupted");
  CommandOutcome fresh = RunTandem({"run", plan});
  EXPECT_EQ(fresh.exit_code, 2);
  EXPECT_NE(fresh.err.find("is unfinished at step 'traffic 5%'"), std::string::npos) << fresh.err;
  EXPECT_NE(fresh.err.find("--resume"), std::string::npos) << fresh.err;
  EXPECT_NEAR(rig.WeightShareOfNew(), 5.0, 0.01) << "a refused run changed the weights";
}

// Refused input: exit 2, one line, weights untouched.
TEST(RunCli, BadInputIsRefusedWithOneLineAndTouchesNothing) {
  TrafficRig rig;
  const std::string before = rig.WeightsText();
  struct Case {
    std::string name;
    std::string plan_text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"syntax", "name = \"web\"\n[traffic\nbackend = \"app\"\n", "syntax.toml:2"},
      {"unknown_key", TrafficOnlyPlan(rig, {{"dwel", "\"3s\""}}), "traffic.dwel: unknown key"},
      {"bad_duration", TrafficOnlyPlan(rig, {{"dwell", "\"3 parsecs\""}}), "traffic.dwell"},
      {"steps_not_increasing", TrafficOnlyPlan(rig, {{"steps", "[5, 50, 25]"}}), "traffic.steps"},
      {"unreachable_socket",
       TrafficOnlyPlan(rig, {{"haproxy", "\"" + rig.dir() + "/no-such.sock\""}}), "no-such.sock"},
      {"absent_server", TrafficOnlyPlan(rig, {{"new", "[\"app-new-9\"]"}}), "app-new-9"},
  };
  for (const Case& c : cases) {
    const std::string plan = WritePlan(rig.dir(), c.name + ".toml", c.plan_text);
    CommandOutcome outcome = RunTandem({"run", plan});
    EXPECT_EQ(outcome.exit_code, 2) << c.name << ": " << outcome.err;
    EXPECT_EQ(LineCount(outcome.err), 1) << c.name << ": " << outcome.err;
    EXPECT_NE(outcome.err.find(c.expected), std::string::npos) << c.name << ": " << outcome.err;
    EXPECT_EQ(rig.WeightsText(), before) << c.name;
    EXPECT_FALSE(std::ifstream(rig.dir() + "/web.journal.db").good())
        << c.name << ": a refused run left a journal";
  }
  CommandOutcome missing = RunTandem({"run", rig.dir() + "/absent.toml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no such plan file"), std::string::npos) << missing.err;
  EXPECT_EQ(LineCount(missing.err), 1) << missing.err;
  EXPECT_EQ(rig.WeightsText(), before);

  // The flags of a rollback and of the report, refused before anything runs.
  const std::string plan = WritePlan(rig.dir(), "web.toml", TrafficOnlyPlan(rig, {}));
  ExpectOneLineExitTwo(RunTandem({"run", plan, "--rollback"}), "nothing to roll back");
  ExpectOneLineExitTwo(RunTandem({"run", plan, "--rollback", "--resume"}),
                       "--rollback and --resume exclude each other");
  ExpectOneLineExitTwo(RunTandem({"run", plan, "--rollback", "--dry-run"}),
                       "--dry-run prints the plan's steps and --rollback undoes a run");
  ExpectOneLineExitTwo(RunTandem({"run", plan, "--report", rig.dir() + "/no/such/dir/r.html"}),
                       "is not a writable directory");
  // A test's fault hold that names no point would hold nowhere (orchestration/fault_hold.h).
  ExpectOneLineExitTwo(RunTandem({"run", plan}, {"TANDEM_FAULT_HOLD=dns.update=5s"}),
                       "TANDEM_FAULT_HOLD: no fault point \"dns.update\"");
  EXPECT_EQ(rig.WeightsText(), before);
  EXPECT_FALSE(std::ifstream(rig.dir() + "/web.journal.db").good());
}

// `balance static-rr` accepts only 0% and 100% as run-time weights: the preflight refuses the
// backend before any weight moves, naming the algorithm and the fix.
TEST(RunCli, ABackendThatCannotTakeRunTimeWeightsIsRefusedInThePreflight) {
  TrafficRigOptions options;
  options.balance = "static-rr";
  TrafficRig rig(options);
  const std::string before = rig.WeightsText();
  const std::string plan = WritePlan(rig.dir(), "static.toml", TrafficOnlyPlan(rig, {}));
  CommandOutcome outcome = RunTandem({"run", plan});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find("static-rr"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("balance roundrobin"), std::string::npos) << outcome.err;
  EXPECT_EQ(rig.WeightsText(), before);
  EXPECT_FALSE(std::ifstream(rig.dir() + "/web.journal.db").good());
}

}  // namespace
}  // namespace tandem::testing
