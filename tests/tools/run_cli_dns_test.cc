// `tandem run PLAN` with a [dns] section against a real Knot DNS primary and secondary and a real
// TLS listener (`openssl s_server` with certificates of a test CA):
//   - phase 1 lowers the records' TTLs in one signed update that requires the old values, journals
//     when, and `tandem status` says when the DNS switch becomes safe;
//   - phase 5 checks TLS, waits until the old TTL has run out at every resolver, switches A and
//     CNAME in one update (the SOA serial moves by exactly one) and watches both resolvers;
//   - a certificate for another host, an expired one or one of an unknown CA stops the cutover
//     before DNS changes, with the traffic back on the old servers;
//   - a record someone else changed stops the run without touching the zone; an unreachable DNS
//     server is refused before anything runs;
//   - --rollback in phase 6 (handed to the controller) and after kill -9 during the propagation
//     wait switches both records back in one update and sends the traffic back.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "orchestration/utc_time.h"
#include "tests/harness/free_port.h"
#include "tests/harness/knot_server.h"
#include "tests/harness/tls_certificates.h"
#include "tests/harness/tls_listener.h"
#include "tests/harness/wait.h"
#include "tests/tools/dns_plan.h"
#include "tests/tools/run_plan_support.h"

namespace tandem::testing {
namespace {

using orchestration::ParseUtcTime;

using std::chrono::seconds;

std::string WebPlan(TrafficRig& rig, const std::string& dns) {
  return "name = \"web\"\n\n" + rig.TrafficToml({{"steps", "[100]"}, {"dwell", "\"2s\""}}) + dns;
}

const nlohmann::json& StepNamed(const nlohmann::json& status, const std::string& name) {
  for (const nlohmann::json& step : status["steps"]) {
    if (step["name"] == name) return step;
  }
  throw std::runtime_error("no step " + name + " in " + status.dump());
}

TEST(RunCliDns, PhaseOneLowersTheTtlsAndStatusSaysWhenTheSwitchIsSafe) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ExampleZone(3600));
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  // The cutover waits for an approval that never comes: the run is interrupted there.
  const std::string plan =
      WritePlan(rig.dir(), "web.toml", "approve = [\"cutover\"]\n" + WebPlan(rig, DnsToml(*knot)));

