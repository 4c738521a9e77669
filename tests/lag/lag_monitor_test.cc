#include "lag/lag_monitor.h"

#include <gtest/gtest.h>

#include <thread>

#include "lag/lag_gate.h"
#include "tests/lag/fake_heartbeat.h"

namespace tandem::lag {
namespace {

using std::chrono::milliseconds;
using testing::FakeHeartbeatReader;
using testing::FakeHeartbeatWriter;
using testing::FakeReplication;
using testing::FakeReplicationProbe;

constexpr engine::HeartbeatWriterId kWriter = 4242;

struct Pair {
  std::shared_ptr<FakeReplication> link = std::make_shared<FakeReplication>();
  std::unique_ptr<FakeHeartbeatWriter> writer =
      std::make_unique<FakeHeartbeatWriter>(link, kWriter);
  std::unique_ptr<FakeHeartbeatReader> reader =
      std::make_unique<FakeHeartbeatReader>(link, kWriter);
};

LagMonitorOptions FastOptions() {
  LagMonitorOptions options;
  options.interval = milliseconds(5);
  options.window = std::chrono::seconds(2);
  options.window_slots = 4;
  return options;
}

std::unique_ptr<LagMonitor> StartMonitor(Pair& pair, const LagMonitorOptions& options,
                                         std::unique_ptr<engine::ReplicationProbe> probe = {}) {
  auto monitor = LagMonitor::Start(kWriter, std::move(pair.writer), std::move(pair.reader),
                                   std::move(probe), options);
  EXPECT_TRUE(monitor.ok()) << monitor.status().ToString();
  return monitor.ok() ? std::move(*monitor) : nullptr;
}

// Polls the monitor until `condition(snapshot)` or `timeout`; returns the last snapshot.
template <typename Condition>
LagSnapshot WaitFor(const LagMonitor& monitor, milliseconds timeout, Condition condition) {
  const auto deadline = LagClock::now() + timeout;
  LagSnapshot snapshot = monitor.Snapshot();
  while (!condition(snapshot) && LagClock::now() < deadline) {
    monitor.WaitForStop(milliseconds(10));
    snapshot = monitor.Snapshot();
  }
  return snapshot;
}

TEST(LagMonitor, MeasuresTheReplicationDelay) {
  Pair pair;
  pair.link->set_delay(milliseconds(30));
  auto monitor = StartMonitor(pair, FastOptions());
  ASSERT_NE(monitor, nullptr);
  const LagSnapshot snapshot = WaitFor(
      *monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.overall.samples >= 200; });
  ASSERT_GE(snapshot.overall.samples, 200u);
  EXPECT_TRUE(snapshot.error.ok()) << snapshot.error.ToString();
  // The fake makes each beat visible exactly 30 ms after its commit; the estimate is off by at
  // most the sample's error bound, so the median stays within a few ms even on a loaded machine.
  EXPECT_NEAR(snapshot.overall.p50_ms, 30.0, 3.0);
  // No estimate undershoots the true lag (>= 30 ms) by more than the largest error bound.
  EXPECT_GE(snapshot.overall.min_ms + snapshot.max_measurement_error_ms, 29.99);
  EXPECT_GT(snapshot.polls, 0u);
  EXPECT_GT(snapshot.measurement_error_ms, 0.0);
  EXPECT_FALSE(snapshot.stalled);
  EXPECT_GE(snapshot.window.samples, 1u);
}

TEST(LagMonitor, AnUndelayedLinkMeasuresNearZero) {
  Pair pair;
  auto monitor = StartMonitor(pair, FastOptions());
  ASSERT_NE(monitor, nullptr);
  const LagSnapshot snapshot = WaitFor(
      *monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.overall.samples >= 100; });
  ASSERT_GE(snapshot.overall.samples, 100u);
  EXPECT_LT(snapshot.overall.p50_ms, 2.0);
}

