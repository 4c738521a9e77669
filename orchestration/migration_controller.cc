#include "orchestration/migration_controller.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "lag/lag_gate.h"
#include "orchestration/consistency_gate.h"
#include "orchestration/datastore_lag_gate.h"
#include "orchestration/dns_client.h"
#include "orchestration/dns_switch_step.h"
#include "orchestration/dns_ttl_step.h"
#include "orchestration/error_rate_gate.h"
#include "orchestration/haproxy_runtime.h"
#include "orchestration/host_port.h"
#include "orchestration/inspection.h"
#include "orchestration/latency_gate.h"
#include "orchestration/probe_gate.h"
#include "orchestration/provisioning_check.h"
#include "orchestration/tls_check.h"
#include "orchestration/traffic_monitor.h"
#include "orchestration/traffic_weights.h"
#include "orchestration/utc_time.h"
#include "orchestration/write_cutover_step.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a copy may go without progress before the sync step gives up.
constexpr auto kCopyStallLimit = std::chrono::minutes(10);
// How long the phase-3 lag gate may take beyond lag_for before it fails.
constexpr auto kLagGateGrace = std::chrono::minutes(10);
// Between two journal writes of a running step's gate values (status shows them live).
constexpr auto kJournalEvery = std::chrono::seconds(1);
// Between two gate samples kept in the journal's time series (bounded: 8,640 a day).
constexpr auto kSampleEvery = std::chrono::seconds(10);
// How long phase 2 measures round trips per second to each target.
constexpr auto kThroughputProbe = std::chrono::milliseconds(500);
// The journal sample kind holding the TTLs in force before phase 1 lowered them.
constexpr const char* kDnsTtlIntent = "dns_ttl_intent";
// And the moment each lowering was applied.
constexpr const char* kDnsTtlApplied = "dns_ttl_applied";
// Phase 5's switch of the records: the SOA serial before each update attempt, and after success.
constexpr const char* kDnsSwitchIntent = "dns_switch_intent";
constexpr const char* kDnsSwitchApplied = "dns_switch_applied";
// The write cutover's sub-steps (write_cutover_step.h), one sample each.
constexpr const char* kWriteCutover = "write_cutover";
// Journal sample kinds of a rollback: {"event": "begun"|"done", "at", "why" | "ms", "budget_ms",
// "within_budget", "undone", "problems"}; the DNS revert's intent and applied update.
constexpr const char* kRollback = "rollback";
// Phase 6's breaches: {"event": "breach", "at", "gate" {...}, "message"}.
constexpr const char* kMonitor = "monitor";
constexpr const char* kDnsRevertIntent = "dns_revert_intent";
constexpr const char* kDnsRevertApplied = "dns_revert_applied";
// A phase-4 gate measured once and then not measurable for this long counts as failing.
constexpr auto kUnmeasurableLimit = std::chrono::seconds(3);
// What undoing a write cutover takes besides draining the reverse stream: the freeze of the new
// side, the writer switch and the forward stream's hand-over (measured at 0.1-0.6 s).
constexpr milliseconds kSwitchUndo{1000};
// Between two full verifications of a datastore during a traffic step.
constexpr auto kConsistencyInterval = std::chrono::seconds(5);
// How long phase 6's hand-over of a stopped forward stream may take (its slot advance: 5 s).
constexpr auto kSlotAdvanceTimeout = std::chrono::seconds(30);

enum class Outcome { kDone, kStopped, kInterrupted };

struct StepResult {
  Outcome outcome = Outcome::kDone;
  std::string message;
  nlohmann::json gates = nlohmann::json::array();
  nlohmann::json detail = nlohmann::json::object();
};

// A set of gates evaluated together, tick after tick: a gate measured once and then not
// measurable for kUnmeasurableLimit (HAProxy's statistics or a lag measurement gone) counts as
// failing, since nobody watches otherwise. Controller thread only.
class GateWatch {
 public:
  explicit GateWatch(std::vector<std::unique_ptr<Gate>> gates)
      : gates_(std::move(gates)),
        measured_(gates_.size(), false),
        unmeasurable_since_(gates_.size()) {}

  std::vector<GateReading> Evaluate(Clock::time_point now) {
    std::vector<GateReading> readings;
    for (size_t i = 0; i < gates_.size(); ++i) {
      GateReading reading = gates_[i]->Evaluate(now);
      if (reading.verdict != GateVerdict::kInsufficient) {
        measured_[i] = true;
        unmeasurable_since_[i].reset();
      } else if (measured_[i]) {
        if (!unmeasurable_since_[i]) unmeasurable_since_[i] = now;
        if (now - *unmeasurable_since_[i] >= kUnmeasurableLimit) {
          reading.verdict = GateVerdict::kFailing;
          reading.detail = "could not be measured for " +
                           FormatDuration(std::chrono::duration_cast<milliseconds>(
                               now - *unmeasurable_since_[i])) +
                           " after it was: " + reading.detail;
        }
      }
      readings.push_back(std::move(reading));
    }
    return readings;
  }

 private:
  std::vector<std::unique_ptr<Gate>> gates_;
  std::vector<bool> measured_;
  std::vector<std::optional<Clock::time_point>> unmeasurable_since_;
};

nlohmann::json ReadingsToJson(const std::vector<GateReading>& readings) {
  nlohmann::json out = nlohmann::json::array();
  for (const GateReading& reading : readings) {
    out.push_back(reading.ToJson());
  }
  return out;
}

// "host:port" -> a bound-and-closed UDP socket check.
engine::Status CheckUdpBindable(const std::string& address) {
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) {
    return engine::InvalidArgument("traffic.log " + address + " " + parsed.status().message() +
                                   "; give it as host:port, such as 127.0.0.1:5140");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string& host = parsed->host;
  const std::string port = std::to_string(parsed->port);
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return engine::InvalidArgument("traffic.log: cannot resolve " + address +
                                   "; give a local address such as 127.0.0.1:5140");
  }
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  const bool bound = fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0;
  const int error = errno;
  if (fd >= 0) {
    close(fd);
  }
  freeaddrinfo(found);
  if (!bound) {
    return engine::FailedPrecondition("traffic.log: cannot listen on UDP " + address + ": " +
                                      std::strerror(error) +
                                      "; pick a free local port for HAProxy's log lines");
  }
  return engine::Status::Ok();
}

// One GET; kUnavailable unless it answers 2xx within `timeout`.
engine::Status ProbeOnce(const std::string& url, milliseconds timeout) {
  // http://host[:port]/path
  const std::string scheme = "http://";
  const size_t slash = url.find('/', scheme.size());
  const std::string origin = url.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  httplib::Client client(origin);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  auto response = client.Get(path);
  if (!response) {
    return engine::Unavailable("probe " + url + " did not answer (" +
                               httplib::to_string(response.error()) +
                               "); check the URL and that the service runs");
  }
  if (response->status < 200 || response->status > 299) {
    return engine::Unavailable("probe " + url + " answered " + std::to_string(response->status) +
                               ", not 2xx");
  }
  return engine::Status::Ok();
}

// "<datastore>: <message> (fix: <fix>)" for each finding, appended to `into`.
void AppendBlockers(const std::string& datastore, const std::vector<engine::Finding>& findings,
                    std::vector<std::string>* into) {
  for (const engine::Finding& finding : findings) {
    into->push_back(datastore + ": " + finding.message + " (fix: " + finding.fix + ")");
  }
}

// Records the blockers in the step's detail and, when there is one, stops the step naming the
// first: "<what> found N <noun>; first: ...".
void StopOnBlockers(const std::vector<std::string>& blockers, const std::string& what,
                    const std::string& noun, StepResult* result) {
  result->detail["blockers"] = blockers;
  if (!blockers.empty()) {
    result->outcome = Outcome::kStopped;
    result->message = what + " found " + std::to_string(blockers.size()) + " " + noun +
                      "; first: " + blockers.front();
  }
}

// The assessment blockers that are a privilege the account lacks: the preflight refuses these.
bool IsPrivilegeFinding(const std::string& code) {
  static const std::set<std::string> kCodes = {
      "mysql_missing_privilege",       "postgres_missing_replication",
      "postgres_missing_select",       "postgres_target_missing_create",
      "postgres_target_missing_write", "redis_missing_permission"};
  return kCodes.count(code) != 0;
}

nlohmann::json ProgressJson(const StreamProgress& progress) {
  nlohmann::json json = {
      {"state", StreamStateName(progress.state)},  {"copied", progress.copied},
      {"total_estimate", progress.total_estimate}, {"copy_done", progress.copy_done},
      {"events_applied", progress.events_applied}, {"restarts", progress.restarts}};
  if (progress.eta) {
    json["eta_s"] = std::chrono::duration<double>(*progress.eta).count();
  }
  if (!progress.last_error.empty()) {
    json["last_error"] = progress.last_error;
  }
  return json;
}

}  // namespace

struct MigrationController::Impl {
  Impl(const Plan& plan_in, Journal& journal_in, ControllerOptions options_in)
      : plan(plan_in),
        journal(journal_in),
        options(std::move(options_in)),
        steps(ExpandPlan(plan_in)) {
    if (plan.traffic) {
      haproxy.emplace(plan.traffic->haproxy);
    }
  }

  const Plan& plan;
  Journal& journal;
  ControllerOptions options;
  std::vector<RunStep> steps;
  std::optional<HaproxyRuntime> haproxy;
  std::unique_ptr<TrafficMonitor> traffic_monitor;
  std::optional<TrafficBaseline> baseline;
  std::vector<std::unique_ptr<DatastoreLink>> links;  // one per plan.datastores, same order
  // The reverse streams new -> old of the write cutover: parallel to `links`, null for a
  // datastore without a writer.
  std::vector<std::unique_ptr<DatastoreLink>> reverse_links;
  bool streams_started = false;
  int64_t run_id = 0;
  Clock::time_point last_renew{};
  std::thread::id controller_thread;  // the thread in Run()
  bool rollback_requested = false;    // controller thread only
  std::string rollback_reason;        // why, when the controller decided it itself
  std::string monitor_verdict;        // phase 6's, once its window ended
  Clock::time_point last_rollback_poll{};

  mutable std::mutex live_mutex;
  LiveStatus live;

  // The first journal write that failed: the journal is the run's memory, so the run stops at
  // the next tick (traffic back on old) rather than go on with steps it could not record.
  engine::Status journal_error;

  void Record(engine::Status status) {
    if (!status.ok() && journal_error.ok()) {
      journal_error = engine::Status(status.code(), "journal: " + status.message());
    }
  }

  // --- helpers ---

  // Ctrl-C / SIGTERM.
  bool SignalStop() const { return options.stop_flag != nullptr && options.stop_flag->load(); }

  // `tandem run PLAN --rollback` from another process: the journal is polled at most once a tick,
  // on the controller thread only (the journal is this thread's). Sticky once seen.
  bool RollbackRequested() {
    if (std::this_thread::get_id() != controller_thread) return false;  // the journal's thread
    if (rollback_requested) return true;
    if (run_id == 0) return false;
    const auto now = Clock::now();
    if (now - last_rollback_poll < options.tick) return false;
    last_rollback_poll = now;
    auto requested = journal.IsRollbackRequested(run_id);
    rollback_requested = requested.ok() && *requested;
    return rollback_requested;
  }

