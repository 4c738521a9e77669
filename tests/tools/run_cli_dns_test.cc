// `tandem run PLAN` with a [dns] section against a real Knot DNS primary and secondary: phase 1
// lowers the records' TTLs in one signed update that requires the old values, journals when, and
// `tandem status` says when the DNS switch becomes safe; a record someone else changed stops the
// run without touching the zone; an unreachable DNS server is refused before anything runs.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/harness/free_port.h"
#include "tests/harness/knot_server.h"
#include "tests/tools/run_plan_support.h"

namespace tandem::testing {
namespace {

using std::chrono::seconds;

// The [dns] section for `knot`'s zone: www A and api CNAME from their old to their new values.
std::string DnsToml(const KnotServer& knot, const std::string& extra = "") {
  return "\n[dns]\nserver = \"" + knot.primary_address() + "\"\nzone = \"" + knot.zone() +
         "\"\ntsig = \"" + knot.key_algorithm() + ":" + knot.key_name() + ":" + knot.key_secret() +
         "\"\nttl = 60\nrecords = [\n  { name = \"www." + knot.zone() +
         "\", type = \"A\", old = \"192.0.2.10\", new = \"198.51.100.10\" },\n  { name = \"api." +
         knot.zone() + "\", type = \"CNAME\", old = \"old-lb." + knot.zone() +
         "\", new = \"new-lb." + knot.zone() + "\" },\n]\nresolvers = [\"" +
         knot.primary_address() + "\", \"" + knot.secondary_address() + "\"]\n" + extra;
}

std::string WebPlan(TrafficRig& rig, const std::string& dns) {
  return "name = \"web\"\n\n" + rig.TrafficToml({{"steps", "[100]"}, {"dwell", "\"2s\""}}) + dns;
}

KnotServerOptions ZoneWithHourLongTtls() {
  KnotServerOptions options;
  options.zone = "example.test.";
  options.api_target = "old-lb.example.test.";
  options.record_ttl = 3600;
  return options;
}

TEST(RunCliDns, PhaseOneLowersTheTtlsInOneUpdateAndStatusSaysWhenTheSwitchIsSafe) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ZoneWithHourLongTtls());
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  // The new address serves no TLS yet: a warning of phase 1, not a stop.
  const std::string tls = "tls = { host = \"www.example.test\", address = \"127.0.0.1:" +
                          std::to_string(PickFreePort()) + "\" }\n";
  const std::string plan = WritePlan(rig.dir(), "web.toml", WebPlan(rig, DnsToml(*knot, tls)));

  CommandOutcome dry = RunTandem({"run", plan, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("dns ttl"), std::string::npos) << dry.out;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before) << "the dry run changed DNS";

  CommandOutcome run = RunTandem({"run", plan, "--format", "json"}, {}, seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("the cutover would stop: "), std::string::npos) << run.out;

  // Both records in one update: the serial moved by exactly one; values kept, TTLs at 60 s.
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 1);
  const auto www = knot->Read(KnotServer::Role::kPrimary, "www", "A");
  ASSERT_EQ(www.size(), 1u);
  EXPECT_EQ(www[0].value, "192.0.2.10");
  EXPECT_EQ(www[0].ttl, 60u);
  const auto api = knot->Read(KnotServer::Role::kPrimary, "api", "CNAME");
  ASSERT_EQ(api.size(), 1u);
  EXPECT_EQ(api[0].value, "old-lb.example.test.");
  EXPECT_EQ(api[0].ttl, 60u);

  const nlohmann::json status = nlohmann::json::parse(StatusJson(plan));
  ASSERT_GE(status["steps"].size(), 2u) << status.dump();
  const nlohmann::json& step = status["steps"][1];
  EXPECT_EQ(step["name"], "dns ttl");
  EXPECT_EQ(step["state"], "done");
  EXPECT_EQ(step["detail"]["records"][0]["ttl_before"], 3600) << step.dump();
  EXPECT_TRUE(step["detail"]["switch_safe_at"].is_string()) << step.dump();
  EXPECT_GT(step["detail"]["switch_safe_in_s"].get<int64_t>(), 3500) << step.dump();
  EXPECT_EQ(status["steps"][0]["detail"]["tls"]["ok"], false) << status["steps"][0].dump();
  CommandOutcome text = RunTandem({"status", plan});
  EXPECT_NE(text.out.find("the DNS switch is safe from " +
                          step["detail"]["switch_safe_at"].get<std::string>()),
            std::string::npos)
      << text.out;

  // Both resolvers (the primary and the secondary fed by transfer) served the low TTL.
  for (const nlohmann::json& resolver : step["detail"]["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << resolver.dump();
  }

  // A second run finds the TTLs already low: the zone is not touched again, and the TTL the first
  // run lowered (from its journal) still decides when the switch is safe.
  CommandOutcome again = RunTandem({"run", plan, "--format", "json"}, {}, seconds(120));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 1);
  const nlohmann::json second = nlohmann::json::parse(StatusJson(plan));
  const nlohmann::json& second_step = second["steps"][1];
  EXPECT_EQ(second_step["detail"]["updated"], false) << second_step.dump();
  EXPECT_EQ(second_step["detail"]["records"][0]["ttl_before"], 3600) << second_step.dump();
  EXPECT_GT(second_step["detail"]["switch_safe_in_s"].get<int64_t>(), 3500) << second_step.dump();
}

TEST(RunCliDns, ARecordSomeoneElseChangedStopsTheRunAndTheZoneIsNotTouched) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ZoneWithHourLongTtls());
  knot->SetRecordOnPrimary("www", "A", 3600, "203.0.113.9");
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  const std::string before = rig.WeightsText();
  const std::string plan = WritePlan(rig.dir(), "web.toml", WebPlan(rig, DnsToml(*knot)));
  CommandOutcome run = RunTandem({"run", plan}, {}, seconds(60));
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_EQ(LineCount(run.err), 1) << run.err;
  EXPECT_NE(run.err.find("www.example.test. A holds 203.0.113.9"), std::string::npos) << run.err;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before);
  EXPECT_EQ(knot->Read(KnotServer::Role::kPrimary, "api", "CNAME").at(0).ttl, 3600u);
  EXPECT_EQ(rig.WeightsText(), before);
}

TEST(RunCliDns, AnUnreachableDnsServerIsRefusedBeforeAnythingRuns) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ZoneWithHourLongTtls());
  std::string dns = DnsToml(*knot);
  const std::string dead = "127.0.0.1:" + std::to_string(PickFreePort());
  dns.replace(dns.find(knot->primary_address()), knot->primary_address().size(), dead);
  const std::string plan = WritePlan(rig.dir(), "web.toml", WebPlan(rig, dns));
  CommandOutcome run = RunTandem({"run", plan}, {}, seconds(60));
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_EQ(LineCount(run.err), 1) << run.err;
  EXPECT_NE(run.err.find("dns.server"), std::string::npos) << run.err;
  EXPECT_FALSE(std::ifstream(rig.dir() + "/web.journal.db").good());
}

}  // namespace
}  // namespace tandem::testing
