// File: orchestration/dns_ttl_step.h
//
// Phase 1's DNS step, "dns ttl": the plan's records have their TTL lowered to dns.ttl as early as
// the run allows, so that at cutover (phase 5) every cache has forgotten the long-lived answers.
// The step records when the TTLs went down and when the switch becomes safe: the moment the
// longest TTL in force before the lowering has run out everywhere.
//
//   1. every record is read from the primary (dns.server): it must hold exactly the plan's `old`
//      value (or already its `new` value, which needs no TTL change); anything else stops the run
//      naming what the record holds;
//   2. the records whose TTL is above dns.ttl are lowered in ONE TSIG-signed update whose
//      prerequisites require the old values (DnsClient::ReplaceRecords), after the caller has
//      journaled the TTLs in force (`record_intent`), so a crash between the two cannot lose them;
//   3. the outcome: lowered_at and switch_safe_at (lowered_at + the longest TTL before).
// Re-running the step is safe: records already at dns.ttl are not touched, and an intent journaled
// by an earlier attempt keeps its TTLs and its time.
//
// Thread safety: a free function on the caller's thread.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/status.h"
#include "orchestration/dns_client.h"
#include "orchestration/plan.h"

namespace tandem::orchestration {

struct DnsTtlStepResult {
  // Empty when the step is done; otherwise why it stops the run (one line with the fix).
  std::string problem;
  // {"server", "ttl", "records": [{"name","type","value","ttl_before","state"}], "updated",
  //  "lowered_at", "switch_safe_at", "switch_safe_in_s"} (times ISO 8601 UTC).
  nlohmann::json detail = nlohmann::json::object();
};

// `earlier_intent`: what a previous attempt journaled through record_intent, if any.
// `record_intent`: journals {"at": unix seconds, "ttls": {"<name> <type>": ttl}} before the update.
// Errors: DnsClient's (unreachable server, refused update, ...) and record_intent's.
engine::Result<DnsTtlStepResult> LowerRecordTtls(
    const DnsPlan& dns, const DnsClient& client,
    const std::optional<nlohmann::json>& earlier_intent,
    const std::function<engine::Status(const nlohmann::json&)>& record_intent,
    std::chrono::system_clock::time_point now);

// The TSIG key of the plan's [dns] section.
TsigKey PlanTsigKey(const DnsPlan& dns);

}  // namespace tandem::orchestration
