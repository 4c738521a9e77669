#include "tools/lag_command.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "lag/lag_gate.h"
#include "lag/lag_monitor.h"
#include "lag/metrics_http_server.h"
#include "lag/prometheus_text.h"
#include "tools/command.h"
#include "tools/heartbeat_opener.h"
#include "tools/stop_signals.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;
using std::chrono::nanoseconds;

constexpr char kUsage[] =
    "Usage: tandem lag --source URI --target URI [--interval MS] [--duration S]\n"
    "                  [--max-lag MS [--for S]] [--format text|json] [--metrics-port P]\n"
    "\n"
    "End-to-end replication lag, measured with a heartbeat: this process writes a sequence\n"
    "number on the source every --interval and watches for it on the target, timing both ends\n"
    "with its own monotonic clock, so the figure does not depend on the hosts' clocks. The\n"
    "observer polls the target as fast as a round trip allows (at most one read every\n"
    "--poll-interval) and reports its own resolution as the measurement error. Positional lag\n"
    "(binlog/GTID, WAL bytes, replication offsets) is shown alongside where the engine's native\n"
    "replication links the two servers.\n"
    "\n"
    "The heartbeat lives in table _tandem.heartbeat (MySQL/MariaDB: database _tandem;\n"
    "PostgreSQL: schema _tandem of the URI's database), created on the source if missing, or\n"
    "in the Redis key _tandem:heartbeat:<id>. The source user needs CREATE, INSERT, UPDATE and\n"
    "DELETE there (PostgreSQL: CREATE on the database); the target user needs SELECT. Each\n"
    "process uses its own row, removed when it ends.\n"
    "\n"
    "As a gate (--max-lag): passes as soon as the lag p99 over the sliding --window has stayed\n"
    "below --max-lag for --for seconds, and fails when that cannot happen within --duration\n"
    "(default: 60 s or twice --for, whichever is longer). Without --max-lag it measures for\n"
    "--duration, or until Ctrl-C.\n"
    "\n"
    "Exit status: 0 within the gate (without a gate: heartbeats kept arriving), 1 the gate\n"
    "failed or the heartbeat stopped arriving, 2 could not measure (no heartbeat ever arrived:\n"
    "the target is not replicating from this source; or a connection failed).";

nanoseconds FromMillis(double millis) {
  return nanoseconds(static_cast<int64_t>(std::llround(millis * 1e6)));
}
nanoseconds FromSeconds(double seconds) {
  return nanoseconds(static_cast<int64_t>(std::llround(seconds * 1e9)));
}

std::string Ms(double millis) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f ms", millis);
  return text;
}

std::string PositionalText(const lag::LagSnapshot& snapshot) {
  if (!snapshot.positional) {
    return snapshot.positional_error.empty() ? "" : "n/a (" + snapshot.positional_error + ")";
  }
  std::string text;
  for (const auto& measure : snapshot.positional->measures) {
    if (!text.empty()) {
      text += ", ";
    }
    text += measure.name + " " + std::to_string(measure.behind) + " " + measure.unit;
  }
  return text.empty() ? "no measures" : text;
}

void PrintLiveLine(const lag::LagSnapshot& snapshot, const lag::LagGate* gate) {
  char line[512];
  std::snprintf(line, sizeof line,
                "\r\033[Klag now %.3f ms | p50 %.3f p99 %.3f max %.3f ms (last %.0f s) | %lld seen",
                snapshot.current_lag_ms, snapshot.window.p50_ms, snapshot.window.p99_ms,
                snapshot.window.max_ms,
                std::chrono::duration<double>(snapshot.window_length).count(),
                static_cast<long long>(snapshot.heartbeats_seen));
  std::string text = line;
  const std::string positional = PositionalText(snapshot);
  if (snapshot.positional) {
    text += " | " + positional;
  }
  if (snapshot.stalled) {
    text += " | STALLED";
  }
  if (gate != nullptr) {
    char held[64];
    std::snprintf(held, sizeof held, " | gate held %.1f s",
                  std::chrono::duration<double>(gate->held()).count());
    text += held;
  }
  std::cout << text << std::flush;
}

