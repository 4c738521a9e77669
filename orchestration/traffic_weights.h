// File: orchestration/traffic_weights.h
//
// The HAProxy server weights that send a given share of requests to the new servers. HAProxy's
// weighted balancing sends each server weight / (sum of weights) of the requests, so with n_old
// old and n_new new servers each new server gets weight p * n_old and each old one
// (100 - p) * n_new, reduced to lowest terms (25% over 2 old + 1 new: 2 and 3), which gives
// exactly p percent. Lowest terms matter: HAProxy's weighted round robin works in rounds of
// (sum of weights) requests, and after `set weight` a server can sit out a couple of rounds
// (measured with 50/75/75 -> 100/50/50: one old server got nothing for ~500 requests); with
// small weights a round is a few requests. When the reduced weights still exceed HAProxy's
// maximum of 256 they are scaled down and rounded, keeping every server of a side that should
// take traffic at weight >= 1, and `achieved_percent` says what share the rounded weights give.
// 0% puts every new server at weight 0, 100% every old one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::orchestration {

inline constexpr int64_t kHaproxyMaxWeight = 256;

struct ServerWeight {
  std::string server;
  int64_t weight = 0;
};

struct TrafficWeights {
  std::vector<ServerWeight> old_servers;
  std::vector<ServerWeight> new_servers;
  double achieved_percent = 0;  // the new servers' share these weights give
};

// REQUIRES: 0 <= percent <= 100; old_servers and new_servers non-empty.
TrafficWeights WeightsForShare(int percent, const std::vector<std::string>& old_servers,
                               const std::vector<std::string>& new_servers);

// The new servers' share (0..100) that the given weights give; 0 when every weight is 0.
double ShareOfNew(const std::vector<ServerWeight>& old_servers,
                  const std::vector<ServerWeight>& new_servers);

}  // namespace tandem::orchestration
