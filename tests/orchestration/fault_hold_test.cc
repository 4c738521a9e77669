// Fault holds (orchestration/fault_hold.h): the variable's form, its points and its bound, and a
// hold that holds only at its own point.
#include "orchestration/fault_hold.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <string>

namespace tandem::orchestration {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(FaultHoldTest, ReadsAPointAndADuration) {
  auto hold = ParseFaultHold("dns.updated=30s");
  ASSERT_TRUE(hold.ok()) << hold.status().message();
  EXPECT_EQ(hold->point, "dns.updated");
  EXPECT_EQ(hold->duration, milliseconds(30'000));
  for (const char* point : {"writes.switching", "writes.switched", "dns.updating"}) {
    EXPECT_TRUE(ParseFaultHold(std::string(point) + "=250ms").ok()) << point;
  }
}

TEST(FaultHoldTest, RefusesWhatWouldHoldNowhereOrTooLong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& bad :
       {Case{"dns.updated", "must be \"<point>=<duration>\""},
        Case{"dns.update=5s", "no fault point \"dns.update\"; the points are"},
        Case{"=5s", "no fault point \"\""}, Case{"writes.switched=5", "TANDEM_FAULT_HOLD: "},
        Case{"writes.switched=-1s", "TANDEM_FAULT_HOLD: "},
        Case{"writes.switched=11m", "longer than the 10m allowed"}}) {
    auto hold = ParseFaultHold(bad.text);
    ASSERT_FALSE(hold.ok()) << bad.text;
    EXPECT_EQ(hold.status().code(), engine::StatusCode::kInvalidArgument) << bad.text;
    EXPECT_NE(hold.status().message().find(bad.says), std::string::npos)
        << bad.text << ": " << hold.status().message();
  }
}

TEST(FaultHoldTest, HoldsOnlyAtItsPointAndOnlyWhenSet) {
  unsetenv(kFaultHoldVariable);
  EXPECT_TRUE(CheckFaultHoldEnvironment().ok());
  const auto timed = [](const char* point) {
    const auto started = steady_clock::now();
    HoldAtFaultPoint(point);
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);
  };
  EXPECT_LT(timed("dns.updated"), milliseconds(100));

  setenv(kFaultHoldVariable, "dns.updated=300ms", 1);
  EXPECT_TRUE(CheckFaultHoldEnvironment().ok());
  EXPECT_LT(timed("dns.updating"), milliseconds(100));
  EXPECT_GE(timed("dns.updated"), milliseconds(300));

  setenv(kFaultHoldVariable, "dns.updatd=300ms", 1);
  EXPECT_EQ(CheckFaultHoldEnvironment().code(), engine::StatusCode::kInvalidArgument);
  unsetenv(kFaultHoldVariable);
}

}  // namespace
}  // namespace tandem::orchestration
