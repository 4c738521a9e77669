// Unit tests of phase 4's measurements and HTTP gates: the httplog parser, the traffic monitor's
// window arithmetic (fed by hand through its test-only API), the error-rate and latency gates'
// verdicts, and the probe gate against a local HTTP server.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "orchestration/error_rate_gate.h"
#include "orchestration/gate.h"
#include "orchestration/latency_gate.h"
#include "orchestration/probe_gate.h"
#include "orchestration/traffic_monitor.h"

namespace tandem::orchestration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kLine =
    "127.0.0.1:40000 [26/Nov/2026:02:30:00.123] fe_app app/app-new-1 0/0/1/2/3 200 150 - - "
    "---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";

// ---------------------------------------------------------------------------------------------
// httplog lines

TEST(HttpLogLine, Rfc3164FramingWithoutHostname) {
  const auto line = ParseHttplogLine(std::string("<134>Nov 26 02:30:00 haproxy[123]: ") + kLine);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->frontend, "fe_app");
  EXPECT_EQ(line->backend, "app");
  EXPECT_EQ(line->server, "app-new-1");
  ASSERT_TRUE(line->ta_ms.has_value());
  EXPECT_EQ(*line->ta_ms, 3);
  EXPECT_EQ(line->status, 200);
}

TEST(HttpLogLine, Rfc3164FramingWithHostnameAndSpacePaddedDay) {
  const auto line =
      ParseHttplogLine(std::string("<134>Nov  6 02:30:00 web-1 haproxy[123]: ") + kLine + "\n");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->server, "app-new-1");
  EXPECT_EQ(line->ta_ms, 3);
}

TEST(HttpLogLine, Rfc5424FramingWithAndWithoutStructuredData) {
  const auto plain = ParseHttplogLine(
      std::string("<134>1 2026-11-26T02:30:00.123456+00:00 web-1 haproxy 123 - - ") + kLine);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->backend, "app");
  EXPECT_EQ(plain->ta_ms, 3);

  const auto structured = ParseHttplogLine(
      std::string("<134>1 2026-11-26T02:30:00Z web-1 haproxy 123 - [meta sequenceId=\"1\" "
                  "note=\"a \\] b\"][x@1 y=\"z\"] \xEF\xBB\xBF") +
      kLine);
  ASSERT_TRUE(structured.has_value());
  EXPECT_EQ(structured->server, "app-new-1");
}

TEST(HttpLogLine, RawMessageWithoutSyslogHeader) {
  const auto line = ParseHttplogLine(kLine);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->status, 200);
}

TEST(HttpLogLine, TlsFrontendLosesItsTilde) {
  const auto line = ParseHttplogLine(
      "<134>Nov 26 02:30:00 haproxy[1]: [::1]:5000 [26/Nov/2026:02:30:00.123] fe_app~ "
      "app/app-old-1 1/0/0/7/9 503 10 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->frontend, "fe_app");
  EXPECT_EQ(line->server, "app-old-1");
  EXPECT_EQ(line->ta_ms, 9);
  EXPECT_EQ(line->status, 503);
}

TEST(HttpLogLine, AbortedTimersGiveNoTimeButStillALine) {
  const auto aborted = ParseHttplogLine(
      "127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_app app/<NOSRV> -1/-1/-1/-1/0 -1 0 - - CR-- "
      "0/0/0/0/0 0/0 \"<BADREQ>\"");
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->server, "<NOSRV>");
  EXPECT_FALSE(aborted->ta_ms.has_value());
  EXPECT_EQ(aborted->status, -1);

  const auto no_response = ParseHttplogLine(
      "127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_app app/app-new-1 0/0/0/-1/5002 502 204 - - "
      "SH-- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"");
  ASSERT_TRUE(no_response.has_value());
  EXPECT_FALSE(no_response->ta_ms.has_value());
  EXPECT_EQ(no_response->status, 502);
}

TEST(HttpLogLine, LogasapPlusSignsAreRead) {
  const auto line = ParseHttplogLine(
      "127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_app app/app-new-1 0/0/1/2/+3 200 +150 - - ---- "
      "1/1/0/0/0 0/0 \"GET / HTTP/1.1\"");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->ta_ms, 3);
}

