// LowerRecordTtls (phase 1's "dns ttl") against a real Knot DNS primary and secondary: what the
// journal of earlier attempts says decides when the DNS switch is safe, and a secondary that has
// not transferred the lowering leaves the safe time unknown.
#include "orchestration/dns_ttl_step.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "tests/harness/files.h"
#include "tests/harness/knot_server.h"

namespace tandem::orchestration {
namespace {

using testing::KnotServer;
using Role = testing::KnotServer::Role;
using SystemClock = std::chrono::system_clock;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(SystemClock::now().time_since_epoch())
      .count();
}

class DnsTtlStepTest : public ::testing::Test {
 protected:
  void Start(uint32_t record_ttl) {
    temp_ = std::make_unique<testing::TempDir>("tandem-dns-ttl");
    testing::KnotServerOptions options;
    options.record_ttl = record_ttl;
    knot_ = KnotServer::Start(temp_->path(), options);
    dns_.server = knot_->primary_address();
    dns_.zone = knot_->zone();
    dns_.tsig_algorithm = knot_->key_algorithm();
    dns_.tsig_key_name = knot_->key_name();
    dns_.tsig_secret_base64 = knot_->key_secret();
    dns_.ttl = 60;
    dns_.records = {{"www.example.test.", "A", "192.0.2.10", "198.51.100.10"},
                    {"api.example.test.", "CNAME", "old-lb.example.test.", "new-lb.example.test."}};
    dns_.resolvers = {knot_->primary_address(), knot_->secondary_address()};
    dns_.propagation_timeout = std::chrono::milliseconds(3000);
  }

  // A journal holding `intents` and `applied`, recording what the step journals.
  DnsStepJournal Journal(std::vector<nlohmann::json> intents, std::vector<nlohmann::json> applied) {
    DnsStepJournal journal;
    journal.intents = std::move(intents);
    journal.applied = std::move(applied);
    journal.record_intent = [this](const nlohmann::json& intent) {
      recorded_intents_.push_back(intent);
      return engine::Status::Ok();
    };
    journal.record_applied = [this](const nlohmann::json& done) {
      recorded_applied_.push_back(done);
      return engine::Status::Ok();
    };
    return journal;
  }

  engine::Result<DnsTtlStepResult> Lower(const DnsStepJournal& journal) {
    const DnsClient primary(dns_.server, PlanTsigKey(dns_));
    return LowerRecordTtls(dns_, primary, journal, [] { return false; });
  }

  std::unique_ptr<testing::TempDir> temp_;
  std::unique_ptr<KnotServer> knot_;
  DnsPlan dns_;
  std::vector<nlohmann::json> recorded_intents_, recorded_applied_;
};

TEST_F(DnsTtlStepTest, LoweringJournalsTheIntentBeforeAndTheTimeAfterAndWaitsForTheSecondary) {
  Start(3600);
  auto lowered = Lower(Journal({}, {}));
  ASSERT_TRUE(lowered.ok()) << lowered.status().ToString();
  EXPECT_TRUE(lowered->problem.empty()) << lowered->problem;
  ASSERT_EQ(recorded_intents_.size(), 1u);
  EXPECT_EQ(recorded_intents_[0]["ttls"]["www.example.test. A"], 3600);
  // The update's applied time, then the first moment every resolver served the low TTL.
  ASSERT_EQ(recorded_applied_.size(), 2u);
  EXPECT_GE(recorded_applied_[0]["at"].get<int64_t>(), recorded_intents_[0]["at"].get<int64_t>());
  EXPECT_GE(recorded_applied_[1]["resolvers_low_at"].get<int64_t>(),
            recorded_applied_[0]["at"].get<int64_t>());
  // The secondary serves the low TTL too (transferred after the primary's NOTIFY).
  EXPECT_EQ(knot_->Read(Role::kSecondary, "www", "A").at(0).ttl, 60u);
  const nlohmann::json& detail = lowered->detail;
  for (const nlohmann::json& resolver : detail["resolvers"]) {
    EXPECT_TRUE(resolver["done"].get<bool>()) << detail.dump();
  }
  EXPECT_GE(detail["switch_safe_in_s"].get<int64_t>(), 3595) << detail.dump();
  EXPECT_LE(detail["switch_safe_in_s"].get<int64_t>(), 3610) << detail.dump();

  // A later run (phase 5, a resume) keeps the moment the first one saw: it does not wait the
  // hour out again from its own poll.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  const auto intents = recorded_intents_;
  const auto applied = recorded_applied_;
  auto again = Lower(Journal(intents, applied));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->detail["updated"], false);
  EXPECT_EQ(again->detail["switch_safe_at"], detail["switch_safe_at"]) << again->detail.dump();
  EXPECT_EQ(recorded_applied_.size(), applied.size()) << "nothing new to journal";
}

// A crash after the update and before the applied time was journaled (or a lost answer): the
// records are low, an intent has no applied time after it, so the lowering may have happened as
// late as now, and the TTL before is the journaled one, not the low one the zone shows.
TEST_F(DnsTtlStepTest, AnIntentWithoutAnAppliedTimeCountsAsLoweredNow) {
  Start(60);
  dns_.resolvers.clear();
  const int64_t long_ago = NowSeconds() - 7200;
  auto lowered = Lower(
      Journal({{{"at", long_ago},
                {"ttls", {{"www.example.test. A", 3600}, {"api.example.test. CNAME", 3600}}}}},
              {}));
  ASSERT_TRUE(lowered.ok()) << lowered.status().ToString();
  EXPECT_EQ(lowered->detail["updated"], false);
  EXPECT_TRUE(recorded_intents_.empty());
  EXPECT_EQ(lowered->detail["records"][0]["ttl_before"], 3600) << lowered->detail.dump();
  EXPECT_GE(lowered->detail["switch_safe_in_s"].get<int64_t>(), 3595) << lowered->detail.dump();

  // With the applied time journaled two hours ago, the old TTL has long run out.
  auto known = Lower(
      Journal({{{"at", long_ago},
                {"ttls", {{"www.example.test. A", 3600}, {"api.example.test. CNAME", 3600}}}}},
              {{{"at", long_ago + 1}}}));
  ASSERT_TRUE(known.ok()) << known.status().ToString();
  EXPECT_EQ(known->detail["switch_safe_in_s"], 0) << known->detail.dump();
}

TEST_F(DnsTtlStepTest, ASecondaryThatHasNotCaughtUpLeavesTheSafeTimeUnknown) {
  Start(3600);
  knot_->HoldSecondary();
  auto lowered = Lower(Journal({}, {}));
  ASSERT_TRUE(lowered.ok()) << lowered.status().ToString();
  EXPECT_TRUE(lowered->problem.empty()) << lowered->problem;
  EXPECT_TRUE(lowered->detail["switch_safe_at"].is_null()) << lowered->detail.dump();
  EXPECT_NE(lowered->warning.find(knot_->secondary_address() + " still answers"), std::string::npos)
      << lowered->warning;
  EXPECT_NE(lowered->warning.find("ttl 3600"), std::string::npos) << lowered->warning;
  knot_->ReleaseSecondary();
}

}  // namespace
}  // namespace tandem::orchestration
