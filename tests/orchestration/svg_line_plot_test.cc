#include "orchestration/svg_line_plot.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace tandem::orchestration {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

TEST(NiceAxisTop, FourStepsOfOneTwoTwoAndAHalfOrFive) {
  EXPECT_DOUBLE_EQ(NiceAxisTop(0), 1);
  EXPECT_DOUBLE_EQ(NiceAxisTop(-3), 1);
  EXPECT_DOUBLE_EQ(NiceAxisTop(4), 4);
  EXPECT_DOUBLE_EQ(NiceAxisTop(57.75), 80);
  EXPECT_DOUBLE_EQ(NiceAxisTop(0.0022), 0.004);
  EXPECT_DOUBLE_EQ(NiceAxisTop(9.5), 10);
  EXPECT_DOUBLE_EQ(NiceAxisTop(101), 200);
}

TEST(SvgLinePlot, WithoutPointsSaysSoInsteadOfAnEmptyFrame) {
  const std::string html =
      RenderSvgLinePlot({"lag", "Lag", "ms", false, std::nullopt, "No lag samples."},
                        {{"lag orders", {}, false, false, true}}, {}, 0, 1000);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<figure class=\"plot\" id=\"plot-lag\">"), std::string::npos);
  EXPECT_NE(html.find("<p class=\"no-data\">No lag samples.</p>"), std::string::npos);
}

TEST(SvgLinePlot, OneMarkerPerPointHigherValuesHigherAndLaterFurtherRight) {
  const PlotSeries values{"latency_p95", {{1000, 40}, {2000, 60}, {3000, 20}}, false, false, true};
  const PlotSeries threshold{"latency_p95 threshold", {{1000, 55}, {3000, 55}}, true, false, false};
  const std::string html =
      RenderSvgLinePlot({"rt", "Response time", "ms", false, std::nullopt, "none"},
                        {values, threshold}, {{2500, 4000, "rollback"}}, 0, 4000);
  const std::regex circle(
      "<circle class=\"point\" data-series=\"latency_p95\" data-at-ms=\"([0-9]+)\" "
      "data-value=\"([^\"]+)\" cx=\"([0-9.]+)\" cy=\"([0-9.]+)\"");
  std::vector<std::pair<double, double>> xy;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), circle);
       it != std::sregex_iterator(); ++it) {
    xy.emplace_back(std::stod((*it)[3]), std::stod((*it)[4]));
  }
  ASSERT_EQ(xy.size(), 3u);
  EXPECT_LT(xy[0].first, xy[1].first);
  EXPECT_LT(xy[1].first, xy[2].first);
  EXPECT_LT(xy[1].second, xy[0].second);  // 60 above 40
  EXPECT_GT(xy[2].second, xy[0].second);  // 20 below 40
  EXPECT_EQ(Count(html, "<circle"), 3u) << "a threshold has no markers";
  // The threshold takes its series' colour and is dashed.
  const std::regex stroke("data-series=\"latency_p95\" stroke=\"(#[0-9a-f]+)\"");
  std::smatch first;
  ASSERT_TRUE(std::regex_search(html, first, stroke));
  EXPECT_NE(html.find("<polyline class=\"series threshold\" data-series=\"latency_p95 "
                      "threshold\" stroke=\"" +
                      first[1].str() + "\""),
            std::string::npos);
  EXPECT_NE(html.find("<rect class=\"event-span\""), std::string::npos);
  EXPECT_NE(html.find(">rollback</text>"), std::string::npos);
}

TEST(SvgLinePlot, NamesAndLabelsAreEscaped) {
  const std::string html = RenderSvgLinePlot(
      {"x", "<b>title</b>", "<u>", false, std::nullopt, "none"},
      {{"<script>alert(1)</script>", {{0, 1}}, false, false, true}}, {{0, {}, "a\"b"}}, 0, 10);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<u>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a&quot;b"), std::string::npos);
}

}  // namespace
}  // namespace tandem::orchestration
