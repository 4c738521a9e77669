// kill -9 of the `tandem run` controller at 10 random moments across phases 3 and 4 (a MariaDB
// datastore on the shared servers, traffic through a real HAProxy); after each, `--resume`
// continues at the step where it was: no step that was done is run again (its finish time in the
// journal never changes), the traffic share never goes back to a lower one, and the last resume
// completes with exit 0. Label stress.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/harness/shared_servers.h"
#include "tests/tools/run_plan_support.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kKills = 10;

// Reads the weights every 20 ms and remembers the highest share seen and any drop below it.
class ShareWatcher {
 public:
  explicit ShareWatcher(TrafficRig& rig) : rig_(rig), thread_([this] { Watch(); }) {}
  ~ShareWatcher() {
    stop_ = true;
    thread_.join();
  }
  std::string drops() {
    std::lock_guard<std::mutex> lock(mu_);
    return drops_;
  }
  double highest() {
    std::lock_guard<std::mutex> lock(mu_);
    return highest_;
  }

 private:
  // `show stat` reads the servers one after the other while HAProxy's other thread may apply the
  // controller's `set weight` commands in between, so one reading can mix two moments (seen:
  // old-1 at its new weight, old-2 not yet, new already raised: 9.09% on the way from 0% to 5%).
  // A share counts once two readings in a row agree on it.
  void Watch() {
    double previous = -1;
    while (!stop_) {
      double share = -1;
      try {
        share = rig_.WeightShareOfNew();
      } catch (const std::exception&) {
        // The admin socket busy: try again.
      }
      if (share >= 0 && previous >= 0 && std::abs(share - previous) < 0.01) {
        std::lock_guard<std::mutex> lock(mu_);
        if (share + 0.01 < highest_) {
          drops_ += std::to_string(highest_) + " -> " + std::to_string(share) + "; ";
        }
        highest_ = std::max(highest_, share);
      }
      previous = share;
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  TrafficRig& rig_;
  std::mutex mu_;
  double highest_ = 0;
  std::string drops_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(RunCliKill, KillNineAtRandomMomentsThenResumeContinuesWhereItWasAndCompletes) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  TrafficRig rig;
  const std::string database = UniqueName("runkill");
  servers->ExecuteMySql(Side::kSource, "CREATE DATABASE " + database);
  servers->ExecuteMySql(Side::kTarget, "CREATE DATABASE " + database);
  servers->ExecuteMySql(
      Side::kSource, "CREATE TABLE " + database + ".items (id INT PRIMARY KEY, qty INT NOT NULL)");
  servers->ExecuteMySql(Side::kSource, "INSERT INTO " + database + ".items SELECT seq, seq FROM " +
                                           database + ".seq_1_to_20000");
  const std::string plan = WritePlan(rig.dir(), "shop.toml",
                                     "name = \"shop\"\n\n[[datastore]]\nname = \"" + database +
                                         "\"\nsource = \"" + servers->mysql_source_uri(database) +
                                         "\"\ntarget = \"" + servers->mysql_target_uri(database) +
                                         "\"\nmax_lag = \"1s\"\nlag_for = \"3s\"\n\n" +
                                         rig.TrafficToml({{"dwell", "\"3s\""}}));

  ShareWatcher watcher(rig);
  std::mt19937 random(std::random_device{}());
  // Phase 3 (copy, then 3 s of lag under max_lag, then a verify) takes about 4 s here, each traffic
  // step its 3 s dwell: the first kill lands in phase 3, the others anywhere.
  std::uniform_int_distribution<int> first_delay_ms(300, 3000);
  std::uniform_int_distribution<int> delay_ms(300, 4500);
  bool completed = false;
  std::map<std::string, std::string> finished;  // done step -> its finished_at
  std::vector<int> phases_at_kill;
  int kills = 0;
  for (int attempt = 0; kills < kKills && attempt < 3 * kKills; ++attempt) {
    std::vector<std::string> args = {"run", plan, "--format", "json"};
    if (attempt > 0) args.push_back("--resume");
    TandemProcess run(args, rig.dir() + "/run-" + std::to_string(attempt) + ".log");
    // Phase 3 starts over on each resume (streams, the lag hold, the verify), so random delays
    // alone can spend every kill there (CI: 10 of 10). From the second half on, until a kill has
    // landed in phase 4, wait for the run to reach phase 4 first (bounded), then strike.
    const bool phase_four_seen =
        std::find(phases_at_kill.begin(), phases_at_kill.end(), 4) != phases_at_kill.end();
    if (kills >= kKills / 2 && !phase_four_seen) {
      const auto until = std::chrono::steady_clock::now() + seconds(120);
      while (std::chrono::steady_clock::now() < until && run.Running()) {
        nlohmann::json now = nlohmann::json::parse(StatusJson(plan), nullptr, false);
        if (!now.is_discarded() && now.value("phase", 0) == 4) break;
        std::this_thread::sleep_for(milliseconds(200));
      }
      std::this_thread::sleep_for(milliseconds(first_delay_ms(random)));
    } else {
      std::this_thread::sleep_for(
          milliseconds(attempt == 0 ? first_delay_ms(random) : delay_ms(random)));
    }
    if (!run.KillNine()) {
      // It ended before the kill: it must have completed.
      std::optional<int> code = run.WaitForExit(seconds(1));
      ASSERT_EQ(code.value_or(-1), 0) << run.Log();
      completed = true;
      break;
    }
    ++kills;
    nlohmann::json status = nlohmann::json::parse(StatusJson(plan), nullptr, false);
    ASSERT_FALSE(status.is_discarded());
    EXPECT_EQ(status["state"], "interrupted") << status.dump();
    phases_at_kill.push_back(status.value("phase", 0));
    for (const nlohmann::json& step : status["steps"]) {
      if (step["state"] != "done") continue;
      const std::string name = step["name"];
      const std::string at = step["finished_at"];
      auto [it, inserted] = finished.emplace(name, at);
      EXPECT_EQ(it->second, at) << "step " << name << " was done again after a kill";
    }
  }
  // The last resume runs to the end.
  if (!completed) {
    TandemProcess run({"run", plan, "--resume", "--format", "json"}, rig.dir() + "/run-last.log");
    std::optional<int> code = run.WaitForExit(seconds(240));
    ASSERT_TRUE(code.has_value()) << run.Log();
    EXPECT_EQ(*code, 0) << run.Log();
  }
  nlohmann::json status = nlohmann::json::parse(StatusJson(plan), nullptr, false);
  EXPECT_EQ(status["state"], "completed") << status.dump();
  for (const nlohmann::json& step : status["steps"]) {
    EXPECT_EQ(step["state"], "done") << step.dump();
    auto it = finished.find(step["name"]);
    if (it != finished.end()) {
      EXPECT_EQ(it->second, step["finished_at"]) << step["name"] << " was done again";
    }
  }
  EXPECT_EQ(watcher.drops(), "") << "the traffic share went back down";
  EXPECT_NEAR(rig.WeightShareOfNew(), 100.0, 0.01);
  EXPECT_GE(kills, 5) << "too few kills landed before the run completed";
  EXPECT_NE(std::find(phases_at_kill.begin(), phases_at_kill.end(), 3), phases_at_kill.end())
      << "no kill landed in phase 3";
  EXPECT_NE(std::find(phases_at_kill.begin(), phases_at_kill.end(), 4), phases_at_kill.end())
      << "no kill landed in phase 4";
  std::string phases;
  for (int phase : phases_at_kill) phases += std::to_string(phase) + " ";
  RecordProperty("phases_at_kill", phases);
  std::cout << "kills: " << kills << ", phases at the kills: " << phases << std::endl;

  servers->ExecuteMySql(Side::kSource, "DROP DATABASE IF EXISTS " + database);
  servers->ExecuteMySql(Side::kTarget, "DROP DATABASE IF EXISTS " + database);
}

}  // namespace
}  // namespace tandem::testing
