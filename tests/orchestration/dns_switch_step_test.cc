// SwitchRecords and RevertRecords (phase 5's "dns switch" and a rollback's "dns revert") against a
// real Knot DNS primary and a secondary fed by zone transfer, both also serving as the resolvers
// the propagation is watched on, and real `openssl s_server` listeners for the TLS check: one
// update per direction, the safe moment, a lagging secondary, a record someone else changed, the
// rollback budget, the certificate refusals, re-runs and `stop`.
#include "orchestration/dns_switch_step.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "orchestration/utc_time.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/knot_server.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/tls_certificates.h"
#include "tests/harness/tls_listener.h"
#include "tests/harness/wait.h"

namespace tandem::orchestration {
namespace {

using engine::StatusCode;
using std::chrono::milliseconds;
using testing::KnotServer;
using Role = testing::KnotServer::Role;
using SystemClock = std::chrono::system_clock;

constexpr char kTlsHost[] = "tls.tandem.test";

int64_t NowSeconds() { return UnixSeconds(SystemClock::now()); }

// "2026-11-26T06:01:41Z" (FormatUtcTime's form) as a time point.
SystemClock::time_point ParseIso(const std::string& text) {
  const auto parsed = ParseUtcTime(text);
  if (!parsed) throw std::runtime_error("not an ISO 8601 UTC time: " + text);
  return *parsed;
}

using testing::TlsListener;

// A journal held in memory: what earlier attempts journaled, and what this one journals.
struct MemoryJournal {
  std::vector<nlohmann::json> intents, applied;
  std::function<void()> on_intent;   // runs when an intent is journaled (before the update)
  std::function<void()> on_applied;  // runs when an applied sample is journaled

  DnsStepJournal View() {
    DnsStepJournal journal;
    journal.intents = intents;
    journal.applied = applied;
    journal.record_intent = [this](const nlohmann::json& intent) {
      intents.push_back(intent);
      if (on_intent) on_intent();
      return engine::Status::Ok();
    };
    journal.record_applied = [this](const nlohmann::json& done) {
      applied.push_back(done);
      if (on_applied) on_applied();
      return engine::Status::Ok();
    };
    return journal;
  }
};

class DnsSwitchStepTest : public ::testing::Test {
 protected:
  // Knot with www/api at `record_ttl`, a plan switching them with TTL `plan_ttl`, both servers
  // as resolvers.
  void Start(uint32_t record_ttl, int64_t plan_ttl) {
    temp_ = std::make_unique<testing::TempDir>("tandem-dns-switch");
    testing::KnotServerOptions options;
    options.record_ttl = record_ttl;
    knot_ = KnotServer::Start(temp_->path(), options);
    dns_.server = knot_->primary_address();
    dns_.zone = knot_->zone();
    dns_.tsig_algorithm = knot_->key_algorithm();
    dns_.tsig_key_name = knot_->key_name();
    dns_.tsig_secret_base64 = knot_->key_secret();
    dns_.ttl = plan_ttl;
    dns_.records = {{"www.example.test.", "A", "192.0.2.10", "198.51.100.10"},
                    {"api.example.test.", "CNAME", "old-lb.example.test.", "new-lb.example.test."}};
    dns_.resolvers = {knot_->primary_address(), knot_->secondary_address()};
    dns_.propagation_timeout = milliseconds(5000);
    options_.poll_interval = milliseconds(100);
  }

  // Phase 1 ran long ago at `ttl_before` and the lowering is journaled as applied.
  void JournalLoweringLongAgo(int64_t ttl_before) {
    const int64_t long_ago = NowSeconds() - 7200;
    ttl_journal_.intents = {
        {{"at", long_ago},
         {"ttls", {{"www.example.test. A", ttl_before}, {"api.example.test. CNAME", ttl_before}}}}};
    ttl_journal_.applied = {{{"at", long_ago + 1}}};
  }