TEST(LagMonitor, AStoppedReplicationStallsAndTheCurrentLagGrows) {
  Pair pair;
  auto link = pair.link;
  LagMonitorOptions options = FastOptions();
  options.stall_after = milliseconds(200);
  auto monitor = StartMonitor(pair, options);
  ASSERT_NE(monitor, nullptr);
  ASSERT_GE(WaitFor(*monitor, milliseconds(20000),
                    [](const LagSnapshot& s) { return s.overall.samples >= 20; })
                .overall.samples,
            20u);
  link->StopReplication();
  const LagSnapshot stalled =
      WaitFor(*monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.stalled; });
  ASSERT_TRUE(stalled.stalled);
  EXPECT_GT(stalled.current_lag_ms, 200.0);
  EXPECT_GT(stalled.heartbeats_written, stalled.heartbeats_seen);
  EXPECT_NE(stalled.StallMessage().find("the heartbeat stopped arriving"), std::string::npos);
  const LagSnapshot later = WaitFor(*monitor, milliseconds(20000), [&](const LagSnapshot& s) {
    return s.current_lag_ms > stalled.current_lag_ms + 100;
  });
  EXPECT_GT(later.current_lag_ms, stalled.current_lag_ms + 100);

  link->ResumeReplication();
  const LagSnapshot resumed =
      WaitFor(*monitor, milliseconds(20000), [](const LagSnapshot& s) { return !s.stalled; });
  EXPECT_FALSE(resumed.stalled);
  // The beats held back during the stop arrive with their true, large lags.
  EXPECT_GT(resumed.overall.max_ms, 200.0);
}

TEST(LagMonitor, MemoryStaysBoundedWhileTheTargetShowsNothing) {
  Pair pair;
  pair.link->Disconnect();
  LagMonitorOptions options = FastOptions();
  options.interval = milliseconds(1);
  options.max_unseen = 16;
  auto monitor = StartMonitor(pair, options);
  ASSERT_NE(monitor, nullptr);
  const LagSnapshot snapshot = WaitFor(*monitor, milliseconds(20000),
                                       [](const LagSnapshot& s) { return s.beats_skipped > 10; });
  EXPECT_GT(snapshot.beats_skipped, 10u);
  EXPECT_EQ(snapshot.heartbeats_written, 16);
  EXPECT_EQ(snapshot.heartbeats_seen, 0);
  EXPECT_EQ(snapshot.overall.samples, 0u);
  EXPECT_FALSE(snapshot.since_last_arrival_ms.has_value());
}

TEST(LagMonitor, AWriteErrorStopsTheMeasurementAndIsReported) {
  Pair pair;
  pair.writer->writes_before_failure = 5;
  auto monitor = StartMonitor(pair, FastOptions());
  ASSERT_NE(monitor, nullptr);
  EXPECT_TRUE(monitor->WaitForStop(std::chrono::seconds(20)));
  const LagSnapshot snapshot = monitor->Snapshot();
  EXPECT_EQ(snapshot.error.code(), engine::StatusCode::kConnectionFailed);
  EXPECT_NE(snapshot.error.message().find("writing heartbeat 6 on the source"), std::string::npos)
      << snapshot.error.message();
}

TEST(LagMonitor, TransientRefusalsAreRiddenOut) {
  Pair pair;
  pair.reader->refused_reads = 5;
  auto monitor = StartMonitor(pair, FastOptions());
  ASSERT_NE(monitor, nullptr);
  const LagSnapshot snapshot = WaitFor(
      *monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.overall.samples >= 20; });
  EXPECT_GE(snapshot.overall.samples, 20u);
  EXPECT_TRUE(snapshot.error.ok());
  EXPECT_EQ(snapshot.transient_errors, 5u);
  EXPECT_EQ(snapshot.ToJson()["transient_errors"], 5);
}

TEST(LagMonitor, APrepareErrorIsReturnedByStart) {
  Pair pair;
  pair.writer->prepare_status = engine::PermissionDenied("CREATE privilege on _tandem needed");
  auto monitor = LagMonitor::Start(kWriter, std::move(pair.writer), std::move(pair.reader), nullptr,
                                   FastOptions());
  ASSERT_FALSE(monitor.ok());
  EXPECT_EQ(monitor.status().code(), engine::StatusCode::kPermissionDenied);
  EXPECT_NE(monitor.status().message().find("preparing the heartbeat on the source"),
            std::string::npos);
}

