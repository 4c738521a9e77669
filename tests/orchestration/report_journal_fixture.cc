#include "tests/orchestration/report_journal_fixture.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <ctime>

namespace tandem::testing {

using nlohmann::json;
using orchestration::RunState;
using orchestration::StepState;

TimedJournalWriter::TimedJournalWriter(orchestration::Journal& journal, int64_t base_ms)
    : journal_(journal), base_ms_(base_ms) {
  EXPECT_EQ(sqlite3_open(journal.path().c_str(), &retimer_), SQLITE_OK) << journal.path();
  sqlite3_busy_timeout(retimer_, 5000);
}

TimedJournalWriter::~TimedJournalWriter() { sqlite3_close(retimer_); }

int64_t TimedJournalWriter::At(double seconds) const {
  return base_ms_ + static_cast<int64_t>(seconds * 1000);
}

std::string TimedJournalWriter::Iso(double seconds) const {
  const std::time_t whole = static_cast<std::time_t>(At(seconds) / 1000);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void TimedJournalWriter::Execute(const std::string& sql) {
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(retimer_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << sql << ": " << (error ? error : "");
  sqlite3_free(error);
}

int64_t TimedJournalWriter::BeginRun(const std::string& plan_name, double at_s) {
  auto run = journal_.BeginRun(plan_name, 42);
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  run_id_ = run.ok() ? *run : 0;
  Execute("UPDATE runs SET started_at = " + std::to_string(At(at_s)) +
          " WHERE id = " + std::to_string(run_id_));
  return run_id_;
}

void TimedJournalWriter::Step(int phase, const std::string& name, double start_s, double end_s,
                              StepState state, const json& gates, const json& detail) {
  auto step = journal_.StartStep(run_id_, phase, name, json::object());
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  std::string sql = "UPDATE steps SET started_at = " + std::to_string(At(start_s));
  if (end_s >= 0) {
    ASSERT_TRUE(journal_.FinishStep(step->id, state, gates, detail).ok());
    sql += ", finished_at = " + std::to_string(At(end_s));
  }
  Execute(sql + " WHERE id = " + std::to_string(step->id));
}

void TimedJournalWriter::Sample(const std::string& kind, const json& data, double at_s) {
  ASSERT_TRUE(journal_.AppendSample(run_id_, kind, data).ok());
  Execute("UPDATE samples SET at = " + std::to_string(At(at_s)) +
          " WHERE rowid = (SELECT max(rowid) FROM samples)");
}

void TimedJournalWriter::FinishRun(RunState state, const std::string& outcome, double at_s) {
  ASSERT_TRUE(journal_.FinishRun(run_id_, state, outcome).ok());
  Execute("UPDATE runs SET finished_at = " + std::to_string(At(at_s)) +
          " WHERE id = " + std::to_string(run_id_));
}

json GateJson(const std::string& name, double value, double threshold, int64_t samples,
              const std::string& unit) {
  const bool ok = value <= threshold;
  return {{"name", name},
          {"value", value},
          {"threshold", threshold},
          {"samples", samples},
          {"ok", ok},
          {"min_samples", 20},
          {"unit", unit},
          {"verdict", ok ? "passing" : "failing"},
          {"detail", "journaled by the report fixture"}};
}

namespace {

json TrafficGates(int i, int64_t samples) {
  return json::array({GateJson("error_rate", kErrorRates[i], 0.005, samples, "ratio"),
                      GateJson("latency_p95", kLatenciesMs[i], 55, samples, "ms"),
                      GateJson("lag orders", kLagsMs[i], 100, samples, "ms")});
}

json Resolvers(int64_t first_ms, int64_t second_ms, const std::string& answer) {
  return json::array({{{"resolver", "127.0.0.1:5301"},
                       {"done", true},
                       {"elapsed_ms", first_ms},
                       {"answer", answer},
                       {"error", ""}},
                      {{"resolver", "127.0.0.1:5302"},
                       {"done", true},
                       {"elapsed_ms", second_ms},
                       {"answer", answer},
                       {"error", ""}}});
}

}  // namespace

int64_t WriteExampleMigration(orchestration::Journal& journal, const std::string& outcome) {
  const int64_t base_ms = 1'795'000'000'000;  // 2026-11-18T...Z
  TimedJournalWriter w(journal, base_ms);
  w.BeginRun("shop", 0);
  w.Step(1, "assessment", 0, 4, StepState::kDone, json::array(), {{"warnings", json::array()}});
  w.Step(
      1, "dns ttl", 4, 9, StepState::kDone, json::array(),
      {{"ttl", 60},
       {"lowered_at", w.Iso(5)},
       {"switch_safe_at", w.Iso(70)},
       {"resolvers",
        json::array(
            {{{"resolver", "127.0.0.1:5301"}, {"done", true}, {"at", w.Iso(6)}, {"answer", "60"}},
             {{"resolver", "127.0.0.1:5302"},
              {"done", true},
              {"at", w.Iso(8)},
              {"answer", "60"}}})}});
  w.Step(2, "provisioning", 9, 12, StepState::kDone);
  w.Step(3, "sync orders", 12, 75, StepState::kDone,
         json::array({GateJson("lag orders", 35, 100, 60, "ms")}));
  w.Step(4, "baseline", 75, 135, StepState::kDone);

  w.Step(4, "traffic 25%", 135, 315, StepState::kUndone,
         TrafficGates(kTrafficGateSamples - 1, 900));
  w.Sample("traffic", {{"step", "traffic 25%"}, {"percent", 25}, {"event", "weights set"}}, 136);
  for (int i = 0; i < kTrafficGateSamples; ++i) {
    w.Sample("gates", {{"step", "traffic 25%"}, {"gates", TrafficGates(i, 150 * (i + 1))}},
             140 + 30 * i);
  }
  w.Step(4, "traffic 100%", 315, 495, StepState::kUndone, TrafficGates(0, 3000));
  w.Sample("traffic", {{"step", "traffic 100%"}, {"percent", 100}, {"event", "weights set"}}, 316);
  for (int i = 0; i < kTrafficGateSamples; ++i) {
    w.Sample("gates",
             {{"step", "traffic 100%"},
              {"gates", TrafficGates(kTrafficGateSamples - 1 - i, 500 * (i + 1))}},
             320 + 30 * i);
  }

  const json cutover_sub_steps = json::array({{{"name", "freeze"}, {"ms", 180}},
                                              {{"name", "drain"}, {"ms", 300}},
                                              {{"name", "verify"}, {"ms", 900}},
                                              {{"name", "reverse"}, {"ms", 200}},
                                              {{"name", "switch"}, {"ms", 90}}});
  w.Step(
      5, "writes orders", 495, 498, StepState::kUndone, json::array(),
      {{"datastore", "orders"},
       {"direction", "cutover"},
       {"sub_steps", cutover_sub_steps},
       {"frozen_at", w.Iso(495)},
       {"drain_ms", 300},
       {"verify", {{"consistent", true}, {"differing", 0}, {"summary", "3 tables"}, {"ms", 900}}},
       {"switched_at", w.Iso(496.7)},
       {"write_pause_ms", kCutoverPauseMs},
       {"already_switched", false}});
  const double cutover_at[] = {495.2, 495.5, 496.4, 496.6, 496.61, 496.7};
  const char* cutover_names[] = {"freeze", "drain", "verify", "reverse", "switching", "switch"};
  const int cutover_ms[] = {180, 300, 900, 200, 0, 90};
  for (int i = 0; i < 6; ++i) {
    json entry = {{"datastore", "orders"},
                  {"direction", "cutover"},
                  {"sub_step", cutover_names[i]},
                  {"at", w.Iso(cutover_at[i])},
                  {"ms", cutover_ms[i]}};
    if (std::string(cutover_names[i]) == "switch") entry["write_pause_ms"] = kCutoverPauseMs;
    w.Sample("write_cutover", entry, cutover_at[i]);
  }
  w.Step(5, "dns switch", 498, 512, StepState::kUndone, json::array(),
         {{"server", "127.0.0.1:5300"},
          {"direction", "switch"},
          {"records", json::array({{{"name", "www.shop.test."},
                                    {"type", "A"},
                                    {"from", "192.0.2.10"},
                                    {"to", "198.51.100.10"},
                                    {"ttl", 60},
                                    {"state", "updated"}}})},
          {"updated", true},
          {"serial_before", 2026112601},
          {"serial_after", 2026112602},
          {"switched_at", w.Iso(508)},
          {"resolvers", Resolvers(850, 3200, "198.51.100.10")},
          {"propagation_s", 3.2}});

  w.Sample("rollback",
           {{"event", "begun"},
            {"at", w.Iso(530)},
            {"ms", 0},
            {"budget_ms", 300000},
            {"within_budget", nullptr},
            {"why", "requested: tandem run --rollback"}},
           530);
  w.Step(5, "undo dns switch", 530, 536, StepState::kDone, json::array(),
         {{"direction", "revert"},
          {"switched_at", w.Iso(531)},
          {"serial_before", 2026112602},
          {"serial_after", 2026112603},
          {"resolvers", Resolvers(700, 2100, "192.0.2.10")},
          {"propagation_s", 2.1}});
  w.Step(5, "undo writes orders", 536, 540, StepState::kDone, json::array(),
         {{"datastore", "orders"},
          {"direction", "revert"},
          {"drain_ms", 400},
          {"write_pause_ms", kRevertPauseMs},
          {"sub_steps", json::array({{{"name", "freeze new"}, {"ms", 250}},
                                     {{"name", "drain reverse"}, {"ms", 400}},
                                     {{"name", "switch to old"}, {"ms", 50}}})}});
  const double revert_at[] = {536.05, 536.3, 536.7, 536.95, 537.0, 538.5};
  const char* revert_names[] = {"begun",         "freeze new",
                                "drain reverse", "forward handed over",
                                "switch to old", "forward restarted"};
  const int revert_ms[] = {0, 250, 400, 100, 50, 1500};
  for (int i = 0; i < 6; ++i) {
    w.Sample("write_cutover",
             {{"datastore", "orders"},
              {"direction", "revert"},
              {"sub_step", revert_names[i]},
              {"at", w.Iso(revert_at[i])},
              {"ms", revert_ms[i]}},
             revert_at[i]);
  }
  w.Step(4, "undo traffic", 540, 541, StepState::kDone, json::array(),
         {{"traffic_percent", 0}, {"ms", 800}});
  w.Sample("rollback",
           {{"event", "done"},
            {"at", w.Iso(541)},
            {"ms", kRollbackMs},
            {"budget_ms", 300000},
            {"within_budget", true},
            {"undone", json::array({"dns switch", "writes orders", "traffic"})},
            {"problems", json::array()}},
           541);
  w.FinishRun(RunState::kRolledBack, outcome, 541);
  return base_ms;
}

}  // namespace tandem::testing
