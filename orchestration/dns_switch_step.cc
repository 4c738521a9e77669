#include "orchestration/dns_switch_step.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <thread>

#include "orchestration/dns_propagation.h"
#include "orchestration/duration.h"
#include "orchestration/fault_hold.h"
#include "orchestration/tls_check.h"
#include "orchestration/utc_time.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::system_clock;
using SteadyClock = std::chrono::steady_clock;

// How often a wait for the safe moment looks at `stop`.
constexpr auto kStopPollEvery = std::chrono::milliseconds(200);

enum class Direction { kSwitch, kRevert };

std::string Key(const DnsRecordChange& record) { return record.name + " " + record.type; }

// ParseUtcTime of a JSON value; nullopt unless it is a string of that form.
std::optional<Clock::time_point> ParseUtcTime(const nlohmann::json& text) {
  if (!text.is_string()) return std::nullopt;
  return orchestration::ParseUtcTime(text.get<std::string>());
}

double Seconds(std::chrono::milliseconds duration) {
  return std::round(static_cast<double>(duration.count()) / 100.0) / 10.0;
}

bool Stopped(const DnsSwitchOptions& options) { return options.stop && options.stop(); }

// The value a record is taken from and the one it is taken to in `direction`.
const std::string& From(const DnsRecordChange& record, Direction direction) {
  return direction == Direction::kSwitch ? record.old_value : record.new_value;
}
const std::string& To(const DnsRecordChange& record, Direction direction) {
  return direction == Direction::kSwitch ? record.new_value : record.old_value;
}

// Step 1: the new side's certificate. Empty when it passes (or the plan has no TLS check);
// otherwise the problem.
std::string CheckNewSideTls(const DnsPlan& dns, DnsSwitchResult& result) {
  result.detail["tls"] = nullptr;
  if (!dns.tls_host || !dns.tls_address) return "";
  TlsCheckOptions check;
  check.host = *dns.tls_host;
  check.address = *dns.tls_address;
  check.ca_file = dns.tls_ca;
  engine::Result<TlsCheckResult> checked = CheckTls(check);
  if (!checked.ok()) return checked.status().message();
  result.detail["tls"] = {{"host", check.host},
                          {"address", check.address},
                          {"subject", checked->leaf.subject},
                          {"issuer", checked->leaf.issuer},
                          {"not_before", checked->leaf.not_before},
                          {"not_after", checked->leaf.not_after},
                          {"days_left", checked->leaf.days_left},
                          {"protocol", checked->protocol}};
  for (const std::string& warning : checked->warnings) result.warnings.push_back(warning);
  return "";
}

// What step 2 read: every record at its source value (`pending`), every one at its target value
// (`already`), or a problem.
struct RecordsRead {
  std::vector<DnsRecordReplacement> pending;
  bool all_at_target = false;
  std::string problem;
};

engine::Result<RecordsRead> ReadRecords(const DnsPlan& dns, const DnsClient& primary,
                                        Direction direction, DnsSwitchResult& result) {
  RecordsRead read;
  nlohmann::json records = nlohmann::json::array();
  std::vector<std::string> accounts;  // "<name> <type> holds <values> (<which>)"
  size_t at_source = 0, at_target = 0;
  for (const DnsRecordChange& record : dns.records) {
    auto held = primary.Query(record.name, record.type);
    if (!held.ok()) return held.status();
    const std::string& from = From(record, direction);
    const std::string& to = To(record, direction);
    std::string which;
    nlohmann::json entry = {{"name", record.name}, {"type", record.type},
                            {"from", from},        {"to", to},
                            {"ttl", dns.ttl},      {"state", "pending"}};
    if (HoldsExactly(*held, record.type, to)) {
      ++at_target;
      which =
          "the plan's " + std::string(direction == Direction::kSwitch ? "new" : "old") + " value";
      entry["ttl"] = held->front().ttl;
      entry["state"] = "already";
    } else if (HoldsExactly(*held, record.type, from)) {
      ++at_source;
      which =
          "the plan's " + std::string(direction == Direction::kSwitch ? "old" : "new") + " value";
      DnsRecordReplacement replacement;
      replacement.name = record.name;
      replacement.type = record.type;
      replacement.expected_value = held->front().value;
      replacement.new_value = to;
      replacement.new_ttl = static_cast<uint32_t>(dns.ttl);
      read.pending.push_back(std::move(replacement));
    } else {
      which = "neither the plan's old value " + record.old_value + " nor its new value " +
              record.new_value;
    }
    accounts.push_back(Key(record) + " holds " + HeldValues(*held) + " (" + which + ")");
    records.push_back(std::move(entry));
  }
  result.detail["records"] = records;
  if (at_target == dns.records.size()) {
    read.all_at_target = true;
    return read;
  }
  if (at_source == dns.records.size()) return read;
  std::string listed;
  for (const std::string& account : accounts) listed += (listed.empty() ? "" : "; ") + account;
  read.problem = "the DNS " + std::string(direction == Direction::kSwitch ? "switch" : "revert") +
                 " cannot start at " + dns.server + ": " + listed +
                 "; no update of tandem leaves the records so, someone changed them; the zone "
                 "was not touched: correct dns.records in the plan or the records in the zone";
  return read;
}