TEST(HttpLogLine, GarbageAndOtherFormatsAreUnreadable) {
  EXPECT_FALSE(ParseHttplogLine(""));
  EXPECT_FALSE(ParseHttplogLine("hello"));
  EXPECT_FALSE(ParseHttplogLine("<134>Nov 26 02:30:00 haproxy[123]: Proxy fe_app started."));
  EXPECT_FALSE(ParseHttplogLine("<134>garbage"));
  EXPECT_FALSE(ParseHttplogLine("<99999>Nov 26 02:30:00 haproxy[1]: " + std::string(kLine)));
  // A tcplog line has three timers.
  EXPECT_FALSE(ParseHttplogLine(
      "<134>Nov 26 02:30:00 haproxy[1]: 127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_db db/db1 "
      "0/0/5 100 -- 1/1/0/0/0 0/0"));
  EXPECT_FALSE(ParseHttplogLine(
      "127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_app app/app-new-1 0/0/x/2/3 200 150"));
  EXPECT_FALSE(ParseHttplogLine(
      "127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_app app/app-new-1 0/0/1/2/3/4 200 150"));
  EXPECT_FALSE(ParseHttplogLine("127.0.0.1:1 26/Nov/2026 fe_app app/app-new-1 0/0/1/2/3 200 150"));
  EXPECT_FALSE(ParseHttplogLine("127.0.0.1:1 [d] fe_app appnoslash 0/0/1/2/3 200 150"));
}

TEST(HttpLogLine, EveryTruncationBeforeTheBytesFieldIsUnreadable) {
  const std::string full = std::string("<134>Nov 26 02:30:00 haproxy[123]: ") + kLine;
  const size_t bytes_start = full.find(" 150 ") + 1;
  for (size_t length = 0; length <= bytes_start; ++length) {
    EXPECT_FALSE(ParseHttplogLine(full.substr(0, length))) << full.substr(0, length);
  }
  EXPECT_TRUE(ParseHttplogLine(full.substr(0, bytes_start + 1)));
}

// ---------------------------------------------------------------------------------------------
// The monitor's arithmetic, fed by hand

HaproxyServerStats Server(const std::string& name, int64_t responses_2xx, int64_t responses_5xx,
                          double rtime_ms = 0, int64_t econ = 0, int64_t eresp = 0) {
  HaproxyServerStats stats;
  stats.backend = "app";
  stats.server = name;
  stats.status = "UP";
  stats.http_2xx = responses_2xx;
  stats.http_5xx = responses_5xx;
  stats.connection_errors = econ;
  stats.response_errors = eresp;
  stats.sessions_total = responses_2xx + responses_5xx;
  stats.response_time_ms = rtime_ms;
  return stats;
}

TrafficMonitorOptions Options(bool with_log) {
  TrafficMonitorOptions options;
  options.backend = "app";
  options.old_servers = {"app-old-1", "app-old-2"};
  options.new_servers = {"app-new-1"};
  if (with_log) {
    options.log_address = "127.0.0.1:0";  // not bound: the test monitor has no sockets
  }
  return options;
}

std::string LogLine(const std::string& backend, const std::string& server, int ta_ms,
                    int status = 200) {
  return "<134>Nov 26 02:30:00 haproxy[123]: 127.0.0.1:40000 [26/Nov/2026:02:30:00.123] fe_" +
         backend + " " + backend + "/" + server + " 0/0/0/" + std::to_string(ta_ms) + "/" +
         std::to_string(ta_ms) + " " + std::to_string(status) +
         " 150 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";
}

class TrafficMonitorUnit : public ::testing::Test {
 protected:
  const SteadyTime t0_ = std::chrono::steady_clock::now();
  SteadyTime At(milliseconds offset) const { return t0_ + offset; }
};

