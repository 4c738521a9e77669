// File: orchestration/dns_propagation.h
//
// Watching a DNS change reach every resolver the plan lists: each resolver is asked for every
// expected record (a DnsClient query without TSIG, with RD set so a recursive resolver resolves)
// every `poll_interval` until it answers exactly the expected values, or `timeout` passes, or
// `stop` says so. The time each resolver took is measured from the watch's start to the first poll
// at which it answered all the expected values.
//
// A resolver that cannot be reached keeps being polled (its last error is reported) until the
// timeout: a secondary restarting during the watch is not a failure by itself.
//
// Thread safety: a free function; it runs on the caller's thread and returns within
// timeout + one exchange timeout.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tandem::orchestration {

// A record a resolver must answer: `name`/`type` holding exactly `value` (one-record RRset).
struct DnsExpectation {
  std::string name;  // fully qualified, trailing dot
  std::string type;  // "A", "AAAA", "CNAME"
  std::string value;
};

struct ResolverPropagation {
  std::string resolver;                  // "host:port" as given
  bool done = false;                     // answered every expectation
  std::chrono::milliseconds elapsed{0};  // watch start -> the poll that saw it done (or the end)
  std::string last_answer;               // e.g. "www.example.com. A 192.0.2.10" (what it held)
  std::string last_error;                // the last exchange's error, "" when it answered
};

struct PropagationOptions {
  std::vector<std::string> resolvers;  // "host:port"
  std::vector<DnsExpectation> expected;
  std::chrono::milliseconds timeout{1'800'000};
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds query_timeout{1000};
  std::function<bool()> stop;  // optional: polled between rounds; true ends the watch early
};

// One entry per resolver, in the order given. The watch is complete when every entry is done.
// Errors: kInvalidArgument for no resolvers or no expectations, or an unparsable address;
// kTimeout "DNS propagation timed out after <t>: <resolver> still answers <last_answer>" naming
// every resolver not done (the per-resolver entries are lost then, the message carries them);
// kCancelled when `stop` ended it.
engine::Result<std::vector<ResolverPropagation>> WatchPropagation(
    const PropagationOptions& options);

}  // namespace tandem::orchestration