// Step 4: empty when undoing the switch fits the rollback budget; otherwise the problem.
std::string CheckRollbackBudget(const DnsPlan& dns, const DnsSwitchOptions& options,
                                std::chrono::milliseconds propagation, DnsSwitchResult& result) {
  const int64_t propagation_s = (propagation.count() + 999) / 1000;  // rounded up
  const int64_t other_s = (options.undo_before.count() + 999) / 1000;
  const int64_t undo_s = dns.ttl + propagation_s + other_s;
  result.detail["undo_estimate_s"] = undo_s;
  if (std::chrono::milliseconds(undo_s * 1000) <= options.rollback_budget) return "";
  const int64_t budget_s = options.rollback_budget.count() / 1000;
  const std::string fix = budget_s > propagation_s + other_s
                              ? "lower dns.ttl to at most " +
                                    std::to_string(budget_s - propagation_s - other_s) +
                                    " s (phase 1 lowers it) or raise rollback_budget"
                              : "the propagation alone exceeds it: raise rollback_budget";
  return "cannot undo the DNS switch within the rollback budget of " +
         FormatDuration(options.rollback_budget) + ": TTL " + std::to_string(dns.ttl) + " s + " +
         std::to_string(propagation_s) + " s of propagation" +
         (other_s > 0 ? " + " + std::to_string(other_s) + " s to undo the steps before it (" +
                            options.undo_before_what + ")"
                      : std::string()) +
         "; " + fix;
}