  engine::Result<DnsSwitchResult> Switch() {
    const DnsClient primary(dns_.server, PlanTsigKey(dns_));
    return SwitchRecords(dns_, primary, ttl_journal_.View(), switch_journal_.View(), options_);
  }

  engine::Result<DnsSwitchResult> Revert() {
    const DnsClient primary(dns_.server, PlanTsigKey(dns_));
    return RevertRecords(dns_, primary, revert_journal_.View(), options_);
  }

  // www's and api's values on `role`, "<www> <api>".
  std::string Values(Role role) const {
    return knot_->Read(role, "www", "A").at(0).value + " " +
           knot_->Read(role, "api", "CNAME").at(0).value;
  }

  std::unique_ptr<testing::TempDir> temp_;
  std::unique_ptr<KnotServer> knot_;
  DnsPlan dns_;
  DnsSwitchOptions options_;
  MemoryJournal ttl_journal_, switch_journal_, revert_journal_;
};

TEST_F(DnsSwitchStepTest, SwitchesEveryRecordInOneUpdateAndWatchesItReachTheResolvers) {
  Start(/*record_ttl=*/0, /*plan_ttl=*/1);
  ASSERT_EQ(knot_->Read(Role::kPrimary, "www", "A").at(0).ttl, 0u);
  const uint32_t serial = knot_->Serial(Role::kPrimary);
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  ASSERT_TRUE(switched->problem.empty()) << switched->problem;
  const nlohmann::json& detail = switched->detail;

  // One update: the serial moved by exactly one, and the journal holds it before and after.
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial + 1);
  EXPECT_EQ(detail["updated"], true) << detail.dump();
  EXPECT_EQ(detail["serial_before"], serial) << detail.dump();
  EXPECT_EQ(detail["serial_after"], serial + 1) << detail.dump();
  EXPECT_TRUE(detail["switched_at"].is_string()) << detail.dump();
  ASSERT_EQ(switch_journal_.intents.size(), 1u);
  EXPECT_EQ(switch_journal_.intents[0]["serial"], serial);
  ASSERT_EQ(switch_journal_.applied.size(), 1u);
  EXPECT_EQ(switch_journal_.applied[0]["serial"], serial + 1);
  EXPECT_GE(switch_journal_.applied[0]["at"].get<int64_t>(),
            switch_journal_.intents[0]["at"].get<int64_t>());

  // The primary and the secondary hold the new values with the plan's TTL.
  EXPECT_EQ(Values(Role::kPrimary), "198.51.100.10 new-lb.example.test.");
  ASSERT_TRUE(knot_->WaitForSecondaryInSync(milliseconds(5000)));
  EXPECT_EQ(Values(Role::kSecondary), "198.51.100.10 new-lb.example.test.");
  EXPECT_EQ(knot_->Read(Role::kSecondary, "www", "A").at(0).ttl, 1u);
  EXPECT_EQ(knot_->Read(Role::kSecondary, "api", "CNAME").at(0).ttl, 1u);

  ASSERT_EQ(detail["records"].size(), 2u) << detail.dump();
  EXPECT_EQ(detail["records"][0]["from"], "192.0.2.10");
  EXPECT_EQ(detail["records"][0]["to"], "198.51.100.10");
  EXPECT_EQ(detail["records"][0]["state"], "updated");
  EXPECT_EQ(detail["records"][1]["ttl"], 1);
  EXPECT_EQ(detail["direction"], "switch");
  EXPECT_TRUE(detail["tls"].is_null());
  // dns.ttl plus the lowering's propagation (the secondary took about a second).
  EXPECT_GE(detail["undo_estimate_s"].get<int64_t>(), 1) << detail.dump();
  EXPECT_LE(detail["undo_estimate_s"].get<int64_t>(), 5) << detail.dump();