TEST(LagMonitor, BadOptionsAreRefused) {
  Pair pair;
  LagMonitorOptions options = FastOptions();
  options.interval = milliseconds(0);
  auto monitor =
      LagMonitor::Start(kWriter, std::move(pair.writer), std::move(pair.reader), nullptr, options);
  EXPECT_EQ(monitor.status().code(), engine::StatusCode::kInvalidArgument);
}

TEST(LagMonitor, StopIsPromptAndRemovesTheHeartbeatRecord) {
  Pair pair;
  auto link = pair.link;
  LagMonitorOptions options = FastOptions();
  options.interval = std::chrono::seconds(30);       // the writer sleeps between beats ...
  options.poll_interval = std::chrono::seconds(30);  // ... and so does the observer
  auto monitor = StartMonitor(pair, options);
  ASSERT_NE(monitor, nullptr);
  WaitFor(*monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.polls >= 1; });
  const auto before = LagClock::now();
  monitor->Stop();
  EXPECT_LT(LagClock::now() - before, milliseconds(1000));
  EXPECT_EQ(link->deletes(), 1);
  EXPECT_TRUE(monitor->WaitForStop(milliseconds(0)));
  monitor->Stop();  // idempotent
}

TEST(LagMonitor, PositionalReadingsAreReported) {
  Pair pair;
  engine::PositionalLag reading;
  reading.kind = "fake";
  reading.source_position = "100";
  reading.target_position = "90";
  reading.measures.push_back({"replay", 10, "bytes"});
  LagMonitorOptions options = FastOptions();
  options.position_interval = milliseconds(20);
  auto monitor = StartMonitor(pair, options, std::make_unique<FakeReplicationProbe>(reading));
  ASSERT_NE(monitor, nullptr);
  const LagSnapshot snapshot = WaitFor(
      *monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.positional.has_value(); });
  ASSERT_TRUE(snapshot.positional.has_value());
  EXPECT_EQ(snapshot.positional->measures.at(0).behind, 10);
  EXPECT_EQ(snapshot.ToJson()["positional"]["measures"][0]["name"], "replay");
}

TEST(LagMonitor, AProbeThatCannotTellStopsProbingButNotMeasuring) {
  Pair pair;
  LagMonitorOptions options = FastOptions();
  options.position_interval = milliseconds(1);
  auto probe = std::make_unique<FakeReplicationProbe>(
      engine::PositionalLag{}, engine::FailedPrecondition("the target is no replica"));
  FakeReplicationProbe* probe_view = probe.get();
  auto monitor = StartMonitor(pair, options, std::move(probe));
  ASSERT_NE(monitor, nullptr);
  const LagSnapshot snapshot = WaitFor(
      *monitor, milliseconds(20000), [](const LagSnapshot& s) { return s.overall.samples >= 20; });
  EXPECT_GE(snapshot.overall.samples, 20u);
  EXPECT_EQ(snapshot.positional_error, "the target is no replica");
  monitor->Stop();
  EXPECT_EQ(probe_view->reads(), 1);
}

TEST(LagMonitor, GatePassesOnAHealthyLinkAndFailsWhenReplicationStops) {
  Pair pair;
  auto link = pair.link;
  pair.link->set_delay(milliseconds(5));
  LagMonitorOptions options = FastOptions();
  options.stall_after = milliseconds(200);
  auto monitor = StartMonitor(pair, options);
  ASSERT_NE(monitor, nullptr);

  LagGateOptions gate_options;
  gate_options.max_lag = milliseconds(100);
  gate_options.hold_for = milliseconds(300);
  gate_options.duration = std::chrono::seconds(20);
  const LagTime start = LagClock::now();
  LagGate pass_gate(gate_options, start);
  while (pass_gate.Observe(monitor->Snapshot(), LagClock::now()) == LagGateVerdict::kWaiting) {
    monitor->WaitForStop(milliseconds(20));
  }
  EXPECT_EQ(pass_gate.verdict(), LagGateVerdict::kPassed) << pass_gate.reason();

  link->StopReplication();
  gate_options.duration = std::chrono::seconds(2);
  LagGate fail_gate(gate_options, LagClock::now());
  while (fail_gate.Observe(monitor->Snapshot(), LagClock::now()) == LagGateVerdict::kWaiting) {
    monitor->WaitForStop(milliseconds(20));
  }
  EXPECT_EQ(fail_gate.verdict(), LagGateVerdict::kFailed);
  EXPECT_NE(fail_gate.reason().find("the heartbeat stopped arriving"), std::string::npos)
      << fail_gate.reason();
}

