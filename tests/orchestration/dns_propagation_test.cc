// WatchPropagation against a real Knot DNS primary and a secondary fed by zone transfer: the watch
// completes with a time per resolver, waits while the secondary is held back, times out naming
// the lagging resolver, and stops on request.
#include "orchestration/dns_propagation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "orchestration/dns_client.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/knot_server.h"

namespace tandem::orchestration {
namespace {

using ::testing::HasSubstr;
using testing::KnotServer;
using ::testing::Not;
using Role = testing::KnotServer::Role;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::vector<DnsRecordReplacement> kSwitch = {
    {"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60},
    {"api.example.test.", "CNAME", "old-lb.example.test.", "new-lb.example.test.", 60}};
// The values after kSwitch, written as a plan might (no trailing dot, other case).
const std::vector<DnsExpectation> kSwitched = {
    {"www.example.test.", "A", "198.51.100.20"},
    {"api.example.test.", "CNAME", "New-LB.example.test"}};

class DnsPropagationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    temp_ = std::make_unique<testing::TempDir>("tandem-dns");
    knot_ = KnotServer::Start(temp_->path());
  }
  void TearDown() override {
    knot_.reset();
    temp_.reset();
  }

  void Switch() {
    DnsClient primary(knot_->primary_address(),
                      TsigKey{"hmac-sha256", knot_->key_name(), knot_->key_secret()});
    engine::Status status = primary.ReplaceRecords("example.test.", kSwitch);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  PropagationOptions Options(milliseconds timeout) const {
    PropagationOptions options;
    options.resolvers = {knot_->primary_address(), knot_->secondary_address()};
    options.expected = kSwitched;
    options.timeout = timeout;
    options.poll_interval = milliseconds(50);
    options.query_timeout = milliseconds(500);
    return options;
  }

  std::string SecondaryWww() const {
    const auto records = knot_->Read(Role::kSecondary, "www", "A");
    return records.size() == 1 ? records.front().value : "?";
  }

  std::unique_ptr<testing::TempDir> temp_;
  std::unique_ptr<KnotServer> knot_;
};

TEST_F(DnsPropagationTest, CompletesAtThePrimaryAndTheSecondaryWithATimeEach) {
  Switch();
  auto watched = WatchPropagation(Options(milliseconds(10'000)));
  ASSERT_TRUE(watched.ok()) << watched.status().ToString();
  ASSERT_EQ(watched->size(), 2u);
  EXPECT_EQ((*watched)[0].resolver, knot_->primary_address());
  EXPECT_EQ((*watched)[1].resolver, knot_->secondary_address());
  for (const ResolverPropagation& resolver : *watched) {
    EXPECT_TRUE(resolver.done) << resolver.resolver;
    EXPECT_LT(resolver.elapsed, milliseconds(10'000));
    EXPECT_THAT(resolver.last_answer, HasSubstr("www.example.test. A 198.51.100.20"));
    EXPECT_THAT(resolver.last_answer, HasSubstr("api.example.test. CNAME new-lb.example.test."));
    EXPECT_EQ(resolver.last_error, "");
  }
  EXPECT_EQ(knot_->Serial(Role::kSecondary), knot_->Serial(Role::kPrimary));
}

TEST_F(DnsPropagationTest, WaitsWhileTheSecondaryHasNotCaughtUp) {
  knot_->HoldSecondary();
  Switch();
  // The watch's clock starts inside its thread, after `watch_started` (by microseconds): the
  // release time is measured from there, not from before the thread was started.
  std::promise<Clock::time_point> started;
  std::future<Clock::time_point> watch_started = started.get_future();
  auto watch = std::async(std::launch::async, [options = Options(milliseconds(15'000)),
                                               started = std::move(started)]() mutable {
    started.set_value(Clock::now());
    return WatchPropagation(options);
  });
  // Held back, the secondary still answers the old value and the watch is not done, well past the
  // ~1 s an unheld secondary takes here (NOTIFY, then IXFR).
  EXPECT_EQ(watch.wait_for(std::chrono::seconds(1)), std::future_status::timeout);
  EXPECT_EQ(SecondaryWww(), "192.0.2.10");
  EXPECT_EQ(watch.wait_for(std::chrono::milliseconds(1500)), std::future_status::timeout);
  EXPECT_EQ(SecondaryWww(), "192.0.2.10");
  ASSERT_EQ(watch_started.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto released_after = Clock::now() - watch_started.get();

  knot_->ReleaseSecondary();
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto watched = watch.get();
  ASSERT_TRUE(watched.ok()) << watched.status().ToString();
  const ResolverPropagation& primary = (*watched)[0];
  const ResolverPropagation& secondary = (*watched)[1];
  EXPECT_TRUE(primary.done);
  EXPECT_TRUE(secondary.done);
  EXPECT_LT(primary.elapsed, milliseconds(1000));
  // Seen done only after the release (the margin covers the watch's own set-up before its clock
  // starts, which can only make `elapsed` shorter).
  EXPECT_GE(secondary.elapsed + milliseconds(100),
            std::chrono::duration_cast<milliseconds>(released_after));
  EXPECT_EQ(SecondaryWww(), "198.51.100.20");
}

TEST_F(DnsPropagationTest, TimesOutNamingTheLaggingResolver) {
  knot_->HoldSecondary();
  Switch();
  const auto start = Clock::now();
  // Longer than an unheld secondary needs, so only the hold explains the timeout.
  auto watched = WatchPropagation(Options(milliseconds(2500)));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(watched.ok());
  EXPECT_EQ(watched.status().code(), engine::StatusCode::kTimeout) << watched.status().ToString();
  EXPECT_THAT(watched.status().message(),
              HasSubstr(knot_->secondary_address() +
                        " still answers www.example.test. A 192.0.2.10, api.example.test. CNAME "
                        "old-lb.example.test."));
  EXPECT_THAT(watched.status().message(), Not(HasSubstr(knot_->primary_address() + " still")));
  EXPECT_THAT(watched.status().message(),
              HasSubstr("done: " + knot_->primary_address() + " after "));
  EXPECT_GE(elapsed, milliseconds(2500));
  EXPECT_LT(elapsed, milliseconds(2500 + 500 + 500));  // timeout + one exchange + slack
  knot_->ReleaseSecondary();
}

TEST_F(DnsPropagationTest, StopEndsTheWatchAsCancelled) {
  knot_->HoldSecondary();
  Switch();
  std::atomic<bool> stop{false};
  PropagationOptions options = Options(milliseconds(20'000));
  options.stop = [&stop] { return stop.load(); };
  const auto start = Clock::now();
  auto watch = std::async(std::launch::async, [&options] { return WatchPropagation(options); });
  EXPECT_EQ(watch.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  stop = true;
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  auto watched = watch.get();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  ASSERT_FALSE(watched.ok());
  EXPECT_EQ(watched.status().code(), engine::StatusCode::kCancelled) << watched.status().ToString();
  EXPECT_THAT(watched.status().message(), HasSubstr(knot_->secondary_address()));
  knot_->ReleaseSecondary();
}

// --- No DNS server needed. ---

TEST(DnsPropagationInput, BadOptionsAreInvalidArguments) {
  PropagationOptions options;
  options.expected = {{"www.example.test.", "A", "198.51.100.20"}};
  EXPECT_EQ(WatchPropagation(options).status().code(), engine::StatusCode::kInvalidArgument);

  options.resolvers = {"127.0.0.1:53"};
  options.expected.clear();
  EXPECT_EQ(WatchPropagation(options).status().code(), engine::StatusCode::kInvalidArgument);

  options.expected = {{"www.example.test.", "BOGUSTYPE", "198.51.100.20"}};
  auto bad_type = WatchPropagation(options);
  EXPECT_EQ(bad_type.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_type.status().message(), HasSubstr("BOGUSTYPE"));

  options.expected = {{"www.example.test.", "A", "not-an-address"}};
  EXPECT_EQ(WatchPropagation(options).status().code(), engine::StatusCode::kInvalidArgument);

  options.expected = {{"www.example.test.", "A", "198.51.100.20"}};
  options.resolvers = {"resolver.example.com"};
  auto bad_address = WatchPropagation(options);
  EXPECT_EQ(bad_address.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_address.status().message(), HasSubstr("resolver.example.com"));
}

TEST(DnsPropagationUnreachable, AResolverThatNeverAnswersTimesOutWithItsError) {
  PropagationOptions options;
  const std::string nobody = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.resolvers = {nobody};
  options.expected = {{"www.example.test.", "A", "198.51.100.20"}};
  options.timeout = milliseconds(500);
  options.poll_interval = milliseconds(50);
  options.query_timeout = milliseconds(200);
  const auto start = Clock::now();
  auto watched = WatchPropagation(options);
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  ASSERT_FALSE(watched.ok());
  EXPECT_EQ(watched.status().code(), engine::StatusCode::kTimeout) << watched.status().ToString();
  EXPECT_THAT(watched.status().message(), HasSubstr(nobody + " did not answer"));
}

}  // namespace
}  // namespace tandem::orchestration