  // Every resolver, with its own time.
  ASSERT_EQ(detail["resolvers"].size(), 2u) << detail.dump();
  EXPECT_EQ(detail["resolvers"][0]["resolver"], knot_->primary_address());
  EXPECT_EQ(detail["resolvers"][1]["resolver"], knot_->secondary_address());
  for (const nlohmann::json& resolver : detail["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << detail.dump();
    EXPECT_GE(resolver["elapsed_ms"].get<int64_t>(), 0) << detail.dump();
    EXPECT_NE(resolver["answer"].get<std::string>().find("198.51.100.10"), std::string::npos)
        << detail.dump();
  }
  EXPECT_TRUE(detail["propagation_s"].is_number()) << detail.dump();
}

// Phase 1 lowered the TTLs from 2 s to 1 s just now: caches may hold the 2 s answers for 2 more
// seconds, so the update waits for switch_safe_at.
TEST_F(DnsSwitchStepTest, TheUpdateWaitsForTheSafeMoment) {
  Start(/*record_ttl=*/2, /*plan_ttl=*/1);
  const DnsClient primary(dns_.server, PlanTsigKey(dns_));
  auto lowered = LowerRecordTtls(dns_, primary, ttl_journal_.View(), [] { return false; });
  ASSERT_TRUE(lowered.ok()) << lowered.status().ToString();
  ASSERT_TRUE(lowered->problem.empty()) << lowered->problem;
  ASSERT_EQ(ttl_journal_.intents.size(), 1u);
  const uint32_t serial = knot_->Serial(Role::kPrimary);

  SystemClock::time_point update_sent{};
  switch_journal_.on_intent = [&] { update_sent = SystemClock::now(); };
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  ASSERT_TRUE(switched->problem.empty()) << switched->problem;
  const nlohmann::json& detail = switched->detail;
  ASSERT_TRUE(detail["switch_safe_at"].is_string()) << detail.dump();
  const SystemClock::time_point safe_at = ParseIso(detail["switch_safe_at"]);
  EXPECT_GE(update_sent, safe_at) << detail.dump();
  // The safe moment is the last low-TTL answer plus the 2 s TTL before, not the 1 s after.
  EXPECT_GE(safe_at, ParseIso(lowered->detail["lowered_at"]) + std::chrono::seconds(2))
      << detail.dump();
  EXPECT_GE(detail["waited_s"].get<double>(), 1.0) << detail.dump();
  // The lowering was not repeated: one update, the switch.
  EXPECT_EQ(ttl_journal_.intents.size(), 1u);
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial + 1);
  EXPECT_EQ(knot_->Read(Role::kPrimary, "www", "A").at(0).ttl, 1u);
}

TEST_F(DnsSwitchStepTest, ALaggingSecondaryIsWaitedForAndNamedWhenItNeverCatchesUp) {
  Start(/*record_ttl=*/0, /*plan_ttl=*/1);

  // Held during the propagation, released from another thread a second after the update.
  knot_->HoldSecondary();
  std::thread releaser;
  switch_journal_.on_applied = [&] {
    releaser = std::thread([&] {
      std::this_thread::sleep_for(milliseconds(1200));
      knot_->ReleaseSecondary();
    });
  };
  auto switched = Switch();
  if (releaser.joinable()) releaser.join();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  ASSERT_TRUE(switched->problem.empty()) << switched->problem;
  const nlohmann::json& resolvers = switched->detail["resolvers"];
  ASSERT_EQ(resolvers.size(), 2u) << switched->detail.dump();
  EXPECT_TRUE(resolvers[1]["done"].get<bool>());
  EXPECT_GE(resolvers[1]["elapsed_ms"].get<int64_t>(), 1000) << switched->detail.dump();
  EXPECT_LT(resolvers[0]["elapsed_ms"].get<int64_t>(), 1000) << switched->detail.dump();
  EXPECT_GE(switched->detail["propagation_s"].get<double>(), 1.0) << switched->detail.dump();

  // Back again by a revert, with the secondary held throughout and a short timeout.
  ASSERT_TRUE(knot_->WaitForSecondaryInSync(milliseconds(5000)));
  knot_->HoldSecondary();
  dns_.propagation_timeout = milliseconds(1500);
  auto reverted = Revert();
  ASSERT_TRUE(reverted.ok()) << reverted.status().ToString();
  EXPECT_EQ(reverted->detail["updated"], true) << reverted->detail.dump();
  EXPECT_NE(reverted->problem.find(knot_->secondary_address() + " still answers"),
            std::string::npos)
      << reverted->problem;
  EXPECT_NE(reverted->problem.find("198.51.100.10"), std::string::npos) << reverted->problem;
  EXPECT_EQ(reverted->problem.find(knot_->primary_address() + " still answers"), std::string::npos)
      << reverted->problem;
  EXPECT_EQ(reverted->problem.find('\n'), std::string::npos) << reverted->problem;
  knot_->ReleaseSecondary();
}

TEST_F(DnsSwitchStepTest, ARecordSomeoneElseChangedStopsTheSwitchAndIsNotOverwritten) {
  Start(/*record_ttl=*/0, /*plan_ttl=*/1);

  // Half switched by hand: no update of ours leaves the records so.
  knot_->SetRecordOnPrimary("www", "A", 1, "198.51.100.10");
  uint32_t serial = knot_->Serial(Role::kPrimary);
  auto mixed = Switch();
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_NE(mixed->problem.find("www.example.test. A holds 198.51.100.10 (the plan's new value)"),
            std::string::npos)
      << mixed->problem;
  EXPECT_NE(mixed->problem.find("api.example.test. CNAME holds old-lb.example.test. (the plan's "
                                "old value)"),
            std::string::npos)
      << mixed->problem;
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);