TEST_F(TrafficMonitorUnit, CountsAreDeltasFromTheFirstPollInTheWindow) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  // The first sight of each server is its zero point: these 1000 earlier requests never count.
  monitor->RecordPollForTesting(
      At(seconds(0)), std::vector{Server("app-old-1", 1000, 10), Server("app-old-2", 500, 0),
                                  Server("app-new-1", 0, 0)});
  monitor->RecordPollForTesting(At(seconds(1)), std::vector{Server("app-old-1", 1100, 11),
                                                            Server("app-old-2", 600, 1, 0, 1, 1),
                                                            Server("app-new-1", 50, 2)});
  monitor->RecordPollForTesting(At(seconds(2)), std::vector{Server("app-old-1", 1200, 12),
                                                            Server("app-old-2", 700, 1, 0, 1, 1),
                                                            Server("app-new-1", 100, 3)});
  const TrafficWindow all = monitor->Window(At(seconds(0)), At(seconds(2)), 0);
  EXPECT_EQ(all.start, At(seconds(0)));
  EXPECT_EQ(all.old_side.responses, 202 + 201);  // hrsp sums minus their zero points
  EXPECT_EQ(all.old_side.errors, 2 + 3);         // 5xx, plus 1 5xx + 1 econ + 1 eresp
  EXPECT_EQ(all.new_side.responses, 103);
  EXPECT_EQ(all.new_side.errors, 3);
  EXPECT_NEAR(all.new_side.error_rate(), 3.0 / 103, 1e-12);

  // A window starting between polls begins at the next poll: traffic before it never counts.
  const TrafficWindow later = monitor->Window(At(milliseconds(1500)), At(seconds(3)), 0);
  EXPECT_EQ(later.start, At(seconds(2)));
  EXPECT_EQ(later.new_side.responses, 0);
  EXPECT_EQ(later.end, At(seconds(3)));

  const TrafficWindow second = monitor->Window(At(milliseconds(500)), At(seconds(2)), 0);
  EXPECT_EQ(second.start, At(seconds(1)));
  EXPECT_EQ(second.new_side.responses, 51);
  EXPECT_EQ(second.new_side.errors, 1);
}

TEST_F(TrafficMonitorUnit, CounterResetCountsAsRestartNeverNegative) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(At(seconds(0)), std::vector{Server("app-new-1", 1000, 100)});
  monitor->RecordPollForTesting(At(seconds(1)), std::vector{Server("app-new-1", 1100, 110)});
  // HAProxy reloaded: the counters start over.
  monitor->RecordPollForTesting(At(seconds(2)), std::vector{Server("app-new-1", 30, 3)});
  monitor->RecordPollForTesting(At(seconds(3)), std::vector{Server("app-new-1", 60, 4)});
  const TrafficWindow window = monitor->Window(At(seconds(0)), At(seconds(3)), 0);
  EXPECT_EQ(window.new_side.responses, 110 + 33 + 31);
  EXPECT_EQ(window.new_side.errors, 10 + 3 + 1);
  const TrafficWindow after = monitor->Window(At(seconds(1)), At(seconds(2)), 0);
  EXPECT_EQ(after.new_side.responses, 33);
  EXPECT_GE(after.new_side.errors, 0);
}

TEST_F(TrafficMonitorUnit, WindowWidensBackTowardsSinceForMinimumResponses) {
  TrafficMonitorOptions options = Options(false);
  options.recent_span = seconds(30);
  auto monitor = TrafficMonitor::ForTesting(options);
  // 10 new responses per second for 100 s.
  for (int s = 0; s <= 100; ++s) {
    monitor->RecordPollForTesting(At(seconds(s)), std::vector{Server("app-new-1", 10 * s, 0),
                                                              Server("app-old-1", 100 * s, 0)});
  }
  const TrafficWindow recent = monitor->Window(At(seconds(10)), At(seconds(100)), 0);
  EXPECT_EQ(recent.start, At(seconds(70)));
  EXPECT_EQ(recent.new_side.responses, 300);
  const TrafficWindow widened = monitor->Window(At(seconds(10)), At(seconds(100)), 500);
  EXPECT_EQ(widened.start, At(seconds(50)));
  EXPECT_EQ(widened.new_side.responses, 500);
  // Never before `since`, even when that leaves too few responses.
  const TrafficWindow capped = monitor->Window(At(seconds(60)), At(seconds(100)), 5000);
  EXPECT_EQ(capped.start, At(seconds(60)));
  EXPECT_EQ(capped.new_side.responses, 400);
}

