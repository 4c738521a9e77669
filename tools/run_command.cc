#include "tools/run_command.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "lag/metrics_http_server.h"
#include "lag/prometheus_text.h"
#include "orchestration/duration.h"
#include "orchestration/fault_hold.h"
#include "orchestration/journal.h"
#include "orchestration/migration_controller.h"
#include "orchestration/migration_report.h"
#include "orchestration/plan.h"
#include "orchestration/run_steps.h"
#include "tools/applied_position.h"
#include "tools/command.h"
#include "tools/database_opener.h"
#include "tools/heartbeat_opener.h"
#include "tools/stop_signals.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;
using orchestration::Journal;
using orchestration::Plan;

constexpr char kRunUsage[] =
    "Usage: tandem run PLAN [--dry-run] [--resume | --rollback] [--journal PATH]\n"
    "                       [--format text|json] [--metrics-port P] [--report PATH]\n"
    "\n"
    "Walks a migration plan (TOML) through its phases, every step gated on measurements:\n"
    "assessment, provisioning checks, data synchronization (lag and verify gates) and traffic\n"
    "shifted through HAProxy step by step (error rate, response time, probes, lag and\n"
    "consistency gates; a failing gate sends every request back to the old servers at once).\n"
    "The journal (SQLite, beside the plan) records every step, so --resume continues after any\n"
    "stop, and `tandem status PLAN` shows where a run stands.\n"
    "--rollback undoes the newest run (unfinished, interrupted, crashed or failed), newest step\n"
    "first: DNS records back, writes back on the old side (the reverse stream drained into it\n"
    "first), every request back on the old servers; timed against rollback_budget. While a\n"
    "controller runs the plan, the rollback is handed to it through the journal and this waits\n"
    "for the result. --report PATH writes the migration report when the run (or the rollback)\n"
    "ends (see tandem report).\n"
    "Exit status: 0 every step done (with --rollback: rolled back), 1 stopped by a gate or\n"
    "blocker (traffic back on old) or rolled back on request (with --rollback: a step could not\n"
    "be undone, it says which; --rollback again continues), 2 could not run (bad plan,\n"
    "unreachable server, another controller, interrupted).\n";

constexpr char kStatusUsage[] =
    "Usage: tandem status PLAN [--journal PATH] [--format text|json]\n"
    "\n"
    "Where a run of PLAN stands, read from its journal: while it runs, after it ended, or after\n"
    "a crash (then the state is `interrupted`). Exit status: 0 completed, 1 failed or rolled\n"
    "back, 0 running/waiting/interrupted as well (the answer is the report), 2 no journal.\n";

constexpr char kApproveUsage[] =
    "Usage: tandem approve PLAN [--journal PATH]\n"
    "\n"
    "Lets a run of PLAN that waits before a phase named in the plan's `approve` list go on.\n";

std::string JournalPathFor(const Plan& plan, const po::variables_map& values) {
  if (values.count("journal") != 0) {
    return values["journal"].as<std::string>();
  }
  return plan.journal_path;
}

std::string IsoTime(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::ostringstream out;
  out << std::put_time(&utc, "%Y-%m-%dT%H:%M:%S") << "." << std::setw(3) << std::setfill('0')
      << unix_ms % 1000 << "Z";
  return out.str();
}

std::string FormatNumber(double value) {
  std::ostringstream out;
  if (value != 0 && (std::abs(value) < 0.01 || std::abs(value) >= 1e6)) {
    out << std::setprecision(3) << value;
  } else {
    out << std::fixed << std::setprecision(value == static_cast<int64_t>(value) ? 0 : 3) << value;
  }
  return out.str();
}

// One gate as "error_rate 0.0012 <= 0.0100 (523/500) ok".
std::string GateLine(const nlohmann::json& gate) {
  std::ostringstream out;
  out << gate.value("name", "?") << " " << FormatNumber(gate.value("value", 0.0)) << " vs "
      << FormatNumber(gate.value("threshold", 0.0)) << " (" << gate.value("samples", 0) << "/"
      << gate.value("min_samples", 0) << ") " << gate.value("verdict", "?");
  return out.str();
}

