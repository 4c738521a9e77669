// The benchmark behind BENCHMARKS.md's "Cutover and rollback of `tandem run`, per engine" section
// (bench/cutover_rollback_bench.sh runs it); not a test.
//
// Per engine (MariaDB, PostgreSQL, Redis) and --trials times: a whole migration of
// tests/tools/writer_migration.h (two private servers, HAProxy's TCP writer backend, an
// application writing through it at 300 writes/s with an ordinary account) is run with
// `tandem run PLAN` until the controller watches phase 6; then `tandem run PLAN --rollback` is
// handed to it. Measured per trial:
//   - the write pause at the cutover: the server's (the journal's "writes orders" step detail
//     write_pause_ms) and the application's (its longest gap between two acknowledged writes
//     from its start to phase 6 and 300 more writes);
//   - whether the writes acknowledged on the new side reached the old one (the reverse stream);
//   - the rollback time: the controller's (the journal's "rollback" sample ms) and the wall time
//     of the `--rollback` command, and the application's longest gap during the rollback;
//   - acknowledged writes lost: acknowledged ids missing on the old side after the rollback.
// Every trial starts fresh servers, HAProxy and plan, and removes them after it. A run that stops
// before phase 6 (a traffic gate failing on a busy machine) is reported and replaced by another,
// up to 2 x --trials runs per engine.
//
//   tandem-cutover-rollback-bench [--trials 10] [--engines mariadb,postgres,redis]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "orchestration/journal.h"
#include "tests/harness/wait.h"
#include "tests/tools/run_plan_support.h"
#include "tests/tools/run_tandem.h"
#include "tests/tools/writer_migration.h"

