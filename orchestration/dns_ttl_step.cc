#include "orchestration/dns_ttl_step.h"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "orchestration/utc_time.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::system_clock;

// How long phase 1 waits for the resolvers to serve the low TTL before leaving the question to the
// cutover.
constexpr auto kResolverPollCap = std::chrono::seconds(30);
constexpr auto kResolverPollEvery = std::chrono::milliseconds(200);

std::string Key(const DnsRecordChange& record) { return record.name + " " + record.type; }

// The longest TTL each record had before any lowering: the live one and every journaled intent's.
std::map<std::string, int64_t> TtlsBefore(const DnsStepJournal& journal) {
  std::map<std::string, int64_t> ttls;
  for (const nlohmann::json& intent : journal.intents) {
    if (!intent.is_object() || !intent.contains("ttls") || !intent.at("ttls").is_object()) continue;
    for (const auto& [key, ttl] : intent.at("ttls").items()) {
      if (ttl.is_number_integer()) ttls[key] = std::max(ttls[key], ttl.get<int64_t>());
    }
  }
  return ttls;
}

std::optional<int64_t> At(const nlohmann::json& sample) {
  if (!sample.is_object() || !sample.contains("at") || !sample.at("at").is_number_integer()) {
    return std::nullopt;
  }
  return sample.at("at").get<int64_t>();
}

struct ResolverWatch {
  std::string resolver;
  bool done = false;
  Clock::time_point done_at{};
  std::string answer;  // what it served last, "www.example.com. A 192.0.2.10 ttl 3600"
};

// Polls every resolver until each serves every one of `records` with a TTL of at most dns.ttl, or
// the cap, or `stop`.
std::vector<ResolverWatch> WatchLowTtls(const DnsPlan& dns,
                                        const std::vector<DnsRecordChange>& records,
                                        const std::function<bool()>& stop) {
  std::vector<ResolverWatch> watches;
  for (const std::string& resolver : dns.resolvers) watches.push_back({resolver});
  const auto cap = std::min<std::chrono::milliseconds>(dns.propagation_timeout, kResolverPollCap);
  const auto deadline = std::chrono::steady_clock::now() + cap;
  while (true) {
    bool all_done = true;
    for (ResolverWatch& watch : watches) {
      if (watch.done) continue;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const DnsClient client(
          watch.resolver, std::nullopt,
          std::clamp(left, std::chrono::milliseconds(50), std::chrono::milliseconds(1000)));
      bool low = true;
      std::string answer;
      for (const DnsRecordChange& record : records) {
        auto held = client.Query(record.name, record.type, /*recursion_desired=*/true);
        if (!held.ok()) {
          low = false;
          answer = held.status().message();
          break;
        }
        for (const DnsRecord& one : *held) {
          answer += (answer.empty() ? "" : "; ") + one.name + " " + one.type + " " + one.value +
                    " ttl " + std::to_string(one.ttl);
          if (static_cast<int64_t>(one.ttl) > dns.ttl) low = false;
        }
      }
      watch.answer = answer;
      if (low) {
        watch.done = true;
        watch.done_at = Clock::now();
      }
      all_done = all_done && watch.done;
    }
    if (all_done || std::chrono::steady_clock::now() >= deadline || (stop && stop())) {
      return watches;
    }
    std::this_thread::sleep_for(kResolverPollEvery);
  }
}

}  // namespace

TsigKey PlanTsigKey(const DnsPlan& dns) {
  TsigKey key;
  key.algorithm = dns.tsig_algorithm;
  key.name = dns.tsig_key_name;
  key.secret_base64 = dns.tsig_secret_base64;
  return key;
}