// Steps 3 and 4: finds the safe moment, checks the rollback budget, then waits for the moment.
// Empty when it has come; otherwise the problem.
engine::Result<std::string> WaitForSafeMoment(const DnsPlan& dns, const DnsClient& primary,
                                              const DnsStepJournal& ttl_journal,
                                              const DnsSwitchOptions& options,
                                              SteadyClock::time_point began,
                                              DnsSwitchResult& result) {
  const auto wait_began = SteadyClock::now();
  const std::function<bool()> stop = [&options] { return Stopped(options); };
  std::optional<Clock::time_point> safe_at;
  nlohmann::json lowering;
  while (true) {
    auto lowered = LowerRecordTtls(dns, primary, ttl_journal, stop);
    if (!lowered.ok()) return lowered.status();
    if (!lowered->problem.empty()) return lowered->problem;
    lowering = lowered->detail;
    if (Stopped(options)) return engine::Cancelled("the DNS switch was stopped before the update");
    safe_at = ParseUtcTime(lowering.value("switch_safe_at", nlohmann::json()));
    if (safe_at) break;
    if (SteadyClock::now() - began >= dns.propagation_timeout) {
      std::string still_long;
      for (const nlohmann::json& resolver : lowering.value("resolvers", nlohmann::json::array())) {
        if (resolver.value("done", false)) continue;
        still_long += (still_long.empty() ? "" : "; ") + resolver.value("resolver", "") +
                      " still serves " + resolver.value("answer", "");
      }
      return "no safe moment for the DNS switch within dns.propagation_timeout of " +
             FormatDuration(dns.propagation_timeout) + ": " + still_long +
             " (a TTL above dns.ttl " + std::to_string(dns.ttl) +
             " s); the zone was not touched: make the resolver transfer the zone from " +
             dns.server + " or raise dns.propagation_timeout, then resume";
    }
    std::this_thread::sleep_for(kStopPollEvery);
  }
  result.detail["switch_safe_at"] = FormatUtcTime(*safe_at);

  // Step 4 before the wait: the lowering's propagation (lowered_at to the first moment every
  // resolver served the low TTL, journaled by the run that saw it) is known now.
  std::chrono::milliseconds propagation(0);
  const std::optional<Clock::time_point> lowered_at =
      ParseUtcTime(lowering.value("lowered_at", nlohmann::json()));
  const std::optional<Clock::time_point> last_low =
      ParseUtcTime(lowering.value("resolvers_low_at", nlohmann::json()));
  if (lowered_at && last_low && *last_low > *lowered_at) {
    propagation = std::chrono::duration_cast<std::chrono::milliseconds>(*last_low - *lowered_at);
  }
  if (std::string problem = CheckRollbackBudget(dns, options, propagation, result);
      !problem.empty()) {
    return problem;
  }

  // FormatUtcTime drops the fraction of a second: the moment itself may lie up to a second later.
  const Clock::time_point wake_at = *safe_at + std::chrono::seconds(1);
  while (Clock::now() < wake_at) {
    if (Stopped(options)) {
      return engine::Cancelled("the DNS switch was stopped while waiting for its safe moment " +
                               FormatUtcTime(*safe_at));
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(kStopPollEvery, wake_at - Clock::now()));
  }
  result.detail["waited_s"] = Seconds(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - wait_began));
  return std::string();
}

// Step 5: the one compare-and-swap update. Empty when applied; otherwise the problem.
engine::Result<std::string> Update(const DnsPlan& dns, const DnsClient& primary,
                                   const std::vector<DnsRecordReplacement>& pending,
                                   Direction direction, const DnsStepJournal& journal,
                                   DnsSwitchResult& result) {
  auto before = primary.SoaSerial(dns.zone);
  if (!before.ok()) return before.status();
  result.detail["serial_before"] = *before;
  TANDEM_RETURN_IF_ERROR(
      journal.record_intent({{"at", UnixSeconds(Clock::now())}, {"serial", *before}}));
  if (direction == Direction::kSwitch) HoldAtFaultPoint("dns.updating");
  engine::Status updated = primary.ReplaceRecords(dns.zone, pending);
  if (!updated.ok()) {
    if (updated.code() == engine::StatusCode::kFailedPrecondition) {
      // A prerequisite failed: someone changed a record between the read and the update.
      return "the DNS " + std::string(direction == Direction::kSwitch ? "switch" : "revert") +
             " at " + dns.server + " was refused: " + updated.message() +
             "; correct dns.records in the plan or the records in the zone, then resume";
    }
    return updated;
  }
  const Clock::time_point applied = Clock::now();
  if (direction == Direction::kSwitch) HoldAtFaultPoint("dns.updated");
  result.detail["updated"] = true;
  result.detail["switched_at"] = FormatUtcTime(applied);
  for (nlohmann::json& record : result.detail["records"]) {
    if (record["state"] == "pending") record["state"] = "updated";
  }
  auto after = primary.SoaSerial(dns.zone);
  if (!after.ok()) return after.status();
  result.detail["serial_after"] = *after;
  TANDEM_RETURN_IF_ERROR(
      journal.record_applied({{"at", UnixSecondsUp(applied)}, {"serial", *after}}));
  return std::string();
}

