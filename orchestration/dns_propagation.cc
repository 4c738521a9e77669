#include "orchestration/dns_propagation.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "orchestration/dns_client.h"
#include "orchestration/duration.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;

// How often `stop` is asked while waiting between rounds.
constexpr std::chrono::milliseconds kStopCheckInterval{50};

engine::Status CheckOptions(const PropagationOptions& options) {
  if (options.resolvers.empty()) {
    return engine::InvalidArgument(
        "no DNS resolvers to watch; list at least one resolver (host:port) in the plan");
  }
  if (options.expected.empty()) {
    return engine::InvalidArgument(
        "no DNS records to watch for; list the records the resolvers must answer");
  }
  if (options.timeout.count() <= 0 || options.poll_interval.count() <= 0 ||
      options.query_timeout.count() <= 0) {
    return engine::InvalidArgument(
        "DNS propagation timeout, poll interval and query timeout must be positive");
  }
  for (const DnsExpectation& expectation : options.expected) {
    if (ldns_get_rr_type_by_name(expectation.type.c_str()) == 0) {
      return engine::InvalidArgument("DNS record type '" + expectation.type + "' of " +
                                     expectation.name +
                                     " is not one ldns knows; use A, AAAA or "
                                     "CNAME");
    }
    // SameDnsValue is false only for a value that does not parse.
    if (!SameDnsValue(expectation.type, expectation.value, expectation.value)) {
      return engine::InvalidArgument("expected value '" + expectation.value + "' of " +
                                     expectation.name + " " + expectation.type +
                                     " cannot be read as " + expectation.type + " data");
    }
  }
  return engine::Status::Ok();
}

std::string DescribeRecords(const DnsExpectation& expectation,
                            const std::vector<DnsRecord>& records) {
  std::string text = expectation.name + " " + expectation.type + " ";
  if (records.empty()) {
    return text + "nothing";
  }
  for (size_t i = 0; i < records.size(); ++i) {
    text += (i > 0 ? "," : "") + records[i].value;
  }
  return text;
}

// The resolvers done and when, for the timeout and cancel messages ("" when none is).
std::string DescribeDone(const std::vector<ResolverPropagation>& results) {
  std::string text;
  for (const ResolverPropagation& result : results) {
    if (result.done) {
      text += (text.empty() ? "; done: " : ", ") + result.resolver + " after " +
              FormatDuration(result.elapsed);
    }
  }
  return text;
}

// What a resolver not done still shows, for the timeout and cancel messages.
std::string DescribeLagging(const std::vector<ResolverPropagation>& results) {
  std::string text;
  for (const ResolverPropagation& result : results) {
    if (result.done) {
      continue;
    }
    text += text.empty() ? "" : "; ";
    if (!result.last_error.empty()) {
      text += result.resolver + " did not answer (" + result.last_error + ")";
    } else if (result.last_answer.empty()) {
      text += result.resolver + " was not asked yet";
    } else {
      text += result.resolver + " still answers " + result.last_answer;
    }
  }
  return text;
}

}  // namespace

engine::Result<std::vector<ResolverPropagation>> WatchPropagation(
    const PropagationOptions& options) {
  TANDEM_RETURN_IF_ERROR(CheckOptions(options));
  std::vector<ResolverPropagation> results(options.resolvers.size());
  for (size_t i = 0; i < results.size(); ++i) {
    results[i].resolver = options.resolvers[i];
  }
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  auto since_start = [start] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  };
  auto stopped = [&options] { return options.stop && options.stop(); };
  auto cancelled = [&] {
    return engine::Cancelled("DNS propagation watch stopped after " +
                             FormatDuration(since_start()) +
                             (std::all_of(results.begin(), results.end(),
                                          [](const ResolverPropagation& r) { return r.done; })
                                  ? std::string()
                                  : ": " + DescribeLagging(results) + DescribeDone(results)));
  };

  for (;;) {
    for (ResolverPropagation& result : results) {
      if (result.done) {
        continue;
      }
      if (Clock::now() >= deadline) {
        break;
      }
      bool all_match = true;
      bool out_of_time = false;
      std::string answer;
      std::string error;
      for (const DnsExpectation& expectation : options.expected) {
        // No exchange runs past the watch's deadline: each query gets at most the time left.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
          out_of_time = true;
          break;
        }
        const DnsClient client(result.resolver, std::nullopt,
                               std::min(options.query_timeout, left));
        // RD=1: a recursive resolver answers what its clients see (and refuses RD=0 queries from
        // other hosts); an authoritative server ignores the bit.
        engine::Result<std::vector<DnsRecord>> records =
            client.Query(expectation.name, expectation.type, /*recursion_desired=*/true);
        if (!records.ok()) {
          if (records.status().code() == engine::StatusCode::kInvalidArgument) {
            return records.status();  // a bad address or name never gets better
          }
          error = records.status().message();
          all_match = false;
          break;
        }
        answer += (answer.empty() ? "" : ", ") + DescribeRecords(expectation, *records);
        const bool match =
            records->size() == 1 &&
            SameDnsValue(expectation.type, records->front().value, expectation.value);
        all_match = all_match && match;
      }
      if (out_of_time) {
        break;  // a partial round says nothing: the resolver keeps its last full round's result
      }
      result.last_error = error;
      if (error.empty()) {
        result.last_answer = answer;
      }
      result.elapsed = since_start();
      result.done = all_match;
    }
    if (std::all_of(results.begin(), results.end(),
                    [](const ResolverPropagation& r) { return r.done; })) {
      return results;
    }
    if (Clock::now() >= deadline) {
      return engine::Timeout("DNS propagation timed out after " + FormatDuration(options.timeout) +
                             ": " + DescribeLagging(results) + DescribeDone(results) +
                             "; check that the resolvers get the zone (zone transfer, NOTIFY) or "
                             "raise propagation_timeout");
    }
    // Wait for the next round, asking `stop` as it goes.
    const auto next_round = std::min(Clock::now() + options.poll_interval, deadline);
    for (;;) {
      if (stopped()) {
        return cancelled();
      }
      const auto now = Clock::now();
      if (now >= next_round) {
        break;
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(kStopCheckInterval, next_round - now));
    }
  }
}

}  // namespace tandem::orchestration
