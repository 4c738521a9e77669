// File: orchestration/dns_ttl_step.h
//
// Phase 1's DNS step, "dns ttl": the plan's records have their TTL lowered to dns.ttl as early as
// the run allows, so that at cutover (phase 5) every cache has forgotten the long-lived answers.
// The step records when the TTLs went down and when the switch becomes safe.
//
//   1. every record is read from the primary (dns.server, queries signed with the plan's key): it
//      must hold exactly the plan's `old` value (or already its `new` value, which needs no TTL
//      change); anything else stops the run naming what the record holds;
//   2. the records whose TTL is above dns.ttl are lowered in ONE TSIG-signed update whose
//      prerequisites require the old values (DnsClient::ReplaceRecords). Before each attempt the
//      TTLs in force are journaled (an "intent": at, ttls), after a success the time it was
//      applied (rounded up to the second), so a crash at any point loses neither;
//   3. every resolver of dns.resolvers is polled (RD set) until it answers every record with a TTL
//      of at most dns.ttl, for at most min(propagation_timeout, 30 s);
//   4. switch_safe_at = (the moment the last resolver answered the low TTL, and no earlier than
//      when the update was applied) + the longest TTL in force before the lowering, taken over
//      every intent any run journaled. When the update's outcome is unknown (an intent without an
//      applied time: a crash or a lost answer) the moment is "now", an upper bound. When a
//      resolver still serves a longer TTL at the end of the poll, switch_safe_at is null and the
//      detail says which resolver serves what: the cutover checks again before switching.
//      The first moment every resolver served the low TTL is journaled (an applied sample with
//      "resolvers_low_at"); a later run (phase 5's check, a resume days later) uses the earliest
//      such moment at or after the lowering rather than its own poll's, so it does not wait the
//      old TTL out again.
// Re-running the step is safe: records already at dns.ttl are not updated again.
//
// Thread safety: a free function on the caller's thread.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/status.h"
#include "orchestration/dns_client.h"
#include "orchestration/plan.h"

namespace tandem::orchestration {

struct DnsTtlStepResult {
  // Empty when the step is done; otherwise why it stops the run (one line with the fix).
  std::string problem;
  // {"server", "ttl", "records": [{"name","type","value","ttl_before","state"}], "updated",
  //  "lowered_at", "resolvers": [{"resolver","done","at","answer"}], "resolvers_low_at" (the first
  //  moment every resolver served the low TTL; absent when unknown), "switch_safe_at" (null when
  //  unknown), "switch_safe_in_s", "note"} (times ISO 8601 UTC).
  nlohmann::json detail = nlohmann::json::object();
  // A line for the operator when switch_safe_at is unknown; empty otherwise.
  std::string warning;
};

// What earlier attempts of a DNS step (of any run of the plan) journaled, and how to journal this
// one's: an intent before every update attempt, an applied sample after each success.
// "dns ttl": intents {"at": unix s, "ttls": {"<name> <type>": ttl}}, applied {"at": unix s} and
// {"at": unix s of the lowering, "resolvers_low_at": unix s}.
// "dns switch" / "dns revert" (dns_switch_step.h): intents {"at", "serial"}, applied {"at",
// "serial"}.
struct DnsStepJournal {
  std::vector<nlohmann::json> intents;
  std::vector<nlohmann::json> applied;
  std::function<engine::Status(const nlohmann::json&)> record_intent;
  std::function<engine::Status(const nlohmann::json&)> record_applied;
};

// `stop`: polled while the resolvers are watched; true ends the watch early (the safe time is
// then unknown, as for a resolver that never served the low TTL).
// Errors: DnsClient's (unreachable server, refused update, unsigned answer, ...) and the
// journal's.
engine::Result<DnsTtlStepResult> LowerRecordTtls(const DnsPlan& dns, const DnsClient& primary,
                                                 const DnsStepJournal& journal,
                                                 const std::function<bool()>& stop);

// The TSIG key of the plan's [dns] section.
TsigKey PlanTsigKey(const DnsPlan& dns);

}  // namespace tandem::orchestration