  CommandOutcome dry = RunTandem({"run", plan, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("dns ttl"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("dns switch"), std::string::npos) << dry.out;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before) << "the dry run changed DNS";

  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
  ASSERT_TRUE(PollUntil(seconds(120), [&] {
    const std::string status = StatusJson(plan);
    return status.find("\"waiting\"") != std::string::npos || !run.Running();
  })) << run.Log();
  run.Interrupt();
  ASSERT_TRUE(run.WaitForExit(seconds(30)).has_value()) << run.Log();

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
  const nlohmann::json& step = StepNamed(status, "dns ttl");
  EXPECT_EQ(step["state"], "done");
  EXPECT_EQ(step["detail"]["records"][0]["ttl_before"], 3600) << step.dump();
  EXPECT_TRUE(step["detail"]["switch_safe_at"].is_string()) << step.dump();
  EXPECT_GT(step["detail"]["switch_safe_in_s"].get<int64_t>(), 3500) << step.dump();
  CommandOutcome text = RunTandem({"status", plan});
  EXPECT_NE(text.out.find("the DNS switch is safe from " +
                          step["detail"]["switch_safe_at"].get<std::string>()),
            std::string::npos)
      << text.out;

  // Both resolvers (the primary and the secondary fed by transfer) served the low TTL.
  for (const nlohmann::json& resolver : step["detail"]["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << resolver.dump();
  }
}

TEST(RunCliDns, TheCutoverWaitsOutTheOldTtlThenSwitchesBothRecordsInOneUpdate) {
  TrafficRig rig;
  TempDir certs_dir("dns-tls");
  const TestCertificates certs =
      MakeTestCertificates(certs_dir.path() + "/certs", {"www.example.test", "127.0.0.1"});
  TlsListener listener(certs.server_cert, certs.server_key, rig.dir() + "/s_server.log");
  // Records at 4 s, lowered to 1 s by phase 1: the switch waits until 4 s after the last
  // resolver served the low TTL.
  auto knot = KnotServer::Start(rig.dir(), ExampleZone(4));
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  const std::string plan =
      WritePlan(rig.dir(), "web.toml",
                WebPlan(rig, DnsToml(*knot, TlsToml(listener.address(), certs.ca_cert), 1)));

  CommandOutcome run = RunTandem({"run", plan, "--format", "json"}, {}, seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  // Phase 1's lowering and phase 5's switch: one serial each.
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 2);
  for (KnotServer::Role role : {KnotServer::Role::kPrimary, KnotServer::Role::kSecondary}) {
    const auto www = knot->Read(role, "www", "A");
    ASSERT_EQ(www.size(), 1u);
    EXPECT_EQ(www[0].value, "198.51.100.10");
    EXPECT_EQ(www[0].ttl, 1u);
    const auto api = knot->Read(role, "api", "CNAME");
    ASSERT_EQ(api.size(), 1u);
    EXPECT_EQ(api[0].value, "new-lb.example.test.");
  }

  const nlohmann::json status = nlohmann::json::parse(StatusJson(plan));
  EXPECT_EQ(status["state"], "completed") << status.dump();
  const nlohmann::json& ttl = StepNamed(status, "dns ttl");
  EXPECT_EQ(ttl["detail"]["records"][0]["ttl_before"], 4) << ttl.dump();
  const nlohmann::json& cutover = StepNamed(status, "dns switch");
  EXPECT_EQ(cutover["state"], "done") << cutover.dump();
  const nlohmann::json& detail = cutover["detail"];
  EXPECT_EQ(detail["updated"], true) << detail.dump();
  EXPECT_EQ(detail["serial_after"].get<int64_t>(), detail["serial_before"].get<int64_t>() + 1);
  ASSERT_TRUE(detail["switch_safe_at"].is_string()) << detail.dump();
  ASSERT_TRUE(detail["switched_at"].is_string()) << detail.dump();
  // ISO 8601 UTC of one format: ordered as text.
  EXPECT_GE(detail["switched_at"].get<std::string>(), detail["switch_safe_at"].get<std::string>());
  EXPECT_EQ(detail["tls"]["subject"], "CN=www.example.test") << detail.dump();
  ASSERT_EQ(detail["resolvers"].size(), 2u) << detail.dump();
  for (const nlohmann::json& resolver : detail["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << resolver.dump();
  }
  CommandOutcome text = RunTandem({"status", plan});
  EXPECT_NE(text.out.find("DNS switched at " + detail["switched_at"].get<std::string>()),
            std::string::npos)
      << text.out;

  // A second run finds every record switched: the zone is not touched again.
  CommandOutcome again = RunTandem({"run", plan, "--format", "json"}, {}, seconds(120));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 2);
  const nlohmann::json second = nlohmann::json::parse(StatusJson(plan));
  EXPECT_EQ(StepNamed(second, "dns switch")["detail"]["updated"], false) << second.dump();
}

TEST(RunCliDns, ACertificateTheClientsWouldRefuseStopsTheCutoverBeforeDnsWithTrafficBackOnOld) {
  TempDir certs_dir("dns-tls");
  for (const RefusedCertificate& tls_case : RefusedCertificates(certs_dir.path())) {
    SCOPED_TRACE(tls_case.what);
    TrafficRig rig;
    TlsListener listener(tls_case.cert, tls_case.key, rig.dir() + "/s_server.log");
    auto knot = KnotServer::Start(rig.dir(), ExampleZone(4));
    const std::string plan =
        WritePlan(rig.dir(), "web.toml",
                  WebPlan(rig, DnsToml(*knot, TlsToml(listener.address(), tls_case.ca), 1)));
    CommandOutcome run = RunTandem({"run", plan}, {}, seconds(120));
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_EQ(LineCount(run.err), 1) << run.err;
    EXPECT_NE(run.err.find(tls_case.expect), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("traffic is back on the old servers"), std::string::npos) << run.err;
    // The traffic step had reached 100%: the stop put every request back on the old servers.
    EXPECT_EQ(rig.WeightShareOfNew(), 0.0) << rig.WeightsText();
    // Phase 1 lowered the TTLs; the records still hold their old values.
    EXPECT_EQ(knot->Read(KnotServer::Role::kPrimary, "www", "A").at(0).value, "192.0.2.10");
    EXPECT_EQ(knot->Read(KnotServer::Role::kPrimary, "api", "CNAME").at(0).value,
              "old-lb.example.test.");
  }
}

// kill -9 of the controller during the DNS switch's two waits, each followed by `--resume`:
//   1. while it waits for the safe moment (records at 12 s, lowered to 1 s): nothing switched;
//      the resumed run keeps phase 1's safe moment instead of waiting 12 s from its own start;
//   2. after the update, while propagation waits for a held-back secondary: the resumed run sends
//      no second update (the serial moves once) and completes once the secondary catches up.
TEST(RunCliDns, KillNineDuringTheSafeMomentWaitAndThePropagationWaitThenResumeSwitchesOnce) {
  TrafficRig rig;
  KnotServerOptions zone = ExampleZone(3600);
  zone.record_ttl = 12;
  auto knot = KnotServer::Start(rig.dir(), zone);
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  const std::string plan = WritePlan(rig.dir(), "web.toml", WebPlan(rig, DnsToml(*knot, "", 1)));
  const auto switch_started = [&] {
    const std::string status = StatusJson(plan);
    return status.find("\"dns switch\"") != std::string::npos;
  };

  {
    TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run1.log");
    ASSERT_TRUE(PollUntil(seconds(120), [&] { return switch_started() || !run.Running(); }))
        << run.Log();
    ASSERT_TRUE(run.KillNine()) << "the run ended before its DNS switch: " << run.Log();
  }
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 1) << "switched too early";
  // (The kill landed before the safe moment: the records were lowered from 12 s to 1 s.)
  EXPECT_EQ(knot->Read(KnotServer::Role::kPrimary, "www", "A").at(0).value, "192.0.2.10");
  const std::optional<std::chrono::system_clock::time_point> phase_one_safe_at = ParseUtcTime(
      StepNamed(nlohmann::json::parse(StatusJson(plan)), "dns ttl")["detail"]["switch_safe_at"]
          .get<std::string>());
  ASSERT_TRUE(phase_one_safe_at.has_value());

  knot->HoldSecondary();
  {
    TandemProcess run({"run", plan, "--resume", "--format", "json"}, rig.dir() + "/run2.log");
    ASSERT_TRUE(PollUntil(seconds(60), [&] {
      return knot->Read(KnotServer::Role::kPrimary, "www", "A").at(0).value == "198.51.100.10" ||
             !run.Running();
    })) << run.Log();
    // Phase 1's safe moment, not 12 s after this run's own poll (+1 s: it waits a whole second
    // past the second-rounded moment; +2 s of slack for a busy machine).
    EXPECT_LE(std::chrono::system_clock::now(), *phase_one_safe_at + seconds(3));
    // The update is in; the secondary still answers the old values, so propagation waits.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(run.KillNine()) << "the resumed run ended during propagation: " << run.Log();
  }
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 2);
  EXPECT_EQ(knot->Read(KnotServer::Role::kSecondary, "www", "A").at(0).value, "192.0.2.10");

