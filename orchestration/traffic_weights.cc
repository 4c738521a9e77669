#include "orchestration/traffic_weights.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace tandem::orchestration {
namespace {

// The new side's share (percent) when each of n_new servers has weight new_weight and each of
// n_old servers old_weight.
double Share(int64_t new_weight, int64_t old_weight, int64_t n_new, int64_t n_old) {
  const int64_t new_total = new_weight * n_new;
  const int64_t total = new_total + old_weight * n_old;
  return total > 0 ? 100.0 * static_cast<double>(new_total) / static_cast<double>(total) : 0;
}

// Per-server weights (new, old) for `percent` within 0..kHaproxyMaxWeight: the ratio
// p * n_old : (100 - p) * n_new in lowest terms when it fits (exact; a zero side leaves the other
// at 1), else the pair within 1..kHaproxyMaxWeight whose share is closest to `percent` (trying,
// for each possible weight of one side, the best weight of the other).
std::pair<int64_t, int64_t> WeightsPerServer(int percent, int64_t n_new, int64_t n_old) {
  int64_t new_weight = percent * n_old;
  int64_t old_weight = (100 - percent) * n_new;
  const int64_t divisor = std::gcd(new_weight, old_weight);
  new_weight /= divisor;
  old_weight /= divisor;
  if (new_weight <= kHaproxyMaxWeight && old_weight <= kHaproxyMaxWeight) {
    return {new_weight, old_weight};
  }
  // ratio = new_weight / old_weight per server.
  const double ratio = static_cast<double>(new_weight) / static_cast<double>(old_weight);
  std::pair<int64_t, int64_t> best{1, 1};
  double best_error = std::abs(Share(1, 1, n_new, n_old) - percent);
  auto consider = [&](int64_t candidate_new, int64_t candidate_old) {
    candidate_new = std::clamp<int64_t>(candidate_new, 1, kHaproxyMaxWeight);
    candidate_old = std::clamp<int64_t>(candidate_old, 1, kHaproxyMaxWeight);
    const double error = std::abs(Share(candidate_new, candidate_old, n_new, n_old) - percent);
    if (error < best_error) {
      best_error = error;
      best = {candidate_new, candidate_old};
    }
  };
  for (int64_t w = 1; w <= kHaproxyMaxWeight; ++w) {
    consider(std::llround(static_cast<double>(w) * ratio), w);
    consider(w, std::llround(static_cast<double>(w) / ratio));
  }
  return best;
}

}  // namespace

TrafficWeights WeightsForShare(int percent, const std::vector<std::string>& old_servers,
                               const std::vector<std::string>& new_servers) {
  assert(percent >= 0 && percent <= 100);  // REQUIRES: the plan parser validates shares
  assert(!old_servers.empty() && !new_servers.empty());
  percent = std::clamp(percent, 0, 100);
  const auto n_old = static_cast<int64_t>(old_servers.size());
  const auto n_new = static_cast<int64_t>(new_servers.size());
  const auto [new_weight, old_weight] = WeightsPerServer(percent, n_new, n_old);
  TrafficWeights weights;
  for (const std::string& server : old_servers) {
    weights.old_servers.push_back({server, old_weight});
  }
  for (const std::string& server : new_servers) {
    weights.new_servers.push_back({server, new_weight});
  }
  weights.achieved_percent = ShareOfNew(weights.old_servers, weights.new_servers);
  return weights;
}

double ShareOfNew(const std::vector<ServerWeight>& old_servers,
                  const std::vector<ServerWeight>& new_servers) {
  int64_t old_total = 0;
  int64_t new_total = 0;
  for (const ServerWeight& server : old_servers) {
    old_total += server.weight;
  }
  for (const ServerWeight& server : new_servers) {
    new_total += server.weight;
  }
  const int64_t total = old_total + new_total;
  return total > 0 ? 100.0 * static_cast<double>(new_total) / static_cast<double>(total) : 0;
}

}  // namespace tandem::orchestration
