// File: tests/orchestration/report_journal_fixture.h
//
// Journals of migration runs for the report's tests, written through the Journal API exactly as
// the controller writes them (BeginRun, StartStep / FinishStep, AppendSample, FinishRun). The one
// liberty: every row is then re-dated to a chosen moment (the journal stamps rows with the clock
// and the test cannot wait minutes), through a second SQLite connection to the same file.
//
// WriteExampleMigration journals this run of plan "shop" (times in seconds after `base_ms`):
//   0-4    phase 1 "assessment" done
//   4-9    phase 1 "dns ttl" done (TTL 60, two resolvers)
//   9-12   phase 2 "provisioning" done
//   12-75  phase 3 "sync orders" done, final gate lag orders 35 ms / 100
//   75-135 phase 4 "baseline" done
//   135-315 phase 4 "traffic 25%" (undone later): traffic sample at 136 (25 %, "weights set");
//   "gates" samples
//          at 140, 170, ..., 290 (kTrafficGateSamples each) with error_rate kErrorRates[i],
//          latency_p95 kLatenciesMs[i], lag orders kLagsMs[i]; its final gates at 315 repeat the
//          last sample
//   315-495 phase 4 "traffic 100%" (undone later): traffic sample at 316 (100 %); gates samples at
//   320 ... 470 495-498 phase 5 "writes orders" undone later: write_cutover samples freeze (at
//   495.2, ms 180),
//          drain, verify, reverse, switching, switch (at 496.7, write_pause_ms 1680); its detail
//          write_pause_ms kCutoverPauseMs, drain_ms 300
//   498-512 phase 5 "dns switch" undone later: resolvers 127.0.0.1:5301 (850 ms) and
//          127.0.0.1:5302 (3200 ms), SOA serial 2026112601 -> 2026112602
//   530    rollback sample "begun"
//   530-536 phase 5 "undo dns switch" done (revert, two resolvers)
//   536-540 phase 5 "undo writes orders" done, detail write_pause_ms kRevertPauseMs; revert
//          write_cutover samples freeze new (at 536.3, ms 250) ... switch to old (at 537.0)
//   540-541 phase 4 "undo traffic" done (traffic_percent 0); both traffic steps are "undone"
//   541    rollback sample "done" (ms kRollbackMs, budget 300000, within budget, undone
//          "dns switch", "writes orders", "traffic"); the run
//          finished rolled_back with `outcome`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "orchestration/journal.h"

struct sqlite3;

namespace tandem::testing {

inline constexpr int kTrafficGateSamples = 6;
inline constexpr double kErrorRates[kTrafficGateSamples] = {0.001,  0.0012, 0.0009,
                                                            0.0021, 0.0015, 0.0011};
inline constexpr double kLatenciesMs[kTrafficGateSamples] = {41, 44, 39, 52, 47, 43};
inline constexpr double kLagsMs[kTrafficGateSamples] = {12, 18, 9, 30, 22, 15};
inline constexpr int64_t kCutoverPauseMs = 1680;
inline constexpr int64_t kRevertPauseMs = 950;
inline constexpr int64_t kRollbackMs = 11000;

// Writes journal rows and moves their times to `base_ms` + the given seconds.
class TimedJournalWriter {
 public:
  // REQUIRES: `journal` outlives the writer.
  TimedJournalWriter(orchestration::Journal& journal, int64_t base_ms);
  ~TimedJournalWriter();
  TimedJournalWriter(const TimedJournalWriter&) = delete;
  TimedJournalWriter& operator=(const TimedJournalWriter&) = delete;

  int64_t BeginRun(const std::string& plan_name, double at_s);
  // A step started at `start_s` and finished at `end_s` (a negative end_s leaves it started).
  void Step(int phase, const std::string& name, double start_s, double end_s,
            orchestration::StepState state, const nlohmann::json& gates = nlohmann::json::array(),
            const nlohmann::json& detail = nlohmann::json::object());
  void Sample(const std::string& kind, const nlohmann::json& data, double at_s);
  void FinishRun(orchestration::RunState state, const std::string& outcome, double at_s);

  int64_t run_id() const { return run_id_; }
  int64_t At(double seconds) const;  // base_ms + seconds, in unix ms
  std::string Iso(double seconds) const;

 private:
  void Execute(const std::string& sql);
  orchestration::Journal& journal_;
  int64_t base_ms_;
  int64_t run_id_ = 0;
  sqlite3* retimer_ = nullptr;
};

// One gate reading as the controller journals it.
nlohmann::json GateJson(const std::string& name, double value, double threshold, int64_t samples,
                        const std::string& unit);

// Journals the run described in the file comment; returns the writer's base (unix ms).
int64_t WriteExampleMigration(orchestration::Journal& journal, const std::string& outcome);

}  // namespace tandem::testing
