#include "orchestration/traffic_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace tandem::orchestration {
namespace {

std::vector<std::string> Names(const std::string& prefix, int count) {
  std::vector<std::string> names;
  for (int i = 1; i <= count; ++i) {
    names.push_back(prefix + std::to_string(i));
  }
  return names;
}

// The invariants every result holds: names kept in order, weights within HAProxy's range, one
// weight per side, achieved_percent what the weights give, every server of a side that takes
// traffic at >= 1.
void ExpectWellFormed(const TrafficWeights& weights, int percent,
                      const std::vector<std::string>& old_servers,
                      const std::vector<std::string>& new_servers) {
  ASSERT_EQ(weights.old_servers.size(), old_servers.size());
  ASSERT_EQ(weights.new_servers.size(), new_servers.size());
  for (size_t i = 0; i < old_servers.size(); ++i) {
    EXPECT_EQ(weights.old_servers[i].server, old_servers[i]);
    EXPECT_EQ(weights.old_servers[i].weight, weights.old_servers[0].weight);
    EXPECT_GE(weights.old_servers[i].weight, percent < 100 ? 1 : 0);
    EXPECT_LE(weights.old_servers[i].weight, kHaproxyMaxWeight);
  }
  for (size_t i = 0; i < new_servers.size(); ++i) {
    EXPECT_EQ(weights.new_servers[i].server, new_servers[i]);
    EXPECT_EQ(weights.new_servers[i].weight, weights.new_servers[0].weight);
    EXPECT_GE(weights.new_servers[i].weight, percent > 0 ? 1 : 0);
    EXPECT_LE(weights.new_servers[i].weight, kHaproxyMaxWeight);
  }
  EXPECT_DOUBLE_EQ(weights.achieved_percent, ShareOfNew(weights.old_servers, weights.new_servers));
}

TEST(TrafficWeights, TwoOldOneNewGiveExactShares) {
  const std::vector<std::string> old_servers = {"app-old-1", "app-old-2"};
  const std::vector<std::string> new_servers = {"app-new-1"};
  for (int percent : {0, 5, 25, 50, 75, 100}) {
    SCOPED_TRACE("percent " + std::to_string(percent));
    const TrafficWeights weights = WeightsForShare(percent, old_servers, new_servers);
    ExpectWellFormed(weights, percent, old_servers, new_servers);
    EXPECT_DOUBLE_EQ(weights.achieved_percent, percent);
  }
}

TEST(TrafficWeights, WeightsAreInLowestTerms) {
  // p * n_old : (100 - p) * n_new reduced, so HAProxy's round-robin rounds stay short (a weight
  // change then settles within a few requests instead of a few hundred).
  const TrafficWeights quarter = WeightsForShare(25, {"o1", "o2"}, {"n1"});
  EXPECT_EQ(quarter.new_servers[0].weight, 2);
  EXPECT_EQ(quarter.old_servers[0].weight, 3);
  EXPECT_EQ(quarter.old_servers[1].weight, 3);
  const TrafficWeights half = WeightsForShare(50, {"o1", "o2"}, {"n1"});
  EXPECT_EQ(half.new_servers[0].weight, 2);
  EXPECT_EQ(half.old_servers[0].weight, 1);
  const TrafficWeights five = WeightsForShare(5, {"o1", "o2"}, {"n1"});
  EXPECT_EQ(five.new_servers[0].weight, 2);
  EXPECT_EQ(five.old_servers[0].weight, 19);
  // 0% and 100%: the side that takes traffic at weight 1.
  EXPECT_EQ(WeightsForShare(0, {"o1", "o2"}, {"n1"}).old_servers[0].weight, 1);
  EXPECT_EQ(WeightsForShare(100, {"o1", "o2"}, {"n1"}).new_servers[0].weight, 1);
}

TEST(TrafficWeights, ZeroPercentStopsEveryNewServer) {
  const TrafficWeights weights = WeightsForShare(0, Names("o", 5), Names("n", 3));
  for (const ServerWeight& server : weights.new_servers) {
    EXPECT_EQ(server.weight, 0);
  }
  for (const ServerWeight& server : weights.old_servers) {
    EXPECT_GE(server.weight, 1);
  }
  EXPECT_EQ(weights.achieved_percent, 0);
}

TEST(TrafficWeights, HundredPercentStopsEveryOldServer) {
  const TrafficWeights weights = WeightsForShare(100, Names("o", 5), Names("n", 3));
  for (const ServerWeight& server : weights.old_servers) {
    EXPECT_EQ(server.weight, 0);
  }
  for (const ServerWeight& server : weights.new_servers) {
    EXPECT_GE(server.weight, 1);
  }
  EXPECT_EQ(weights.achieved_percent, 100);
}

TEST(TrafficWeights, ManyServersAreScaledIntoHaproxysRange) {
  // 5 old + 3 new: p * 5 and (100 - p) * 3 exceed 256 for most shares (at 1%: 5 and 297, which
  // have no common divisor, so the weights must be rounded).
  const std::vector<std::string> old_servers = Names("app-old-", 5);
  const std::vector<std::string> new_servers = Names("app-new-", 3);
  for (int percent = 0; percent <= 100; ++percent) {
    SCOPED_TRACE("percent " + std::to_string(percent));
    const TrafficWeights weights = WeightsForShare(percent, old_servers, new_servers);
    ExpectWellFormed(weights, percent, old_servers, new_servers);
    EXPECT_NEAR(weights.achieved_percent, percent, 0.5);
  }
  const TrafficWeights one = WeightsForShare(1, old_servers, new_servers);
  EXPECT_NE(one.achieved_percent, 1.0);  // the rounded case really is exercised
  EXPECT_NEAR(one.achieved_percent, 1.0, 0.5);
}

// The smallest distance to `percent` any pair of per-side weights within 1..256 can give.
double BestAchievableError(int percent, int n_old, int n_new) {
  double best = 100;
  for (int64_t new_weight = 1; new_weight <= kHaproxyMaxWeight; ++new_weight) {
    for (int64_t old_weight = 1; old_weight <= kHaproxyMaxWeight; ++old_weight) {
      const double share = 100.0 * static_cast<double>(new_weight * n_new) /
                           static_cast<double>(new_weight * n_new + old_weight * n_old);
      best = std::min(best, std::abs(share - percent));
    }
  }
  return best;
}

TEST(TrafficWeights, LopsidedServerCountsGetTheClosestAchievableShare) {
  // With 1 old and 7 new servers, 1% would need the old server at 7 * 99 = 693 times a new one's
  // weight: the best within 256 is 256:1 (2.66%), and achieved_percent must say so.
  for (const auto& [n_old, n_new] : std::vector<std::pair<int, int>>{
           {1, 1}, {1, 7}, {7, 1}, {12, 5}, {40, 3}, {3, 40}, {100, 1}}) {
    const std::vector<std::string> old_servers = Names("o", n_old);
    const std::vector<std::string> new_servers = Names("n", n_new);
    for (int percent : {1, 2, 5, 10, 25, 33, 50, 66, 75, 90, 95, 99}) {
      SCOPED_TRACE(std::to_string(n_old) + " old, " + std::to_string(n_new) + " new, " +
                   std::to_string(percent) + "%");
      const TrafficWeights weights = WeightsForShare(percent, old_servers, new_servers);
      ExpectWellFormed(weights, percent, old_servers, new_servers);
      EXPECT_LE(std::abs(weights.achieved_percent - percent),
                BestAchievableError(percent, n_old, n_new) + 1e-9);
    }
  }
  const TrafficWeights one_percent = WeightsForShare(1, Names("o", 1), Names("n", 7));
  EXPECT_EQ(one_percent.old_servers[0].weight, kHaproxyMaxWeight);
  EXPECT_EQ(one_percent.new_servers[0].weight, 1);
  EXPECT_NEAR(one_percent.achieved_percent, 100.0 * 7 / (7 + 256), 1e-9);
}

TEST(TrafficWeights, ShareOfNewSumsBothSides) {
  EXPECT_DOUBLE_EQ(ShareOfNew({{"o1", 3}, {"o2", 3}}, {{"n1", 2}}), 25.0);
  EXPECT_DOUBLE_EQ(ShareOfNew({{"o1", 1}}, {{"n1", 1}, {"n2", 2}}), 75.0);
  EXPECT_DOUBLE_EQ(ShareOfNew({{"o1", 5}}, {{"n1", 0}}), 0.0);
  EXPECT_DOUBLE_EQ(ShareOfNew({{"o1", 0}}, {{"n1", 4}}), 100.0);
}

TEST(TrafficWeights, ShareOfNewIsZeroWhenEveryWeightIsZero) {
  EXPECT_EQ(ShareOfNew({{"o1", 0}, {"o2", 0}}, {{"n1", 0}}), 0.0);
  EXPECT_EQ(ShareOfNew({}, {}), 0.0);
}

}  // namespace
}  // namespace tandem::orchestration
