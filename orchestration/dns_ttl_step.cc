#include "orchestration/dns_ttl_step.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "orchestration/utc_time.h"

namespace tandem::orchestration {
namespace {

// DNS names compare without regard to case or a trailing dot; addresses compare as written.
std::string Canonical(const std::string& type, std::string value) {
  if (type == "CNAME") {
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!value.empty() && value.back() != '.') value += '.';
  }
  return value;
}

std::string Key(const DnsRecordChange& record) { return record.name + " " + record.type; }

}  // namespace

TsigKey PlanTsigKey(const DnsPlan& dns) {
  TsigKey key;
  key.algorithm = dns.tsig_algorithm;
  key.name = dns.tsig_key_name;
  key.secret_base64 = dns.tsig_secret_base64;
  return key;
}

engine::Result<DnsTtlStepResult> LowerRecordTtls(
    const DnsPlan& dns, const DnsClient& client,
    const std::optional<nlohmann::json>& earlier_intent,
    const std::function<engine::Status(const nlohmann::json&)>& record_intent,
    std::chrono::system_clock::time_point now) {
  DnsTtlStepResult result;
  result.detail["server"] = dns.server;
  result.detail["ttl"] = dns.ttl;
  nlohmann::json records = nlohmann::json::array();
  std::vector<DnsRecordReplacement> lower;
  nlohmann::json ttls = nlohmann::json::object();
  int64_t longest_before = 0;
  for (const DnsRecordChange& record : dns.records) {
    auto held = client.Query(record.name, record.type);
    if (!held.ok()) return held.status();
    std::string values;
    for (const DnsRecord& one : *held) values += (values.empty() ? "" : ", ") + one.value;
    const bool single = held->size() == 1;
    const std::string value = single ? Canonical(record.type, held->front().value) : "";
    std::string state;
    if (single && value == Canonical(record.type, record.old_value)) {
      state = "old";
    } else if (single && value == Canonical(record.type, record.new_value)) {
      state = "new";
    } else {
      result.problem = Key(record) + " holds " + (held->empty() ? "nothing" : values) + " at " +
                       dns.server + ", neither the plan's old value " + record.old_value +
                       " nor its new value " + record.new_value +
                       "; correct dns.records in the plan or the record in the zone";
      return result;
    }
    int64_t ttl_before = held->front().ttl;
    // A crash after an earlier attempt's update: the TTL in force before it is the journaled one.
    if (earlier_intent && earlier_intent->contains("ttls") &&
        earlier_intent->at("ttls").contains(Key(record))) {
      ttl_before = std::max(ttl_before, earlier_intent->at("ttls").at(Key(record)).get<int64_t>());
    }
    records.push_back({{"name", record.name},
                       {"type", record.type},
                       {"value", held->front().value},
                       {"ttl_before", ttl_before},
                       {"state", state}});
    ttls[Key(record)] = ttl_before;
    if (state == "old") longest_before = std::max(longest_before, ttl_before);
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

  auto lowered_at = now;
  if (!lower.empty()) {
    const int64_t at_s =
        earlier_intent && earlier_intent->contains("at")
            ? earlier_intent->at("at").get<int64_t>()
            : std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (!earlier_intent) {
      engine::Status journaled = record_intent({{"at", at_s}, {"ttls", ttls}});
      if (!journaled.ok()) return journaled;
    }
    engine::Status updated = client.ReplaceRecords(dns.zone, lower);
    if (!updated.ok()) {
      if (updated.code() == engine::StatusCode::kFailedPrecondition) {
        // Someone changed a record between the read and the update: nothing was changed.
        result.problem = "lowering the TTLs at " + dns.server + ": " + updated.message();
        return result;
      }
      return updated;
    }
    // The clock starts when the lower TTL is served, i.e. now (a retried step started later).
    lowered_at = now;
  } else if (earlier_intent && earlier_intent->contains("at")) {
    // An earlier attempt lowered them and stopped before journaling its outcome.
    lowered_at = std::chrono::system_clock::time_point(
        std::chrono::seconds(earlier_intent->at("at").get<int64_t>()));
  }
  const auto safe_at = lowered_at + std::chrono::seconds(longest_before);
  result.detail["updated"] = !lower.empty();
  result.detail["lowered_at"] = FormatUtcTime(lowered_at);
  result.detail["switch_safe_at"] = FormatUtcTime(safe_at);
  result.detail["switch_safe_in_s"] =
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(safe_at - now).count());
  return result;
}

}  // namespace tandem::orchestration
