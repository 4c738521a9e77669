// The benchmark behind BENCHMARKS.md's `tandem run` section (bench/run_abort_bench.sh runs it);
// not a test.
//
//   (a) Abort time, --trials times for each fault: a run with steps [5, 100] is started against
//       the traffic rig (2 old + 1 new test backends behind a real HAProxy, --rate requests/s);
//       once the weights give the new server 5% and 1.5 s have passed, the fault starts at the
//       new server (10% of requests answer 503, or every request 100 ms late). The time from the
//       onset to the moment the live weights send nothing to the new server is measured by
//       polling the admin socket every 2 ms. Also reported: the controller's own time from its
//       decision to the weights being back (the journal's abort_ms).
//   (b) The controller's CPU and memory over a healthy run through 5/25/50/75/100 with a --dwell
//       dwell at each step: CPU seconds (utime + stime of /proc/<pid>/stat) over wall seconds,
//       and peak RSS (VmHWM).
//
//   tandem-run-abort-bench [--trials 20] [--rate 400] [--dwell 10]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/tools/run_plan_support.h"

namespace tandem::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double Max(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

// utime + stime of `pid` in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::stod(field);
    if (index == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

struct AbortSample {
  double onset_to_back_ms = 0;
  double decision_to_back_ms = 0;
};

bool ResetRig(TrafficRig& rig) {
  rig.new_backend().SetFailureRatio(0);
  rig.new_backend().SetExtraDelay(milliseconds(0));
  for (const std::string& name : rig.old_names())
    rig.haproxy().AdminCommand("set weight app/" + name + " 100");
  for (const std::string& name : rig.new_names())
    rig.haproxy().AdminCommand("set weight app/" + name + " 0");
  std::remove((rig.dir() + "/abort.journal.db").c_str());
  std::remove((rig.dir() + "/abort.journal.db-wal").c_str());
  std::remove((rig.dir() + "/abort.journal.db-shm").c_str());
  return true;
}

std::optional<AbortSample> AbortTrial(TrafficRig& rig, bool latency_fault, int trial) {
  ResetRig(rig);
  const std::string plan = WritePlan(
      rig.dir(), "abort.toml",
      "name = \"abort\"\n" + rig.TrafficToml({{"steps", "[5, 100]"}, {"dwell", "\"30s\""}}));
  TandemProcess run({"run", plan, "--format", "json"},
                    rig.dir() + "/abort-" + std::to_string(trial) + ".log");
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && rig.WeightShareOfNew() < 4.9 && run.Running()) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (rig.WeightShareOfNew() < 4.9) {
    std::cerr << "trial " << trial << ": the run never reached 5%: " << run.Log() << "\n";
    return std::nullopt;
  }
  std::this_thread::sleep_for(milliseconds(1500));
  const auto onset = Clock::now();
  if (latency_fault) {
    rig.new_backend().SetExtraDelay(milliseconds(100));
  } else {
    rig.new_backend().SetFailureRatio(0.10);
  }
  while (Clock::now() - onset < std::chrono::seconds(30) && rig.WeightShareOfNew() > 0) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  const auto back = Clock::now();
  run.WaitForExit(std::chrono::seconds(30));
  AbortSample sample;
  sample.onset_to_back_ms = std::chrono::duration<double, std::milli>(back - onset).count();
  nlohmann::json status = nlohmann::json::parse(StatusJson(plan), nullptr, false);
  if (!status.is_discarded() && status.contains("steps") && !status["steps"].empty()) {
    sample.decision_to_back_ms = status["steps"].back()["detail"].value("abort_ms", -1.0);
  }
  return sample;
}

}  // namespace
}  // namespace tandem::testing

int main(int argc, char** argv) {
  using namespace tandem::testing;
  int trials = 20;
  double rate = 400;
  int dwell_s = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--trials")
      trials = std::stoi(argv[i + 1]);
    else if (flag == "--rate")
      rate = std::stod(argv[i + 1]);
    else if (flag == "--dwell")
      dwell_s = std::stoi(argv[i + 1]);
    else {
      std::cerr << "usage: tandem-run-abort-bench [--trials N] [--rate R] [--dwell S]\n";
      return 2;
    }
  }
  TrafficRigOptions options;
  options.requests_per_second = rate;
  TrafficRig rig(options);

  std::cout << "| fault | trials | onset -> traffic back on old, median | max | controller's "
               "decision -> weights back, median | max |\n|---|---|---|---|---|---|\n";
  for (bool latency : {false, true}) {
    std::vector<double> onset, decision;
    for (int trial = 0; trial < trials; ++trial) {
      auto sample = AbortTrial(rig, latency, trial);
      if (!sample) continue;
      onset.push_back(sample->onset_to_back_ms);
      decision.push_back(sample->decision_to_back_ms);
    }
    std::printf("| %s | %zu | %.0f ms | %.0f ms | %.1f ms | %.1f ms |\n",
                latency ? "new server +100 ms" : "new server 10% 503", onset.size(), Median(onset),
                Max(onset), Median(decision), Max(decision));
    std::fflush(stdout);
  }

  // (b) a healthy run's CPU and memory.
  ResetRig(rig);
  std::remove((rig.dir() + "/healthy.journal.db").c_str());
  const std::string plan =
      WritePlan(rig.dir(), "healthy.toml",
                "name = \"healthy\"\n" +
                    rig.TrafficToml({{"dwell", "\"" + std::to_string(dwell_s) + "s\""}}));
  const auto start = Clock::now();
  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/healthy.log");
  double cpu = 0;
  int64_t rss = 0;
  while (run.Running()) {
    cpu = std::max(cpu, CpuSeconds(run.pid()));
    rss = std::max(rss, PeakRssKb(run.pid()));
    std::this_thread::sleep_for(milliseconds(100));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  auto code = run.WaitForExit(std::chrono::seconds(5));
  std::printf(
      "\nhealthy run (5/25/50/75/100, dwell %d s, %.0f requests/s): exit %d, %.1f s wall, "
      "controller CPU %.2f s (%.1f%% of one core), peak RSS %.1f MB\n",
      dwell_s, rate, code.value_or(-1), wall, cpu, 100.0 * cpu / wall, rss / 1024.0);
  return 0;
}