// Step 6: the target values reach every resolver. Empty when they did; otherwise the problem.
engine::Result<std::string> WatchTargets(const DnsPlan& dns, Direction direction,
                                         const DnsSwitchOptions& options, DnsSwitchResult& result) {
  result.detail["resolvers"] = nlohmann::json::array();
  result.detail["propagation_s"] = 0.0;
  if (dns.resolvers.empty()) return std::string();
  PropagationOptions watch;
  watch.resolvers = dns.resolvers;
  for (const DnsRecordChange& record : dns.records) {
    watch.expected.push_back({record.name, record.type, To(record, direction)});
  }
  watch.timeout = dns.propagation_timeout;
  watch.poll_interval = options.poll_interval;
  watch.stop = options.stop;
  auto watched = WatchPropagation(watch);
  if (!watched.ok()) {
    if (watched.status().code() == engine::StatusCode::kTimeout) {
      return std::string(direction == Direction::kSwitch ? "the DNS switch is applied"
                                                         : "the DNS revert is applied") +
             " at " + dns.server + " but " + watched.status().message() +
             "; the records stay as they are: check the resolvers' zone transfers from " +
             dns.server + ", then resume (or roll back)";
    }
    return watched.status();
  }
  std::chrono::milliseconds longest(0);
  nlohmann::json resolvers = nlohmann::json::array();
  for (const ResolverPropagation& one : *watched) {
    resolvers.push_back({{"resolver", one.resolver},
                         {"done", one.done},
                         {"elapsed_ms", one.elapsed.count()},
                         {"answer", one.last_answer},
                         {"error", one.last_error}});
    longest = std::max(longest, one.elapsed);
  }
  result.detail["resolvers"] = resolvers;
  result.detail["propagation_s"] = Seconds(longest);
  return std::string();
}

engine::Result<DnsSwitchResult> Run(const DnsPlan& dns, const DnsClient& primary,
                                    const DnsStepJournal* ttl_journal,
                                    const DnsStepJournal& journal, Direction direction,
                                    const DnsSwitchOptions& options) {
  const auto began = SteadyClock::now();
  DnsSwitchResult result;
  result.detail = {{"server", dns.server},
                   {"direction", direction == Direction::kSwitch ? "switch" : "revert"},
                   {"tls", nullptr},
                   {"records", nlohmann::json::array()},
                   {"switch_safe_at", nullptr},
                   {"waited_s", 0.0},
                   {"undo_estimate_s", nullptr},
                   {"updated", false},
                   {"serial_before", nullptr},
                   {"serial_after", nullptr},
                   {"switched_at", nullptr},
                   {"resolvers", nlohmann::json::array()},
                   {"propagation_s", nullptr}};
  TANDEM_ASSIGN_OR_RETURN(RecordsRead read, ReadRecords(dns, primary, direction, result));
  if (!read.problem.empty()) {
    result.problem = read.problem;
    return result;
  }
  result.switched = read.all_at_target;
  if (!read.all_at_target) {
    if (direction == Direction::kSwitch) {
      // TLS before any DNS change; once the records are switched it no longer gates anything.
      result.problem = CheckNewSideTls(dns, result);
      if (!result.problem.empty()) return result;
      TANDEM_ASSIGN_OR_RETURN(
          result.problem, WaitForSafeMoment(dns, primary, *ttl_journal, options, began, result));
      if (!result.problem.empty()) return result;
    }
    if (Stopped(options)) {
      return engine::Cancelled("the DNS " +
                               std::string(direction == Direction::kSwitch ? "switch" : "revert") +
                               " was stopped before the update");
    }
    TANDEM_ASSIGN_OR_RETURN(result.problem,
                            Update(dns, primary, read.pending, direction, journal, result));
    if (!result.problem.empty()) return result;
    result.switched = true;
  }
  TANDEM_ASSIGN_OR_RETURN(result.problem, WatchTargets(dns, direction, options, result));
  return result;
}

}  // namespace

engine::Result<DnsSwitchResult> SwitchRecords(const DnsPlan& dns, const DnsClient& primary,
                                              const DnsStepJournal& ttl_journal,
                                              const DnsStepJournal& switch_journal,
                                              const DnsSwitchOptions& options) {
  return Run(dns, primary, &ttl_journal, switch_journal, Direction::kSwitch, options);
}

engine::Result<DnsSwitchResult> RevertRecords(const DnsPlan& dns, const DnsClient& primary,
                                              const DnsStepJournal& revert_journal,
                                              const DnsSwitchOptions& options) {
  return Run(dns, primary, nullptr, revert_journal, Direction::kRevert, options);
}

}  // namespace tandem::orchestration