  // Changed before the step reads the records.
  knot_->SetRecordOnPrimary("www", "A", 1, "203.0.113.7");
  serial = knot_->Serial(Role::kPrimary);
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  EXPECT_NE(switched->problem.find("www.example.test. A holds 203.0.113.7"), std::string::npos)
      << switched->problem;
  EXPECT_NE(switched->problem.find("api.example.test. CNAME holds old-lb.example.test."),
            std::string::npos)
      << switched->problem;
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);
  EXPECT_EQ(Values(Role::kPrimary), "203.0.113.7 old-lb.example.test.");
  EXPECT_TRUE(switch_journal_.intents.empty());

  // Changed between the read and the update: the compare-and-swap refuses it.
  knot_->SetRecordOnPrimary("www", "A", 1, "192.0.2.10");
  switch_journal_.on_intent = [&] {
    knot_->SetRecordOnPrimary("www", "A", 1, "203.0.113.8");
    serial = knot_->Serial(Role::kPrimary);
  };
  auto raced = Switch();
  ASSERT_TRUE(raced.ok()) << raced.status().ToString();
  EXPECT_NE(raced->problem.find("www.example.test. A holds 203.0.113.8"), std::string::npos)
      << raced->problem;
  EXPECT_EQ(raced->detail["updated"], false);
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);
  EXPECT_EQ(Values(Role::kPrimary), "203.0.113.8 old-lb.example.test.");
  EXPECT_TRUE(switch_journal_.applied.empty());
}

TEST_F(DnsSwitchStepTest, ARunAfterASuccessSendsNoSecondUpdate) {
  Start(/*record_ttl=*/0, /*plan_ttl=*/1);
  auto first = Switch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->problem.empty()) << first->problem;
  const uint32_t serial = knot_->Serial(Role::kPrimary);

  auto again = Switch();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->problem.empty()) << again->problem;
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);
  EXPECT_EQ(again->detail["updated"], false) << again->detail.dump();
  EXPECT_TRUE(again->detail["serial_after"].is_null()) << again->detail.dump();
  EXPECT_EQ(again->detail["records"][0]["state"], "already") << again->detail.dump();
  EXPECT_EQ(switch_journal_.intents.size(), 1u);
  ASSERT_EQ(again->detail["resolvers"].size(), 2u) << again->detail.dump();
  for (const nlohmann::json& resolver : again->detail["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << again->detail.dump();
  }
}