TEST_F(TrafficMonitorUnit, LogTimesAreNearestRankPercentilesOfTheWindow) {
  auto monitor = TrafficMonitor::ForTesting(Options(true));
  monitor->RecordPollForTesting(At(seconds(0)),
                                std::vector{Server("app-new-1", 0, 0), Server("app-old-1", 0, 0)});
  monitor->RecordPollForTesting(At(milliseconds(505)), std::vector{Server("app-new-1", 50, 0)});
  monitor->RecordPollForTesting(
      At(seconds(2)), std::vector{Server("app-new-1", 100, 0), Server("app-old-1", 1000, 0)});
  // In arrival order: old, 1000 lines of 5 ms (0..999 ms); new, 1..100 ms (one per 10 ms).
  for (int ms = 0; ms <= 1000; ++ms) {
    if (ms < 1000) {
      monitor->RecordDatagramForTesting(At(milliseconds(ms)), LogLine("app", "app-old-2", 5));
    }
    if (ms >= 10 && ms % 10 == 0) {
      monitor->RecordDatagramForTesting(At(milliseconds(ms)), LogLine("app", "app-new-1", ms / 10));
    }
  }
  // Ignored: another backend, an unknown server, an aborted request; unreadable: garbage.
  monitor->RecordDatagramForTesting(At(seconds(1)), LogLine("other", "app-new-1", 9999));
  monitor->RecordDatagramForTesting(At(seconds(1)), LogLine("app", "app-elsewhere", 9999));
  monitor->RecordDatagramForTesting(
      At(seconds(1)),
      "127.0.0.1:1 [26/Nov/2026:02:30:00.123] fe_app app/app-new-1 0/0/0/-1/9999 502 0");
  monitor->RecordDatagramForTesting(At(seconds(1)), "garbage");
  EXPECT_EQ(monitor->log_lines_received(), 1104);
  EXPECT_EQ(monitor->log_lines_unreadable(), 1);

  const TrafficWindow window = monitor->Window(At(seconds(0)), At(seconds(2)), 0);
  EXPECT_TRUE(window.new_times.from_log);
  EXPECT_EQ(window.new_times.samples, 100);
  EXPECT_DOUBLE_EQ(window.new_times.median_ms, 50);
  EXPECT_DOUBLE_EQ(window.new_times.p95_ms, 95);
  EXPECT_EQ(window.old_times.samples, 1000);
  EXPECT_DOUBLE_EQ(window.old_times.p95_ms, 5);

  // Only the samples inside the window, which starts at the poll of 505 ms: new lines at
  // 510..1000 ms.
  const TrafficWindow late = monitor->Window(At(milliseconds(501)), At(seconds(2)), 0);
  EXPECT_EQ(late.new_times.samples, 50);
  EXPECT_DOUBLE_EQ(late.new_times.median_ms, 75);
}

TEST_F(TrafficMonitorUnit, WithoutLogTimesAreRequestWeightedShowStatAverages) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(
      At(seconds(0)), std::vector{Server("app-old-1", 0, 0, 10), Server("app-old-2", 0, 0, 10),
                                  Server("app-new-1", 0, 0, 10)});
  // old-1: 300 requests at 10 ms, old-2: 100 at 30 ms -> (3000 + 3000) / 400 = 15 ms.
  monitor->RecordPollForTesting(
      At(seconds(1)), std::vector{Server("app-old-1", 300, 0, 10), Server("app-old-2", 100, 0, 30),
                                  Server("app-new-1", 50, 0, 40)});
  const TrafficWindow window = monitor->Window(At(seconds(0)), At(seconds(1)), 0);
  EXPECT_FALSE(window.old_times.from_log);
  EXPECT_EQ(window.old_times.samples, 400);
  EXPECT_DOUBLE_EQ(window.old_times.median_ms, 15);
  EXPECT_DOUBLE_EQ(window.old_times.p95_ms, 15);
  EXPECT_EQ(window.new_times.samples, 50);
  EXPECT_DOUBLE_EQ(window.new_times.median_ms, 40);
}

