// File: orchestration/fault_hold.h
//
// Fault holds: a test's way to land a kill -9 inside a window of the cutover that is otherwise
// about a millisecond wide, such as between journaling a switch's intent and making it. With
//   TANDEM_FAULT_HOLD="<point>=<duration>"      e.g. TANDEM_FAULT_HOLD="dns.updated=30s"
// in its environment, `tandem run` stops at that point for the duration (at most 10 min), after
// printing one line to stderr: "tandem: fault hold at <point> for <duration> (TANDEM_FAULT_HOLD)".
// Without the variable nothing is held. A hold only delays: it changes no state, but what it
// holds lasts that much longer (at writes.switching, the write outage; the write pause reported
// after writes.switched includes it), and while it holds the run answers no stop request and does
// not renew its controller lock. For tests only, never for a real migration.
//
// The points, in the order a cutover reaches them:
//   writes.switching  the writer switch's intent is journaled; the new server is not in yet
//   writes.switched   the new server is in the writer backend; the switch is not journaled yet
//   dns.updating      the DNS update's intent is journaled; the update is not sent yet
//   dns.updated       the update is applied at the primary; it is not journaled yet
//
// Thread safety: reads the environment only; call from any thread (nobody may setenv meanwhile).
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"
#include "orchestration/duration.h"

namespace tandem::orchestration {

inline constexpr const char* kFaultHoldVariable = "TANDEM_FAULT_HOLD";

struct FaultHold {
  std::string point;
  Milliseconds duration{0};
};

// Errors: kInvalidArgument naming the variable, what is wrong and the form expected: no '=', an
// unknown point (the known ones are listed), a duration ParseDuration refuses or one over 10 min.
engine::Result<FaultHold> ParseFaultHold(std::string_view text);

// The environment's hold; OK when the variable is unset. `tandem run` checks it before anything
// runs, so a misspelt hold is refused instead of silently not holding.
engine::Status CheckFaultHoldEnvironment();

// Holds here when the environment names `point` (which must be one of the points above).
void HoldAtFaultPoint(std::string_view point);

}  // namespace tandem::orchestration