TEST_F(DnsSwitchStepTest, ATtlTooLongForTheRollbackBudgetStopsBeforeTheUpdate) {
  Start(/*record_ttl=*/600, /*plan_ttl=*/600);
  JournalLoweringLongAgo(600);
  dns_.resolvers.clear();  // nothing to wait for: the TTLs went down two hours ago
  options_.rollback_budget = std::chrono::minutes(5);
  const uint32_t serial = knot_->Serial(Role::kPrimary);
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  EXPECT_EQ(switched->problem,
            "cannot undo the DNS switch within the rollback budget of 5m: TTL 600 s + 0 s of "
            "propagation; lower dns.ttl to at most 300 s (phase 1 lowers it) or raise "
            "rollback_budget");
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);
  EXPECT_EQ(Values(Role::kPrimary), "192.0.2.10 old-lb.example.test.");
  EXPECT_TRUE(switch_journal_.intents.empty());
  EXPECT_EQ(switched->detail["undo_estimate_s"], 600);
}

// The write cutovers before the switch are undone by the same rollback: their reverse streams'
// drain counts into the budget.
TEST_F(DnsSwitchStepTest, TheWriteCutoversToUndoCountIntoTheRollbackBudget) {
  Start(/*record_ttl=*/200, /*plan_ttl=*/200);
  JournalLoweringLongAgo(200);
  dns_.resolvers.clear();
  options_.rollback_budget = std::chrono::minutes(5);
  options_.undo_before = std::chrono::seconds(150);
  options_.undo_before_what = "writes orders: reverse lag 2m29s";
  const uint32_t serial = knot_->Serial(Role::kPrimary);
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  EXPECT_EQ(switched->problem,
            "cannot undo the DNS switch within the rollback budget of 5m: TTL 200 s + 0 s of "
            "propagation + 150 s to undo the steps before it (writes orders: reverse lag 2m29s); "
            "lower dns.ttl to at most 150 s (phase 1 lowers it) or raise rollback_budget");
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);
  EXPECT_EQ(switched->detail["undo_estimate_s"], 350);
}

TEST_F(DnsSwitchStepTest, ACertificateTheNewSideMustNotServeStopsTheSwitch) {
  Start(/*record_ttl=*/0, /*plan_ttl=*/1);
  const testing::TestCertificates certs =
      testing::MakeTestCertificates(temp_->path() + "/certs", {kTlsHost, "127.0.0.1"});
  const TlsListener good(certs.server_cert, certs.server_key, temp_->path() + "/good.log");
  const TlsListener expired(certs.expired_server_cert, certs.expired_server_key,
                            temp_->path() + "/expired.log");
  const uint32_t serial = knot_->Serial(Role::kPrimary);

  auto expect_refusal = [&](const std::string& host, const std::string& address,
                            const std::string& ca, const std::string& reason) {
    dns_.tls_host = host;
    dns_.tls_address = address;
    dns_.tls_ca = ca;
    auto switched = Switch();
    ASSERT_TRUE(switched.ok()) << switched.status().ToString();
    const std::string& problem = switched->problem;
    EXPECT_NE(problem.find(reason), std::string::npos) << problem;
    EXPECT_NE(problem.find("subject CN=" + std::string(kTlsHost)), std::string::npos) << problem;
    EXPECT_NE(problem.find("issuer CN=tandem test CA"), std::string::npos) << problem;
    EXPECT_NE(problem.find("valid "), std::string::npos) << problem;
    EXPECT_EQ(knot_->Serial(Role::kPrimary), serial) << problem;
    EXPECT_TRUE(switch_journal_.intents.empty()) << problem;
  };
  expect_refusal("other.tandem.test", good.address(), certs.ca_cert, "other.tandem.test");
  expect_refusal(kTlsHost, expired.address(), certs.ca_cert, "expired");
  expect_refusal(kTlsHost, good.address(), certs.other_ca_cert, "unknown CA");
  EXPECT_EQ(Values(Role::kPrimary), "192.0.2.10 old-lb.example.test.");

  dns_.tls_host = kTlsHost;
  dns_.tls_address = good.address();
  dns_.tls_ca = certs.ca_cert;
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  ASSERT_TRUE(switched->problem.empty()) << switched->problem;
  const nlohmann::json& tls = switched->detail["tls"];
  EXPECT_EQ(tls["host"], kTlsHost) << tls.dump();
  EXPECT_EQ(tls["subject"], "CN=" + std::string(kTlsHost)) << tls.dump();
  EXPECT_EQ(tls["issuer"], "CN=tandem test CA") << tls.dump();
  EXPECT_TRUE(tls["protocol"].is_string()) << tls.dump();
  // The test CA's certificates last two days: fewer than the 14 warned about.
  ASSERT_EQ(switched->warnings.size(), 1u);
  EXPECT_NE(switched->warnings[0].find("expires in"), std::string::npos) << switched->warnings[0];
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial + 1);
}