TEST_F(TrafficMonitorUnit, BaselineMeasuresOldServersAndRoundTripsThroughJson) {
  auto monitor = TrafficMonitor::ForTesting(Options(true));
  monitor->RecordPollForTesting(At(seconds(0)), std::vector{Server("app-old-1", 0, 0)});
  for (int i = 1; i <= 20; ++i) {
    monitor->RecordDatagramForTesting(At(milliseconds(100 * i)), LogLine("app", "app-old-1", i));
  }
  monitor->RecordPollForTesting(At(seconds(10)), std::vector{Server("app-old-1", 2000, 4)});
  const TrafficBaseline baseline = monitor->MeasureBaseline(At(seconds(0)), At(seconds(10)));
  EXPECT_EQ(baseline.old_side.responses, 2004);
  EXPECT_EQ(baseline.old_side.errors, 4);
  EXPECT_EQ(baseline.old_times.samples, 20);
  EXPECT_DOUBLE_EQ(baseline.old_times.median_ms, 10);
  EXPECT_DOUBLE_EQ(baseline.old_times.p95_ms, 19);
  EXPECT_EQ(baseline.span, seconds(10));

  const TrafficBaseline restored = TrafficBaseline::FromJson(baseline.ToJson());
  EXPECT_EQ(restored.old_side.responses, 2004);
  EXPECT_EQ(restored.old_side.errors, 4);
  EXPECT_EQ(restored.old_times.samples, 20);
  EXPECT_DOUBLE_EQ(restored.old_times.median_ms, 10);
  EXPECT_DOUBLE_EQ(restored.old_times.p95_ms, 19);
  EXPECT_TRUE(restored.old_times.from_log);
  EXPECT_EQ(restored.span, seconds(10));

  const TrafficBaseline garbage = TrafficBaseline::FromJson(
      nlohmann::json::parse(R"({"old_responses": "many", "old_times": 3, "span_ms": 1.5})"));
  EXPECT_EQ(garbage.old_side.responses, 0);
  EXPECT_EQ(garbage.old_times.samples, 0);
  EXPECT_EQ(garbage.span, milliseconds(0));
  EXPECT_EQ(TrafficBaseline::FromJson(nlohmann::json::array()).old_side.responses, 0);
}

TEST_F(TrafficMonitorUnit, PollErrorIsReportedUntilTheNextGoodPoll) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  EXPECT_FALSE(monitor->poll_error().has_value());
  monitor->RecordPollForTesting(At(seconds(0)),
                                engine::ConnectionFailed("HAProxy runtime API at x: refused"));
  ASSERT_TRUE(monitor->poll_error().has_value());
  EXPECT_EQ(monitor->poll_error()->code(), engine::StatusCode::kConnectionFailed);
  monitor->RecordPollForTesting(At(seconds(1)), std::vector{Server("app-new-1", 0, 0)});
  EXPECT_FALSE(monitor->poll_error().has_value());
}

// ---------------------------------------------------------------------------------------------
// Gates

TrafficBaseline Baseline(int64_t responses, int64_t errors, double median_ms, double p95_ms) {
  TrafficBaseline baseline;
  baseline.old_side = SideCounts{responses, errors};
  baseline.old_times.samples = responses;
  baseline.old_times.median_ms = median_ms;
  baseline.old_times.p95_ms = p95_ms;
  baseline.old_times.from_log = true;
  baseline.span = seconds(600);
  return baseline;
}

class TrafficGatesTest : public TrafficMonitorUnit {};

TEST_F(TrafficGatesTest, ErrorRateGoesInsufficientPassingFailing) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(At(seconds(0)),
                                std::vector{Server("app-old-1", 0, 0), Server("app-new-1", 0, 0)});
  ErrorRateGate gate(*monitor, Baseline(10000, 10, 5, 9), 0.001, 200, At(seconds(0)));
  EXPECT_EQ(gate.name(), "error_rate");

  monitor->RecordPollForTesting(
      At(seconds(1)), std::vector{Server("app-old-1", 1000, 1), Server("app-new-1", 100, 0)});
  GateReading reading = gate.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient) << reading.Describe();
  EXPECT_EQ(reading.samples, 100);
  EXPECT_EQ(reading.min_samples, 200);

  monitor->RecordPollForTesting(
      At(seconds(2)), std::vector{Server("app-old-1", 2000, 2), Server("app-new-1", 300, 0)});
  reading = gate.Evaluate(At(seconds(2)));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  EXPECT_EQ(reading.value, 0);
  EXPECT_NEAR(reading.threshold, 2.0 / 2002 + 0.001, 1e-12);  // old's 0.000999 < baseline's
  EXPECT_EQ(reading.unit, "ratio");

  // A burst of 5xx at the new server.
  monitor->RecordPollForTesting(
      At(seconds(3)), std::vector{Server("app-old-1", 3000, 3), Server("app-new-1", 300, 30)});
  reading = gate.Evaluate(At(seconds(3)));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  EXPECT_NEAR(reading.value, 30.0 / 330, 1e-12);
  EXPECT_TRUE(reading.failing());
}