// The DNS switch (or revert) as "DNS switched at <time> (SOA serial 7 -> 8);
// propagation: 10.0.0.1:53 120 ms, 10.0.0.2:53 1400 ms" from its step detail
// (orchestration/dns_switch_step.h).
std::string DnsSwitchLine(const nlohmann::json& detail) {
  std::ostringstream out;
  const bool revert = detail.value("direction", "") == "revert";
  if (!detail.value("switched", false)) {
    out << "DNS not " << (revert ? "reverted" : "switched") << ": the records hold their "
        << (revert ? "new" : "old") << " values";
    return out.str();
  }
  out << "DNS " << (revert ? "reverted" : "switched");
  if (detail.contains("switched_at") && detail["switched_at"].is_string()) {
    out << " at " << detail["switched_at"].get<std::string>();
  }
  if (detail.contains("serial_before") && detail["serial_before"].is_number() &&
      detail.contains("serial_after") && detail["serial_after"].is_number()) {
    out << " (SOA serial " << detail["serial_before"].get<int64_t>() << " -> "
        << detail["serial_after"].get<int64_t>() << ")";
  } else if (!detail.value("updated", false)) {
    out << " (by an earlier attempt)";
  }
  if (detail.contains("resolvers") && detail["resolvers"].is_array() &&
      !detail["resolvers"].empty()) {
    out << "; propagation:";
    for (const nlohmann::json& resolver : detail["resolvers"]) {
      out << " " << resolver.value("resolver", "?") << " "
          << (resolver.value("done", false)
                  ? std::to_string(resolver.value("elapsed_ms", int64_t{0})) + " ms"
                  : std::string("not yet"));
    }
  }
  return out.str();
}

// Renders controller events for a person: on a terminal one line rewritten in place during a
// dwell, otherwise one line per change of state and a gate summary every 10 s.
class EventPrinter {
 public:
  EventPrinter(OutputFormat format, bool terminal) : format_(format), terminal_(terminal) {}

  void Print(const nlohmann::json& event) {
    if (format_ == OutputFormat::kJson) {
      nlohmann::json line = event;
      line["at"] = IsoTime(NowMs());
      std::cout << line.dump() << std::endl;
      return;
    }
    const std::string state = event.value("state", "");
    const bool repeating =
        state == "dwell" || state == "copying" || state == "lag gate" || state == "measuring";
    std::ostringstream line;
    if (event.contains("phase")) {
      line << "phase " << event["phase"].get<int>() << " " << event.value("phase_name", "");
    }
    if (event.contains("step")) {
      line << " | " << event["step"].get<std::string>();
    }
    line << " | " << state;
    if (event.contains("time_left_s")) {
      line << " | " << static_cast<int64_t>(event["time_left_s"].get<double>()) << " s left";
    }
    if (event.contains("traffic_percent")) {
      line << " | new " << FormatNumber(event["traffic_percent"].get<double>()) << "%";
    }
    if (event.contains("progress")) {
      const nlohmann::json& progress = event["progress"];
      line << " | " << progress.dump();
    }
    if (event.contains("gates")) {
      for (const nlohmann::json& gate : event["gates"]) {
        line << " | " << GateLine(gate);
      }
    }
    if (event.contains("message")) {
      line << " | " << event["message"].get<std::string>();
    }
    if (repeating) {
      if (terminal_) {
        std::cout << "\r\033[K" << line.str() << std::flush;
        in_place_ = true;
        return;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now - last_repeat_ < std::chrono::seconds(10)) {
        return;
      }
      last_repeat_ = now;
    }
    if (in_place_) {
      std::cout << "\r\033[K";
      in_place_ = false;
    }
    std::cout << line.str() << std::endl;
  }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  OutputFormat format_ = OutputFormat::kText;
  bool terminal_ = false;
  bool in_place_ = false;
  std::chrono::steady_clock::time_point last_repeat_{};
};