  // What every wait of a forward step polls: a signal, or a rollback asked for.
  bool StopRequested() { return SignalStop() || RollbackRequested(); }

  void Emit(nlohmann::json event) {
    if (options.on_event) {
      options.on_event(event);
    }
  }

  void SetLive(const RunStep& step, const std::string& state) {
    std::lock_guard<std::mutex> lock(live_mutex);
    live.phase = static_cast<int>(step.phase);
    live.phase_name = PhaseName(step.phase);
    live.step = step.name;
    live.state = state;
  }

  nlohmann::json StepEvent(const RunStep& step, const std::string& state) const {
    return {{"phase", static_cast<int>(step.phase)},
            {"phase_name", PhaseName(step.phase)},
            {"step", step.name},
            {"state", state}};
  }

  // Renews the controller lock at most once a second. Errors: another process took it over.
  engine::Status KeepLock() {
    const auto now = Clock::now();
    if (now - last_renew < std::chrono::seconds(1)) {
      return engine::Status::Ok();
    }
    last_renew = now;
    if (!journal_error.ok()) return journal_error;
    return journal.RenewController();
  }

  // Sleeps one tick, renewing the lock. Errors: the lock was lost.
  engine::Status Tick() {
    std::this_thread::sleep_for(options.tick);
    return KeepLock();
  }

  // --- traffic weights ---

  // Sets the weights for `percent` and reads them back. The new servers are lowered first when
  // the share goes down, raised last when it goes up, so no moment sends more than either share.
  engine::Result<double> SetShare(int percent) {
    const TrafficPlan& traffic = *plan.traffic;
    const TrafficWeights weights =
        WeightsForShare(percent, traffic.old_servers, traffic.new_servers);
    std::vector<ServerWeight> order;
    const bool down = percent < static_cast<int>(live_traffic_percent());
    if (down) {
      order.insert(order.end(), weights.new_servers.begin(), weights.new_servers.end());
      order.insert(order.end(), weights.old_servers.begin(), weights.old_servers.end());
    } else {
      order.insert(order.end(), weights.old_servers.begin(), weights.old_servers.end());
      order.insert(order.end(), weights.new_servers.begin(), weights.new_servers.end());
    }
    for (const ServerWeight& server : order) {
      engine::Status set = haproxy->SetWeight(traffic.backend, server.server, server.weight);
      if (!set.ok()) {
        return set;
      }
    }
    for (const ServerWeight& server : order) {
      auto read = haproxy->GetWeight(traffic.backend, server.server);
      if (!read.ok()) {
        return read.status();
      }
      if (*read != server.weight) {
        return engine::FailedPrecondition("HAProxy server " + traffic.backend + "/" +
                                          server.server + " has weight " + std::to_string(*read) +
                                          " after tandem set " + std::to_string(server.weight) +
                                          "; is another controller or operator changing weights?");
      }
    }
    std::lock_guard<std::mutex> lock(live_mutex);
    live.traffic_percent = weights.achieved_percent;
    return weights.achieved_percent;
  }

  double live_traffic_percent() const {
    std::lock_guard<std::mutex> lock(live_mutex);
    return live.traffic_percent;
  }

  // The share the live weights give (re-read on resume instead of trusting memory).
  engine::Result<double> ReadShare() {
    const TrafficPlan& traffic = *plan.traffic;
    std::vector<ServerWeight> old_weights, new_weights;
    for (const std::string& server : traffic.old_servers) {
      auto weight = haproxy->GetWeight(traffic.backend, server);
      if (!weight.ok()) return weight.status();
      old_weights.push_back({server, *weight});
    }
    for (const std::string& server : traffic.new_servers) {
      auto weight = haproxy->GetWeight(traffic.backend, server);
      if (!weight.ok()) return weight.status();
      new_weights.push_back({server, *weight});
    }
    const double share = ShareOfNew(old_weights, new_weights);
    std::lock_guard<std::mutex> lock(live_mutex);
    live.traffic_percent = share;
    return share;
  }

  // Every request back to the old servers: the abort path. Tries every server even after an
  // error, so one refusal does not leave a new server in rotation.
  engine::Status ShiftAllToOld() {
    const TrafficPlan& traffic = *plan.traffic;
    const TrafficWeights weights = WeightsForShare(0, traffic.old_servers, traffic.new_servers);
    engine::Status first_error;
    for (const ServerWeight& server : weights.new_servers) {
      engine::Status set = haproxy->SetWeight(traffic.backend, server.server, 0);
      if (!set.ok() && first_error.ok()) first_error = set;
    }
    for (const ServerWeight& server : weights.old_servers) {
      engine::Status set = haproxy->SetWeight(traffic.backend, server.server, server.weight);
      if (!set.ok() && first_error.ok()) first_error = set;
    }
    if (first_error.ok()) {
      std::lock_guard<std::mutex> lock(live_mutex);
      live.traffic_percent = 0;
    }
    return first_error;
  }

  // --- datastores ---

  // Where `datastore` (a pointer into plan.datastores, as RunStep holds it) sits in `links` and
  // `reverse_links`.
  size_t LinkIndex(const DatastorePlan* datastore) const {
    return static_cast<size_t>(datastore - plan.datastores.data());
  }

  // The links, created once, none started.
  void EnsureLinks() {
    if (!links.empty()) return;
    for (const DatastorePlan& datastore : plan.datastores) {
      links.push_back(std::make_unique<DatastoreLink>(datastore, options.ports));
      std::unique_ptr<DatastoreLink> reverse;
      if (datastore.writer) {
        DatastoreLinkOptions reverse_options;
        reverse_options.start_at_source_end = true;
        reverse =
            std::make_unique<DatastoreLink>(ReversePlan(datastore), options.ports, reverse_options);
      }
      reverse_links.push_back(std::move(reverse));
    }
  }

  engine::Status StartStreams() {
    if (streams_started) {
      return engine::Status::Ok();
    }
    EnsureLinks();
    // A forward stream of a datastore whose writes are on the new side would replay the old side's
    // log (the reverse stream's writes among it) over newer writes on the new side.
    for (const DatastorePlan& datastore : plan.datastores) {
      if (!datastore.writer || !haproxy) continue;
      auto on_new = WritesOnNewSide(datastore, *haproxy);
      if (!on_new.ok()) return on_new.status();
      if (*on_new) {
        return engine::FailedPrecondition(
            "datastore " + datastore.name + ": HAProxy backend " +
            datastore.writer->haproxy_backend + " sends its writes to the new side (" +
            datastore.writer->new_server + " in, " + datastore.writer->old_server +
            " out), so its stream old -> new must not run again: it would overwrite newer writes; "
            "keep the reverse stream running (tandem sync --from-now, stream " +
            datastore.name + ".reverse) until a rollback or the end of the migration");
      }
    }
    for (auto& link : links) {
      engine::Status started = link->StartStream();
      if (!started.ok()) {
        return started;
      }
    }
    streams_started = true;
    return engine::Status::Ok();
  }

  void StopStreams() {
    for (auto& link : links) {
      link->Stop();
    }
    for (auto& link : reverse_links) {
      if (link) link->Stop();
    }
    streams_started = false;
  }

  void UpdateLag() {
    std::vector<std::pair<std::string, double>> lags;
    for (auto* streams : {&links, &reverse_links}) {
      for (auto& link : *streams) {
        // A stopped link answers nullopt without measuring (no heartbeat into a frozen side).
        std::optional<lag::LagSnapshot> snapshot = link ? link->Lag() : std::nullopt;
        if (snapshot) {
          lags.emplace_back(link->name(), snapshot->window.p99_ms);
        }
      }
    }
    std::lock_guard<std::mutex> lock(live_mutex);
    live.lag_p99_ms = std::move(lags);
  }

  // --- steps ---

  engine::Result<StepResult> RunAssessment() {
    StepResult result;
    nlohmann::json pairs = nlohmann::json::array();
    std::vector<std::string> blockers;
    std::vector<std::string> warnings;
    for (const DatastorePlan& datastore : plan.datastores) {
      auto source = options.ports.open_database(datastore.source);
      if (!source.ok()) return source.status();
      auto target = options.ports.open_database(datastore.target);
      if (!target.ok()) return target.status();
      auto report = InspectPair(**source, target->get());
      if (!report.ok()) return report.status();
      nlohmann::json json = report->ToJson();
      json["datastore"] = datastore.name;
      AppendBlockers(datastore.name, report->blockers, &blockers);
      // Warnings let the run go on: among them the accounts that would write through the
      // cutover's read-only freeze (mysql_read_only_bypass, postgres_superuser_login).
      for (const engine::Finding& finding : report->warnings) {
        warnings.push_back(datastore.name + ": " + finding.message);
      }
      pairs.push_back(std::move(json));
    }
    result.detail["datastores"] = pairs;
    if (plan.traffic) {
      auto stats = haproxy->ShowStat(plan.traffic->backend);
      if (!stats.ok()) return stats.status();
      nlohmann::json servers = nlohmann::json::array();
      auto check = [&](const std::string& name) {
        for (const HaproxyServerStats& server : *stats) {
          if (server.server != name) continue;
          servers.push_back(
              {{"server", name}, {"status", server.status}, {"weight", server.weight}});
          if (server.status.rfind("DOWN", 0) == 0 || server.status.rfind("MAINT", 0) == 0) {
            blockers.push_back("HAProxy server " + plan.traffic->backend + "/" + name + " is " +
                               server.status + " (fix: bring it up before the migration)");
          }
          return;
        }
        blockers.push_back("HAProxy backend " + plan.traffic->backend + " has no server " + name +
                           " (fix: name the servers of haproxy.cfg in the plan)");
      };
      for (const std::string& name : plan.traffic->old_servers) check(name);
      for (const std::string& name : plan.traffic->new_servers) check(name);
      result.detail["haproxy"] = servers;
    }
    if (plan.dns && plan.dns->tls_host && plan.dns->tls_address) {
      // Checked again before any DNS change at cutover; here, so a certificate that would stop
      // the cutover is known at the start.
      TlsCheckOptions tls;
      tls.host = *plan.dns->tls_host;
      tls.address = *plan.dns->tls_address;
      tls.ca_file = plan.dns->tls_ca;
      auto checked = CheckTls(tls);
      if (!checked.ok()) {
        warnings.push_back("the cutover would stop: " + checked.status().message());
        result.detail["tls"] = {{"ok", false}, {"message", checked.status().message()}};
      } else {
        for (const std::string& warning : checked->warnings) warnings.push_back("TLS: " + warning);
        result.detail["tls"] = {{"ok", true},
                                {"protocol", checked->protocol},
                                {"subject", checked->leaf.subject},
                                {"issuer", checked->leaf.issuer},
                                {"not_after", checked->leaf.not_after},
                                {"days_left", checked->leaf.days_left}};
      }
    }
    result.detail["warnings"] = warnings;
    for (const std::string& warning : warnings) {
      Emit({{"phase", 1},
            {"phase_name", "assessment"},
            {"step", "assessment"},
            {"state", "warning"},
            {"message", warning}});
    }
    StopOnBlockers(blockers, "assessment", "blocker(s)", &result);
    return result;
  }

