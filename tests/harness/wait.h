// File: tests/harness/wait.h
//
// Deadline-bounded polling: every wait in the harness (server readiness, replication catch-up,
// process exit) checks a real condition repeatedly until it holds or the deadline passes. There
// are no fixed sleeps: the interval between checks starts at 2 ms and backs off to 100 ms.
//
// Thread safety: stateless; safe for concurrent use.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace tandem::testing {

// Calls `condition` until it returns true (then returns true) or `timeout` has passed (then
// returns false, after one last check at the deadline). The interval backs off from 2 ms to
// `max_interval` (a test that must act within milliseconds of a change passes 2 ms). Exceptions
// from `condition` propagate.
template <typename Condition>
bool PollUntil(std::chrono::milliseconds timeout, Condition&& condition,
               std::chrono::milliseconds max_interval = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto interval = std::chrono::milliseconds(2);
  for (;;) {
    if (condition()) {
      return true;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(interval, deadline - now));
    interval = std::min(interval * 2, std::max(max_interval, std::chrono::milliseconds(2)));
  }
}

// The default deadline for a server to become ready or a replica to catch up.
inline constexpr std::chrono::seconds kDefaultServerTimeout{60};

}  // namespace tandem::testing