std::string RenderRunMetrics(const Plan& plan, const orchestration::LiveStatus& live) {
  std::ostringstream out;
  const std::string plan_label = "plan=\"" + lag::EscapePrometheusLabelValue(plan.name) + "\"";
  out << "# HELP tandem_run_phase The phase the run is in (1-6).\n"
      << "# TYPE tandem_run_phase gauge\n"
      << "tandem_run_phase{" << plan_label << "} " << live.phase << "\n"
      << "# HELP tandem_run_step_info The step the run is at.\n"
      << "# TYPE tandem_run_step_info gauge\n"
      << "tandem_run_step_info{" << plan_label << ",step=\""
      << lag::EscapePrometheusLabelValue(live.step) << "\",state=\""
      << lag::EscapePrometheusLabelValue(live.state) << "\"} 1\n"
      << "# HELP tandem_run_traffic_share_percent Share of requests the weights give the new "
         "servers.\n"
      << "# TYPE tandem_run_traffic_share_percent gauge\n"
      << "tandem_run_traffic_share_percent{" << plan_label << "} " << live.traffic_percent << "\n"
      << "# HELP tandem_run_dwell_left_seconds Time left in the current dwell.\n"
      << "# TYPE tandem_run_dwell_left_seconds gauge\n"
      << "tandem_run_dwell_left_seconds{" << plan_label << "} " << live.dwell_left_s << "\n";
  out << "# HELP tandem_run_gate_value A gate's measurement.\n"
      << "# TYPE tandem_run_gate_value gauge\n";
  for (const orchestration::GateReading& gate : live.gates) {
    out << "tandem_run_gate_value{" << plan_label << ",gate=\""
        << lag::EscapePrometheusLabelValue(gate.name) << "\"} " << gate.value << "\n";
  }
  out << "# HELP tandem_run_gate_threshold A gate's threshold.\n"
      << "# TYPE tandem_run_gate_threshold gauge\n";
  for (const orchestration::GateReading& gate : live.gates) {
    out << "tandem_run_gate_threshold{" << plan_label << ",gate=\""
        << lag::EscapePrometheusLabelValue(gate.name) << "\"} " << gate.threshold << "\n";
  }
  out << "# HELP tandem_run_gate_ok 1 when the gate passes, 0 otherwise.\n"
      << "# TYPE tandem_run_gate_ok gauge\n";
  for (const orchestration::GateReading& gate : live.gates) {
    out << "tandem_run_gate_ok{" << plan_label << ",gate=\""
        << lag::EscapePrometheusLabelValue(gate.name) << "\"} " << (gate.ok() ? 1 : 0) << "\n";
  }
  out << "# HELP tandem_run_lag_p99_milliseconds Heartbeat lag p99 of each datastore.\n"
      << "# TYPE tandem_run_lag_p99_milliseconds gauge\n";
  for (const auto& [datastore, p99] : live.lag_p99_ms) {
    out << "tandem_run_lag_p99_milliseconds{" << plan_label << ",datastore=\""
        << lag::EscapePrometheusLabelValue(datastore) << "\"} " << p99 << "\n";
  }
  out << "# HELP tandem_run_monitor_breaches_total Gates that failed during phase 6's window.\n"
      << "# TYPE tandem_run_monitor_breaches_total counter\n"
      << "tandem_run_monitor_breaches_total{" << plan_label << "} " << live.monitor_breaches
      << "\n";
  return out.str();
}

// --report PATH: the migration report of the run as the journal holds it now. The run's outcome
// stands whatever happens to the report; one that cannot be written is said in one line.
void WriteRequestedReport(const po::variables_map& values, const Plan& plan, Journal& journal,
                          OutputFormat format) {
  if (values.count("report") == 0) return;
  const std::string report_path = values["report"].as<std::string>();
  engine::Status written = orchestration::WriteReport(plan, journal, report_path);
  if (!written.ok()) {
    std::cerr << "tandem run: " << written.message() << std::endl;
  } else if (format == OutputFormat::kText) {
    std::cout << "report: " << report_path
              << " (data: " << orchestration::ReportJsonPath(report_path) << ")" << std::endl;
  }
}