  // A DNS step's journal: what every run of the plan journaled under the two sample kinds (a TTL
  // an earlier run lowered still decides when the switch is safe), and this run's recorders.
  engine::Result<DnsStepJournal> DnsJournal(const char* intent_kind, const char* applied_kind) {
    DnsStepJournal dns_journal;
    auto intents = journal.SamplesOfEveryRun(intent_kind);
    if (!intents.ok()) return intents.status();
    auto applied = journal.SamplesOfEveryRun(applied_kind);
    if (!applied.ok()) return applied.status();
    dns_journal.intents = std::move(*intents);
    dns_journal.applied = std::move(*applied);
    dns_journal.record_intent = [this, intent_kind](const nlohmann::json& intent) {
      return journal.AppendSample(run_id, intent_kind, intent);
    };
    dns_journal.record_applied = [this, applied_kind](const nlohmann::json& done) {
      return journal.AppendSample(run_id, applied_kind, done);
    };
    return dns_journal;
  }

  // Phase 1's "dns ttl": the records' TTLs lowered now, so the cutover can switch them safely.
  engine::Result<StepResult> RunDnsTtl() {
    StepResult result;
    const DnsClient primary(plan.dns->server, PlanTsigKey(*plan.dns));
    auto dns_journal = DnsJournal(kDnsTtlIntent, kDnsTtlApplied);
    if (!dns_journal.ok()) return dns_journal.status();
    auto lowered =
        LowerRecordTtls(*plan.dns, primary, *dns_journal, [this] { return StopRequested(); });
    if (!lowered.ok()) return lowered.status();
    result.detail = lowered->detail;
    if (!lowered->problem.empty()) {
      result.outcome = Outcome::kStopped;
      result.message = lowered->problem;
      return result;
    }
    const std::string message = lowered->warning.empty()
                                    ? "DNS TTLs at " + std::to_string(plan.dns->ttl) +
                                          " s; the DNS switch is safe from " +
                                          result.detail["switch_safe_at"].get<std::string>()
                                    : lowered->warning;
    Emit({{"phase", 1},
          {"phase_name", "assessment"},
          {"step", "dns ttl"},
          {"state", lowered->warning.empty() ? "ttl lowered" : "warning"},
          {"message", message}});
    return result;
  }

  // Phase 5's "dns switch": TLS, the safe moment, one compare-and-swap update, propagation. A
  // stop sends the traffic back to the old servers: the cutover did not happen.
  engine::Result<StepResult> RunDnsSwitch(const RunStep& step) {
    StepResult result;
    result.detail["switched"] = false;
    if (plan.traffic) {
      // The cutover follows phase 4's last step. A resume after a stop that sent the traffic back
      // (killed before the failure was journaled) must not move DNS to servers taking nothing.
      auto share = ReadShare();
      if (!share.ok()) return share.status();
      const int last = plan.traffic->steps.back();
      if (*share + 0.5 < last) {
        result.outcome = Outcome::kStopped;
        result.message = "traffic is at " + std::to_string(static_cast<int>(*share + 0.5)) +
                         "% on the new servers, not " + std::to_string(last) +
                         "% as phase 4 left it: the DNS switch needs the new servers taking the "
                         "traffic; start a new run of the plan";
        return result;
      }
    }
    const DnsClient primary(plan.dns->server, PlanTsigKey(*plan.dns));
    auto ttl_journal = DnsJournal(kDnsTtlIntent, kDnsTtlApplied);
    if (!ttl_journal.ok()) return ttl_journal.status();
    auto switch_journal = DnsJournal(kDnsSwitchIntent, kDnsSwitchApplied);
    if (!switch_journal.ok()) return switch_journal.status();
    DnsSwitchOptions switch_options;
    switch_options.rollback_budget = plan.rollback_budget;
    auto writes_undo = WritesUndoEstimate(&switch_options.undo_before_what);
    if (!writes_undo.ok()) return writes_undo.status();
    switch_options.undo_before = *writes_undo;
    switch_options.stop = [this] { return StopRequested(); };
    Emit(StepEvent(step, "switching"));
    auto switched =
        SwitchRecords(*plan.dns, primary, *ttl_journal, *switch_journal, switch_options);
    if (!switched.ok()) {
      if (switched.status().code() == engine::StatusCode::kCancelled) return Interrupted(result);
      return switched.status();
    }
    result.detail = switched->detail;
    result.detail["switched"] = switched->switched;
    for (const std::string& warning : switched->warnings) {
      nlohmann::json event = StepEvent(step, "warning");
      event["message"] = warning;
      Emit(event);
    }
    if (!switched->problem.empty()) {
      result.outcome = Outcome::kStopped;
      result.message = switched->problem;
    }
    return result;
  }

  // Phase 5's "writes <datastore>": the write cutover (write_cutover_step.h). It runs to its end
  // (its waits are bounded) rather than stopping half-way on a stop request: a stop between its
  // sub-steps would leave the old side frozen with nobody taking the writes. When it cannot finish,
  // the writes go back to the old side (RevertWrites) and the run stops.
  // The ports and options of a datastore's write cutover and its revert.
  engine::Result<WriteCutoverPorts> WritePorts(const DatastorePlan* datastore) {
    EnsureLinks();
    const size_t index = LinkIndex(datastore);
    auto recorded = journal.Samples(run_id, kWriteCutover);
    if (!recorded.ok()) return recorded.status();
    WriteCutoverPorts ports;
    ports.open_database = options.ports.open_database;
    ports.haproxy = &*haproxy;
    ports.forward = links[index].get();
    ports.reverse = reverse_links[index].get();
    ports.recorded = std::move(*recorded);
    ports.record = [this](const nlohmann::json& entry) {
      return journal.AppendSample(run_id, kWriteCutover, entry);
    };
    return ports;
  }

  WriteCutoverOptions CutoverOptions() const {
    WriteCutoverOptions cutover_options;
    cutover_options.redis_pause_hold = std::clamp<std::chrono::milliseconds>(
        plan.rollback_budget, std::chrono::minutes(1), std::chrono::hours(1));
    return cutover_options;
  }

  engine::Result<StepResult> RunWrites(const RunStep& step) {
    StepResult result;
    auto made_ports = WritePorts(step.datastore);
    if (!made_ports.ok()) return made_ports.status();
    const WriteCutoverPorts& ports = *made_ports;
    const WriteCutoverOptions cutover_options = CutoverOptions();
    if (RevertBegun(*step.datastore, ports.recorded)) {
      // A crash interrupted the revert of a failed cutover: it is finished, and the step fails as
      // it would have.
      result.detail = nlohmann::json::object();
      result.message = "the write cutover of " + step.datastore->name +
                       " was being reverted when the controller stopped";
      return RevertAfterFailedCutover(*step.datastore, ports, cutover_options, std::move(result));
    }
    // The rollback budget: undoing the cutover drains the reverse stream, which will trail about
    // as the forward one does now, plus the freeze and the switches (about a second).
    if (std::optional<lag::LagSnapshot> lag = links[LinkIndex(step.datastore)]->Lag()) {
      const milliseconds undo(std::llround(lag->window.p99_ms) + kSwitchUndo.count());
      result.detail["undo_estimate_ms"] = undo.count();
      if (undo > plan.rollback_budget) {
        result.outcome = Outcome::kStopped;
        result.detail["switched"] = false;
        result.message = "cannot undo the write cutover of " + step.datastore->name +
                         " within the rollback budget of " + FormatDuration(plan.rollback_budget) +
                         ": its stream trails by " +
                         FormatDuration(milliseconds(std::llround(lag->window.p99_ms))) +
                         " (lag p99), and an undo drains as much back; wait until the stream "
                         "catches up or raise rollback_budget (nothing was frozen)";
        return result;
      }
    }
    Emit(StepEvent(step, "cutting over"));
    auto cut = CutOverWrites(*step.datastore, ports, cutover_options);
    if (cut.ok() && cut->problem.empty()) {
      result.detail = cut->detail;
      nlohmann::json event = StepEvent(step, "writes switched");
      event["message"] = "writes of " + step.datastore->name + " now go to the new side";
      if (cut->detail.contains("write_pause_ms")) {
        event["write_pause_ms"] = cut->detail["write_pause_ms"];
        event["message"] = event["message"].get<std::string>() + " (write pause " +
                           std::to_string(cut->detail["write_pause_ms"].get<int64_t>()) + " ms)";
      }
      Emit(event);
      return result;
    }
    const std::string why = cut.ok() ? cut->problem : cut.status().message();
    result.detail = cut.ok() ? cut->detail : nlohmann::json{{"error", why}};
    result.message = "write cutover of " + step.datastore->name + " stopped: " + why;
    return RevertAfterFailedCutover(*step.datastore, ports, cutover_options, std::move(result));
  }

  // A cutover that could not finish: the writes go back to the old side (RevertWrites) and the
  // step stops, `result.message` saying why, this function whether the writes are back.
  StepResult RevertAfterFailedCutover(const DatastorePlan& datastore,
                                      const WriteCutoverPorts& ports,
                                      const WriteCutoverOptions& cutover_options,
                                      StepResult result) {
    auto reverted = RevertWrites(datastore, ports, cutover_options);
    const bool back = reverted.ok() && reverted->problem.empty();
    if (reverted.ok()) result.detail["revert"] = reverted->detail;
    result.detail["writes_back_on_old"] = back;
    result.detail["switched"] = false;  // DNS has not moved: traffic goes back to old
    result.outcome = Outcome::kStopped;
    result.message += back ? "; the writes are back on the old side"
                           : "; RETURNING THE WRITES TO THE OLD SIDE FAILED: " +
                                 (reverted.ok() ? reverted->problem : reverted.status().message());
    return result;
  }

  // The migration is complete (phase 6 ended): no rollback will need the reverse streams, whose
  // PostgreSQL slots on the new primaries would otherwise retain their WAL for good. Each is
  // stopped, caught up and its slot dropped. Returns what to add to the outcome ("" when nothing).
  std::string ReleaseReverseSlots() {
    std::string said;
    for (size_t i = 0; i < plan.datastores.size(); ++i) {
      const DatastorePlan& datastore = plan.datastores[i];
      if (!datastore.writer || datastore.source.engine != engine::EngineKind::kPostgres) continue;
      if (!reverse_links.empty() && reverse_links[i]) {
        reverse_links[i]->Stop();
        engine::Status dropped = reverse_links[i]->DropSourceSlot(std::chrono::minutes(2));
        said += dropped.ok() ? "; the reverse stream of " + datastore.name +
                                   " caught up and its replication slot on the new side dropped"
                             : "; DROP THE REVERSE STREAM'S SLOT of " + datastore.name +
                                   " on the new side by hand (tandem sync --source <new> --target "
                                   "<old> --stream " +
                                   datastore.name +
                                   ".reverse --until-caught-up --drop-slot): " + dropped.message();
      }
      said +=
          "; the forward stream's slot on the old side stays until the old side is "
          "decommissioned";
    }
    return said;
  }

  // --- rollback ---