  knot->ReleaseSecondary();
  CommandOutcome resumed =
      RunTandem({"run", plan, "--resume", "--format", "json"}, {}, seconds(120));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 2) << "a second update";
  EXPECT_EQ(knot->Read(KnotServer::Role::kSecondary, "www", "A").at(0).value, "198.51.100.10");
  const nlohmann::json status = nlohmann::json::parse(StatusJson(plan));
  EXPECT_EQ(status["state"], "completed") << status.dump();
  const nlohmann::json& cutover = StepNamed(status, "dns switch");
  EXPECT_EQ(cutover["state"], "done") << cutover.dump();
  EXPECT_EQ(cutover["detail"]["updated"], false) << cutover.dump();
  for (const nlohmann::json& resolver : cutover["detail"]["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << resolver.dump();
  }
}

// Phase 6 watches after the switch; a rollback handed to the controller then changes both records
// back in one compare-and-swap update (the serial moves by one more) and sends the traffic back.
TEST(RunCliDns, ARollbackInPhaseSixSwitchesTheRecordsBackInOneUpdate) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ExampleZone(4));
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  const std::string plan =
      WritePlan(rig.dir(), "web.toml",
                WebPlan(rig, DnsToml(*knot, "", 1)) + "\n[monitor]\nwindow = \"10m\"\n");
  TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
  ASSERT_TRUE(PollUntil(seconds(120), [&] {
    return !run.Running() || StatusJson(plan).find("\"step\": \"monitor\"") != std::string::npos;
  })) << run.Log();
  ASSERT_TRUE(run.Running()) << run.Log();
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 2);
  EXPECT_EQ(knot->Read(KnotServer::Role::kSecondary, "www", "A").at(0).value, "198.51.100.10");

  CommandOutcome rollback = RunTandem({"run", plan, "--rollback"}, {}, seconds(120));
  EXPECT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err << run.Log();
  std::optional<int> run_exit = run.WaitForExit(seconds(60));
  ASSERT_TRUE(run_exit.has_value()) << run.Log();
  EXPECT_EQ(*run_exit, 1) << run.Log();
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 3) << "one update back";
  for (KnotServer::Role role : {KnotServer::Role::kPrimary, KnotServer::Role::kSecondary}) {
    EXPECT_EQ(knot->Read(role, "www", "A").at(0).value, "192.0.2.10");
    EXPECT_EQ(knot->Read(role, "api", "CNAME").at(0).value, "old-lb.example.test.");
  }
  EXPECT_EQ(rig.WeightShareOfNew(), 0.0) << rig.WeightsText();
  const nlohmann::json status = nlohmann::json::parse(StatusJson(plan));
  EXPECT_EQ(status["state"], "rolled_back") << status.dump();
  EXPECT_EQ(StepNamed(status, "undo dns switch")["state"], "done") << status.dump();
  EXPECT_EQ(StepNamed(status, "dns switch")["state"], "undone") << status.dump();
  EXPECT_EQ(StepNamed(status, "undo traffic")["state"], "done") << status.dump();
}