// --rollback while another process controls the plan: the request goes into the journal, the
// controller carries it out, and this waits for the run to end (the controller's own bounded
// steps, e.g. a write cutover in progress, finish first). Returns the exit status, or nullopt when
// no controller is alive (or it died before finishing): then this process rolls back itself.
std::optional<int> HandRollbackToRunningController(const Plan& plan, OutputFormat format) {
  auto journal = Journal::Open(plan.journal_path, /*create=*/false);
  if (!journal.ok()) return ReportError("run", journal.status());
  auto holder = (*journal)->Controller();
  if (!holder.ok()) return ReportError("run", holder.status());
  if (!*holder || !(*holder)->alive) return std::nullopt;
  // The controller's run: one in progress. A controller still in its preflight has not begun its
  // run yet (the newest one is an older, ended run): wait for it a little.
  std::optional<orchestration::RunRecord> running;
  for (int attempt = 0; attempt < 120 && !running; ++attempt) {
    auto latest = (*journal)->LatestRun();
    if (!latest.ok()) return ReportError("run", latest.status());
    if (*latest && ((*latest)->state == orchestration::RunState::kRunning ||
                    (*latest)->state == orchestration::RunState::kWaiting)) {
      running = **latest;
      break;
    }
    auto alive = (*journal)->Controller();
    if (!alive.ok()) return ReportError("run", alive.status());
    if (!*alive || !(*alive)->alive) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!running) {
    return ReportError("run", "a controller (pid " + std::to_string((*holder)->pid) +
                                  ") holds plan " + plan.name +
                                  " but has no run in progress after 30 s; wait for it to end, "
                                  "then run --rollback again");
  }
  const int64_t run_id = running->id;
  if (engine::Status requested = (*journal)->RequestRollback(run_id); !requested.ok()) {
    return ReportError("run", requested);
  }
  if (format == OutputFormat::kText) {
    std::cout << "rollback of run #" << run_id << " handed to the running controller (pid "
              << (*holder)->pid << "); waiting for it" << std::endl;
  }
  // The controller's longest bounded step (a write cutover) plus the rollback itself.
  const auto deadline =
      std::chrono::steady_clock::now() + plan.rollback_budget + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto run = (*journal)->LatestRun();
    if (!run.ok()) return ReportError("run", run.status());
    const orchestration::RunState state = (*run)->state;
    if (state == orchestration::RunState::kRolledBack) {
      if (format == OutputFormat::kText) std::cout << "rolled back: " << (*run)->outcome << "\n";
      return kExitYes;
    }
    if (state == orchestration::RunState::kFailed || state == orchestration::RunState::kCompleted) {
      std::cerr << "tandem run: the controller ended run #" << run_id << " "
                << orchestration::RunStateName(state) << ": " << (*run)->outcome << std::endl;
      return kExitNo;
    }
    auto alive = (*journal)->Controller();
    if (!alive.ok()) return ReportError("run", alive.status());
    if (!*alive || !(*alive)->alive) return std::nullopt;  // it died: roll back here
  }
  return ReportError(
      "run", "the controller has not finished the rollback of run #" + std::to_string(run_id) +
                 " after " +
                 orchestration::FormatDuration(plan.rollback_budget + std::chrono::minutes(5)) +
                 "; see `tandem status " + plan.path + "`");
}

}  // namespace

int RunRunCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")(
      "dry-run", "print every step with its gate and inverse; change nothing")(
      "resume", "continue the unfinished run of the journal")(
      "rollback", "undo the newest run's steps, newest first (handed to a running controller)")(
      "report", po::value<std::string>(),
      "when the run ends, write the migration report (HTML, and the data as .json beside it) "
      "here")("journal", po::value<std::string>(),
              "journal path (default: <plan name>.journal.db beside "
              "the plan)")("format", po::value<std::string>()->default_value("text"),
                           "text (a live view) or json (one event per line)")(
      "sync-threads", po::value<int>()->default_value(2), "appliers of each datastore's stream");
  AddMetricsOptions(options);
  std::string plan_path;
  std::vector<std::string> rest;
  int exit_code = kExitCannotAnswer;
  if (!SplitPlanArgument("run", args,
                         {"--journal", "--format", "--metrics-port", "--metrics-address",
                          "--sync-threads", "--report"},
                         &plan_path, &rest, &exit_code)) {
    return exit_code;
  }
  po::variables_map values;
  if (!ParseCommandLine("run", kRunUsage, options, rest, &values, &exit_code)) {
    return exit_code;
  }
  auto format = ParseOutputFormat(values["format"].as<std::string>());
  if (!format.ok()) return ReportError("run", format.status());
  auto metrics_port = ParseMetricsPort(values);
  if (!metrics_port.ok()) return ReportError("run", metrics_port.status());
  // A test's fault hold (orchestration/fault_hold.h) that names no known point would hold nowhere.
  if (engine::Status hold = orchestration::CheckFaultHoldEnvironment(); !hold.ok()) {
    return ReportError("run", hold);
  }
  const int sync_threads = values["sync-threads"].as<int>();
  if (sync_threads < 1 || sync_threads > 64) {
    return ReportError("run", "--sync-threads must be 1..64");
  }

  auto plan = orchestration::LoadPlan(plan_path);
  if (!plan.ok()) return ReportError("run", plan.status());
  plan->journal_path = JournalPathFor(*plan, values);

  const std::vector<orchestration::RunStep> steps = orchestration::ExpandPlan(*plan);
  const bool rollback = values.count("rollback") != 0;
  if (rollback && values.count("resume") != 0) {
    return ReportError("run",
                       "--rollback and --resume exclude each other: --rollback undoes the run, "
                       "--resume continues it");
  }
  if (values.count("report") != 0) {
    // Refused now rather than when the run ends, possibly days later.
    const std::string report_path = values["report"].as<std::string>();
    const size_t slash = report_path.rfind('/');
    const std::string directory = slash == std::string::npos ? "." : report_path.substr(0, slash);
    if (access((directory.empty() ? "/" : directory).c_str(), W_OK) != 0) {
      return ReportError("run", "cannot write the report to " + report_path + ": " + directory +
                                    " is not a writable directory; choose a writable path");
    }
  }
  if (rollback && values.count("dry-run") != 0) {
    return ReportError("run",
                       "--dry-run prints the plan's steps and --rollback undoes a run: use one");
  }
  if (values.count("dry-run") != 0) {
    std::cout << orchestration::DescribeSteps(*plan, steps);
    return kExitYes;
  }
  if (rollback) {
    if (access(plan->journal_path.c_str(), F_OK) != 0) {
      return ReportError("run", "nothing to roll back: no journal at " + plan->journal_path +
                                    " (the plan has not run; name the journal with --journal)");
    }
    auto handed = HandRollbackToRunningController(*plan, *format);
    if (handed) {
      if (auto journal = Journal::Open(plan->journal_path, /*create=*/false); journal.ok()) {
        WriteRequestedReport(values, *plan, **journal, *format);
      }
      return *handed;
    }
  }

  orchestration::ControllerOptions controller_options;
  controller_options.resume = values.count("resume") != 0;
  controller_options.rollback = rollback;
  controller_options.ports.open_database = OpenDatabase;
  controller_options.ports.open_applied_reader = OpenAppliedPositionReader;
  controller_options.ports.lag = {OpenHeartbeatWriter, OpenHeartbeatReader, nullptr};
  controller_options.ports.tandem_binary = "/proc/self/exe";
  {
    const size_t slash = plan->journal_path.rfind('/');
    controller_options.ports.log_directory =
        slash == std::string::npos ? "." : plan->journal_path.substr(0, slash);
  }
  controller_options.ports.sync_threads = sync_threads;
  StopSignals signals;
  controller_options.stop_flag = StopSignals::flag();
  EventPrinter printer(*format, *format == OutputFormat::kText && isatty(STDOUT_FILENO) == 1);
  controller_options.on_event = [&printer](const nlohmann::json& event) { printer.Print(event); };

  const bool journal_existed = access(plan->journal_path.c_str(), F_OK) == 0;
  auto journal = Journal::Open(plan->journal_path, /*create=*/true);
  if (!journal.ok()) return ReportError("run", journal.status());
  orchestration::MigrationController controller(*plan, **journal, controller_options);

  std::unique_ptr<lag::MetricsHttpServer> metrics;
  if (*metrics_port) {
    const Plan& plan_ref = *plan;
    auto started = lag::MetricsHttpServer::Start(
        values["metrics-address"].as<std::string>(), **metrics_port,
        [&controller, &plan_ref] { return RenderRunMetrics(plan_ref, controller.live_status()); });
    if (!started.ok()) return ReportError("run", started.status());
    metrics = std::move(*started);
  }

  auto result = controller.Run();
  if (metrics) metrics->Stop();
  if (!result.ok()) {
    // Refused before any run began (preflight, another controller): leave no journal behind
    // that this invocation made.
    auto latest = (*journal)->LatestRun();
    if (!journal_existed && latest.ok() && !latest->has_value()) {
      journal->reset();
      for (const char* suffix : {"", "-wal", "-shm"}) {
        std::remove((plan->journal_path + suffix).c_str());
      }
    }
    return ReportError("run", result.status());
  }
  WriteRequestedReport(values, *plan, **journal, *format);
  switch (result->verdict) {
    case orchestration::RunVerdict::kCompleted:
      if (*format == OutputFormat::kText) std::cout << "completed: " << result->message << "\n";
      return kExitYes;
    case orchestration::RunVerdict::kStopped:
      std::cerr << "tandem run: stopped: " << result->message << std::endl;
      return kExitNo;
    case orchestration::RunVerdict::kInterrupted:
      std::cerr << "tandem run: " << result->message << std::endl;
      return kExitCannotAnswer;
    case orchestration::RunVerdict::kRolledBack:
      if (!rollback) {
        std::cerr << "tandem run: stopped and rolled back: " << result->message << std::endl;
        return kExitNo;
      }
      if (*format == OutputFormat::kText) std::cout << "rolled back: " << result->message << "\n";
      return kExitYes;
  }
  return kExitCannotAnswer;
}

int RunStatusCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("journal", po::value<std::string>(),
                                                    "journal path (default: beside the plan)")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  std::string plan_path;
  std::vector<std::string> rest;
  int exit_code = kExitCannotAnswer;
  if (!SplitPlanArgument("status", args, {"--journal", "--format"}, &plan_path, &rest,
                         &exit_code)) {
    return exit_code;
  }
  po::variables_map values;
  if (!ParseCommandLine("status", kStatusUsage, options, rest, &values, &exit_code)) {
    return exit_code;
  }
  auto format = ParseOutputFormat(values["format"].as<std::string>());
  if (!format.ok()) return ReportError("status", format.status());
  auto plan = orchestration::LoadPlan(plan_path);
  if (!plan.ok()) return ReportError("status", plan.status());
  auto journal = Journal::Open(JournalPathFor(*plan, values), /*create=*/false);
  if (!journal.ok()) return ReportError("status", journal.status());
  auto run = (*journal)->LatestRun();
  if (!run.ok()) return ReportError("status", run.status());
  if (!*run) return ReportError("status", "the journal " + (*journal)->path() + " has no run yet");
  auto steps = (*journal)->Steps((*run)->id);
  if (!steps.ok()) return ReportError("status", steps.status());
  auto controller = (*journal)->Controller();
  if (!controller.ok()) return ReportError("status", controller.status());

  orchestration::RunState state = (*run)->state;
  if ((state == orchestration::RunState::kRunning || state == orchestration::RunState::kWaiting) &&
      !(*controller && (*controller)->alive)) {
    state = orchestration::RunState::kInterrupted;
  }
  nlohmann::json report;
  report["name"] = plan->name;
  report["run"] = (*run)->id;
  report["state"] = orchestration::RunStateName(state);
  report["started_at"] = IsoTime((*run)->started_at_ms);
  report["finished_at"] =
      (*run)->finished_at_ms ? nlohmann::json(IsoTime(*(*run)->finished_at_ms)) : nullptr;
  report["outcome"] = (*run)->outcome;
  int phase = 0;
  std::string current_step;
  nlohmann::json step_list = nlohmann::json::array();
  for (const orchestration::StepRecord& step : *steps) {
    phase = step.phase;
    current_step = step.name;
    step_list.push_back(
        {{"phase", step.phase},
         {"name", step.name},
         {"state", orchestration::StepStateName(step.state)},
         {"started_at", IsoTime(step.started_at_ms)},
         {"finished_at",
          step.finished_at_ms ? nlohmann::json(IsoTime(*step.finished_at_ms)) : nullptr},
         {"gates", step.gates},
         {"detail", step.detail}});
  }
  report["phase"] = phase;
  report["phase_name"] = phase >= 1 && phase <= 6
                             ? orchestration::PhaseName(static_cast<orchestration::Phase>(phase))
                             : "";
  report["step"] = current_step;
  report["steps"] = step_list;
  if (*controller) {
    report["controller"] = {{"pid", (*controller)->pid},
                            {"host", (*controller)->host},
                            {"alive", (*controller)->alive}};
  }
  if (*format == OutputFormat::kJson) {
    std::cout << report.dump(2) << std::endl;
  } else {
    std::cout << "plan " << plan->name << ", run #" << (*run)->id << ": "
              << report["state"].get<std::string>();
    if (!current_step.empty()) {
      std::cout << " at phase " << phase << " (" << report["phase_name"].get<std::string>()
                << "), step " << current_step;
    }
    std::cout << "\n";
    if (!(*run)->outcome.empty()) std::cout << "outcome: " << (*run)->outcome << "\n";
    for (const nlohmann::json& step : step_list) {
      std::cout << "  phase " << step["phase"].get<int>() << "  " << std::left << std::setw(16)
                << step["name"].get<std::string>() << " " << std::setw(8)
                << step["state"].get<std::string>() << " " << step["started_at"].get<std::string>()
                << "\n";
      for (const nlohmann::json& gate : step["gates"]) {
        std::cout << "      " << GateLine(gate) << "\n";
      }
      const nlohmann::json& detail = step.value("detail", nlohmann::json::object());
      if (detail.is_object() && detail.contains("direction")) {
        std::cout << "      " << DnsSwitchLine(detail) << "\n";
      } else if (detail.is_object() && detail.contains("switch_safe_at")) {
        if (detail["switch_safe_at"].is_string()) {
          std::cout << "      DNS TTLs lowered at " << detail.value("lowered_at", "?")
                    << "; the DNS switch is safe from "
                    << detail["switch_safe_at"].get<std::string>() << "\n";
        } else if (detail.contains("note") && detail["note"].is_string()) {
          std::cout << "      " << detail["note"].get<std::string>() << "\n";
        }
      }
    }
  }
  if (state == orchestration::RunState::kFailed || state == orchestration::RunState::kRolledBack) {
    return kExitNo;
  }
  return kExitYes;
}

int RunApproveCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("journal", po::value<std::string>(),
                                                    "journal path (default: beside the plan)");
  std::string plan_path;
  std::vector<std::string> rest;
  int exit_code = kExitCannotAnswer;
  if (!SplitPlanArgument("approve", args, {"--journal"}, &plan_path, &rest, &exit_code)) {
    return exit_code;
  }
  po::variables_map values;
  if (!ParseCommandLine("approve", kApproveUsage, options, rest, &values, &exit_code)) {
    return exit_code;
  }
  auto plan = orchestration::LoadPlan(plan_path);
  if (!plan.ok()) return ReportError("approve", plan.status());
  auto journal = Journal::Open(JournalPathFor(*plan, values), /*create=*/false);
  if (!journal.ok()) return ReportError("approve", journal.status());
  auto run = (*journal)->LatestRun();
  if (!run.ok()) return ReportError("approve", run.status());
  if (!*run || (*run)->state != orchestration::RunState::kWaiting) {
    return ReportError("approve", "no run of plan " + plan->name +
                                      " is waiting for approval (see tandem status " + plan_path +
                                      ")");
  }
  auto steps = (*journal)->Steps((*run)->id);
  if (!steps.ok()) return ReportError("approve", steps.status());
  // The phase it waits before: in phase order, the first phase named in `approve` that has steps
  // and none of them started yet.
  const std::vector<orchestration::RunStep> plan_steps = orchestration::ExpandPlan(*plan);
  int waiting_phase = 0;
  for (orchestration::Phase phase : orchestration::kAllPhases) {
    const bool needs_approval =
        std::find(plan->approve.begin(), plan->approve.end(), phase) != plan->approve.end();
    const bool has_steps =
        std::any_of(plan_steps.begin(), plan_steps.end(),
                    [phase](const orchestration::RunStep& step) { return step.phase == phase; });
    const bool started =
        std::any_of(steps->begin(), steps->end(), [phase](const orchestration::StepRecord& step) {
          return step.phase == static_cast<int>(phase);
        });
    if (needs_approval && has_steps && !started) {
      waiting_phase = static_cast<int>(phase);
      break;
    }
  }
  if (waiting_phase == 0) {
    return ReportError("approve", "run #" + std::to_string((*run)->id) +
                                      " has no phase left that waits for approval");
  }
  if (engine::Status approved = (*journal)->RequestApproval((*run)->id, waiting_phase);
      !approved.ok()) {
    return ReportError("approve", approved);
  }
  std::cout << "approved phase " << waiting_phase << " ("
            << orchestration::PhaseName(static_cast<orchestration::Phase>(waiting_phase))
            << ") of run #" << (*run)->id << "\n";
  return kExitYes;
}

}  // namespace tandem::tools