TEST_F(TrafficGatesTest, ErrorRateThresholdUsesTheLowerOfOldAndBaseline) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(At(seconds(0)),
                                std::vector{Server("app-old-1", 0, 0), Server("app-new-1", 0, 0)});
  // Old servers fail 5% now (the same outage); the baseline said 0.1%.
  monitor->RecordPollForTesting(
      At(seconds(1)), std::vector{Server("app-old-1", 950, 50), Server("app-new-1", 970, 30)});
  ErrorRateGate strict(*monitor, Baseline(10000, 10, 5, 9), 0.01, 100, At(seconds(0)));
  GateReading reading = strict.Evaluate(At(seconds(1)));
  EXPECT_NEAR(reading.threshold, 0.001 + 0.01, 1e-12);
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();

  // A noisy baseline (2%) does not hide the new servers' 2% while the old ones now see 0.1%.
  monitor->RecordPollForTesting(
      At(seconds(2)), std::vector{Server("app-old-1", 1949, 51), Server("app-new-1", 1950, 50)});
  ErrorRateGate noisy_baseline(*monitor, Baseline(1000, 20, 5, 9), 0.01, 100, At(seconds(1)));
  reading = noisy_baseline.Evaluate(At(seconds(2)));
  EXPECT_NEAR(reading.threshold, 0.001 + 0.01, 1e-12);
  EXPECT_NEAR(reading.value, 0.02, 1e-12);
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
}

TEST_F(TrafficGatesTest, ErrorRateUsesBaselineAloneWhenOldSawNoTraffic) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(At(seconds(0)),
                                std::vector{Server("app-old-1", 0, 0), Server("app-new-1", 0, 0)});
  monitor->RecordPollForTesting(
      At(seconds(1)), std::vector{Server("app-old-1", 0, 0), Server("app-new-1", 995, 5)});
  ErrorRateGate gate(*monitor, Baseline(10000, 100, 5, 9), 0.001, 100, At(seconds(0)));
  const GateReading reading = gate.Evaluate(At(seconds(1)));
  EXPECT_NEAR(reading.threshold, 0.01 + 0.001, 1e-12);
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  EXPECT_NE(reading.detail.find("old (same window) no responses"), std::string::npos)
      << reading.detail;
}

TEST_F(TrafficGatesTest, ErrorRateIsInsufficientWhileHaproxyIsUnreadable) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(At(seconds(0)),
                                std::vector{Server("app-old-1", 0, 0), Server("app-new-1", 0, 0)});
  monitor->RecordPollForTesting(
      At(seconds(1)), std::vector{Server("app-old-1", 1000, 0), Server("app-new-1", 500, 400)});
  monitor->RecordPollForTesting(At(seconds(2)), engine::Timeout("HAProxy runtime API timed out"));
  ErrorRateGate gate(*monitor, Baseline(10000, 0, 5, 9), 0.001, 100, At(seconds(0)));
  const GateReading reading = gate.Evaluate(At(seconds(2)));
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient) << reading.Describe();
  EXPECT_NE(reading.detail.find("HAProxy runtime API timed out"), std::string::npos);
}

