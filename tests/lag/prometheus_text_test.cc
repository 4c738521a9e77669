#include "lag/prometheus_text.h"

#include <gtest/gtest.h>

namespace tandem::lag {
namespace {

LagSnapshot Figures() {
  LagSnapshot snapshot;
  snapshot.window.samples = 10;
  snapshot.window.p50_ms = 12.5;
  snapshot.window.p90_ms = 20;
  snapshot.window.p99_ms = 31.25;
  snapshot.window.max_ms = 40;
  snapshot.overall.samples = 1000;
  snapshot.overall.mean_ms = 10;
  snapshot.overall.max_ms = 80;
  snapshot.window_length = std::chrono::seconds(10);
  snapshot.current_lag_ms = 15;
  snapshot.heartbeats_written = 1003;
  snapshot.heartbeats_seen = 1000;
  return snapshot;
}

TEST(PrometheusText, ExposesTheSummaryInSeconds) {
  const std::string text = FormatPrometheusText(Figures());
  EXPECT_NE(text.find("# TYPE tandem_lag_seconds summary\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_seconds{quantile=\"0.5\"} 0.0125\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_seconds{quantile=\"0.99\"} 0.03125\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_seconds_sum 10\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_seconds_count 1000\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_current_seconds 0.015\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_heartbeats_written_total 1003\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_stalled 0\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_lag_up 1\n"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find("positional"), std::string::npos);
}

TEST(PrometheusText, EveryLineCarriesTheLabelsEscaped) {
  const std::string text = FormatPrometheusText(Figures(), {{"datastore", "or\"ders\\x\ny"}});
  EXPECT_NE(text.find("tandem_lag_seconds{datastore=\"or\\\"ders\\\\x\\ny\",quantile=\"0.5\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tandem_lag_up{datastore=\"or\\\"ders\\\\x\\ny\"} 1"), std::string::npos);
}

TEST(PrometheusText, PositionalMeasuresBecomeOneSeriesEach) {
  LagSnapshot snapshot = Figures();
  snapshot.positional = engine::PositionalLag{};
  snapshot.positional->measures.push_back({"replay", 4096, "bytes"});
  snapshot.positional->measures.push_back({"flush", 0, "bytes"});
  snapshot.error = engine::ConnectionFailed("gone");
  const std::string text = FormatPrometheusText(snapshot);
  EXPECT_NE(text.find("tandem_lag_positional_behind{measure=\"replay\",unit=\"bytes\"} 4096\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tandem_lag_positional_behind{measure=\"flush\",unit=\"bytes\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("tandem_lag_up 0\n"), std::string::npos);
}

}  // namespace
}  // namespace tandem::lag
