#include "lag/heartbeat_ledger.h"

#include <gtest/gtest.h>

namespace tandem::lag {
namespace {

using std::chrono::milliseconds;

const LagTime kT0 = LagTime() + std::chrono::hours(1);

TEST(HeartbeatLedger, SequencesStartAtOneAndIncrease) {
  HeartbeatLedger ledger(8);
  EXPECT_EQ(ledger.Issue(kT0), 1);
  EXPECT_EQ(ledger.Issue(kT0 + milliseconds(10)), 2);
  EXPECT_EQ(ledger.Snapshot().issued, 2);
  EXPECT_EQ(ledger.Snapshot().seen, 0);
}

TEST(HeartbeatLedger, SampleIsTheMidpointOfTheVisibilityWindow) {
  HeartbeatLedger ledger(8);
  ASSERT_EQ(ledger.Issue(kT0), 1);
  // The previous read started 4 ms after the write and did not show it; this one ended at 6 ms.
  auto samples = ledger.Observe(1, kT0 + milliseconds(4), kT0 + milliseconds(6));
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].sequence, 1);
  EXPECT_EQ((*samples)[0].lag, milliseconds(5));
  EXPECT_EQ((*samples)[0].error, milliseconds(1));
}

TEST(HeartbeatLedger, WindowStartsNoEarlierThanTheWrite) {
  HeartbeatLedger ledger(8);
  ASSERT_EQ(ledger.Issue(kT0), 1);
  // The previous read started before the write: the write itself bounds the window.
  auto samples = ledger.Observe(1, kT0 - milliseconds(3), kT0 + milliseconds(2));
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].lag, milliseconds(1));
  EXPECT_EQ((*samples)[0].error, milliseconds(1));
  // And so does a first read, which has no previous one.
  ASSERT_EQ(ledger.Issue(kT0 + milliseconds(10)), 2);
  samples = ledger.Observe(2, std::nullopt, kT0 + milliseconds(14));
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ((*samples)[0].lag, milliseconds(2));
}

TEST(HeartbeatLedger, OneReadCanRevealSeveralSequences) {
  HeartbeatLedger ledger(8);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ledger.Issue(kT0 + milliseconds(10 * i)).has_value());
  }
  auto samples = ledger.Observe(3, kT0 + milliseconds(48), kT0 + milliseconds(50));
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[0].lag, milliseconds(49));
  EXPECT_EQ((*samples)[1].lag, milliseconds(39));
  EXPECT_EQ((*samples)[2].lag, milliseconds(29));
  EXPECT_EQ(ledger.Snapshot().seen, 3);
  EXPECT_EQ(ledger.Snapshot().last_arrival, kT0 + milliseconds(50));
}

TEST(HeartbeatLedger, ASequenceAlreadySeenGivesNoSecondSample) {
  HeartbeatLedger ledger(8);
  ASSERT_TRUE(ledger.Issue(kT0).has_value());
  ASSERT_TRUE(ledger.Observe(1, kT0, kT0 + milliseconds(1)).ok());
  auto again = ledger.Observe(1, kT0 + milliseconds(1), kT0 + milliseconds(2));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST(HeartbeatLedger, RefusesToIssueBeyondCapacityUntilTheTargetCatchesUp) {
  HeartbeatLedger ledger(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ledger.Issue(kT0 + milliseconds(i)).has_value());
  }
  EXPECT_FALSE(ledger.Issue(kT0 + milliseconds(3)).has_value());
  EXPECT_EQ(ledger.Snapshot().issued, 3);
  ASSERT_TRUE(ledger.Observe(2, kT0, kT0 + milliseconds(5)).ok());
  EXPECT_EQ(ledger.Issue(kT0 + milliseconds(6)), 4);
  EXPECT_EQ(ledger.Issue(kT0 + milliseconds(7)), 5);
  EXPECT_FALSE(ledger.Issue(kT0 + milliseconds(8)).has_value());
  // The ring wrapped: sequence 4 and 5 keep their own send times.
  auto samples = ledger.Observe(5, kT0 + milliseconds(9), kT0 + milliseconds(9));
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[0].lag, milliseconds(7));  // sequence 3, sent at 2 ms
  EXPECT_EQ((*samples)[1].lag, milliseconds(3));  // sequence 4, sent at 6 ms
  EXPECT_EQ((*samples)[2].lag, milliseconds(2));  // sequence 5, sent at 7 ms
}

TEST(HeartbeatLedger, ASequenceNeverIssuedIsAnotherWritersAndRefused) {
  HeartbeatLedger ledger(8);
  ASSERT_TRUE(ledger.Issue(kT0).has_value());
  auto samples = ledger.Observe(7, kT0, kT0 + milliseconds(1));
  ASSERT_FALSE(samples.ok());
  EXPECT_EQ(samples.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(samples.status().message().find("same writer id"), std::string::npos);
}

TEST(HeartbeatLedger, ATargetGoingBackwardsIsCountedNotSampled) {
  HeartbeatLedger ledger(8);
  ASSERT_TRUE(ledger.Issue(kT0).has_value());
  ASSERT_TRUE(ledger.Issue(kT0).has_value());
  ASSERT_TRUE(ledger.Observe(2, kT0, kT0 + milliseconds(1)).ok());
  auto samples = ledger.Observe(1, kT0, kT0 + milliseconds(2));
  ASSERT_TRUE(samples.ok());
  EXPECT_TRUE(samples->empty());
  EXPECT_EQ(ledger.Snapshot().regressions, 1u);
  EXPECT_EQ(ledger.Snapshot().seen, 2);
}

TEST(HeartbeatLedger, TheOldestUnseenSendTimeIsKnownUntilSeen) {
  HeartbeatLedger ledger(8);
  EXPECT_FALSE(ledger.Snapshot().oldest_unseen_sent.has_value());
  ASSERT_TRUE(ledger.Issue(kT0).has_value());
  ASSERT_TRUE(ledger.Issue(kT0 + milliseconds(10)).has_value());
  EXPECT_EQ(ledger.Snapshot().oldest_unseen_sent, kT0);
  ASSERT_TRUE(ledger.Observe(1, kT0, kT0 + milliseconds(11)).ok());
  EXPECT_EQ(ledger.Snapshot().oldest_unseen_sent, kT0 + milliseconds(10));
  ASSERT_TRUE(ledger.Observe(2, kT0, kT0 + milliseconds(12)).ok());
  EXPECT_FALSE(ledger.Snapshot().oldest_unseen_sent.has_value());
}

}  // namespace
}  // namespace tandem::lag