TEST_F(TrafficGatesTest, LatencyMedianAndP95AgainstBaselineWithSlack) {
  auto monitor = TrafficMonitor::ForTesting(Options(true));
  monitor->RecordPollForTesting(At(seconds(0)), std::vector{Server("app-new-1", 0, 0)});
  // Baseline median 10 ms, p95 20 ms; allowance 10% + 5 ms: median <= 16, p95 <= 27.
  const TrafficBaseline baseline = Baseline(1000, 0, 10, 20);
  LatencyGate median(*monitor, baseline, LatencyGate::Statistic::kMedian, 0.10, milliseconds(5), 50,
                     At(seconds(0)));
  LatencyGate p95(*monitor, baseline, LatencyGate::Statistic::kP95, 0.10, milliseconds(5), 50,
                  At(seconds(0)));
  EXPECT_EQ(median.name(), "latency_median");
  EXPECT_EQ(p95.name(), "latency_p95");

  for (int i = 0; i < 20; ++i) {
    monitor->RecordDatagramForTesting(At(milliseconds(10 + i)), LogLine("app", "app-new-1", 12));
  }
  GateReading reading = median.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient) << reading.Describe();
  EXPECT_EQ(reading.samples, 20);

  // 100 requests: 90 at 12 ms, 10 at 25 ms -> median 12 (passes), p95 25 (passes: 25 <= 27).
  for (int i = 0; i < 70; ++i) {
    monitor->RecordDatagramForTesting(At(milliseconds(100 + i)), LogLine("app", "app-new-1", 12));
  }
  for (int i = 0; i < 10; ++i) {
    monitor->RecordDatagramForTesting(At(milliseconds(200 + i)), LogLine("app", "app-new-1", 25));
  }
  reading = median.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  EXPECT_DOUBLE_EQ(reading.value, 12);
  EXPECT_DOUBLE_EQ(reading.threshold, 16);
  EXPECT_EQ(reading.unit, "ms");
  reading = p95.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  EXPECT_DOUBLE_EQ(reading.value, 25);
  EXPECT_DOUBLE_EQ(reading.threshold, 27);

  // 20 more slow requests (30 ms): 30 of 120 slow -> p95 30 fails; the median stays 12.
  for (int i = 0; i < 20; ++i) {
    monitor->RecordDatagramForTesting(At(milliseconds(300 + i)), LogLine("app", "app-new-1", 30));
  }
  reading = p95.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  EXPECT_DOUBLE_EQ(reading.value, 30);
  reading = median.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();

  // Slower throughout: the median fails as well.
  for (int i = 0; i < 200; ++i) {
    monitor->RecordDatagramForTesting(At(milliseconds(400 + i)), LogLine("app", "app-new-1", 17));
  }
  reading = median.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  EXPECT_DOUBLE_EQ(reading.value, 17);
}

TEST_F(TrafficGatesTest, LatencyWithoutBaselineTimesFallsBackOnOldServersThenInsufficient) {
  auto monitor = TrafficMonitor::ForTesting(Options(false));
  monitor->RecordPollForTesting(
      At(seconds(0)), std::vector{Server("app-old-1", 0, 0, 10), Server("app-new-1", 0, 0, 10)});
  TrafficBaseline empty;
  LatencyGate gate(*monitor, empty, LatencyGate::Statistic::kMedian, 0.5, milliseconds(0), 10,
                   At(seconds(0)));
  monitor->RecordPollForTesting(
      At(seconds(1)), std::vector{Server("app-old-1", 0, 0, 10), Server("app-new-1", 100, 0, 40)});
  GateReading reading = gate.Evaluate(At(seconds(1)));
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient) << reading.Describe();
  EXPECT_NE(reading.detail.find("no reference"), std::string::npos) << reading.detail;

  monitor->RecordPollForTesting(At(seconds(2)), std::vector{Server("app-old-1", 100, 0, 20),
                                                            Server("app-new-1", 200, 0, 40)});
  reading = gate.Evaluate(At(seconds(2)));
  EXPECT_DOUBLE_EQ(reading.threshold, 20 * 1.5);
  EXPECT_DOUBLE_EQ(reading.value, 40);
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  EXPECT_NE(reading.detail.find("show stat averages"), std::string::npos) << reading.detail;
}

TEST(TrafficGatesReading, JsonAndDescription) {
  GateReading reading;
  reading.name = "error_rate";
  reading.value = 0.0123;
  reading.threshold = 0.001;
  reading.samples = 1234;
  reading.min_samples = 500;
  reading.unit = "ratio";
  reading.detail = "new 15/1234";
  reading.verdict = GateVerdict::kFailing;
  EXPECT_EQ(reading.Describe(), "error_rate 0.0123 > 0.001 (1234 samples): new 15/1234");
  const nlohmann::json json = reading.ToJson();
  EXPECT_EQ(json["name"], "error_rate");
  EXPECT_EQ(json["samples"], 1234);
  EXPECT_EQ(json["ok"], false);
  EXPECT_EQ(json["verdict"], "failing");
  EXPECT_EQ(json["min_samples"], 500);
  EXPECT_DOUBLE_EQ(json["threshold"].get<double>(), 0.001);

  reading.verdict = GateVerdict::kInsufficient;
  reading.name = "latency_p95";
  reading.unit = "ms";
  reading.value = 12.5;
  reading.threshold = 27;
  reading.samples = 12;
  reading.detail.clear();
  EXPECT_EQ(reading.Describe(), "latency_p95 12.50 ms vs 27 ms (12 of 500 samples, insufficient)");
  EXPECT_STREQ(GateVerdictName(GateVerdict::kPassing), "passing");
  EXPECT_STREQ(GateVerdictName(GateVerdict::kInsufficient), "insufficient");
}