// kill -9 while the switch's propagation is watched (the secondary held back), then --rollback
// from a new process: the records go back (one update), propagation of the old values watched.
TEST(RunCliDns, KillNineDuringThePropagationWaitThenRollbackSwitchesBack) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ExampleZone(4));
  const uint32_t serial_before = knot->Serial(KnotServer::Role::kPrimary);
  const std::string plan = WritePlan(rig.dir(), "web.toml", WebPlan(rig, DnsToml(*knot, "", 1)));
  {
    TandemProcess run({"run", plan, "--format", "json"}, rig.dir() + "/run.log");
    // Phase 1's lowering must reach the secondary; the switch's update must not.
    ASSERT_TRUE(PollUntil(seconds(120), [&] {
      return StatusJson(plan).find("\"dns switch\"") != std::string::npos || !run.Running();
    })) << run.Log();
    knot->HoldSecondary();
    ASSERT_TRUE(PollUntil(seconds(120), [&] {
      return knot->Read(KnotServer::Role::kPrimary, "www", "A").at(0).value == "198.51.100.10" ||
             !run.Running();
    })) << run.Log();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(run.KillNine()) << "the run ended during propagation: " << run.Log();
  }
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 2);
  knot->ReleaseSecondary();
  CommandOutcome rollback = RunTandem({"run", plan, "--rollback"}, {}, seconds(120));
  ASSERT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
  EXPECT_EQ(knot->Serial(KnotServer::Role::kPrimary), serial_before + 3);
  for (KnotServer::Role role : {KnotServer::Role::kPrimary, KnotServer::Role::kSecondary}) {
    EXPECT_EQ(knot->Read(role, "www", "A").at(0).value, "192.0.2.10");
  }
  EXPECT_EQ(rig.WeightShareOfNew(), 0.0) << rig.WeightsText();
  const nlohmann::json status = nlohmann::json::parse(StatusJson(plan));
  EXPECT_EQ(status["state"], "rolled_back") << status.dump();
  EXPECT_EQ(StepNamed(status, "undo dns switch")["state"], "done") << status.dump();
}

TEST(RunCliDns, ARecordSomeoneElseChangedStopsTheRunAndTheZoneIsNotTouched) {
  TrafficRig rig;
  auto knot = KnotServer::Start(rig.dir(), ExampleZone(3600));
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
  auto knot = KnotServer::Start(rig.dir(), ExampleZone(3600));
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
