#include "orchestration/svg_line_plot.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <sstream>

#include "orchestration/html_escape.h"
#include "orchestration/utc_time.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::system_clock;

std::string FormatNumber(double value) {
  std::ostringstream out;
  if (value == std::floor(value) && std::abs(value) < 1e9) {
    out << static_cast<int64_t>(value);
  } else {
    out.precision(4);
    out << value;
  }
  return out.str();
}

// Time since the run's start on an axis spanning `span_ms`: "+12.5 s" under a minute, else
// "+1:05" (minutes:seconds) or "+2:01:05".
std::string Elapsed(int64_t ms, int64_t span_ms) {
  const int64_t total = std::max<int64_t>(0, ms) / 1000;
  char text[32];
  if (span_ms < 60'000) {
    std::snprintf(text, sizeof text, "+%.1f s", std::max<int64_t>(0, ms) / 1000.0);
  } else if (total >= 3600) {
    std::snprintf(text, sizeof text, "+%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof text, "+%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  }
  return text;
}

constexpr const char* kPalette[] = {"#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad",
                                    "#d35400", "#16a085", "#7f6000"};

}  // namespace

const char kSvgLinePlotStyle[] = R"css(
svg .frame { fill: #fbfcfd; stroke: #9aa5b1; }
svg .grid { stroke: #e1e6eb; }
svg .tick, svg .axis { font-size: 11px; fill: #52606d; }
svg .series { fill: none; stroke-width: 2; }
svg .event { stroke: #8a5a00; stroke-width: 1; stroke-dasharray: 2 3; }
svg .event-label { font-size: 11px; fill: #8a5a00; }
svg .event-span { fill: #c98a00; opacity: 0.15; }
svg .series.threshold { stroke-width: 1.5; stroke-dasharray: 6 4; opacity: 0.8; }
ul.legend { list-style: none; padding: 0; margin: 4px 0 0 70px; font-size: 12px; }
ul.legend li { display: inline-block; margin-right: 18px; }
.swatch { display: inline-block; width: 22px; height: 0; border-top: 3px solid;
          vertical-align: middle; margin-right: 6px; }
.swatch.dashed { border-top-style: dashed; }
)css";

double NiceAxisTop(double value) {
  if (!(value > 0)) return 1;
  const double raw_step = value / 4;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  for (const double multiple : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (multiple * magnitude >= raw_step) return 4 * multiple * magnitude;
  }
  return 40 * magnitude;
}

std::string RenderSvgLinePlot(const PlotSpec& spec, std::vector<PlotSeries> series,
                              const std::vector<PlotEvent>& events, int64_t t0_ms, int64_t t1_ms) {
  series.erase(std::remove_if(series.begin(), series.end(),
                              [](const PlotSeries& one) { return one.points.empty(); }),
               series.end());
  std::ostringstream out;
  out << "<figure class=\"plot\" id=\"plot-" << spec.id << "\">\n<figcaption>"
      << EscapeHtml(spec.title) << "</figcaption>\n";
  if (series.empty()) {
    out << "<p class=\"no-data\">" << EscapeHtml(spec.no_data) << "</p>\n</figure>\n";
    return out.str();
  }
  constexpr double kWidth = 880, kHeight = 240, kLeft = 70, kRight = 16, kTop = 12, kBottom = 34;
  constexpr double kPlotWidth = kWidth - kLeft - kRight, kPlotHeight = kHeight - kTop - kBottom;
  for (const PlotSeries& one : series) {
    for (const PlotPoint& point : one.points) {
      t0_ms = std::min(t0_ms, point.at_ms);
      t1_ms = std::max(t1_ms, point.at_ms);
    }
  }
  if (t1_ms <= t0_ms) t1_ms = t0_ms + 1000;
  double y_max = 0;
  for (const PlotSeries& one : series) {
    for (const PlotPoint& point : one.points) y_max = std::max(y_max, point.value);
  }
  y_max = spec.fixed_max ? std::max(*spec.fixed_max, y_max) : NiceAxisTop(y_max * 1.05);
  auto x_of = [&](int64_t at_ms) {
    return kLeft + kPlotWidth * static_cast<double>(at_ms - t0_ms) / (t1_ms - t0_ms);
  };
  auto y_of = [&](double value) {
    return kTop + kPlotHeight * (1 - std::clamp(value, 0.0, y_max) / y_max);
  };
  auto tick_label = [&](double value) {
    return spec.percent_of_ratio ? FormatNumber(value * 100) + "%" : FormatNumber(value);
  };
  char number[64];
  auto fixed = [&number](double value) {
    std::snprintf(number, sizeof number, "%.1f", value);
    return std::string(number);
  };
  out << "<svg width=\"" << kWidth << "\" height=\"" << kHeight << "\" viewBox=\"0 0 " << kWidth
      << " " << kHeight << "\" role=\"img\">\n";
  out << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kPlotWidth << "\" height=\""
      << kPlotHeight << "\" class=\"frame\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double value = y_max * i / 4;
    const double y = y_of(value);
    out << "<line class=\"grid\" x1=\"" << kLeft << "\" x2=\"" << kLeft + kPlotWidth << "\" y1=\""
        << fixed(y) << "\" y2=\"" << fixed(y) << "\"/>"
        << "<text class=\"tick\" x=\"" << kLeft - 6 << "\" y=\"" << fixed(y + 4)
        << "\" text-anchor=\"end\">" << EscapeHtml(tick_label(value)) << "</text>\n";
  }
  for (int i = 0; i <= 5; ++i) {
    const int64_t at_ms = t0_ms + (t1_ms - t0_ms) * i / 5;
    out << "<text class=\"tick\" x=\"" << fixed(x_of(at_ms)) << "\" y=\"" << kHeight - 14
        << "\" text-anchor=\"middle\">" << Elapsed(at_ms - t0_ms, t1_ms - t0_ms) << "</text>\n";
  }
  out << "<text class=\"axis\" x=\"" << kLeft + kPlotWidth / 2 << "\" y=\"" << kHeight - 1
      << "\" text-anchor=\"middle\">time since the run began"
      << (t1_ms - t0_ms < 60'000      ? ""
          : t1_ms - t0_ms < 3'600'000 ? " (min:s)"
                                      : " (h:min:s)")
      << "</text>\n";
  out << "<text class=\"axis\" x=\"12\" y=\"" << kTop + kPlotHeight / 2
      << "\" text-anchor=\"middle\" transform=\"rotate(-90 12 " << kTop + kPlotHeight / 2 << ")\">"
      << EscapeHtml(spec.unit) << "</text>\n";
  std::ostringstream legend;
  legend << "<ul class=\"legend\">";
  size_t color_index = 0;
  std::map<std::string, std::string> color_of;
  for (const PlotSeries& one : series) {
    // A threshold takes the colour of its gate ("<gate> threshold").
    const std::string base = one.dashed ? one.name.substr(0, one.name.rfind(" threshold")) : "";
    std::string color;
    if (one.dashed && color_of.count(base) != 0) {
      color = color_of[base];
    } else {
      color = kPalette[color_index++ % std::size(kPalette)];
      color_of[one.name] = color;
    }
    std::ostringstream points;
    double previous_y = 0;
    for (size_t i = 0; i < one.points.size(); ++i) {
      const double x = x_of(one.points[i].at_ms);
      const double y = y_of(one.points[i].value);
      if (one.stepped && i > 0) points << fixed(x) << "," << fixed(previous_y) << " ";
      points << fixed(x) << "," << fixed(y) << " ";
      previous_y = y;
    }
    if (one.stepped) points << fixed(x_of(t1_ms)) << "," << fixed(previous_y);
    out << "<polyline class=\"series" << (one.dashed ? " threshold" : "") << "\" data-series=\""
        << EscapeHtml(one.name) << "\" stroke=\"" << color << "\" points=\"" << points.str()
        << "\"/>\n";
    if (one.markers && one.points.size() <= 400) {
      for (const PlotPoint& point : one.points) {
        out << "<circle class=\"point\" data-series=\"" << EscapeHtml(one.name)
            << "\" data-at-ms=\"" << point.at_ms << "\" data-value=\"" << FormatNumber(point.value)
            << "\" cx=\"" << fixed(x_of(point.at_ms)) << "\" cy=\"" << fixed(y_of(point.value))
            << "\" r=\"3\" fill=\"" << color << "\"><title>" << EscapeHtml(one.name) << " "
            << EscapeHtml(tick_label(point.value)) << " at "
            << Elapsed(point.at_ms - t0_ms, t1_ms - t0_ms) << " ("
            << FormatUtcTime(Clock::time_point(std::chrono::milliseconds(point.at_ms)))
            << ")</title></circle>\n";
      }
    }
    legend << "<li><span class=\"swatch" << (one.dashed ? " dashed" : "")
           << "\" style=\"border-color:" << color << "\"></span>" << EscapeHtml(one.name)
           << "</li>";
  }
  legend << "</ul>\n";
  for (const PlotEvent& event : events) {
    if (event.at_ms < t0_ms || event.at_ms > t1_ms) continue;
    const double x = x_of(event.at_ms);
    if (event.end_ms) {
      const double width = std::max(2.0, x_of(std::min(*event.end_ms, t1_ms)) - x);
      out << "<rect class=\"event-span\" x=\"" << fixed(x) << "\" y=\"" << kTop << "\" width=\""
          << fixed(width) << "\" height=\"" << kPlotHeight << "\"/>";
    }
    out << "<line class=\"event\" x1=\"" << fixed(x) << "\" x2=\"" << fixed(x) << "\" y1=\"" << kTop
        << "\" y2=\"" << kTop + kPlotHeight << "\"/><text class=\"event-label\" x=\""
        << fixed(x - 3) << "\" y=\"" << kTop + 10 << "\" text-anchor=\"end\">"
        << EscapeHtml(event.label) << "</text>\n";
  }
  out << "</svg>\n" << legend.str() << "</figure>\n";
  return out.str();
}

}  // namespace tandem::orchestration