TEST_F(DnsSwitchStepTest, ARevertPutsTheOldValuesBackInOneUpdateOnce) {
  Start(/*record_ttl=*/0, /*plan_ttl=*/1);
  auto switched = Switch();
  ASSERT_TRUE(switched.ok()) << switched.status().ToString();
  ASSERT_TRUE(switched->problem.empty()) << switched->problem;
  const uint32_t serial = knot_->Serial(Role::kPrimary);

  auto reverted = Revert();
  ASSERT_TRUE(reverted.ok()) << reverted.status().ToString();
  ASSERT_TRUE(reverted->problem.empty()) << reverted->problem;
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial + 1);
  EXPECT_EQ(Values(Role::kPrimary), "192.0.2.10 old-lb.example.test.");
  EXPECT_EQ(reverted->detail["direction"], "revert");
  EXPECT_EQ(reverted->detail["updated"], true);
  EXPECT_EQ(reverted->detail["records"][0]["from"], "198.51.100.10");
  EXPECT_EQ(reverted->detail["records"][0]["to"], "192.0.2.10");
  EXPECT_TRUE(reverted->detail["switch_safe_at"].is_null());
  ASSERT_EQ(revert_journal_.intents.size(), 1u);
  EXPECT_EQ(revert_journal_.intents[0]["serial"], serial);
  ASSERT_EQ(revert_journal_.applied.size(), 1u);
  EXPECT_EQ(revert_journal_.applied[0]["serial"], serial + 1);
  for (const nlohmann::json& resolver : reverted->detail["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << reverted->detail.dump();
    EXPECT_NE(resolver["answer"].get<std::string>().find("192.0.2.10"), std::string::npos)
        << reverted->detail.dump();
  }
  EXPECT_EQ(Values(Role::kSecondary), "192.0.2.10 old-lb.example.test.");

  auto again = Revert();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->problem.empty()) << again->problem;
  EXPECT_EQ(again->detail["updated"], false);
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial + 1);
  EXPECT_EQ(revert_journal_.intents.size(), 1u);
}

TEST_F(DnsSwitchStepTest, StopDuringTheSafeMomentWaitCancelsWithTheZoneUntouched) {
  Start(/*record_ttl=*/3, /*plan_ttl=*/3);  // no journal: the 3 s TTL may be cached until now+3s
  const uint32_t serial = knot_->Serial(Role::kPrimary);
  const auto stop_at = std::chrono::steady_clock::now() + milliseconds(500);
  std::atomic<int> stop_calls{0};
  options_.stop = [&] {
    ++stop_calls;
    return std::chrono::steady_clock::now() >= stop_at;
  };
  const auto began = std::chrono::steady_clock::now();
  auto switched = Switch();
  ASSERT_FALSE(switched.ok());
  EXPECT_EQ(switched.status().code(), StatusCode::kCancelled) << switched.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - began, milliseconds(2500));
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial);
  EXPECT_EQ(Values(Role::kPrimary), "192.0.2.10 old-lb.example.test.");
  EXPECT_TRUE(switch_journal_.intents.empty());
  EXPECT_GT(stop_calls.load(), 1);
}

}  // namespace
}  // namespace tandem::orchestration
