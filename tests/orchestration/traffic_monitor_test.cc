// Integration tests of the traffic monitor and the HTTP gates against a real HAProxy in front of
// three test backends (two old, one new, equal weights), with a paced load of 300 requests/s:
// per-request times over UDP syslog, show stat's averages without it, and the error-rate and
// latency gates passing on healthy servers and failing on a new server that answers 10% 503s or
// adds 100 ms.
#include "orchestration/traffic_monitor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "orchestration/error_rate_gate.h"
#include "orchestration/haproxy_runtime.h"
#include "orchestration/latency_gate.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/haproxy_server.h"
#include "tests/harness/http_load.h"
#include "tests/harness/test_http_backend.h"
#include "tests/harness/wait.h"

namespace tandem::orchestration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kBackend = "app";

class TrafficMonitorIntegration : public ::testing::Test {
 protected:
  void StartServers(bool with_log) {
    for (const char* name : {"app-old-1", "app-old-2", "app-new-1"}) {
      backends_.push_back(std::make_unique<testing::TestHttpBackend>(name));
      backends_.back()->Start();
    }
    testing::HaproxyOptions options;
    testing::HaproxyBackendSpec spec;
    spec.name = kBackend;
    for (const auto& backend : backends_) {
      spec.servers.push_back({backend->name(), backend->address(), 1});
    }
    options.http_backends.push_back(spec);
    if (with_log) {
      log_port_ = testing::PickFreePort();
      options.log_udp_port = log_port_;
    }
    haproxy_ = testing::HaproxyServer::Start(dir_.path(), options);
    runtime_ = std::make_unique<HaproxyRuntime>(haproxy_->admin_socket_path());

    testing::HttpLoadOptions load_options;
    load_options.port = haproxy_->frontend_port(kBackend);
    load_options.threads = 8;
    load_options.requests_per_second = 300;
    load_ = std::make_unique<testing::HttpLoad>(load_options);
  }

  TrafficMonitorOptions MonitorOptions() const {
    TrafficMonitorOptions options;
    options.backend = kBackend;
    options.old_servers = {"app-old-1", "app-old-2"};
    options.new_servers = {"app-new-1"};
    if (log_port_ != 0) {
      options.log_address = "127.0.0.1:" + std::to_string(log_port_);
    }
    return options;
  }

  std::unique_ptr<TrafficMonitor> StartMonitor() {
    auto monitor = TrafficMonitor::Start(*runtime_, MonitorOptions());
    EXPECT_TRUE(monitor.ok()) << monitor.status().ToString();
    return monitor.ok() ? std::move(*monitor) : nullptr;
  }