TEST(LagMonitor, GateCannotMeasureWhenTheTargetNeverReplicates) {
  Pair pair;
  pair.link->Disconnect();
  auto monitor = StartMonitor(pair, FastOptions());
  ASSERT_NE(monitor, nullptr);
  LagGateOptions gate_options;
  gate_options.max_lag = milliseconds(100);
  gate_options.hold_for = milliseconds(100);
  gate_options.duration = std::chrono::seconds(20);
  gate_options.first_heartbeat_timeout = milliseconds(300);
  LagGate gate(gate_options, LagClock::now());
  while (gate.Observe(monitor->Snapshot(), LagClock::now()) == LagGateVerdict::kWaiting) {
    monitor->WaitForStop(milliseconds(20));
  }
  EXPECT_EQ(gate.verdict(), LagGateVerdict::kCannotMeasure);
  EXPECT_NE(gate.reason().find("not replicating from this source"), std::string::npos);
}

}  // namespace
}  // namespace tandem::lag

namespace tandem::lag {
namespace {

TEST(LagMonitorOpen, OpensBothSidesForOneFreshWriterId) {
  auto link = std::make_shared<FakeReplication>();
  engine::HeartbeatWriterId writer_seen = 0;
  engine::HeartbeatWriterId reader_seen = 0;
  LagPortOpeners openers;
  openers.writer = [&](const engine::ConnectionConfig&, engine::HeartbeatWriterId id)
      -> engine::Result<std::unique_ptr<engine::HeartbeatWriter>> {
    writer_seen = id;
    return std::unique_ptr<engine::HeartbeatWriter>(new FakeHeartbeatWriter(link, id));
  };
  openers.reader = [&](const engine::ConnectionConfig&, engine::HeartbeatWriterId id)
      -> engine::Result<std::unique_ptr<engine::HeartbeatReader>> {
    reader_seen = id;
    return std::unique_ptr<engine::HeartbeatReader>(new FakeHeartbeatReader(link, id));
  };
  openers.probe = [](const engine::ConnectionConfig&, const engine::ConnectionConfig&)
      -> engine::Result<std::unique_ptr<engine::ReplicationProbe>> {
    return engine::Unsupported("no native replication from mysql to postgres");
  };
  auto monitor = LagMonitor::Open({}, {}, openers, FastOptions());
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();
  EXPECT_GT(writer_seen, 0);
  EXPECT_EQ(writer_seen, reader_seen);
  const LagSnapshot snapshot = WaitFor(**monitor, milliseconds(20000),
                                       [](const LagSnapshot& s) { return s.overall.samples >= 5; });
  EXPECT_GE(snapshot.overall.samples, 5u);
  EXPECT_EQ(snapshot.writer_id, writer_seen);
  EXPECT_EQ(snapshot.positional_error, "no native replication from mysql to postgres");
}

TEST(LagMonitorOpen, AnOpenErrorSaysWhichSide) {
  LagPortOpeners openers;
  openers.writer =
      [](const engine::ConnectionConfig&,
         engine::HeartbeatWriterId) -> engine::Result<std::unique_ptr<engine::HeartbeatWriter>> {
    return engine::ConnectionFailed("cannot connect to mysql://tandem@10.0.0.5:3306");
  };
  openers.reader =
      [](const engine::ConnectionConfig&,
         engine::HeartbeatWriterId) -> engine::Result<std::unique_ptr<engine::HeartbeatReader>> {
    return engine::Internal("not reached");
  };
  auto monitor = LagMonitor::Open({}, {}, openers, FastOptions());
  ASSERT_FALSE(monitor.ok());
  EXPECT_EQ(monitor.status().code(), engine::StatusCode::kConnectionFailed);
  EXPECT_EQ(monitor.status().message().rfind("source: ", 0), 0u) << monitor.status().message();
}

}  // namespace
}  // namespace tandem::lag