  // The "writes <datastore>" steps this run has done (their writes are on the new side).
  engine::Result<std::vector<const RunStep*>> DoneWritesSteps() {
    std::vector<const RunStep*> done_steps;
    for (const RunStep& step : steps) {
      if (step.kind != StepKind::kWrites) continue;
      auto done = journal.FindStep(run_id, step.name);
      if (!done.ok()) return done.status();
      if (*done && (*done)->state == StepState::kDone) done_steps.push_back(&step);
    }
    return done_steps;
  }

  bool AnyWritesSwitched() {
    auto done = DoneWritesSteps();
    return done.ok() && !done->empty();
  }

  // After a rollback: the forward streams' PostgreSQL slots on the old sides (now the primaries
  // again) keep their WAL until the plan runs again; said with the command that drops one.
  std::string RetainedSlotsNote() const {
    std::string note;
    for (const DatastorePlan& datastore : plan.datastores) {
      if (datastore.source.engine != engine::EngineKind::kPostgres) continue;
      note += "; the replication slot of stream " + datastore.name +
              " on the old side keeps its WAL until the plan runs again (if it will not: tandem "
              "sync --source " +
              datastore.source_uri_redacted + " --target " + datastore.target_uri_redacted +
              " --stream " + datastore.name + " --until-caught-up --drop-slot)";
    }
    return note;
  }

  // How long undoing this run's write cutovers would take now: for each datastore whose cutover
  // is done, its reverse stream's lag p99 (the drain; a second when not measured yet) plus
  // kSwitchUndo. `what` gets them in words ("writes orders: lag 12ms").
  engine::Result<milliseconds> WritesUndoEstimate(std::string* what) {
    milliseconds total{0};
    auto done_steps = DoneWritesSteps();
    if (!done_steps.ok()) return done_steps.status();
    for (const RunStep* done : *done_steps) {
      const RunStep& step = *done;
      EnsureLinks();
      std::optional<lag::LagSnapshot> lag = reverse_links[LinkIndex(step.datastore)]->Lag();
      const milliseconds drain =
          lag ? milliseconds(std::llround(lag->window.p99_ms)) : milliseconds(1000);
      total += drain + kSwitchUndo;
      if (!what->empty()) *what += ", ";
      *what += step.name + ": reverse lag " + (lag ? FormatDuration(drain) : "unknown, 1s taken");
    }
    return total;
  }

  // One undo step, journaled as "undo <step>" in the step's phase: the inverse runs, then the
  // original step (and `also`, e.g. every traffic step for one weight change) is marked undone.
  // Returns the problem, empty when it worked.
  engine::Result<std::string> Undo(const RunStep& step, const std::string& name,
                                   const std::vector<int64_t>& undone_ids,
                                   const std::function<engine::Result<StepResult>()>& inverse) {
    auto record =
        journal.StartStep(run_id, static_cast<int>(step.phase), name, {{"action", step.inverse}});
    if (!record.ok()) return record.status();
    SetLive(step, "undoing");
    nlohmann::json started = StepEvent(step, "undoing");
    started["step"] = name;
    Emit(started);
    const auto began = Clock::now();
    auto result = inverse();
    const int64_t ms = std::chrono::duration_cast<milliseconds>(Clock::now() - began).count();
    std::string problem;
    nlohmann::json detail = nlohmann::json::object();
    if (!result.ok()) {
      problem = result.status().message();
      detail["error"] = problem;
    } else {
      detail = result->detail;
      if (result->outcome != Outcome::kDone) problem = result->message;
    }
    detail["ms"] = ms;
    TANDEM_RETURN_IF_ERROR(
        journal.FinishStep(record->id, problem.empty() ? StepState::kDone : StepState::kFailed,
                           nlohmann::json::array(), detail));
    if (problem.empty()) {
      for (int64_t id : undone_ids) {
        TANDEM_RETURN_IF_ERROR(journal.SetStepState(id, StepState::kUndone));
      }
    }
    nlohmann::json event = StepEvent(step, problem.empty() ? "undone" : "undo failed");
    event["step"] = name;
    event["ms"] = ms;
    if (!problem.empty()) event["message"] = problem;
    Emit(event);
    return problem;
  }

  // The inverse of `kind`'s steps for a rollback.
  engine::Result<StepResult> UndoDnsSwitch() {
    StepResult result;
    const DnsClient primary(plan.dns->server, PlanTsigKey(*plan.dns));
    auto revert_journal = DnsJournal(kDnsRevertIntent, kDnsRevertApplied);
    if (!revert_journal.ok()) return revert_journal.status();
    DnsSwitchOptions revert_options;
    revert_options.rollback_budget = plan.rollback_budget;
    revert_options.stop = [this] { return SignalStop(); };
    auto reverted = RevertRecords(*plan.dns, primary, *revert_journal, revert_options);
    if (!reverted.ok()) return reverted.status();
    result.detail = reverted->detail;
    if (!reverted->problem.empty()) {
      result.outcome = Outcome::kStopped;
      result.message = reverted->problem;
    }
    return result;
  }

  engine::Result<StepResult> UndoWrites(const RunStep& step) {
    StepResult result;
    auto ports = WritePorts(step.datastore);
    if (!ports.ok()) return ports.status();
    auto reverted = RevertWrites(*step.datastore, *ports, CutoverOptions());
    if (!reverted.ok()) return reverted.status();
    result.detail = reverted->detail;
    if (!reverted->problem.empty()) {
      result.outcome = Outcome::kStopped;
      result.message = "writes of " + step.datastore->name + ": " + reverted->problem;
    }
    return result;
  }

