// File: orchestration/svg_line_plot.h
//
// A line plot over time as inline SVG, for pages that fetch nothing (the migration report). It is
// one <figure class="plot" id="plot-<id>"> holding:
//   <figcaption>  the title;
//   <svg>         a frame; a y axis from 0 in four equal steps (to NiceAxisTop of the largest
//                 value, or to fixed_max); a time axis from t0_ms to t1_ms (widened to every
//                 point) labelled as time since t0_ms; per series one
//                 <polyline class="series" data-series="<name>"> (a threshold: class
//                 "series threshold", dashed, in the colour of the series it follows when named
//                 "<that series> threshold") and, up to 400 points, one
//                 <circle class="point" data-series data-at-ms data-value cx cy> per point with a
//                 <title>; every event as a dotted line (a span also shaded to its end) with its
//                 label;
//   <ul class="legend">  one entry per series.
// When no series holds a point, the figure holds <p class="no-data">spec.no_data</p> instead of
// the svg: never an empty frame. Every text is HTML-escaped. kSvgLinePlotStyle styles the
// classes (the page includes it in its <style>); colours are attributes. Nothing is fetched.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::orchestration {

// One measurement: when (unix ms) and its value.
struct PlotPoint {
  int64_t at_ms = 0;
  double value = 0;
};

struct PlotSeries {
  std::string name;  // in the legend and data-series
  std::vector<PlotPoint> points;
  bool dashed = false;   // a threshold
  bool stepped = false;  // holds its value until the next point (the traffic share)
  bool markers = true;   // a circle per point (thresholds have none)
};

// A moment (an abort) or a span (a rollback, to its end) marked across a plot.
struct PlotEvent {
  int64_t at_ms = 0;
  std::optional<int64_t> end_ms;  // a span: shaded to here
  std::string label;              // left of the line at at_ms
};

struct PlotSpec {
  std::string id;                   // the figure's id is "plot-<id>": "traffic", "error-rate", ...
  std::string title;                // shown above the plot
  std::string unit;                 // of the y axis, for its label
  bool percent_of_ratio = false;    // y ticks of a ratio shown as percentages
  std::optional<double> fixed_max;  // the y axis' top (raised to the largest value); else nice
  std::string no_data;              // what to say when no series has a point
};

// See the file comment. `series` without points are left out.
std::string RenderSvgLinePlot(const PlotSpec& spec, std::vector<PlotSeries> series,
                              const std::vector<PlotEvent>& events, int64_t t0_ms, int64_t t1_ms);

// The top of a y axis of four equal steps of 1, 2, 2.5 or 5 times a power of ten, at or above
// `value` (1 for a value that is not positive).
double NiceAxisTop(double value);

// The CSS for the classes of the file comment.
extern const char kSvgLinePlotStyle[];

}  // namespace tandem::orchestration
