#include "orchestration/duration.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace tandem::orchestration {
namespace {

int64_t Parsed(std::string_view text) {
  auto duration = ParseDuration(text);
  EXPECT_TRUE(duration.ok()) << text << ": " << duration.status().ToString();
  return duration.ok() ? duration->count() : -1;
}

std::string Refusal(std::string_view text) {
  auto duration = ParseDuration(text);
  EXPECT_FALSE(duration.ok()) << text << " was accepted as " << duration->count() << "ms";
  if (duration.ok()) {
    return "";
  }
  EXPECT_EQ(duration.status().code(), engine::StatusCode::kInvalidArgument);
  // Every refusal names the form expected.
  EXPECT_NE(duration.status().message().find("\"250ms\", \"30s\", \"10m\" or \"72h\""),
            std::string::npos)
      << duration.status().message();
  return duration.status().message();
}

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(Parsed("250ms"), 250);
  EXPECT_EQ(Parsed("30s"), 30'000);
  EXPECT_EQ(Parsed("10m"), 600'000);
  EXPECT_EQ(Parsed("72h"), 259'200'000);
  EXPECT_EQ(Parsed("0s"), 0);
  EXPECT_EQ(Parsed("0ms"), 0);
  EXPECT_EQ(Parsed("007s"), 7'000);
}

TEST(Duration, ParsesFractionsThatAreWholeMilliseconds) {
  EXPECT_EQ(Parsed("1.5s"), 1'500);
  EXPECT_EQ(Parsed("0.5m"), 30'000);
  EXPECT_EQ(Parsed("1.25h"), 4'500'000);
  EXPECT_EQ(Parsed("2.500s"), 2'500);
  EXPECT_EQ(Parsed("0.001s"), 1);
  EXPECT_EQ(Parsed("0.0000025h"), 9);  // seven fraction digits, still exact
}

TEST(Duration, ParsesCompoundsFromLargestToSmallest) {
  EXPECT_EQ(Parsed("1h30m"), 5'400'000);
  EXPECT_EQ(Parsed("1m30s500ms"), 90'500);
  EXPECT_EQ(Parsed("2h0m"), 7'200'000);
  EXPECT_EQ(Parsed("1h5s"), 3'605'000);
  EXPECT_EQ(Parsed("1.5h30m"), 7'200'000);
}

TEST(Duration, RefusesEmptyAndMissingUnit) {
  EXPECT_NE(Refusal("").find("empty"), std::string::npos);
  EXPECT_NE(Refusal("30").find("has no unit"), std::string::npos);
  EXPECT_NE(Refusal("1h30").find("has no unit"), std::string::npos);
  EXPECT_NE(Refusal("s").find("number"), std::string::npos);
}

TEST(Duration, RefusesUnknownUnits) {
  EXPECT_NE(Refusal("5x").find("unknown unit \"x\""), std::string::npos);
  EXPECT_NE(Refusal("5S").find("unknown unit"), std::string::npos);
  EXPECT_NE(Refusal("2d").find("unknown unit"), std::string::npos);
  EXPECT_NE(Refusal("1e3s").find("unknown unit \"e\""), std::string::npos);
}

TEST(Duration, RefusesNegativeValues) {
  EXPECT_NE(Refusal("-5s").find("negative"), std::string::npos);
  EXPECT_NE(Refusal("-0s").find("negative"), std::string::npos);
}

TEST(Duration, RefusesWhiteSpaceAnywhere) {
  for (const char* text : {"5 s", " 5s", "5s ", "1h 30m", "\t5s"}) {
    EXPECT_NE(Refusal(text).find("white space"), std::string::npos) << text;
  }
}

TEST(Duration, RefusesSubMillisecondRemainders) {
  EXPECT_NE(Refusal("1.5ms").find("whole number of milliseconds"), std::string::npos);
  EXPECT_NE(Refusal("0.0001s").find("whole number of milliseconds"), std::string::npos);
  EXPECT_NE(Refusal("0.00000001h").find("whole number of milliseconds"), std::string::npos);
}

TEST(Duration, RefusesUnitsOutOfOrderOrRepeated) {
  EXPECT_NE(Refusal("30m1h").find("out of order"), std::string::npos);
  EXPECT_NE(Refusal("1s1s").find("out of order"), std::string::npos);
  EXPECT_NE(Refusal("5ms1s").find("out of order"), std::string::npos);
}

TEST(Duration, RefusesMalformedNumbers) {
  Refusal(".5s");
  Refusal("1.s");
  Refusal("+5s");
  Refusal("1..5s");
  Refusal("5s,");
}

TEST(Duration, RefusesValuesBeyondSixtyFourBitMilliseconds) {
  EXPECT_EQ(Parsed("9223372036854775807ms"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Parsed("2562047788015h"), 2'562'047'788'015LL * 3'600'000);
  EXPECT_NE(Refusal("9223372036854775808ms").find("64-bit"), std::string::npos);
  EXPECT_NE(Refusal("2562047788016h").find("64-bit"), std::string::npos);
  EXPECT_NE(Refusal("99999999999999999999999s").find("64-bit"), std::string::npos);
  EXPECT_NE(Refusal("2562047788015h1h").find("out of order"), std::string::npos);
  EXPECT_NE(Refusal("2562047788015h59m").find("64-bit"), std::string::npos);
}

TEST(Duration, FormatsTheShortestCompound) {
  EXPECT_EQ(FormatDuration(Milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(Milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(Milliseconds(30'000)), "30s");
  EXPECT_EQ(FormatDuration(Milliseconds(600'000)), "10m");
  EXPECT_EQ(FormatDuration(Milliseconds(259'200'000)), "72h");
  EXPECT_EQ(FormatDuration(Milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(FormatDuration(Milliseconds(1'500)), "1s500ms");
  EXPECT_EQ(FormatDuration(Milliseconds(3'600'001)), "1h1ms");
}

TEST(Duration, FormatReadsBackExactly) {
  const int64_t samples[] = {
      0,          1,           999,           1'000,
      59'999,     60'000,      3'599'999,     3'600'000,
      86'400'123, 259'200'000, 1'234'567'890, std::numeric_limits<int64_t>::max()};
  for (int64_t sample : samples) {
    const std::string text = FormatDuration(Milliseconds(sample));
    EXPECT_EQ(Parsed(text), sample) << text;
  }
}

}  // namespace
}  // namespace tandem::orchestration
