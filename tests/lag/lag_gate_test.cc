#include "lag/lag_gate.h"

#include <gtest/gtest.h>

namespace tandem::lag {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const LagTime kStart = LagTime() + std::chrono::hours(1);

LagGateOptions Options(int max_lag_ms, int hold_for_s, int duration_s) {
  LagGateOptions options;
  options.max_lag = milliseconds(max_lag_ms);
  options.hold_for = seconds(hold_for_s);
  options.duration = seconds(duration_s);
  options.first_heartbeat_timeout = seconds(5);
  return options;
}

// A snapshot of a measurement going on with the given window p99 and current lag.
LagSnapshot Measuring(double p99_ms, double current_ms) {
  LagSnapshot snapshot;
  snapshot.heartbeats_written = 100;
  snapshot.heartbeats_seen = 98;
  snapshot.window.samples = 98;
  snapshot.window.p50_ms = p99_ms / 2;
  snapshot.window.p99_ms = p99_ms;
  snapshot.current_lag_ms = current_ms;
  snapshot.window_length = seconds(10);
  return snapshot;
}

// Observes `snapshot` every 100 ms from `from` to `to` (exclusive) and returns the last verdict.
LagGateVerdict Feed(LagGate& gate, const LagSnapshot& snapshot, milliseconds from,
                    milliseconds to) {
  LagGateVerdict verdict = gate.verdict();
  for (milliseconds t = from; t < to && verdict == LagGateVerdict::kWaiting;
       t += milliseconds(100)) {
    verdict = gate.Observe(snapshot, kStart + t);
  }
  return verdict;
}

TEST(LagGate, PassesOnceTheConditionHeldForTheRequiredTime) {
  LagGate gate(Options(100, 3, 30), kStart);
  EXPECT_EQ(Feed(gate, Measuring(20, 15), milliseconds(0), milliseconds(2950)),
            LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.Observe(Measuring(20, 15), kStart + milliseconds(3000)), LagGateVerdict::kPassed);
  EXPECT_NE(gate.reason().find("stayed below 100.000 ms for 3.0 s"), std::string::npos)
      << gate.reason();
  // Final: later figures do not change it.
  EXPECT_EQ(gate.Observe(Measuring(500, 500), kStart + milliseconds(3100)),
            LagGateVerdict::kPassed);
}

TEST(LagGate, ABreachRestartsTheHoldClock) {
  LagGate gate(Options(100, 3, 30), kStart);
  EXPECT_EQ(Feed(gate, Measuring(20, 15), milliseconds(0), milliseconds(2500)),
            LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.Observe(Measuring(150, 15), kStart + milliseconds(2500)),
            LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.held(), std::chrono::nanoseconds(0));
  EXPECT_NE(gate.reason().find("p99 150.000 ms"), std::string::npos) << gate.reason();
  EXPECT_EQ(Feed(gate, Measuring(20, 15), milliseconds(2600), milliseconds(5600)),
            LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.Observe(Measuring(20, 15), kStart + milliseconds(5600)), LagGateVerdict::kPassed);
}

TEST(LagGate, TheCurrentLagBreaksTheConditionEvenWithAGoodWindow) {
  LagGate gate(Options(100, 1, 30), kStart);
  EXPECT_EQ(Feed(gate, Measuring(20, 250), milliseconds(0), milliseconds(5000)),
            LagGateVerdict::kWaiting);
  EXPECT_NE(gate.reason().find("current lag 250.000 ms"), std::string::npos) << gate.reason();
}

TEST(LagGate, FailsWhenTheDurationRunsOut) {
  LagGate gate(Options(100, 0, 10), kStart);
  EXPECT_EQ(Feed(gate, Measuring(300, 300), milliseconds(0), milliseconds(9950)),
            LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.Observe(Measuring(300, 300), kStart + seconds(10)), LagGateVerdict::kFailed);
  EXPECT_NE(gate.reason().find("p99 300.000 ms"), std::string::npos) << gate.reason();
}

TEST(LagGate, FailsEarlyWhenTooLittleTimeIsLeftToHold) {
  LagGate gate(Options(100, 5, 10), kStart);
  // At 5.1 s with the condition broken, 4.9 s are left for a 5 s hold: it can no longer pass.
  EXPECT_EQ(Feed(gate, Measuring(300, 300), milliseconds(0), milliseconds(5200)),
            LagGateVerdict::kFailed);
  EXPECT_NE(gate.reason().find("longest stretch below the limit: 0.0 s"), std::string::npos)
      << gate.reason();
}

TEST(LagGate, ABreachLateInTheDurationFailsAtOnce) {
  LagGate gate(Options(100, 8, 10), kStart);
  EXPECT_EQ(Feed(gate, Measuring(20, 20), milliseconds(0), milliseconds(4000)),
            LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.longest_held(), milliseconds(3900));
  // Broken at 6 s: an 8 s hold can no longer fit in the 10 s, so the gate fails now.
  EXPECT_EQ(gate.Observe(Measuring(250, 250), kStart + seconds(6)), LagGateVerdict::kFailed);
  EXPECT_NE(gate.reason().find("p99 250.000 ms"), std::string::npos) << gate.reason();
  EXPECT_NE(gate.reason().find("longest stretch below the limit: 3.9 s"), std::string::npos)
      << gate.reason();
}

TEST(LagGate, CannotMeasureWhenNoHeartbeatEverArrives) {
  LagGate gate(Options(100, 1, 30), kStart);
  LagSnapshot nothing;
  nothing.heartbeats_written = 500;
  EXPECT_EQ(Feed(gate, nothing, milliseconds(0), milliseconds(4950)), LagGateVerdict::kWaiting);
  EXPECT_EQ(gate.Observe(nothing, kStart + seconds(5)), LagGateVerdict::kCannotMeasure);
  EXPECT_NE(gate.reason().find("not replicating from this source"), std::string::npos)
      << gate.reason();
}

TEST(LagGate, AStalledHeartbeatFailsTheGateAndSaysSo) {
  LagGate gate(Options(100, 5, 8), kStart);
  EXPECT_EQ(Feed(gate, Measuring(20, 20), milliseconds(0), milliseconds(2000)),
            LagGateVerdict::kWaiting);
  LagSnapshot stalled = Measuring(20, 2500);
  stalled.stalled = true;
  stalled.oldest_unseen_age_ms = 2500;
  stalled.since_last_arrival_ms = 2490;
  EXPECT_EQ(Feed(gate, stalled, milliseconds(2000), milliseconds(8000)), LagGateVerdict::kFailed);
  EXPECT_NE(gate.reason().find("the heartbeat stopped arriving"), std::string::npos)
      << gate.reason();
}

TEST(LagGate, AMonitorErrorMeansTheLagCannotBeMeasured) {
  LagGate gate(Options(100, 1, 30), kStart);
  LagSnapshot failed = Measuring(20, 20);
  failed.error = engine::ConnectionFailed("target went away");
  EXPECT_EQ(gate.Observe(failed, kStart + seconds(1)), LagGateVerdict::kCannotMeasure);
  EXPECT_NE(gate.reason().find("target went away"), std::string::npos);
}

TEST(LagGate, ValidateRefusesAGateThatCouldNeverPass) {
  EXPECT_TRUE(LagGate::Validate(Options(100, 5, 10)).ok());
  EXPECT_EQ(LagGate::Validate(Options(0, 5, 10)).code(), engine::StatusCode::kInvalidArgument);
  engine::Status too_short = LagGate::Validate(Options(100, 20, 10));
  EXPECT_EQ(too_short.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_NE(too_short.message().find("could never pass"), std::string::npos);
}

}  // namespace
}  // namespace tandem::lag