engine::Result<DnsTtlStepResult> LowerRecordTtls(const DnsPlan& dns, const DnsClient& primary,
                                                 const DnsStepJournal& journal,
                                                 const std::function<bool()>& stop) {
  DnsTtlStepResult result;
  result.detail["server"] = dns.server;
  result.detail["ttl"] = dns.ttl;
  const std::map<std::string, int64_t> journaled = TtlsBefore(journal);
  nlohmann::json records = nlohmann::json::array();
  std::vector<DnsRecordReplacement> lower;
  std::vector<DnsRecordChange> watched;  // the records still at their old value
  nlohmann::json ttls = nlohmann::json::object();
  int64_t longest_before = 0;
  for (const DnsRecordChange& record : dns.records) {
    auto held = primary.Query(record.name, record.type);
    if (!held.ok()) return held.status();
    std::string state;
    if (HoldsExactly(*held, record.type, record.old_value)) {
      state = "old";
    } else if (HoldsExactly(*held, record.type, record.new_value)) {
      state = "new";
    } else {
      result.problem = Key(record) + " holds " + HeldValues(*held) + " at " + dns.server +
                       ", neither the plan's old value " + record.old_value +
                       " nor its new value " + record.new_value +
                       "; correct dns.records in the plan or the record in the zone";
      return result;
    }
    int64_t ttl_before = held->front().ttl;
    if (auto earlier = journaled.find(Key(record)); earlier != journaled.end()) {
      ttl_before = std::max(ttl_before, earlier->second);
    }
    records.push_back({{"name", record.name},
                       {"type", record.type},
                       {"value", held->front().value},
                       {"ttl_before", ttl_before},
                       {"state", state}});
    ttls[Key(record)] = ttl_before;
    if (state == "old") {
      longest_before = std::max(longest_before, ttl_before);
      watched.push_back(record);
    }
    if (state == "old" && static_cast<int64_t>(held->front().ttl) > dns.ttl) {
      DnsRecordReplacement replacement;
      replacement.name = record.name;
      replacement.type = record.type;
      replacement.expected_value = held->front().value;
      replacement.new_value = held->front().value;
      replacement.new_ttl = static_cast<uint32_t>(dns.ttl);
      lower.push_back(std::move(replacement));
    }
  }
  result.detail["records"] = records;

  // When the low TTLs were first served by the primary (an upper bound when unknown).
  Clock::time_point lowered_at = Clock::now();
  if (!lower.empty()) {
    engine::Status journaled_intent =
        journal.record_intent({{"at", UnixSeconds(Clock::now())}, {"ttls", ttls}});
    if (!journaled_intent.ok()) return journaled_intent;
    engine::Status updated = primary.ReplaceRecords(dns.zone, lower);
    if (!updated.ok()) {
      if (updated.code() == engine::StatusCode::kFailedPrecondition) {
        // Someone changed a record between the read and the update: nothing was changed.
        result.problem = "lowering the TTLs at " + dns.server + ": " + updated.message();
        return result;
      }
      return updated;
    }
    const int64_t applied_at = UnixSecondsUp(Clock::now());
    engine::Status journaled_applied = journal.record_applied({{"at", applied_at}});
    if (!journaled_applied.ok()) return journaled_applied;
    lowered_at = FromUnixSeconds(applied_at);
  } else {
    // Nothing to lower now. The last intent's outcome is known when an applied time follows it.
    std::optional<int64_t> last_intent, last_applied;
    for (const nlohmann::json& intent : journal.intents) last_intent = At(intent);
    for (const nlohmann::json& applied : journal.applied) last_applied = At(applied);
    if (last_applied && (!last_intent || *last_applied >= *last_intent)) {
      lowered_at = FromUnixSeconds(*last_applied);
    }
  }
  result.detail["updated"] = !lower.empty();
  result.detail["lowered_at"] = FormatUtcTime(lowered_at);

  // The resolvers: a secondary that has not transferred the change still hands out the long TTL.
  Clock::time_point last_low = lowered_at;
  std::string still_long;
  nlohmann::json resolvers = nlohmann::json::array();
  for (const ResolverWatch& watch : WatchLowTtls(dns, watched, stop)) {
    resolvers.push_back({{"resolver", watch.resolver},
                         {"done", watch.done},
                         {"at", watch.done ? nlohmann::json(FormatUtcTime(watch.done_at))
                                           : nlohmann::json(nullptr)},
                         {"answer", watch.answer}});
    if (watch.done) {
      last_low = std::max(last_low, watch.done_at);
    } else if (still_long.empty()) {
      still_long = watch.resolver + " still answers " + watch.answer;
    }
  }
  result.detail["resolvers"] = resolvers;
  if (!still_long.empty()) {
    result.detail["switch_safe_at"] = nullptr;
    result.detail["switch_safe_in_s"] = nullptr;
    result.warning = "DNS TTLs lowered at " + dns.server + ", but " + still_long +
                     "; the cutover waits until every resolver serves at most " +
                     std::to_string(dns.ttl) + " s and the TTL before has run out";
    result.detail["note"] = result.warning;
    return result;
  }
  // Every resolver serves the low TTL. The first moment an attempt saw that since the TTLs were
  // lowered decides, not this poll's: a resumed run days after phase 1 must not wait again.
  const int64_t lowered_s = UnixSeconds(lowered_at);
  std::optional<int64_t> seen_low;
  for (const nlohmann::json& applied : journal.applied) {
    if (!applied.is_object() || !applied.contains("resolvers_low_at") ||
        !applied.at("resolvers_low_at").is_number_integer()) {
      continue;
    }
    const int64_t at = applied.at("resolvers_low_at").get<int64_t>();
    if (at >= lowered_s && (!seen_low || at < *seen_low)) seen_low = at;
  }
  if (seen_low) {
    last_low = FromUnixSeconds(*seen_low);
  } else if (!watched.empty()) {
    const int64_t low_at = UnixSecondsUp(last_low);
    engine::Status journaled_low =
        journal.record_applied({{"at", lowered_s}, {"resolvers_low_at", low_at}});
    if (!journaled_low.ok()) return journaled_low;
    last_low = FromUnixSeconds(low_at);
  }
  result.detail["resolvers_low_at"] = FormatUtcTime(last_low);
  const auto safe_at = last_low + std::chrono::seconds(longest_before);
  result.detail["switch_safe_at"] = FormatUtcTime(safe_at);
  result.detail["switch_safe_in_s"] = std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::seconds>(safe_at - Clock::now()).count());
  return result;
}

}  // namespace tandem::orchestration