  // Measures the old servers while the load gets `responses` more answers (3 s at 300/s).
  TrafficBaseline Baseline(const TrafficMonitor& monitor, int64_t responses = 900) {
    const SteadyTime start = std::chrono::steady_clock::now();
    const int64_t target = load_->Snapshot().responses + responses;
    EXPECT_TRUE(load_->WaitForResponses(target, milliseconds(15'000)))
        << load_->Snapshot().ToString();
    return monitor.MeasureBaseline(start, std::chrono::steady_clock::now());
  }

  // Evaluates `gate` until its verdict is `want` or `timeout` passes; returns the last reading.
  static GateReading EvaluateUntil(Gate& gate, GateVerdict want, milliseconds timeout) {
    GateReading reading;
    testing::PollUntil(timeout, [&] {
      reading = gate.Evaluate(std::chrono::steady_clock::now());
      return reading.verdict == want;
    });
    return reading;
  }

  testing::TestHttpBackend& new_backend() { return *backends_[2]; }

  testing::TempDir dir_{"tandem-traffic"};
  std::vector<std::unique_ptr<testing::TestHttpBackend>> backends_;
  uint16_t log_port_ = 0;
  std::unique_ptr<testing::HaproxyServer> haproxy_;
  std::unique_ptr<HaproxyRuntime> runtime_;
  std::unique_ptr<testing::HttpLoad> load_;
};

TEST_F(TrafficMonitorIntegration, HttplogTimesAndGatesPassThenFailOnErrorsAndDelay) {
  StartServers(/*with_log=*/true);
  std::unique_ptr<TrafficMonitor> monitor = StartMonitor();
  ASSERT_NE(monitor, nullptr);

  // The log port is taken now: a second monitor cannot bind it.
  auto second = TrafficMonitor::Start(*runtime_, MonitorOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), engine::StatusCode::kFailedPrecondition)
      << second.status().ToString();

  load_->Start();
  const TrafficBaseline baseline = Baseline(*monitor);
  EXPECT_GT(monitor->log_lines_received(), 300);
  EXPECT_EQ(monitor->log_lines_unreadable(), 0);
  EXPECT_TRUE(baseline.old_times.from_log);
  EXPECT_GT(baseline.old_side.responses, 300) << load_->Snapshot().ToString();
  EXPECT_EQ(baseline.old_side.errors, 0);
  EXPECT_GT(baseline.old_times.samples, 300);
  EXPECT_FALSE(monitor->poll_error().has_value());

  // Healthy: both gates pass once the new server has answered 200 requests (~2 s at 100/s).
  SteadyTime step_start = std::chrono::steady_clock::now();
  ErrorRateGate healthy_errors(*monitor, baseline, 0.001, 200, step_start);
  LatencyGate healthy_latency(*monitor, baseline, LatencyGate::Statistic::kMedian, 0.10,
                              milliseconds(20), 200, step_start);
  GateReading reading = EvaluateUntil(healthy_errors, GateVerdict::kPassing, milliseconds(10'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  reading = EvaluateUntil(healthy_latency, GateVerdict::kPassing, milliseconds(5'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  const TrafficWindow window = monitor->Window(step_start, std::chrono::steady_clock::now(), 200);
  EXPECT_TRUE(window.new_times.from_log);
  EXPECT_GE(window.new_times.samples, 200);

  // The new server fails 10% of its requests: the error-rate gate fails within seconds.
  new_backend().SetFailureRatio(0.10);
  step_start = std::chrono::steady_clock::now();
  ErrorRateGate failing_errors(*monitor, baseline, 0.001, 200, step_start);
  reading = EvaluateUntil(failing_errors, GateVerdict::kFailing, milliseconds(10'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  EXPECT_GT(reading.value, 0.05) << reading.Describe();
  EXPECT_LT(reading.value, 0.15) << reading.Describe();
  new_backend().SetFailureRatio(0);

  // The new server adds 100 ms: the latency gate fails.
  new_backend().SetExtraDelay(milliseconds(100));
  step_start = std::chrono::steady_clock::now();
  LatencyGate slow(*monitor, baseline, LatencyGate::Statistic::kMedian, 0.10, milliseconds(20), 200,
                   step_start);
  reading = EvaluateUntil(slow, GateVerdict::kFailing, milliseconds(10'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  EXPECT_GE(reading.value, 100) << reading.Describe();
  new_backend().SetExtraDelay(milliseconds(0));

  load_->Stop();
  const auto stop_start = std::chrono::steady_clock::now();
  monitor->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, milliseconds(1000));
}

TEST_F(TrafficMonitorIntegration, WithoutLogTimesComeFromShowStatAverages) {
  StartServers(/*with_log=*/false);
  std::unique_ptr<TrafficMonitor> monitor = StartMonitor();
  ASSERT_NE(monitor, nullptr);
  load_->Start();
  const TrafficBaseline baseline = Baseline(*monitor);
  EXPECT_FALSE(baseline.old_times.from_log);
  EXPECT_GT(baseline.old_times.samples, 300) << load_->Snapshot().ToString();
  EXPECT_EQ(monitor->log_lines_received(), 0);

  SteadyTime step_start = std::chrono::steady_clock::now();
  ErrorRateGate errors(*monitor, baseline, 0.001, 200, step_start);
  LatencyGate latency(*monitor, baseline, LatencyGate::Statistic::kP95, 0.10, milliseconds(10), 200,
                      step_start);
  GateReading reading = EvaluateUntil(errors, GateVerdict::kPassing, milliseconds(10'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  reading = EvaluateUntil(latency, GateVerdict::kPassing, milliseconds(5'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.Describe();
  EXPECT_NE(reading.detail.find("show stat averages"), std::string::npos) << reading.detail;

  // rtime is HAProxy's average over the server's last 1024 requests, so it rises over seconds.
  new_backend().SetExtraDelay(milliseconds(100));
  step_start = std::chrono::steady_clock::now();
  LatencyGate slow(*monitor, baseline, LatencyGate::Statistic::kP95, 0.10, milliseconds(10), 200,
                   step_start);
  reading = EvaluateUntil(slow, GateVerdict::kFailing, milliseconds(15'000));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing) << reading.Describe();
  new_backend().SetExtraDelay(milliseconds(0));
  load_->Stop();
}

TEST_F(TrafficMonitorIntegration, StartRefusesUnknownServersAndBadLogAddresses) {
  StartServers(/*with_log=*/false);
  TrafficMonitorOptions options = MonitorOptions();
  options.new_servers = {"app-new-9"};
  auto unknown = TrafficMonitor::Start(*runtime_, options);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), engine::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("app-new-9"), std::string::npos);

  options = MonitorOptions();
  options.log_address = "127.0.0.1";
  auto no_port = TrafficMonitor::Start(*runtime_, options);
  ASSERT_FALSE(no_port.ok());
  EXPECT_EQ(no_port.status().code(), engine::StatusCode::kInvalidArgument);

  options.log_address = "not a host:5140";
  auto bad_host = TrafficMonitor::Start(*runtime_, options);
  ASSERT_FALSE(bad_host.ok());
  EXPECT_EQ(bad_host.status().code(), engine::StatusCode::kInvalidArgument);

  options = MonitorOptions();
  options.backend = "nope";
  auto no_backend = TrafficMonitor::Start(*runtime_, options);
  ASSERT_FALSE(no_backend.ok());
  EXPECT_EQ(no_backend.status().code(), engine::StatusCode::kNotFound)
      << no_backend.status().ToString();
}

}  // namespace
}  // namespace tandem::orchestration