namespace tandem::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Max(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

struct Engine {
  const char* flag;
  const char* name;
  WriterMigration::EngineStarter start;
};

constexpr Engine kEngines[] = {
    {"mariadb", "MariaDB", StartMariaDbWriterEngine},
    {"postgres", "PostgreSQL", StartPostgresWriterEngine},
    {"redis", "Redis", StartRedisWriterEngine},
};

struct Sample {
  double pause_server_ms = 0;
  double pause_app_ms = 0;
  double rollback_ms = 0;       // the controller's, from the journal
  double rollback_wall_ms = 0;  // the --rollback command's
  double rollback_app_gap_ms = 0;
  size_t acknowledged = 0;
  size_t lost = 0;
  bool reverse_reached_old = false;
};

const nlohmann::json* FindStep(const nlohmann::json& status, const std::string& name) {
  if (!status.is_object() || !status.contains("steps")) return nullptr;
  for (const nlohmann::json& step : status["steps"]) {
    if (step["name"] == name) return &step;
  }
  return nullptr;
}

// The journal's "rollback" sample with event "done": its ms, or -1.
double JournalRollbackMs(const std::string& journal_path) {
  auto journal = orchestration::Journal::Open(journal_path, /*create=*/false);
  if (!journal.ok()) return -1;
  auto latest = (*journal)->LatestRun();
  if (!latest.ok() || !*latest) return -1;
  auto samples = (*journal)->Samples((*latest)->id, "rollback");
  if (!samples.ok()) return -1;
  for (const nlohmann::json& sample : *samples) {
    if (sample.value("event", "") == "done") return sample.value("ms", -1.0);
  }
  return -1;
}

// One trial; nullopt (with the reason on stderr) when the run did not get through.
std::optional<Sample> Trial(const Engine& engine, int trial) {
  WriterMigration migration(engine.start, {});
  migration.StartWriter();
  TandemProcess run({"run", migration.plan(), "--format", "json"}, migration.plan() + ".log");
  if (!migration.WaitForStep(run, "monitor", milliseconds(300'000))) {
    std::cerr << engine.name << " trial " << trial << ": the run did not reach phase 6\n"
              << run.Log() << "\n";
    return std::nullopt;
  }
  Sample sample;
  const int64_t at_monitor = migration.writer().acknowledged();
  PollUntil(milliseconds(20'000),
            [&] { return migration.writer().acknowledged() > at_monitor + 300; });
  sample.pause_app_ms = static_cast<double>(migration.writer().longest_gap().count());
  const nlohmann::json status = migration.Status();
  const nlohmann::json* writes = FindStep(status, "writes orders");
  if (writes == nullptr || !writes->contains("detail") ||
      !(*writes)["detail"].contains("write_pause_ms")) {
    std::cerr << engine.name << " trial " << trial << ": no write_pause_ms in the journal\n";
    return std::nullopt;
  }
  sample.pause_server_ms = (*writes)["detail"]["write_pause_ms"].get<double>();
  const std::set<int> on_new = migration.engine().AppIds(MigrationSide::kNew);
  sample.reverse_reached_old = PollUntil(milliseconds(20'000), [&] {
    const std::set<int> on_old = migration.engine().AppIds(MigrationSide::kOld);
    return std::includes(on_old.begin(), on_old.end(), on_new.begin(), on_new.end());
  });

  migration.writer().ResetGap();
  const auto began = Clock::now();
  CommandOutcome rollback = RunTandem({"run", migration.plan(), "--rollback"}, {}, seconds(180));
  sample.rollback_wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
  const std::optional<int> run_exit = run.WaitForExit(seconds(60));
  if (rollback.exit_code != 0 || !run_exit.has_value()) {
    std::cerr << engine.name << " trial " << trial << ": the rollback failed (exit "
              << rollback.exit_code << ")\n"
              << rollback.out << rollback.err << run.Log() << "\n";
    return std::nullopt;
  }
  sample.rollback_ms = JournalRollbackMs(migration.rig().dir() + "/shop.journal.db");
  const int64_t after = migration.writer().acknowledged();
  PollUntil(milliseconds(20'000), [&] { return migration.writer().acknowledged() > after + 300; });
  sample.rollback_app_gap_ms = static_cast<double>(migration.writer().longest_gap().count());
  std::set<int> acknowledged, uncertain;
  migration.StopWriter(&acknowledged, &uncertain);
  const std::set<int> on_old = migration.engine().AppIds(MigrationSide::kOld);
  sample.acknowledged = acknowledged.size();
  for (int id : acknowledged) sample.lost += on_old.count(id) ? 0 : 1;
  if (!migration.BothInBackend().empty()) {
    std::cerr << engine.name << " trial " << trial << ": " << migration.BothInBackend() << "\n";
  }
  return sample;
}

}  // namespace
}  // namespace tandem::testing

int main(int argc, char** argv) {
  using namespace tandem::testing;
  int trials = 10;
  std::string engines = "mariadb,postgres,redis";
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--trials" && has_value) {
      try {
        trials = std::stoi(argv[i + 1]);
      } catch (const std::exception&) {
        trials = 0;
      }
      if (trials < 1) {
        std::cerr << "tandem-cutover-rollback-bench: --trials takes a positive number\n";
        return 2;
      }
    } else if (flag == "--engines" && has_value) {
      engines = argv[i + 1];
    } else {
      std::cerr << "usage: tandem-cutover-rollback-bench [--trials N] "
                   "[--engines mariadb,postgres,redis]\n";
      return 2;
    }
  }
  std::vector<const Engine*> chosen;
  std::istringstream names(engines);
  for (std::string name; std::getline(names, name, ',');) {
    const auto found = std::find_if(std::begin(kEngines), std::end(kEngines),
                                    [&](const Engine& engine) { return name == engine.flag; });
    if (found == std::end(kEngines)) {
      std::cerr << "tandem-cutover-rollback-bench: unknown engine '" << name
                << "' (mariadb, postgres, redis)\n";
      return 2;
    }
    chosen.push_back(&*found);
  }

  std::string table =
      "| engine | runs measured of started | write pause at cutover (server), median / max | "
      "application's "
      "longest gap, median / max | rollback (controller), median / max | rollback (command "
      "wall), median / max | application's longest gap in the rollback, median / max | writes "
      "acknowledged | lost |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const Engine* engine : chosen) {
    std::vector<double> pause, gap, rolled, wall, rollback_gap;
    size_t acknowledged = 0, lost = 0;
    int reverse_missed = 0;
    int attempts = 0;
    // A run stopped before phase 6 (a traffic gate failing on the busy machine, say) measures
    // nothing of the cutover: it is counted and another one is tried, up to twice --trials.
    for (int trial = 0; static_cast<int>(pause.size()) < trials && trial < 2 * trials; ++trial) {
      ++attempts;
      std::optional<Sample> sample;
      try {
        sample = Trial(*engine, trial);
      } catch (const std::exception& error) {
        std::cerr << engine->name << " trial " << trial << ": " << error.what() << "\n";
      }
      if (!sample) continue;
      std::printf(
          "%s trial %d: pause %.0f ms (app gap %.0f ms), reverse stream reached old: %s, "
          "rollback %.0f ms (command %.0f ms, app gap %.0f ms), %zu acknowledged, %zu lost\n",
          engine->name, trial, sample->pause_server_ms, sample->pause_app_ms,
          sample->reverse_reached_old ? "yes" : "NO", sample->rollback_ms, sample->rollback_wall_ms,
          sample->rollback_app_gap_ms, sample->acknowledged, sample->lost);
      std::fflush(stdout);
      pause.push_back(sample->pause_server_ms);
      gap.push_back(sample->pause_app_ms);
      rolled.push_back(sample->rollback_ms);
      wall.push_back(sample->rollback_wall_ms);
      rollback_gap.push_back(sample->rollback_app_gap_ms);
      acknowledged += sample->acknowledged;
      lost += sample->lost;
      reverse_missed += sample->reverse_reached_old ? 0 : 1;
    }
    char row[512];
    std::snprintf(row, sizeof row,
                  "| %s | %zu of %d | %.0f / %.0f ms | %.0f / %.0f ms | %.0f / %.0f ms | %.0f / "
                  "%.0f ms | %.0f / %.0f ms | %zu | %zu |\n",
                  engine->name, pause.size(), attempts, Median(pause), Max(pause), Median(gap),
                  Max(gap), Median(rolled), Max(rolled), Median(wall), Max(wall),
                  Median(rollback_gap), Max(rollback_gap), acknowledged, lost);
    table += row;
    if (reverse_missed > 0) {
      table += "(" + std::string(engine->name) + ": in " + std::to_string(reverse_missed) +
               " trials the new side's writes did not reach the old side within 20 s)\n";
    }
  }
  std::cout << "\n" << table;
  return 0;
}