// ---------------------------------------------------------------------------------------------
// The probe gate against a local HTTP server

class ProbeServer {
 public:
  ProbeServer() {
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& response) {
      response.status = status_.load();
      response.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  ~ProbeServer() { Stop(); }
  void Stop() {
    server_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  void SetStatus(int status) { status_ = status; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/health"; }

 private:
  httplib::Server server_;
  std::atomic<int> status_{200};
  int port_ = 0;
  std::thread thread_;
};

// Evaluates until the verdict is `want` or 3 s pass.
bool EventuallyVerdict(ProbeGate& gate, GateVerdict want, GateReading& reading) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    reading = gate.Evaluate(std::chrono::steady_clock::now());
    if (reading.verdict == want) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

TEST(TrafficGatesProbe, FollowsTheServerBetween200And500AndGoingAway) {
  ProbeServer server;
  ProbeGate gate(server.url(), milliseconds(20), milliseconds(200));
  EXPECT_EQ(gate.name(), "probe " + server.url());
  GateReading reading = gate.Evaluate(std::chrono::steady_clock::now());
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient);
  ASSERT_TRUE(gate.Start().ok());
  EXPECT_EQ(gate.Start().code(), engine::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(EventuallyVerdict(gate, GateVerdict::kPassing, reading)) << reading.Describe();
  EXPECT_EQ(reading.value, 0);

  server.SetStatus(500);
  ASSERT_TRUE(EventuallyVerdict(gate, GateVerdict::kFailing, reading)) << reading.Describe();
  EXPECT_EQ(reading.threshold, 0);
  EXPECT_NE(reading.detail.find("last answer 500"), std::string::npos) << reading.detail;

  server.SetStatus(200);
  ASSERT_TRUE(EventuallyVerdict(gate, GateVerdict::kPassing, reading)) << reading.Describe();

  server.Stop();
  ASSERT_TRUE(EventuallyVerdict(gate, GateVerdict::kFailing, reading)) << reading.Describe();
  EXPECT_GE(reading.value, 2);
  EXPECT_EQ(reading.threshold, 1);
  EXPECT_NE(reading.detail.find("unanswered"), std::string::npos) << reading.detail;

  const auto stop_start = std::chrono::steady_clock::now();
  gate.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, milliseconds(1000));
}

TEST(TrafficGatesProbe, NeverAnsweredIsInsufficientThenFailingAfterTwoLostProbes) {
  std::string url;
  {
    ProbeServer server;  // a port that was just free, now closed
    url = server.url();
  }
  ProbeGate gate(url, milliseconds(20), milliseconds(200));
  ASSERT_TRUE(gate.Start().ok());
  GateReading reading;
  ASSERT_TRUE(EventuallyVerdict(gate, GateVerdict::kFailing, reading)) << reading.Describe();
  EXPECT_GE(reading.samples, 2);
  EXPECT_NE(reading.detail.find("no answer yet"), std::string::npos) << reading.detail;
}

TEST(TrafficGatesProbe, RefusesUrlsItCannotProbe) {
  for (const char* url :
       {"https://example.com/health", "ftp://x/", "http://", "http://:80/", "http://host:0/",
        "http://host:99999/", "http://user:pw@host/", "http://host:/"}) {
    ProbeGate gate(url);
    const engine::Status status = gate.Start();
    EXPECT_EQ(status.code(), engine::StatusCode::kInvalidArgument) << url;
    EXPECT_NE(status.message().find("http://host[:port][/path]"), std::string::npos)
        << status.message();
  }
  ProbeGate with_password("http://user:secret@host/");
  EXPECT_EQ(with_password.Start().message().find("secret"), std::string::npos);
  ProbeGate zero_interval("http://127.0.0.1:1/", milliseconds(0));
  EXPECT_EQ(zero_interval.Start().code(), engine::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::orchestration