  // Undoes the run's steps, newest first (DNS back, writes back, traffic back), each journaled;
  // resumable: a step already undone is skipped, a half-done inverse runs again (each is
  // idempotent). The time taken is measured against rollback_budget. The streams end stopped at
  // their checkpoints: the forward streams resume when the plan runs again.
  engine::Result<RunResult> RollBack(const std::string& why) {
    // Timed from the first attempt's start: a rollback continued after a crash counts it all.
    auto began = std::chrono::system_clock::now();
    auto earlier = journal.Samples(run_id, kRollback);
    if (!earlier.ok()) return earlier.status();
    bool continued = false;
    for (const nlohmann::json& entry : *earlier) {
      if (entry.value("event", "") != "begun") continue;
      continued = true;
      if (auto at = ParseUtcTime(entry.value("at", std::string()))) began = std::min(began, *at);
      break;
    }
    if (!continued) {
      TANDEM_RETURN_IF_ERROR(
          journal.AppendSample(run_id, kRollback,
                               {{"event", "begun"},
                                {"at", FormatUtcTime(std::chrono::system_clock::now())},
                                {"why", why}}));
    }
    TANDEM_RETURN_IF_ERROR(journal.SetRunState(run_id, RunState::kRunning));
    Emit({{"state", "rolling back"},
          {"message", (continued ? "continuing the rollback: " : "rolling back: ") + why}});
    auto records = journal.Steps(run_id);
    if (!records.ok()) return records.status();
    const auto find = [&](const std::string& name) -> const StepRecord* {
      for (const StepRecord& record : *records) {
        if (record.name == name) return &record;
      }
      return nullptr;
    };
    // A step needs its inverse when it began (done, failed or interrupted) and was not undone.
    const auto needs_undo = [](const StepRecord* record) {
      return record != nullptr && record->state != StepState::kUndone &&
             record->state != StepState::kSkipped;
    };
    std::vector<std::string> undone;
    std::vector<std::string> problems;
    bool traffic_done = false;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
      const RunStep& step = *it;
      const StepRecord* record = find(step.name);
      engine::Result<std::string> problem = std::string();
      if (step.kind == StepKind::kDnsSwitch && needs_undo(record)) {
        problem = Undo(step, "undo " + step.name, {record->id}, [this] { return UndoDnsSwitch(); });
      } else if (step.kind == StepKind::kWrites && needs_undo(record)) {
        problem = Undo(step, "undo " + step.name, {record->id},
                       [this, &step] { return UndoWrites(step); });
      } else if ((step.kind == StepKind::kTraffic || step.kind == StepKind::kBaseline) &&
                 !traffic_done) {
        // One weight change undoes every traffic step.
        std::vector<int64_t> ids;
        for (const RunStep& other : steps) {
          const StepRecord* other_record = find(other.name);
          if (other.kind == StepKind::kTraffic && needs_undo(other_record)) {
            ids.push_back(other_record->id);
          }
        }
        traffic_done = true;
        if (ids.empty()) continue;
        problem = Undo(step, "undo traffic", ids, [this] {
          StepResult result;
          engine::Status back = ShiftAllToOld();
          if (!back.ok()) return engine::Result<StepResult>(back);
          result.detail["traffic_percent"] = 0;
          return engine::Result<StepResult>(result);
        });
      } else {
        continue;  // reads only, or nothing to undo
      }
      if (!problem.ok()) return problem.status();  // the journal failed: stop here
      if (problem->empty()) {
        undone.push_back(step.kind == StepKind::kTraffic || step.kind == StepKind::kBaseline
                             ? "traffic"
                             : step.name);
      } else {
        problems.push_back(*problem);
        if (step.kind == StepKind::kDnsSwitch) {
          // DNS may still send clients to the new side: moving the writes and the traffic back
          // now would split them. Stop here; the next --rollback goes on from this step.
          problems.back() += " (the writes and the traffic stay on the new side, where DNS points)";
          break;
        }
      }
    }
    StopStreams();
    const int64_t ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now() - began).count();
    const bool within = ms <= plan.rollback_budget.count();
    std::string list;
    for (const std::string& name : undone) list += (list.empty() ? "" : ", ") + name;
    std::string outcome =
        problems.empty()
            ? "rolled back in " + FormatDuration(milliseconds(ms)) + " (rollback budget " +
                  FormatDuration(plan.rollback_budget) + (within ? "" : ", EXCEEDED") +
                  "): " + (list.empty() ? std::string("nothing had changed") : list + " undone") +
                  "; every request and write on the old side; the streams stopped at their "
                  "checkpoints (the plan can run again)" +
                  RetainedSlotsNote() + "; why: " + why
            : "ROLLBACK INCOMPLETE: " + problems.front() +
                  (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)"
                                       : std::string()) +
                  "; fix it and run `tandem run " + plan.path + " --rollback` again";
    TANDEM_RETURN_IF_ERROR(
        journal.AppendSample(run_id, kRollback,
                             {{"event", "done"},
                              {"at", FormatUtcTime(std::chrono::system_clock::now())},
                              {"ms", ms},
                              {"budget_ms", plan.rollback_budget.count()},
                              {"within_budget", within},
                              {"undone", undone},
                              {"problems", problems}}));
    TANDEM_RETURN_IF_ERROR(journal.FinishRun(
        run_id, problems.empty() ? RunState::kRolledBack : RunState::kFailed, outcome));
    Emit({{"state", problems.empty() ? "rolled back" : "rollback incomplete"},
          {"message", outcome},
          {"rollback_ms", ms}});
    return RunResult{problems.empty() ? RunVerdict::kRolledBack : RunVerdict::kStopped, outcome};
  }

  // Whether any plan record may already hold its new value at the DNS primary (true when it
  // cannot be read): a failed phase-5 step then keeps the traffic where DNS sends clients.
  bool DnsMayPointAtNew() const {
    if (!plan.dns) return false;
    const DnsClient primary(plan.dns->server, PlanTsigKey(*plan.dns));
    for (const DnsRecordChange& record : plan.dns->records) {
      auto held = primary.Query(record.name, record.type);
      if (!held.ok()) return true;
      for (const DnsRecord& one : *held) {
        if (SameDnsValue(record.type, one.value, record.new_value)) return true;
      }
    }
    return false;
  }

  engine::Result<StepResult> RunProvisioning() {
    StepResult result;
    std::vector<std::string> blockers;
    nlohmann::json datastores = nlohmann::json::array();
    for (const DatastorePlan& datastore : plan.datastores) {
      auto source = options.ports.open_database(datastore.source);
      if (!source.ok()) return source.status();
      auto target = options.ports.open_database(datastore.target);
      if (!target.ok()) return target.status();
      nlohmann::json entry = {{"datastore", datastore.name}};
      auto* source_sql = dynamic_cast<engine::SqlDatabase*>(source->get());
      auto* target_sql = dynamic_cast<engine::SqlDatabase*>(target->get());
      if (source_sql != nullptr && target_sql != nullptr) {
        engine::Assessment schema;
        engine::Status compared = CompareSchemas(*source_sql, *target_sql, &schema);
        if (!compared.ok()) return compared;
        AppendBlockers(datastore.name, schema.blockers, &blockers);
        entry["schema_blockers"] = schema.blockers;
        entry["schema_warnings"] = schema.warnings;
      }
      // The settings that change what the data means or how applications behave.
      auto source_facts = (*source)->Assess(engine::Role::kSource);
      if (!source_facts.ok()) return source_facts.status();
      auto target_facts = (*target)->Assess(engine::Role::kTarget);
      if (!target_facts.ok()) return target_facts.status();
      engine::Assessment settings;
      CompareSettings(datastore.source.engine, source_facts->facts, target_facts->facts, &settings);
      AppendBlockers(datastore.name, settings.blockers, &blockers);
      entry["setting_blockers"] = settings.blockers;
      entry["setting_warnings"] = settings.warnings;
      std::vector<double> round_trips;
      for (int i = 0; i < 5; ++i) {
        auto ping = (*target)->Ping();
        if (!ping.ok()) return ping.status();
        round_trips.push_back(std::chrono::duration<double, std::milli>(*ping).count());
      }
      std::sort(round_trips.begin(), round_trips.end());
      entry["target_round_trip_ms"] = round_trips[round_trips.size() / 2];
      // A short throughput probe: round trips to the target in kThroughputProbe, one at a time
      // (what one applier connection can do at best over this network path).
      int64_t trips = 0;
      const auto probe_start = Clock::now();
      while (Clock::now() - probe_start < kThroughputProbe) {
        auto ping = (*target)->Ping();
        if (!ping.ok()) return ping.status();
        ++trips;
      }
      const double probe_s = std::chrono::duration<double>(Clock::now() - probe_start).count();
      entry["target_round_trips_per_second"] = static_cast<double>(trips) / probe_s;
      datastores.push_back(std::move(entry));
    }
    result.detail["datastores"] = datastores;
    StopOnBlockers(blockers, "provisioning checks", "blocking difference(s)", &result);
    return result;
  }

  engine::Result<StepResult> RunSync(const RunStep& step, StepRecord& record) {
    StepResult result;
    engine::Status started = StartStreams();
    if (!started.ok()) return started;
    DatastoreLink* link = links[LinkIndex(step.datastore)].get();

    // The copy.
    int64_t last_copied = -1;
    auto last_progress_at = Clock::now();
    auto last_event = Clock::time_point{};
    while (true) {
      if (StopRequested()) return Interrupted(result);
      const StreamProgress progress = link->Progress();
      if (progress.state == StreamState::kFailed) {
        result.outcome = Outcome::kStopped;
        result.message =
            "the stream of " + step.datastore->name + " failed: " + progress.last_error;
        return result;
      }
      if (progress.copied != last_copied) {
        last_copied = progress.copied;
        last_progress_at = Clock::now();
      }
      if (Clock::now() - last_event >= kJournalEvery) {
        last_event = Clock::now();
        nlohmann::json event = StepEvent(step, "copying");
        event["progress"] = ProgressJson(progress);
        Emit(event);
      }
      if (progress.copy_done) break;
      if (Clock::now() - last_progress_at > kCopyStallLimit) {
        result.outcome = Outcome::kStopped;
        result.message = "the copy of " + step.datastore->name + " made no progress for 10 min";
        return result;
      }
      engine::Status tick = Tick();
      if (!tick.ok()) return tick;
    }

    // Lag under max_lag continuously for lag_for.
    SetLive(step, "lag gate");
    lag::LagGateOptions gate_options;
    gate_options.max_lag = step.datastore->max_lag;
    gate_options.hold_for = step.datastore->lag_for;
    gate_options.duration = step.datastore->lag_for + kLagGateGrace;
    gate_options.first_heartbeat_timeout = std::chrono::seconds(30);
    lag::LagGate gate(gate_options, lag::LagClock::now());
    DatastoreLagGate reading_gate(*link, step.datastore->max_lag);
    auto last_journal = Clock::time_point{};
    const auto lag_start = Clock::now();
    auto last_stream_check = Clock::now();
    while (true) {
      if (StopRequested()) return Interrupted(result);
      std::string why;
      std::optional<lag::LagSnapshot> snapshot = link->Lag(&why);
      lag::LagGateVerdict verdict = lag::LagGateVerdict::kWaiting;
      if (snapshot) {
        verdict = gate.Observe(*snapshot, lag::LagClock::now());
      } else if (Clock::now() - lag_start > gate_options.first_heartbeat_timeout) {
        // LagGate's own timeouts only run on observations: no measurement at all must end too.
        result.outcome = Outcome::kStopped;
        result.message = "lag gate of " + step.datastore->name + " cannot measure: " +
                         (why.empty() ? std::string("no lag measurement") : why);
        return result;
      }
      if (Clock::now() - last_stream_check >= std::chrono::seconds(1)) {
        last_stream_check = Clock::now();
        const StreamProgress progress = link->Progress();
        if (progress.state == StreamState::kFailed) {
          result.outcome = Outcome::kStopped;
          result.message =
              "the stream of " + step.datastore->name + " failed: " + progress.last_error;
          return result;
        }
      }
      UpdateLag();
      GateReading reading = reading_gate.Evaluate(Clock::now());
      {
        std::lock_guard<std::mutex> lock(live_mutex);
        live.gates = {reading};
      }
      if (Clock::now() - last_journal >= kJournalEvery) {
        last_journal = Clock::now();
        nlohmann::json gates = ReadingsToJson({reading});
        gates[0]["held_s"] = std::chrono::duration<double>(gate.held()).count();
        Record(journal.UpdateStepGates(record.id, gates));
        nlohmann::json event = StepEvent(step, "lag gate");
        event["gates"] = gates;
        event["message"] = gate.reason();
        Emit(event);
      }
      if (verdict == lag::LagGateVerdict::kPassed) {
        result.gates = ReadingsToJson({reading});
        break;
      }
      if (verdict == lag::LagGateVerdict::kFailed ||
          verdict == lag::LagGateVerdict::kCannotMeasure) {
        result.outcome = Outcome::kStopped;
        result.gates = ReadingsToJson({reading});
        result.message = "lag gate of " + step.datastore->name + " " +
                         lag::LagGateVerdictName(verdict) + ": " + gate.reason();
        return result;
      }
      std::this_thread::sleep_for(milliseconds(100));
      engine::Status renewed = KeepLock();
      if (!renewed.ok()) return renewed;
    }

    // A full verify.
    SetLive(step, "verify");
    Emit(StepEvent(step, "verify"));
    auto verdict = link->Verify(options.stop_flag);
    if (!verdict.ok()) {
      if (verdict.status().code() == engine::StatusCode::kCancelled) return Interrupted(result);
      return verdict.status();
    }
    result.detail["verify"] = {{"consistent", verdict->consistent},
                               {"differing", verdict->differing},
                               {"elapsed_ms", verdict->elapsed.count()},
                               {"summary", verdict->summary}};
    GateReading consistency;
    consistency.name = "consistency " + step.datastore->name;
    consistency.value = static_cast<double>(verdict->differing);
    consistency.threshold = 0;
    consistency.samples = 1;
    consistency.min_samples = 1;
    consistency.unit = "differences";
    consistency.detail = verdict->summary;
    consistency.verdict = verdict->consistent ? GateVerdict::kPassing : GateVerdict::kFailing;
    result.gates.push_back(consistency.ToJson());
    if (!verdict->consistent) {
      result.outcome = Outcome::kStopped;
      result.message =
          "verify of " + step.datastore->name + " found differences: " + verdict->summary;
    }
    return result;
  }

  StepResult& Interrupted(StepResult& result) {
    result.outcome = Outcome::kInterrupted;
    result.message = "stopped on request";
    return result;
  }

  engine::Status EnsureTrafficMonitor() {
    if (traffic_monitor) return engine::Status::Ok();
    TrafficMonitorOptions monitor_options;
    monitor_options.backend = plan.traffic->backend;
    monitor_options.old_servers = plan.traffic->old_servers;
    monitor_options.new_servers = plan.traffic->new_servers;
    monitor_options.log_address = plan.traffic->log;
    auto monitor = TrafficMonitor::Start(*haproxy, monitor_options);
    if (!monitor.ok()) return monitor.status();
    traffic_monitor = std::move(*monitor);
    return engine::Status::Ok();
  }

  engine::Result<StepResult> RunBaseline(const RunStep& step) {
    StepResult result;
    engine::Status monitor = EnsureTrafficMonitor();
    if (!monitor.ok()) return monitor;
    auto share = SetShare(0);
    if (!share.ok()) return share.status();
    const auto start = Clock::now();
    const auto end = start + plan.traffic->baseline;
    auto last_event = Clock::time_point{};
    while (Clock::now() < end) {
      if (StopRequested()) return Interrupted(result);
      if (Clock::now() - last_event >= kJournalEvery) {
        last_event = Clock::now();
        nlohmann::json event = StepEvent(step, "measuring");
        event["time_left_s"] = std::chrono::duration<double>(end - Clock::now()).count();
        Emit(event);
        std::lock_guard<std::mutex> lock(live_mutex);
        live.dwell_left_s = std::chrono::duration<double>(end - Clock::now()).count();
      }
      engine::Status tick = Tick();
      if (!tick.ok()) return tick;
    }
    if (auto error = traffic_monitor->poll_error()) {
      return *error;
    }
    TrafficBaseline measured = traffic_monitor->MeasureBaseline(start, Clock::now());
    if (measured.old_side.responses == 0) {
      result.outcome = Outcome::kStopped;
      result.message = "the old servers of " + plan.traffic->backend + " answered no request in " +
                       FormatDuration(plan.traffic->baseline) +
                       " of baseline: there is nothing to compare the new servers with";
      return result;
    }
    baseline = measured;
    result.detail["baseline"] = measured.ToJson();
    return result;
  }

  engine::Result<std::vector<std::unique_ptr<Gate>>> TrafficGates(Clock::time_point step_start,
                                                                  bool with_datastores = true) {
    const TrafficPlan& traffic = *plan.traffic;
    std::vector<std::unique_ptr<Gate>> gates;
    gates.push_back(std::make_unique<ErrorRateGate>(*traffic_monitor, *baseline,
                                                    traffic.max_error_rate_increase,
                                                    traffic.min_requests, step_start));
    gates.push_back(std::make_unique<LatencyGate>(
        *traffic_monitor, *baseline, LatencyGate::Statistic::kMedian, traffic.max_latency_increase,
        traffic.latency_slack, traffic.min_requests, step_start));
    gates.push_back(std::make_unique<LatencyGate>(
        *traffic_monitor, *baseline, LatencyGate::Statistic::kP95, traffic.max_latency_increase,
        traffic.latency_slack, traffic.min_requests, step_start));
    for (const std::string& url : traffic.probes) {
      auto probe = std::make_unique<ProbeGate>(url);
      engine::Status started = probe->Start();
      if (!started.ok()) return started;
      gates.push_back(std::move(probe));
    }
    for (size_t i = 0; with_datastores && i < links.size(); ++i) {
      gates.push_back(std::make_unique<DatastoreLagGate>(*links[i], plan.datastores[i].max_lag));
      gates.push_back(std::make_unique<ConsistencyGate>(*links[i], kConsistencyInterval));
    }
    return gates;
  }

  // When a gated wait last journaled its gates and appended a sample.
  struct PublishCadence {
    Clock::time_point last_journal{};
    Clock::time_point last_sample{};
  };

  // Every tick of a gated wait (a traffic step's dwell, phase 6's window): the live view gets the
  // readings and the time left; once a second (kJournalEvery) the step's gates are journaled, a
  // "gates" sample appended every kSampleEvery, and an event with `state` emitted, carrying
  // `extra`'s fields too.
  void PublishReadings(const RunStep& step, const StepRecord& record,
                       const std::vector<GateReading>& readings, Clock::time_point now,
                       double left_s, const char* state, const nlohmann::json& extra,
                       PublishCadence& cadence) {
    UpdateLag();
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      live.gates = readings;
      live.dwell_left_s = std::max(0.0, left_s);
    }
    if (now - cadence.last_journal < kJournalEvery) return;
    cadence.last_journal = now;
    nlohmann::json gates_json = ReadingsToJson(readings);
    Record(journal.UpdateStepGates(record.id, gates_json));
    if (now - cadence.last_sample >= kSampleEvery) {
      cadence.last_sample = now;
      Record(journal.AppendSample(run_id, "gates", {{"step", step.name}, {"gates", gates_json}}));
    }
    nlohmann::json event = StepEvent(step, state);
    event["gates"] = gates_json;
    event["time_left_s"] = std::max(0.0, left_s);
    for (const auto& [key, value] : extra.items()) event[key] = value;
    Emit(event);
  }

  // The baseline phase 4 measured, read back from the journal after a restart.
  engine::Status LoadBaseline(const RunStep& step) {
    if (baseline) return engine::Status::Ok();
    auto baseline_step = journal.FindStep(run_id, "baseline");
    if (!baseline_step.ok()) return baseline_step.status();
    if (!*baseline_step || !(*baseline_step)->detail.contains("baseline")) {
      return engine::Internal("step " + step.name + " runs without a baseline");
    }
    baseline = TrafficBaseline::FromJson((*baseline_step)->detail["baseline"]);
    return engine::Status::Ok();
  }

  // Phase 6's "monitor": for the window (counted from the step's first start, so a resumed run
  // does not start it over), the streams that keep the sides current run (the reverse stream of a
  // datastore whose writes are on the new side, the forward stream of any other), and the gates
  // watch: phase 4's traffic gates against the baseline, every stream's lag, a full verify every
  // verify_every. A failing gate is a breach: journaled (sample "monitor"), shown, counted in the
  // live status; with rollback_on_breach it rolls the migration back. At the end, the verdict on
  // decommissioning the old side.
  engine::Result<StepResult> RunMonitor(const RunStep& step, StepRecord& record) {
    StepResult result;
    const MonitorPlan& monitor = plan.monitor;
    EnsureLinks();
    std::vector<std::unique_ptr<Gate>> made;
    nlohmann::json watched = nlohmann::json::array();
    std::vector<size_t> held_slots;  // see AdvanceForwardSlots
    if (plan.traffic) {
      if (engine::Status started = EnsureTrafficMonitor(); !started.ok()) return started;
      if (engine::Status loaded = LoadBaseline(step); !loaded.ok()) return loaded;
      auto gates = TrafficGates(Clock::now(), /*with_datastores=*/false);
      if (!gates.ok()) return gates.status();
      for (auto& gate : *gates) made.push_back(std::move(gate));
    }
    for (size_t i = 0; i < plan.datastores.size(); ++i) {
      const DatastorePlan& datastore = plan.datastores[i];
      bool on_new = false;
      if (datastore.writer && haproxy) {
        auto writes_on_new = WritesOnNewSide(datastore, *haproxy);
        if (!writes_on_new.ok()) return writes_on_new.status();
        on_new = *writes_on_new;
      }
      DatastoreLink& link = on_new ? *reverse_links[i] : *links[i];
      if (on_new && datastore.source.engine == engine::EngineKind::kPostgres) {
        held_slots.push_back(i);
      }
      if (engine::Status started = link.StartStream(); !started.ok()) return started;
      watched.push_back(link.name());
      made.push_back(std::make_unique<DatastoreLagGate>(link, datastore.max_lag));
      made.push_back(std::make_unique<ConsistencyGate>(link, monitor.verify_every));
    }
    GateWatch gates(std::move(made));
    result.detail["streams"] = watched;

    // The window and the breaches so far (a resumed step keeps both).
    const int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const int64_t elapsed_ms = std::max<int64_t>(0, now_ms - record.started_at_ms);
    const auto window_end =
        Clock::now() + std::max(milliseconds(0), monitor.window - milliseconds(elapsed_ms));
    auto earlier = journal.Samples(run_id, kMonitor);
    if (!earlier.ok()) return earlier.status();
    nlohmann::json breaches = nlohmann::json::array();
    for (const nlohmann::json& sample : *earlier) {
      if (sample.value("event", "") == "breach") breaches.push_back(sample);
    }
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      live.monitor_breaches = static_cast<int64_t>(breaches.size());
    }
    std::set<std::string> in_breach;  // gates failing now: one breach per episode
    auto next_slot_advance = Clock::now() + monitor.slot_advance_every;
    PublishCadence cadence;
    SetLive(step, "monitoring");
    while (true) {
      const auto now = Clock::now();
      std::vector<GateReading> readings = gates.Evaluate(now);
      for (const GateReading& reading : readings) {
        if (!reading.failing()) {
          in_breach.erase(reading.name);
          continue;
        }
        if (!in_breach.insert(reading.name).second) continue;
        nlohmann::json breach = {{"event", "breach"},
                                 {"at", FormatUtcTime(std::chrono::system_clock::now())},
                                 {"gate", reading.ToJson()},
                                 {"message", reading.name + ": " + reading.Describe()}};
        Record(journal.AppendSample(run_id, kMonitor, breach));
        breaches.push_back(breach);
        {
          std::lock_guard<std::mutex> lock(live_mutex);
          live.monitor_breaches = static_cast<int64_t>(breaches.size());
        }
        nlohmann::json event = StepEvent(step, "breach");
        event["gates"] = ReadingsToJson(readings);
        event["message"] = "breach in phase 6: " + breach["message"].get<std::string>();
        Emit(event);
        if (monitor.rollback_on_breach) {
          rollback_requested = true;
          rollback_reason = "gate " + reading.name +
                            " failed in phase 6 (rollback_on_breach): " + reading.Describe();
          result.gates = ReadingsToJson(readings);
          return Interrupted(result);
        }
      }
      const double left_s = std::chrono::duration<double>(window_end - now).count();
      PublishReadings(step, record, readings, now, left_s, "monitoring",
                      {{"breaches", breaches.size()}}, cadence);
      if (now >= window_end) {
        result.gates = ReadingsToJson(readings);
        break;
      }
      if (!held_slots.empty() && now >= next_slot_advance) {
        AdvanceForwardSlots(step, held_slots);
        next_slot_advance = Clock::now() + monitor.slot_advance_every;
      }
      if (StopRequested()) return Interrupted(result);
      engine::Status tick = Tick();
      if (!tick.ok()) return tick;
    }
    const bool decommission = breaches.empty();
    result.detail["breaches"] = breaches;
    result.detail["window_ms"] = monitor.window.count();
    result.detail["decommission"] = decommission;
    result.detail["verdict"] =
        decommission ? "the old side may be decommissioned: " + FormatDuration(monitor.window) +
                           " on the new side without a breach"
                     : "do not decommission the old side yet: " + std::to_string(breaches.size()) +
                           " breach(es) in the window, the first: " +
                           breaches.front().value("message", std::string("?")) +
                           "; keep the old side until they are explained";
    monitor_verdict = result.detail["verdict"].get<std::string>();
    return result;
  }

  // PostgreSQL, phase 6: the forward streams of the datastores at `indexes` (whose writes are on
  // the new side) stay stopped, and their slots on the old side would keep all the WAL that the
  // reverse streams write there for the whole window. Each is handed over at the old side's present
  // position with its slot moved up (--advance-slot): what a rollback does anyway before it starts
  // them again, since everything the old side got since the switch came from the new side. Only
  // while the old server stays out of the writer backend: a datastore whose writes someone moved
  // back by hand leaves `indexes` (its forward stream must then stream the old side's writes), with
  // a warning. A failed hand-over is a warning too, tried again next time.
  void AdvanceForwardSlots(const RunStep& step, std::vector<size_t>& indexes) {
    for (auto it = indexes.begin(); it != indexes.end();) {
      const DatastorePlan& datastore = plan.datastores[*it];
      auto on_new = WritesOnNewSide(datastore, *haproxy);
      if (on_new.ok() && !*on_new) {
        nlohmann::json event = StepEvent(step, "warning");
        event["message"] = "the writes of " + datastore.name +
                           " are no longer on the new side alone (HAProxy backend " +
                           datastore.writer->haproxy_backend +
                           "): its forward stream's slot on the old side is no longer moved up";
        Emit(event);
        it = indexes.erase(it);
        continue;
      }
      engine::Status advanced = on_new.ok() ? links[*it]->CheckpointAtSourceEnd(
                                                  kSlotAdvanceTimeout, /*advance_slot=*/true)
                                            : on_new.status();
      if (!advanced.ok()) {
        nlohmann::json event = StepEvent(step, "warning");
        event["message"] = "moving the slot of " + datastore.name +
                           "'s forward stream on the old side up failed (it keeps its WAL until "
                           "the next try): " +
                           advanced.message();
        Emit(event);
      }
      ++it;
      if (StopRequested() || !KeepLock().ok()) return;
    }
  }

  engine::Result<StepResult> RunTraffic(const RunStep& step, StepRecord& record) {
    StepResult result;
    engine::Status monitor = EnsureTrafficMonitor();
    if (!monitor.ok()) return monitor;
    if (engine::Status loaded = LoadBaseline(step); !loaded.ok()) return loaded;
    if (!plan.datastores.empty()) {
      engine::Status started = StartStreams();
      if (!started.ok()) return started;
    }
    // Resume: the live weights may already give this share (the action ran before a crash) or
    // the previous one; setting this step's share is right in both cases and never lowers it.
    // But a step whose gate failed (the abort is journaled right after the weights went back)
    // must not raise the share again: the run fails as it would have.
    auto live_share = ReadShare();
    if (!live_share.ok()) return live_share.status();
    result.detail["share_before"] = *live_share;
    auto samples = journal.Samples(run_id, "traffic");
    if (!samples.ok()) return samples.status();
    for (auto it = samples->rbegin(); it != samples->rend(); ++it) {
      if (it->value("step", "") != step.name) continue;
      if (it->value("event", "") == "abort") {
        (void)ShiftAllToOld();
        result.outcome = Outcome::kStopped;
        result.detail["failed_gate"] = it->value("gate", "");
        result.message = "gate " + it->value("gate", std::string("?")) + " failed at " + step.name +
                         " before the controller stopped; traffic stays on the old "
                         "servers";
        return result;
      }
      break;
    }
    // The gates start before the weights move, so a gate that cannot start (a bad probe) stops
    // the step with the traffic where it was.
    const auto gates_start = Clock::now();
    auto made_gates = TrafficGates(gates_start);
    if (!made_gates.ok()) return made_gates.status();
    GateWatch gates(std::move(*made_gates));
    auto share = SetShare(step.traffic_percent);
    if (!share.ok()) return share.status();
    result.detail["share"] = *share;
    Record(journal.AppendSample(
        run_id, "traffic", {{"step", step.name}, {"percent", *share}, {"event", "weights set"}}));
    nlohmann::json set_event = StepEvent(step, "weights set");
    set_event["traffic_percent"] = *share;
    Emit(set_event);

    const auto dwell_end = Clock::now() + plan.traffic->dwell;
    const auto hard_end = dwell_end + plan.traffic->dwell;  // too few samples: wait one more dwell
    PublishCadence cadence;
    SetLive(step, "dwell");
    while (true) {
      const auto now = Clock::now();
      std::vector<GateReading> readings = gates.Evaluate(now);
      const GateReading* failing = nullptr;
      bool all_passing = true;
      for (const GateReading& reading : readings) {
        if (reading.failing() && failing == nullptr) failing = &reading;
        all_passing = all_passing && reading.ok();
      }
      if (failing != nullptr) {
        // Abort first, journal after.
        const auto decided = Clock::now();
        engine::Status back = ShiftAllToOld();
        const double abort_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - decided).count();
        result.outcome = Outcome::kStopped;
        result.gates = ReadingsToJson(readings);
        result.detail["failed_gate"] = failing->ToJson();
        result.detail["abort_ms"] = abort_ms;
        result.message =
            "gate " + failing->name + " failed at " + step.name + ": " + failing->Describe() +
            (back.ok() ? "; traffic is back on the old servers"
                       : "; RETURNING TRAFFIC TO THE OLD SERVERS FAILED: " + back.message() +
                             " - set the weights by hand");
        Record(journal.AppendSample(run_id, "traffic",
                                    {{"step", step.name},
                                     {"percent", 0},
                                     {"event", "abort"},
                                     {"gate", failing->name},
                                     {"abort_ms", abort_ms}}));
        return result;
      }
      const double left_s = std::chrono::duration<double>(dwell_end - now).count();
      PublishReadings(step, record, readings, now, left_s, "dwell", {{"traffic_percent", *share}},
                      cadence);
      if (now >= dwell_end && all_passing) {
        result.gates = ReadingsToJson(readings);
        return result;
      }
      if (now >= hard_end) {
        // Not failing, but not enough samples to pass: the step cannot be proven healthy.
        const GateReading* short_of = nullptr;
        for (const GateReading& reading : readings) {
          if (!reading.ok()) short_of = &reading;
        }
        engine::Status back = ShiftAllToOld();
        result.outcome = Outcome::kStopped;
        result.gates = ReadingsToJson(readings);
        result.message = "gate " + (short_of ? short_of->name : std::string("?")) + " had " +
                         std::to_string(short_of ? short_of->samples : 0) + " of " +
                         std::to_string(short_of ? short_of->min_samples : 0) +
                         " samples after twice the dwell at " + step.name +
                         "; lower traffic.min_requests or send more traffic" +
                         (back.ok() ? "; traffic is back on the old servers"
                                    : "; RETURNING TRAFFIC FAILED: " + back.message());
        return result;
      }
      if (StopRequested()) return Interrupted(result);
      engine::Status tick = Tick();
      if (!tick.ok()) {
        (void)ShiftAllToOld();  // the error returned below says more
        return tick;
      }
    }
  }

  engine::Result<StepResult> Execute(const RunStep& step, StepRecord& record) {
    switch (step.kind) {
      case StepKind::kAssessment:
        return RunAssessment();
      case StepKind::kDnsTtl:
        return RunDnsTtl();
      case StepKind::kProvisioning:
        return RunProvisioning();
      case StepKind::kSync:
        return RunSync(step, record);
      case StepKind::kBaseline:
        return RunBaseline(step);
      case StepKind::kTraffic:
        return RunTraffic(step, record);
      case StepKind::kWrites:
        return RunWrites(step);
      case StepKind::kDnsSwitch:
        return RunDnsSwitch(step);
      case StepKind::kMonitor:
        return RunMonitor(step, record);
    }
    return engine::Internal("unknown step kind");
  }

  // Waits for `tandem approve` before `phase`. Returns false when stopped.
  engine::Result<bool> WaitForApproval(Phase phase) {
    const int number = static_cast<int>(phase);
    auto approved = journal.IsApproved(run_id, number);
    if (!approved.ok()) return approved.status();
    if (*approved) return true;
    Record(journal.SetRunState(run_id, RunState::kWaiting));
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      live.phase = number;
      live.phase_name = PhaseName(phase);
      live.state = "waiting";
    }
    Emit({{"phase", number},
          {"phase_name", PhaseName(phase)},
          {"state", "waiting"},
          {"message", std::string("waiting for `tandem approve ") + plan.path + "` before phase " +
                          PhaseName(phase)}});
    while (true) {
      if (StopRequested()) return false;
      auto now_approved = journal.IsApproved(run_id, number);
      if (!now_approved.ok()) return now_approved.status();
      if (*now_approved) break;
      engine::Status tick = Tick();
      if (!tick.ok()) return tick;
    }
    Record(journal.SetRunState(run_id, RunState::kRunning));
    Emit({{"phase", number}, {"phase_name", PhaseName(phase)}, {"state", "approved"}});
    return true;
  }

  engine::Status Preflight() {
    for (const DatastorePlan& datastore : plan.datastores) {
      for (const engine::ConnectionConfig* side : {&datastore.source, &datastore.target}) {
        auto opened = options.ports.open_database(*side);
        if (!opened.ok()) {
          return engine::Status(opened.status().code(),
                                "datastore " + datastore.name + ": " + opened.status().message());
        }
        // The privileges each side needs (what phase 1 would report as a blocker): refused here,
        // before any step, like a refused login.
        const bool source = side == &datastore.source;
        auto assessed = (*opened)->Assess(source ? engine::Role::kSource : engine::Role::kTarget);
        if (!assessed.ok()) {
          return engine::Status(assessed.status().code(),
                                "datastore " + datastore.name + ": " + assessed.status().message());
        }
        for (const engine::Finding& finding : assessed->blockers) {
          if (IsPrivilegeFinding(finding.code)) {
            return engine::PermissionDenied("datastore " + datastore.name + " (" +
                                            (source ? "source" : "target") +
                                            "): " + finding.message + "; " + finding.fix);
          }
        }
      }
    }
    if (plan.traffic) {
      const HaproxyRuntime& runtime = *haproxy;
      auto level = runtime.Execute("show cli level");
      if (!level.ok()) return level.status();
      if (level->find("admin") == std::string::npos) {
        return engine::PermissionDenied("the HAProxy runtime API at " + runtime.address() +
                                        " is at level " + *level +
                                        ", and tandem must set weights: declare the stats socket "
                                        "with `level admin` in haproxy.cfg");
      }
      auto stats = runtime.ShowStat(plan.traffic->backend);
      if (!stats.ok()) return stats.status();
      std::vector<std::string> named = plan.traffic->old_servers;
      named.insert(named.end(), plan.traffic->new_servers.begin(), plan.traffic->new_servers.end());
      for (const std::string& name : named) {
        const bool present =
            std::any_of(stats->begin(), stats->end(),
                        [&](const HaproxyServerStats& server) { return server.server == name; });
        if (!present) {
          return engine::NotFound("HAProxy backend " + plan.traffic->backend + " has no server " +
                                  name + "; name the servers of haproxy.cfg in traffic.old/new");
        }
      }
      // Weights set at run time must move the share of requests: `static-rr` accepts only 0% and
      // 100% at run time and `first` ignores weights, so neither can run the traffic steps.
      auto algorithm = runtime.BalanceAlgorithm(plan.traffic->backend);
      if (!algorithm.ok()) return algorithm.status();
      if (*algorithm == "static-rr" || *algorithm == "first") {
        return engine::FailedPrecondition(
            "HAProxy backend " + plan.traffic->backend + " balances with `" + *algorithm +
            "`, which cannot take the weights of the traffic steps at run time; use `balance "
            "roundrobin` (or leastconn or random) in haproxy.cfg");
      }
      // HAProxy 2.6 names `balance random` "unknown"; random honours weights.
      if (*algorithm != "roundrobin" && *algorithm != "leastconn" && *algorithm != "random" &&
          *algorithm != "unknown") {
        Emit({{"state", "warning"},
              {"message", "HAProxy backend " + plan.traffic->backend + " balances with `" +
                              *algorithm +
                              "`, a hash: the new servers' share follows the keys, not the "
                              "weights, so a step's share can differ from its percentage"}});
      }
      // The writer backends of the write cutover, with both of their servers.
      for (const DatastorePlan& datastore : plan.datastores) {
        if (!datastore.writer) continue;
        for (const std::string& server :
             {datastore.writer->old_server, datastore.writer->new_server}) {
          auto weight = runtime.GetWeight(datastore.writer->haproxy_backend, server);
          if (!weight.ok()) {
            return engine::Status(weight.status().code(),
                                  "datastore " + datastore.name +
                                      " writer: " + weight.status().message() +
                                      "; name the backend and servers of haproxy.cfg in writer");
          }
        }
      }
      for (const std::string& url : plan.traffic->probes) {
        engine::Status probed = ProbeOnce(url, milliseconds(2000));
        if (!probed.ok()) return probed;
      }
      if (plan.traffic->log) {
        engine::Status bindable = CheckUdpBindable(*plan.traffic->log);
        if (!bindable.ok()) return bindable;
      }
    }
    if (plan.dns) {
      // The primary answers for the zone (the update's key is proven by the step itself: a
      // refused key changes nothing).
      const DnsClient client(plan.dns->server, PlanTsigKey(*plan.dns));
      auto serial = client.SoaSerial(plan.dns->zone);
      if (!serial.ok()) {
        return engine::Status(serial.status().code(), "dns.server: " + serial.status().message());
      }
    }
    return engine::Status::Ok();
  }

  engine::Result<RunResult> RunLocked() {
    auto latest = journal.LatestRun();
    if (!latest.ok()) return latest.status();
    const bool unfinished = *latest && ((*latest)->state == RunState::kRunning ||
                                        (*latest)->state == RunState::kWaiting);
    if (options.rollback) {
      if (!*latest) {
        return engine::FailedPrecondition("nothing to roll back in " + journal.path() +
                                          ": the plan has not run");
      }
      run_id = (*latest)->id;
      if ((*latest)->state == RunState::kCompleted) {
        return engine::FailedPrecondition(
            "run #" + std::to_string(run_id) + " of plan " + plan.name +
            " completed (the migration is done): there is nothing to roll back; moving back is "
            "a new migration with source and target exchanged");
      }
      if ((*latest)->state == RunState::kRolledBack) {
        const std::string message =
            "run #" + std::to_string(run_id) + " was rolled back already: " + (*latest)->outcome;
        Emit({{"state", "rolled back"}, {"message", message}});
        return RunResult{RunVerdict::kRolledBack, message};
      }
      return RollBack("asked for with `tandem run --rollback`");
    }
    // A failed run is resumed too when it failed in phase 6 (the writes stay on the new side; its
    // window goes on) or while it was being rolled back (the rollback goes on).
    bool resumable = unfinished;
    if (*latest && (*latest)->state == RunState::kFailed) {
      auto rollback = journal.Samples((*latest)->id, kRollback);
      if (!rollback.ok()) return rollback.status();
      auto watched = journal.FindStep((*latest)->id, "monitor");
      if (!watched.ok()) return watched.status();
      resumable = !rollback->empty() || (*watched && (*watched)->state == StepState::kFailed);
    }
    if (options.resume) {
      if (!resumable) {
        return engine::FailedPrecondition(
            "nothing to resume in " + journal.path() +
            (*latest ? std::string(": the last run ended (") + RunStateName((*latest)->state) + ")"
                     : std::string(": no run yet")) +
            "; start a new run without --resume");
      }
      run_id = (*latest)->id;
      if ((*latest)->plan_digest != plan.digest) {
        Emit({{"state", "warning"},
              {"message", "the plan file changed since run #" + std::to_string(run_id) +
                              " started; done steps are not run again"}});
      }
    } else {
      if (resumable) {
        auto steps_so_far = journal.Steps((*latest)->id);
        std::string at = "its start";
        if (steps_so_far.ok() && !steps_so_far->empty()) {
          at = "step '" + steps_so_far->back().name + "' (" +
               StepStateName(steps_so_far->back().state) + ")";
        }
        return engine::FailedPrecondition("run #" + std::to_string((*latest)->id) + " of plan " +
                                          plan.name + " is unfinished at " + at + " in " +
                                          journal.path() + "; continue it with `tandem run " +
                                          plan.path + " --resume` (or undo it with --rollback)");
      }
    }
    // Preflight, touching nothing: after the lock and the run checks (a second controller is told
    // about the first, not about the log port the first one holds), before any step.
    if (engine::Status ready = Preflight(); !ready.ok()) {
      return engine::Status(ready.code(), "preflight: " + ready.message());
    }
    if (!options.resume) {
      auto begun = journal.BeginRun(plan.name, plan.digest);
      if (!begun.ok()) return begun.status();
      run_id = *begun;
    }
    if (options.resume) {
      auto rollback = journal.Samples(run_id, kRollback);
      if (!rollback.ok()) return rollback.status();
      if (!rollback->empty()) return RollBack("the run was being rolled back when it stopped");
    }
    Record(journal.SetRunState(run_id, RunState::kRunning));
    Emit({{"state", options.resume ? "resumed" : "started"}, {"run", run_id}});
    if (options.resume) {
      // The writes already moved: their reverse streams keep the old sides current again.
      auto done_steps = DoneWritesSteps();
      if (!done_steps.ok()) return done_steps.status();
      for (const RunStep* step : *done_steps) {
        EnsureLinks();
        DatastoreLink* reverse = reverse_links[LinkIndex(step->datastore)].get();
        if (engine::Status started = reverse->StartStream(); !started.ok()) return started;
      }
    }

    std::optional<Phase> approved_phase;
    for (const RunStep& step : steps) {
      if (RollbackRequested()) return Interrupt();
      auto existing = journal.FindStep(run_id, step.name);
      if (!existing.ok()) return existing.status();
      if (*existing && (*existing)->state == StepState::kDone) {
        Emit(StepEvent(step, "done before"));
        continue;
      }
      if (approved_phase != step.phase &&
          std::find(plan.approve.begin(), plan.approve.end(), step.phase) != plan.approve.end()) {
        auto approved = WaitForApproval(step.phase);
        if (!approved.ok()) return approved.status();
        if (!*approved) return Interrupt();
        approved_phase = step.phase;
      }
      auto record = journal.StartStep(run_id, static_cast<int>(step.phase), step.name,
                                      {{"action", step.action}});
      if (!record.ok()) return record.status();
      SetLive(step, "running");
      Emit(StepEvent(step, "started"));
      auto result = Execute(step, *record);
      if (!result.ok()) {
        // Could not measure or act: never leave traffic on the new servers unwatched.
        nlohmann::json detail = {{"error", result.status().message()}};
        if (plan.traffic && (step.phase == Phase::kTraffic ||
                             (step.phase == Phase::kCutover && !DnsMayPointAtNew()))) {
          engine::Status back = ShiftAllToOld();
          detail["traffic_back_on_old"] = back.ok();
        }
        Record(journal.FinishStep(record->id, StepState::kFailed, nlohmann::json::array(), detail));
        const std::string outcome =
            "step " + step.name + " could not run: " + result.status().message();
        Record(journal.FinishRun(run_id, RunState::kFailed, outcome));
        Emit({{"state", "failed"}, {"step", step.name}, {"message", outcome}});
        return RunResult{RunVerdict::kStopped, outcome};
      }
      if (result->outcome == Outcome::kInterrupted) {
        return Interrupt();  // the step stays started, with the last gate values it journaled
      }
      if (result->outcome == Outcome::kStopped && plan.traffic && step.phase == Phase::kCutover) {
        if (result->detail.value("switched", true)) {
          // DNS already points at the new side: sending the traffic back would split clients.
          result->message += "; DNS points at the new side, so traffic stays on the new servers";
        } else {
          // The cutover did not happen: the old side takes every request again (phase 4's steps
          // return the traffic themselves).
          engine::Status back = ShiftAllToOld();
          result->message += back.ok() ? "; traffic is back on the old servers"
                                       : "; RETURNING TRAFFIC FAILED: " + back.message();
          result->detail["traffic_back_on_old"] = back.ok();
        }
      }
      if (result->outcome == Outcome::kStopped) {
        // The failure must be on record: a resume of an unrecorded failure would run the step
        // again. (The abort sample, journaled first, already stops a resume from raising traffic.)
        if (engine::Status recorded =
                journal.FinishStep(record->id, StepState::kFailed, result->gates, result->detail);
            !recorded.ok()) {
          return recorded;
        }
        if (step.kind == StepKind::kDnsSwitch && !result->detail.value("switched", true) &&
            AnyWritesSwitched()) {
          // The DNS switch stopped before DNS changed (a TLS refusal, a record someone changed,
          // the budget) after the writes had moved: they go back to the old side with the
          // traffic, as a rollback does it (the run ends rolled back: exit 1).
          nlohmann::json event = StepEvent(step, "failed");
          event["message"] = result->message;
          Emit(event);
          return RollBack("the DNS switch stopped before DNS changed: " + result->message);
        }
        if (engine::Status recorded = journal.FinishRun(run_id, RunState::kFailed, result->message);
            !recorded.ok()) {
          return recorded;
        }
        nlohmann::json event = StepEvent(step, "failed");
        event["gates"] = result->gates;
        event["message"] = result->message;
        Emit(event);
        StopStreams();
        return RunResult{RunVerdict::kStopped, result->message};
      }
      if (engine::Status recorded =
              journal.FinishStep(record->id, StepState::kDone, result->gates, result->detail);
          !recorded.ok()) {
        return recorded;
      }
      nlohmann::json event = StepEvent(step, "done");
      event["gates"] = result->gates;
      Emit(event);
    }
    std::string outcome = "phases 1-" +
                          std::to_string(steps.empty() ? 0 : static_cast<int>(steps.back().phase)) +
                          " done";
    if (plan.traffic) {
      outcome +=
          "; traffic at " + std::to_string(plan.traffic->steps.back()) + "% on the new servers";
    }
    if (!plan.datastores.empty()) {
      outcome += "; the streams are stopped (run tandem sync to keep them going)";
    }
    if (!monitor_verdict.empty()) {
      outcome += "; " + monitor_verdict;
    } else if (plan.monitor.enabled) {
      // Done before a resume: the verdict is in the journal.
      auto watched = journal.FindStep(run_id, "monitor");
      if (watched.ok() && *watched && (*watched)->detail.contains("verdict")) {
        outcome += "; " + (*watched)->detail["verdict"].get<std::string>();
      }
    }
    if (!WriterDatastores(plan).empty() && !plan.monitor.enabled) {
      outcome += "; " + NotRunNote(plan);
    }
    if (plan.monitor.enabled) outcome += ReleaseReverseSlots();
    StopStreams();
    if (engine::Status recorded = journal.FinishRun(run_id, RunState::kCompleted, outcome);
        !recorded.ok()) {
      return recorded;
    }
    Emit({{"state", "completed"}, {"message", outcome}});
    return RunResult{RunVerdict::kCompleted, outcome};
  }

  engine::Result<RunResult> Interrupt() {
    if (rollback_requested) {
      return RollBack(rollback_reason.empty() ? "asked for with `tandem run --rollback`"
                                              : rollback_reason);
    }
    StopStreams();
    const std::string message = "stopped on request at a safe point; traffic stays at " +
                                std::to_string(live_traffic_percent()) +
                                "% on the new servers; continue with `tandem run " + plan.path +
                                " --resume`";
    Emit({{"state", "interrupted"}, {"message", message}});
    return RunResult{RunVerdict::kInterrupted, message};
  }
};

MigrationController::MigrationController(const Plan& plan, Journal& journal,
                                         ControllerOptions options)
    : impl_(std::make_unique<Impl>(plan, journal, std::move(options))) {}

MigrationController::~MigrationController() = default;

engine::Status MigrationController::Preflight() { return impl_->Preflight(); }

engine::Result<RunResult> MigrationController::Run() {
  engine::Status locked = impl_->journal.AcquireController();
  if (!locked.ok()) return locked;
  impl_->controller_thread = std::this_thread::get_id();
  impl_->last_renew = Clock::now();
  auto result = impl_->RunLocked();
  if (!result.ok() && impl_->plan.traffic && impl_->live_traffic_percent() > 0) {
    // Could not go on (journal, HAProxy, a server): never leave traffic on the new servers with
    // nobody watching the gates.
    (void)impl_->ShiftAllToOld();
  }
  impl_->StopStreams();
  if (impl_->traffic_monitor) impl_->traffic_monitor->Stop();
  impl_->journal.ReleaseController();
  return result;
}

LiveStatus MigrationController::live_status() const {
  std::lock_guard<std::mutex> lock(impl_->live_mutex);
  return impl_->live;
}

}  // namespace tandem::orchestration
