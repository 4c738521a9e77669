#include "orchestration/run_steps.h"

#include <sstream>

namespace tandem::orchestration {
namespace {

std::string TrafficGateText(const Plan& plan) {
  const TrafficPlan& traffic = *plan.traffic;
  std::ostringstream out;
  out << "for " << FormatDuration(traffic.dwell) << ", evaluated every 250 ms, with at least "
      << traffic.min_requests << " requests at the new servers: new's 5xx rate <= min(old's in the "
      << "same window, baseline's) + " << traffic.max_error_rate_increase
      << "; new's median and p95 response time <= baseline's x " << 1 + traffic.max_latency_increase
      << " + " << FormatDuration(traffic.latency_slack);
  if (!traffic.probes.empty()) {
    out << "; every probe answers 2xx";
  }
  for (const DatastorePlan& datastore : plan.datastores) {
    out << "; lag p99 of " << datastore.name << " < " << FormatDuration(datastore.max_lag)
        << " and a full verify of it consistent";
  }
  return out.str();
}

}  // namespace

namespace {

// "www.example.com. A, api.example.com. CNAME"; `with_change` adds " <old> -> <new>" to each.
std::string RecordList(const DnsPlan& dns, bool with_change) {
  std::string list;
  for (const DnsRecordChange& record : dns.records) {
    list += (list.empty() ? "" : ", ") + record.name + " " + record.type;
    if (with_change) list += " " + record.old_value + " -> " + record.new_value;
  }
  return list;
}

}  // namespace

std::vector<RunStep> ExpandPlan(const Plan& plan) {
  std::vector<RunStep> steps;
  const bool has_traffic = plan.traffic.has_value();

  RunStep assessment;
  assessment.phase = Phase::kAssessment;
  assessment.kind = StepKind::kAssessment;
  assessment.name = "assessment";
  assessment.action = "inspect every datastore pair (tandem inspect)";
  if (has_traffic) {
    assessment.action +=
        " and check that HAProxy backend " + plan.traffic->backend + " has every named server, up";
  }
  assessment.gate = "no blocker";
  assessment.inverse = "none needed: reads only";
  steps.push_back(assessment);

  if (plan.dns) {
    const DnsPlan& dns = *plan.dns;
    RunStep ttl;
    ttl.phase = Phase::kAssessment;
    ttl.kind = StepKind::kDnsTtl;
    ttl.name = "dns ttl";
    const std::string names = RecordList(dns, /*with_change=*/false);
    ttl.action = "lower the TTL of " + names + " to " + std::to_string(dns.ttl) + " s at " +
                 dns.server + " in one TSIG-signed update that requires the old values, and " +
                 "record when (the DNS switch is safe once the longest TTL before has run out)";
    ttl.gate = "every record holds exactly its old value (or already its new one)";
    ttl.inverse =
        "none needed: a lower TTL only makes caches ask more often (the TTLs before "
        "are in the journal)";
    steps.push_back(ttl);
  }

  if (!plan.datastores.empty()) {
    RunStep provisioning;
    provisioning.phase = Phase::kProvisioning;
    provisioning.kind = StepKind::kProvisioning;
    provisioning.name = "provisioning";
    provisioning.action =
        "compare every target's schema with its source's; measure round trip to each target";
    provisioning.gate = "no blocking difference";
    provisioning.inverse = "none needed: reads only";
    steps.push_back(provisioning);
  }

  for (const DatastorePlan& datastore : plan.datastores) {
    RunStep sync;
    sync.phase = Phase::kSync;
    sync.kind = StepKind::kSync;
    sync.name = "sync " + datastore.name;
    sync.datastore = &datastore;
    sync.action = "start streaming " + datastore.source_uri_redacted + " -> " +
                  datastore.target_uri_redacted +
                  " (tandem sync, supervised) and wait for the copy";
    sync.gate = "lag p99 < " + FormatDuration(datastore.max_lag) + " continuously for " +
                FormatDuration(datastore.lag_for) + ", then a full verify consistent";
    sync.inverse = "stop the stream (the target keeps what was copied; the checkpoint resumes it)";
    steps.push_back(sync);
  }

  if (has_traffic) {
    const TrafficPlan& traffic = *plan.traffic;
    RunStep baseline;
    baseline.phase = Phase::kTraffic;
    baseline.kind = StepKind::kBaseline;
    baseline.name = "baseline";
    baseline.action = "send every request of backend " + traffic.backend +
                      " to the old servers and measure their 5xx rate and response times for " +
                      FormatDuration(traffic.baseline);
    baseline.gate = "HAProxy answers; the old servers take requests";
    baseline.inverse = "none needed: traffic stays on the old servers";
    steps.push_back(baseline);
    for (int percent : traffic.steps) {
      RunStep step;
      step.phase = Phase::kTraffic;
      step.kind = StepKind::kTraffic;
      step.name = "traffic " + std::to_string(percent) + "%";
      step.traffic_percent = percent;
      step.action = "set server weights so the new servers receive " + std::to_string(percent) +
                    "% of requests, and read them back";
      step.gate = TrafficGateText(plan);
      step.inverse = "weights back to every request on the old servers (within a second)";
      steps.push_back(step);
    }
  }

  for (const DatastorePlan& datastore : plan.datastores) {
    if (!datastore.writer) continue;
    const WriterRoute& route = *datastore.writer;
    RunStep writes;
    writes.phase = Phase::kCutover;
    writes.kind = StepKind::kWrites;
    writes.name = "writes " + datastore.name;
    writes.datastore = &datastore;
    writes.action = "freeze writes on " + datastore.source_uri_redacted + ", take " +
                    route.old_server + " out of HAProxy backend " + route.haproxy_backend +
                    " (sessions shut down), drain the stream to the frozen position, verify, "
                    "start the reverse stream " +
                    datastore.name + ".reverse (new -> old), put " + route.new_server + " in";
    writes.gate =
        "the stream applies the frozen position within 30 s; a full verify consistent; the "
        "reverse stream live within 30 s";
    writes.inverse = "freeze the new side, drain the reverse stream into the old one, " +
                     route.old_server + " back in, " + route.new_server +
                     " out, the forward stream restarted";
    steps.push_back(writes);
  }

  // The DNS switch moves clients only after the writes moved.
  if (plan.dns) {
    const DnsPlan& dns = *plan.dns;
    RunStep dns_switch;
    dns_switch.phase = Phase::kCutover;
    dns_switch.kind = StepKind::kDnsSwitch;
    dns_switch.name = "dns switch";
    const std::string changes = RecordList(dns, /*with_change=*/true);
    dns_switch.action =
        (dns.tls_host ? "check TLS for " + *dns.tls_host + " at " + *dns.tls_address + ", then "
                      : "") +
        "wait until the old TTLs have run out at every resolver, change " + changes +
        " in one TSIG-signed update that requires the old values, and watch every resolver "
        "answer the new values";
    dns_switch.gate =
        std::string(dns.tls_host ? "the certificate is valid for the host name; " : "") +
        "undoing fits the rollback budget of " + FormatDuration(plan.rollback_budget) +
        " (TTL + propagation seen); every resolver answers the new values within " +
        FormatDuration(dns.propagation_timeout);
    dns_switch.inverse =
        "the records back to their old values in one compare-and-swap update, propagation "
        "watched";
    steps.push_back(dns_switch);
  }

  if (plan.monitor.enabled) {
    const MonitorPlan& monitor = plan.monitor;
    RunStep watch;
    watch.phase = Phase::kMonitor;
    watch.kind = StepKind::kMonitor;
    watch.name = "monitor";
    const std::string writers = WriterDatastores(plan);
    watch.action =
        "for " + FormatDuration(monitor.window) + ", keep " +
        (writers.empty() ? std::string("the streams")
                         : "the reverse streams (" + writers + ") and the other streams") +
        " running; watch " +
        (plan.traffic ? "the new servers' error rate and response times against the "
                        "baseline, "
                      : "") +
        "lag, and verify new against old every " + FormatDuration(monitor.verify_every);
    std::string traffic_gates;
    if (plan.traffic) {
      const TrafficPlan& traffic = *plan.traffic;
      std::ostringstream text;
      text << "evaluated every 250 ms: new's 5xx rate <= baseline's + "
           << traffic.max_error_rate_increase << "; new's median and p95 response time <= "
           << "baseline's x " << 1.0 + traffic.max_latency_increase << " + "
           << FormatDuration(traffic.latency_slack)
           << (traffic.probes.empty() ? "" : "; every probe answers 2xx") << "; ";
      traffic_gates = text.str();
    }
    watch.gate = traffic_gates +
                 "every stream's lag p99 under its max_lag; each periodic verify consistent. A "
                 "breach is recorded and shown" +
                 (monitor.rollback_on_breach ? " and rolls the migration back" : "") +
                 "; at the end, the verdict on decommissioning the old side";
    watch.inverse = "none needed: watches only";
    steps.push_back(watch);
  }
  return steps;
}

std::string WriterDatastores(const Plan& plan) {
  std::string names;
  for (const DatastorePlan& datastore : plan.datastores) {
    if (datastore.writer) names += (names.empty() ? "" : ", ") + datastore.name;
  }
  return names;
}

std::string NotRunNote(const Plan& plan) {
  if (plan.monitor.enabled) return "";
  const std::string writers = WriterDatastores(plan);
  if (!writers.empty()) {
    return "no [monitor] in the plan, so phase 6 does not run: the run ends after phase 5 with "
           "the streams stopped, the reverse streams (" +
           writers +
           ") included: start them again with `tandem sync --source <new> --target <old> "
           "--stream <datastore>.reverse --from-now` to keep the old side current";
  }
  return "no [monitor] in the plan, so phase 6 does not run: the run ends after its last step "
         "with the streams stopped";
}

std::string DescribeSteps(const Plan& plan, const std::vector<RunStep>& steps) {
  std::ostringstream out;
  out << "plan " << plan.name << " (" << plan.path << "), journal " << plan.journal_path << "\n";
  Phase current{};
  bool first = true;
  int number = 0;
  for (const RunStep& step : steps) {
    if (first || step.phase != current) {
      current = step.phase;
      first = false;
      out << "\nphase " << static_cast<int>(step.phase) << " - " << PhaseName(step.phase);
      for (Phase approved : plan.approve) {
        if (approved == step.phase) {
          out << " (waits for `tandem approve " << plan.path << "`)";
        }
      }
      out << "\n";
    }
    ++number;
    out << "  " << number << ". " << step.name << "\n"
        << "     action:  " << step.action << "\n"
        << "     gate:    " << step.gate << "\n"
        << "     inverse: " << step.inverse << "\n";
  }
  if (const std::string note = NotRunNote(plan); !note.empty()) out << "\n" << note << "\n";
  return out.str();
}

}  // namespace tandem::orchestration
