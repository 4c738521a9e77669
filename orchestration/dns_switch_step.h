// File: orchestration/dns_switch_step.h
//
// Phase 5's DNS step, "dns switch", and its inverse, "dns revert" (run by a rollback).
//
// SwitchRecords, in order; any stop before 5 leaves the zone untouched:
//   1. TLS (when the plan has dns.tls): CheckTls(dns.tls_host, dns.tls_address, dns.tls_ca). A
//      refusal (wrong host name, expired or not yet valid, a chain that does not verify, no
//      handshake) stops the step with CheckTls's message; warnings (expiring soon) go to
//      `warnings`. Checked after step 2, only while an update is still to be sent: once the records
//      are switched, a TLS problem no longer gates anything the step does.
//   2. The records are read from the primary (signed queries). All already holding their `new`
//      value: the switch was applied by an earlier attempt (a crash after the update); go to 6.
//      Any record holding neither its `old` nor its `new` value (or a mix: some old, some new,
//      which no update of ours produces): stop, naming what each holds; the zone is not touched.
//   3. The safe moment: LowerRecordTtls (dns_ttl_step.h) is run again with `ttl_journal` — it
//      changes nothing when phase 1 lowered the TTLs, polls the resolvers and gives
//      switch_safe_at. While it is unknown (a resolver still serves a TTL above dns.ttl) it is
//      asked again, until dns.propagation_timeout has passed since this attempt began: then the
//      step stops naming the resolver and the TTL it serves. Then the step sleeps until
//      switch_safe_at (waking every 200 ms for `stop`).
//   4. The rollback budget (checked as soon as step 3 knows the safe moment, before its sleep):
//      undoing the switch takes dns.ttl (what caches may hold after it) plus
//      the propagation time the TTL lowering showed (lowered_at to the last resolver's low-TTL
//      answer; 0 when unknown), plus `undo_before` (a rollback undoes the write cutovers too).
//      When that exceeds `rollback_budget` the step stops before the
//      update: "cannot undo the DNS switch within the rollback budget of 5m: TTL 600 s + 12 s of
//      propagation; lower dns.ttl to at most 288 s (phase 1 lowers it) or raise rollback_budget".
//   5. ONE update (DnsClient::ReplaceRecords) changes every record from `old` to `new` with TTL
//      dns.ttl; its prerequisites require the old values, so a record someone changed meanwhile
//      makes the server refuse it and the step stops with the server's account of what the record
//      holds, the zone untouched. An intent {"at", "serial": SOA serial before} is journaled before
//      the update, {"at", "serial": after} once it succeeded.
//   6. Propagation: WatchPropagation over dns.resolvers expecting the new values, timeout
//      dns.propagation_timeout. A timeout stops the step naming every resolver still answering
//      the old value (the records stay switched: undoing is the rollback's decision).
//
// RevertRecords, the inverse: the same with `new` and `old` exchanged (records holding `old`
// already: nothing to update; holding `new`: one compare-and-swap update back to `old`, journaled
// in `revert_journal`), then propagation of the old values. It skips steps 1, 3 and 4: a rollback
// never waits for TLS or a safe moment (the TTL in force is already dns.ttl).
//
// Both are idempotent: re-running after a crash at any point finishes the work without a second
// update (the records already hold the target values) and never overwrites a record someone else
// changed.
//
// Thread safety: free functions on the caller's thread.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/status.h"
#include "orchestration/dns_client.h"
#include "orchestration/dns_ttl_step.h"
#include "orchestration/plan.h"

namespace tandem::orchestration {

struct DnsSwitchResult {
  // Empty when the step is done; otherwise why it stops the run (one line with the fix).
  std::string problem;
  // {"server", "direction": "switch"|"revert",
  //  "tls": {"host","address","subject","issuer","not_before","not_after","days_left",
  //          "protocol"} or null,
  //  "records": [{"name","type","from","to","ttl","state": "updated"|"already"}],
  //  "switch_safe_at" (ISO 8601 UTC or null), "waited_s" (time spent waiting for it),
  //  "undo_estimate_s", "updated" (bool: this attempt sent the update),
  //  "serial_before", "serial_after" (null when no update was sent), "switched_at" (ISO, null
  //  when not switched by this attempt),
  //  "resolvers": [{"resolver","done","elapsed_ms","answer","error"}], "propagation_s"}.
  nlohmann::json detail = nlohmann::json::object();
  std::vector<std::string> warnings;  // e.g. the certificate expires in 9 days
  // The records hold the direction's target values (this attempt's update, or an earlier one's):
  // false when the step stopped before changing the zone. A caller undoing a stopped step must not
  // send traffic one way while DNS points the other.
  bool switched = false;
};

struct DnsSwitchOptions {
  std::chrono::milliseconds rollback_budget{300'000};
  // What a rollback must undo besides the switch (the write cutovers before it: their reverse
  // streams' lag), counted into the budget check, and those steps in words for its message.
  std::chrono::milliseconds undo_before{0};
  std::string undo_before_what;
  std::chrono::milliseconds poll_interval{200};  // resolvers during propagation
  std::function<bool()> stop;                    // optional; true ends waits early (kCancelled)
};

// See the file comment. Errors: kCancelled when `stop` ended a wait; DnsClient's errors for the
// primary (unreachable, refused update, unsigned answer); the journal's. A TLS refusal, a record
// holding an unexpected value, the budget and a propagation timeout are `problem`s, not errors.
engine::Result<DnsSwitchResult> SwitchRecords(const DnsPlan& dns, const DnsClient& primary,
                                              const DnsStepJournal& ttl_journal,
                                              const DnsStepJournal& switch_journal,
                                              const DnsSwitchOptions& options);

engine::Result<DnsSwitchResult> RevertRecords(const DnsPlan& dns, const DnsClient& primary,
                                              const DnsStepJournal& revert_journal,
                                              const DnsSwitchOptions& options);

}  // namespace tandem::orchestration