void PrintSummary(const lag::LagSnapshot& snapshot, const std::string& verdict,
                  const std::string& reason) {
  std::cout << "source             " << snapshot.source << "\n"
            << "target             " << snapshot.target << "\n";
  char line[512];
  std::snprintf(line, sizeof line,
                "heartbeats         %lld written, %lld seen, every %s for %.1f s\n",
                static_cast<long long>(snapshot.heartbeats_written),
                static_cast<long long>(snapshot.heartbeats_seen),
                Ms(lag::ToMillis(snapshot.interval)).c_str(),
                std::chrono::duration<double>(snapshot.elapsed).count());
  std::cout << line;
  std::snprintf(line, sizeof line,
                "lag (all)          p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms  (%llu samples)\n",
                snapshot.overall.p50_ms, snapshot.overall.p90_ms, snapshot.overall.p99_ms,
                snapshot.overall.max_ms, static_cast<unsigned long long>(snapshot.overall.samples));
  std::cout << line;
  std::snprintf(line, sizeof line,
                "lag (last %.0f s)    p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms  (%llu samples)\n",
                std::chrono::duration<double>(snapshot.window_length).count(),
                snapshot.window.p50_ms, snapshot.window.p90_ms, snapshot.window.p99_ms,
                snapshot.window.max_ms, static_cast<unsigned long long>(snapshot.window.samples));
  std::cout << line;
  std::snprintf(line, sizeof line, "current lag        %.3f ms\n", snapshot.current_lag_ms);
  std::cout << line;
  std::snprintf(line, sizeof line,
                "measurement error  +/- %.3f ms p50, %.3f ms p99 (per-sample bounds; poll period "
                "%.3f ms, read round trip %.3f ms)\n",
                snapshot.measurement_error_p50_ms, snapshot.measurement_error_ms,
                snapshot.poll_period_ms, snapshot.read_round_trip_ms);
  std::cout << line;
  const std::string positional = PositionalText(snapshot);
  if (!positional.empty()) {
    std::cout << "positional lag     " << positional;
    if (snapshot.positional) {
      std::cout << "  (source " << snapshot.positional->source_position << ", target "
                << snapshot.positional->target_position << ")";
      for (const std::string& note : snapshot.positional->notes) {
        std::cout << "\n                   note: " << note;
      }
    }
    std::cout << "\n";
  }
  if (snapshot.stalled) {
    std::cout << "STALLED            " << snapshot.StallMessage() << "\n";
  }
  std::cout << "\n" << verdict << ": " << reason << std::endl;
}

}  // namespace

int RunLagCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>()->required(),
                                                    "the database written to (URI)")(
      "target", po::value<std::string>()->required(), "the replica read from (URI)")(
      "interval", po::value<double>()->default_value(10), "milliseconds between heartbeats")(
      "duration", po::value<double>(),
      "seconds to measure (default: until Ctrl-C; with --max-lag: max(60, 2 * --for))")(
      "max-lag", po::value<double>(), "gate: the lag p99 must stay below this many milliseconds")(
      "for", po::value<double>(), "gate: ... continuously for this many seconds (default 0)")(
      "window", po::value<double>()->default_value(10),
      "seconds of the sliding window for p50/p90/p99/max")(
      "poll-interval", po::value<double>()->default_value(0.5),
      "least milliseconds between two reads of the target (bounds the observer's load)")(
      "first-heartbeat-timeout", po::value<double>()->default_value(10),
      "seconds to wait for the first heartbeat before giving up (exit 2)")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  AddMetricsOptions(options);
  po::variables_map values;
  int exit_code = kExitCannotAnswer;
  if (!ParseCommandLine("lag", kUsage, options, args, &values, &exit_code)) {
    return exit_code;
  }
  auto format = ParseOutputFormat(values["format"].as<std::string>());
  if (!format.ok()) {
    return ReportError("lag", format.status());
  }
  auto source_config = ParseSourceUri(values["source"].as<std::string>());
  if (!source_config.ok()) {
    return ReportError("lag", source_config.status());
  }
  auto target_config = ParseTargetUri(values["target"].as<std::string>());
  if (!target_config.ok()) {
    return ReportError("lag", target_config.status());
  }

  lag::LagMonitorOptions monitor_options;
  const double interval_ms = values["interval"].as<double>();
  if (!(interval_ms >= 0.1 && interval_ms <= 60000)) {
    return ReportError("lag", "--interval must be between 0.1 and 60000 milliseconds");
  }
  monitor_options.interval = FromMillis(interval_ms);
  const double poll_ms = values["poll-interval"].as<double>();
  if (!(poll_ms >= 0 && poll_ms <= 10000)) {
    return ReportError("lag", "--poll-interval must be between 0 and 10000 milliseconds");
  }
  monitor_options.poll_interval = FromMillis(poll_ms);
  const double window_s = values["window"].as<double>();
  if (!(window_s >= 1 && window_s <= 3600)) {
    return ReportError("lag", "--window must be between 1 and 3600 seconds");
  }
  monitor_options.window = FromSeconds(window_s);
  const double first_timeout_s = values["first-heartbeat-timeout"].as<double>();
  if (!(first_timeout_s > 0)) {
    return ReportError("lag", "--first-heartbeat-timeout must be positive");
  }

  std::optional<nanoseconds> duration;
  if (values.count("duration")) {
    const double seconds = values["duration"].as<double>();
    if (!(seconds > 0 && seconds <= 1e7)) {
      return ReportError("lag", "--duration must be a positive number of seconds");
    }
    duration = FromSeconds(seconds);
  }
  std::optional<lag::LagGateOptions> gate_options;
  if (values.count("for") && !values.count("max-lag")) {
    return ReportError("lag", "--for needs --max-lag (the lag the gate holds to)");
  }
  if (values.count("max-lag")) {
    lag::LagGateOptions gate;
    const double max_lag_ms = values["max-lag"].as<double>();
    const double for_s = values.count("for") ? values["for"].as<double>() : 0;
    if (!(max_lag_ms > 0)) {
      return ReportError("lag", "--max-lag must be a positive number of milliseconds");
    }
    if (!(for_s >= 0 && for_s <= 1e7)) {
      return ReportError("lag", "--for must be a number of seconds, 0 or more");
    }
    gate.max_lag = FromMillis(max_lag_ms);
    gate.hold_for = FromSeconds(for_s);
    if (!duration) {
      duration = std::max(FromSeconds(60), 2 * gate.hold_for);
    }
    gate.duration = *duration;
    gate.first_heartbeat_timeout = FromSeconds(first_timeout_s);
    if (engine::Status valid = lag::LagGate::Validate(gate); !valid.ok()) {
      return ReportError("lag", valid.message() + " (--for must not exceed --duration)");
    }
    gate_options = gate;
  }
  auto metrics_port = ParseMetricsPort(values);
  if (!metrics_port.ok()) {
    return ReportError("lag", metrics_port.status());
  }

  auto monitor = lag::LagMonitor::Open(
      *source_config, *target_config,
      {OpenHeartbeatWriter, OpenHeartbeatReader, OpenReplicationProbe}, monitor_options);
  if (!monitor.ok()) {
    return ReportError("lag", monitor.status());
  }

  std::unique_ptr<lag::MetricsHttpServer> metrics;
  if (*metrics_port) {
    const std::map<std::string, std::string> labels = {{"source", source_config->Redacted()},
                                                       {"target", target_config->Redacted()}};
    auto started =
        lag::MetricsHttpServer::Start(values["metrics-address"].as<std::string>(), **metrics_port,
                                      [raw = monitor->get(), labels] {
                                        return lag::FormatPrometheusText(raw->Snapshot(), labels);
                                      });
    if (!started.ok()) {
      return ReportError("lag", started.status());
    }
    metrics = std::move(*started);
  }

  const bool live = *format == OutputFormat::kText && isatty(STDOUT_FILENO);
  const lag::LagTime start = lag::LagClock::now();
  std::optional<lag::LagGate> gate;
  if (gate_options) {
    gate.emplace(*gate_options, start);
  }
  StopSignals signals;
  const nanoseconds first_timeout = FromSeconds(first_timeout_s);
  lag::LagSnapshot snapshot;
  bool cannot_measure = false;
  std::string reason;
  int tick = 0;
  for (;;) {
    const bool monitor_stopped = (*monitor)->WaitForStop(std::chrono::milliseconds(100));
    const lag::LagTime now = lag::LagClock::now();
    snapshot = (*monitor)->Snapshot();
    if (monitor_stopped || !snapshot.error.ok()) {
      cannot_measure = true;
      reason = "the lag could not be measured: " + snapshot.error.message();
      break;
    }
    if (gate) {
      if (gate->Observe(snapshot, now) != lag::LagGateVerdict::kWaiting) {
        cannot_measure = gate->verdict() == lag::LagGateVerdict::kCannotMeasure;
        reason = gate->reason();
        break;
      }
    } else if (snapshot.heartbeats_seen == 0 &&
               now - start >= std::min(first_timeout, duration.value_or(first_timeout))) {
      cannot_measure = true;
      reason = "no heartbeat written on the source became visible on the target within " +
               std::to_string(std::llround(std::chrono::duration<double>(now - start).count())) +
               " s (" + std::to_string(snapshot.heartbeats_written) +
               " written): the target is not replicating from this source, replication is "
               "stopped, or it trails by more than that";
      break;
    }
    if (StopSignals::stop_requested() || (duration && now - start >= *duration)) {
      break;
    }
    if (live && ++tick % 2 == 0) {
      PrintLiveLine(snapshot, gate ? &*gate : nullptr);
    }
  }
  (*monitor)->Stop();
  if (metrics) {
    metrics->Stop();
  }
  if (live) {
    std::cout << "\r\033[K" << std::flush;
  }

  std::string verdict;
  bool ok = false;
  int code = kExitNo;
  if (cannot_measure) {
    verdict = "CANNOT MEASURE";
    code = kExitCannotAnswer;
  } else if (gate && gate->verdict() == lag::LagGateVerdict::kPassed) {
    verdict = "PASSED";
    ok = true;
    code = kExitYes;
  } else if (gate && gate->verdict() == lag::LagGateVerdict::kFailed) {
    verdict = "FAILED";
  } else if (gate) {
    // Interrupted before the gate decided.
    verdict = "INTERRUPTED";
    reason = "stopped before the gate decided: " + gate->reason();
    code = kExitCannotAnswer;
  } else if (snapshot.stalled) {
    verdict = "STALLED";
    reason = snapshot.StallMessage();
  } else if (snapshot.heartbeats_seen == 0) {
    verdict = "CANNOT MEASURE";
    reason = "stopped before the first heartbeat arrived on the target";
    code = kExitCannotAnswer;
  } else {
    verdict = "MEASURED";
    ok = true;
    code = kExitYes;
    reason = "heartbeats arrived throughout; current lag " + Ms(snapshot.current_lag_ms);
  }

  if (*format == OutputFormat::kJson) {
    nlohmann::json report = snapshot.ToJson();
    report["ok"] = ok;
    report["verdict"] = verdict == "MEASURED"      ? "measured"
                        : verdict == "PASSED"      ? "passed"
                        : verdict == "FAILED"      ? "failed"
                        : verdict == "STALLED"     ? "stalled"
                        : verdict == "INTERRUPTED" ? "interrupted"
                                                   : "cannot measure";
    report["reason"] = reason;
    if (gate_options) {
      report["gate"] = {
          {"max_lag_ms", lag::ToMillis(gate_options->max_lag)},
          {"for_s", std::chrono::duration<double>(gate_options->hold_for).count()},
          {"duration_s", std::chrono::duration<double>(gate_options->duration).count()},
          {"held_s", std::chrono::duration<double>(gate->longest_held()).count()}};
    }
    std::cout << report.dump(2) << std::endl;
  } else {
    PrintSummary(snapshot, verdict, reason);
  }
  if (code == kExitCannotAnswer) {
    ReportError("lag", reason);
  }
  return code;
}

}  // namespace tandem::tools
