#include "orchestration/migration_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "orchestration/html_escape.h"
#include "orchestration/svg_line_plot.h"

namespace tandem::orchestration {
namespace {

using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-26T06:01:41.123Z".
std::string IsoMs(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ",
                static_cast<int>(((unix_ms % 1000) + 1000) % 1000));
  return text;
}

json OptionalIso(const std::optional<int64_t>& unix_ms) {
  return unix_ms ? json(IsoMs(*unix_ms)) : json(nullptr);
}

json OptionalMs(const std::optional<int64_t>& unix_ms) {
  return unix_ms ? json(*unix_ms) : json(nullptr);
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A value of a JSON object, or null when `object` is not an object or lacks `key`.
json Field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto found = object.find(key);
  return found == object.end() ? json(nullptr) : *found;
}

std::string StringField(const json& object, const char* key) {
  const json value = Field(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

std::optional<double> NumberField(const json& object, const char* key) {
  const json value = Field(object, key);
  if (!value.is_number()) return std::nullopt;
  const double number = value.get<double>();
  if (!std::isfinite(number)) return std::nullopt;
  return number;
}

// ---------------------------------------------------------------------------------------------
// The samples of one run with the moment each was journaled.
//
using TimedSample = Journal::TimedSample;

// ---------------------------------------------------------------------------------------------
// The data.

json StepsData(const std::vector<StepRecord>& steps) {
  json list = json::array();
  for (const StepRecord& step : steps) {
    const bool known_phase = step.phase >= 1 && step.phase <= 6;
    list.push_back(
        {{"phase", step.phase},
         {"phase_name", known_phase ? PhaseName(static_cast<Phase>(step.phase)) : ""},
         {"name", step.name},
         {"state", StepStateName(step.state)},
         {"started_at", IsoMs(step.started_at_ms)},
         {"started_at_ms", step.started_at_ms},
         {"finished_at", OptionalIso(step.finished_at_ms)},
         {"finished_at_ms", OptionalMs(step.finished_at_ms)},
         {"duration_ms",
          step.finished_at_ms ? json(*step.finished_at_ms - step.started_at_ms) : json(nullptr)},
         {"gates", step.gates.is_array() ? step.gates : json::array()},
         {"detail", step.detail}});
  }
  return list;
}

void AddGatePoints(const json& gates, int64_t at_ms, const std::string& step, const char* source,
                   std::map<std::string, std::vector<json>>* series) {
  if (!gates.is_array()) return;
  for (const json& gate : gates) {
    const std::string name = StringField(gate, "name");
    const std::optional<double> value = NumberField(gate, "value");
    if (name.empty() || !value) continue;
    const std::optional<double> threshold = NumberField(gate, "threshold");
    const json ok = Field(gate, "ok");
    (*series)[name].push_back({{"at", IsoMs(at_ms)},
                               {"at_ms", at_ms},
                               {"step", step},
                               {"value", *value},
                               {"threshold", threshold ? json(*threshold) : json(nullptr)},
                               {"ok", ok.is_boolean() ? ok : json(nullptr)},
                               {"unit", StringField(gate, "unit")},
                               {"source", source}});
  }
}

json GateSeriesData(const std::vector<StepRecord>& steps, const std::vector<TimedSample>& samples) {
  std::map<std::string, std::vector<json>> series;
  for (const TimedSample& sample : samples) {
    if (sample.kind != "gates") continue;
    AddGatePoints(Field(sample.data, "gates"), sample.at_ms, StringField(sample.data, "step"),
                  "sample", &series);
  }
  for (const StepRecord& step : steps) {
    if (!step.finished_at_ms) continue;
    AddGatePoints(step.gates, *step.finished_at_ms, step.name, "step end", &series);
  }
  json result = json::object();
  for (auto& [name, points] : series) {
    std::stable_sort(points.begin(), points.end(), [](const json& a, const json& b) {
      return a["at_ms"].get<int64_t>() < b["at_ms"].get<int64_t>();
    });
    result[name] = points;
  }
  return result;
}

json TrafficData(const std::vector<StepRecord>& steps, const std::vector<TimedSample>& samples) {
  json list = json::array();
  for (const TimedSample& sample : samples) {
    if (sample.kind != "traffic") continue;
    const std::optional<double> percent = NumberField(sample.data, "percent");
    if (!percent) continue;
    json point = {{"at", IsoMs(sample.at_ms)},
                  {"at_ms", sample.at_ms},
                  {"step", StringField(sample.data, "step")},
                  {"percent", *percent},
                  {"event", StringField(sample.data, "event")}};
    if (point["event"] == "abort") {
      point["gate"] = StringField(sample.data, "gate");
      point["abort_ms"] = Field(sample.data, "abort_ms");
    }
    list.push_back(std::move(point));
  }
  // A rollback's "undo traffic" sends every request back to the old servers when it is done.
  for (const StepRecord& step : steps) {
    const std::optional<double> percent = NumberField(step.detail, "traffic_percent");
    if (!StartsWith(step.name, "undo traffic") || step.state != StepState::kDone ||
        !step.finished_at_ms || !percent) {
      continue;
    }
    list.push_back({{"at", IsoMs(*step.finished_at_ms)},
                    {"at_ms", *step.finished_at_ms},
                    {"step", step.name},
                    {"percent", *percent},
                    {"event", "undone"}});
  }
  std::stable_sort(list.begin(), list.end(), [](const json& a, const json& b) {
    return a["at_ms"].get<int64_t>() < b["at_ms"].get<int64_t>();
  });
  return list;
}

// When the first journaled `sub_step` of `journaled` began / ended (unix ms): a sample is written
// as the sub-step ends, its "ms" is how long it took.
std::optional<int64_t> SubStepEnded(const std::vector<const TimedSample*>& journaled,
                                    const char* sub_step) {
  for (const TimedSample* sample : journaled) {
    if (StringField(sample->data, "sub_step") == sub_step) return sample->at_ms;
  }
  return std::nullopt;
}

std::optional<int64_t> SubStepBegan(const std::vector<const TimedSample*>& journaled,
                                    const char* sub_step) {
  for (const TimedSample* sample : journaled) {
    if (StringField(sample->data, "sub_step") != sub_step) continue;
    const std::optional<double> ms = NumberField(sample->data, "ms");
    return sample->at_ms - static_cast<int64_t>(ms.value_or(0));
  }
  return std::nullopt;
}

// One direction ("cutover" or "revert") of one datastore's writes.
json WritePauseOf(const StepRecord* step, const std::vector<const TimedSample*>& journaled,
                  const char* switch_sub_step, const char* freeze_sub_step) {
  if (step == nullptr && journaled.empty()) return nullptr;
  json entry = {{"step_state", step ? json(StepStateName(step->state)) : json(nullptr)},
                {"write_pause_ms", nullptr},
                {"pause_source", nullptr},
                {"drain_ms", nullptr},
                {"frozen_at", nullptr},
                {"switched_at", nullptr},
                {"verify", nullptr},
                {"sub_steps", json::array()}};
  const json detail = step ? step->detail : json::object();
  for (const char* key : {"drain_ms", "frozen_at", "switched_at", "verify"}) {
    if (!Field(detail, key).is_null()) entry[key] = detail[key];
  }
  std::optional<double> journaled_pause;
  for (const TimedSample* sample : journaled) {
    const std::string name = StringField(sample->data, "sub_step");
    const std::optional<double> ms = NumberField(sample->data, "ms");
    entry["sub_steps"].push_back({{"name", name},
                                  {"ms", ms ? json(*ms) : json(nullptr)},
                                  {"at", IsoMs(sample->at_ms)},
                                  {"at_ms", sample->at_ms}});
    if (name == switch_sub_step) journaled_pause = NumberField(sample->data, "write_pause_ms");
  }
  const std::optional<int64_t> freeze_began_ms = SubStepBegan(journaled, freeze_sub_step);
  const std::optional<int64_t> switched_ms = SubStepEnded(journaled, switch_sub_step);
  if (const std::optional<double> pause = NumberField(detail, "write_pause_ms")) {
    entry["write_pause_ms"] = *pause;
    entry["pause_source"] = "step detail";
  } else if (journaled_pause) {
    entry["write_pause_ms"] = *journaled_pause;
    entry["pause_source"] = "journaled switch";
  } else if (freeze_began_ms && switched_ms && *switched_ms >= *freeze_began_ms) {
    entry["write_pause_ms"] = *switched_ms - *freeze_began_ms;
    entry["pause_source"] = "sub-step times";
  }
  return entry;
}

json WritePauseData(const std::vector<StepRecord>& steps, const std::vector<TimedSample>& samples) {
  std::vector<std::string> datastores;  // in the order they appear
  auto note = [&datastores](const std::string& name) {
    if (!name.empty() &&
        std::find(datastores.begin(), datastores.end(), name) == datastores.end()) {
      datastores.push_back(name);
    }
  };
  for (const StepRecord& step : steps) {
    if (StartsWith(step.name, "writes ")) note(step.name.substr(7));
  }
  for (const TimedSample& sample : samples) {
    if (sample.kind == "write_cutover") note(StringField(sample.data, "datastore"));
  }
  json list = json::array();
  for (const std::string& datastore : datastores) {
    const StepRecord* cutover = nullptr;
    const StepRecord* revert = nullptr;
    for (const StepRecord& step : steps) {
      if (step.name == "writes " + datastore) cutover = &step;
      if (step.name == "undo writes " + datastore) revert = &step;
    }
    std::vector<const TimedSample*> cutover_samples;
    std::vector<const TimedSample*> revert_samples;
    for (const TimedSample& sample : samples) {
      if (sample.kind != "write_cutover" || StringField(sample.data, "datastore") != datastore) {
        continue;
      }
      const std::string direction = StringField(sample.data, "direction");
      (direction == "revert" ? revert_samples : cutover_samples).push_back(&sample);
    }
    json entry = {{"datastore", datastore},
                  {"cutover", WritePauseOf(cutover, cutover_samples, "switch", "freeze")},
                  {"revert", WritePauseOf(revert, revert_samples, "switch to old", "freeze new")}};
    // A cutover that stopped before its switch and was reverted: the new side never took writes
    // (no "freeze new"), and clients waited from the cutover's freeze to the revert's switch.
    json& reverted = entry["revert"];
    const std::optional<int64_t> frozen = SubStepBegan(cutover_samples, "freeze");
    const std::optional<int64_t> back = SubStepEnded(revert_samples, "switch to old");
    if (reverted.is_object() && reverted["write_pause_ms"].is_null() &&
        !SubStepEnded(revert_samples, "freeze new") && frozen && back && *back >= *frozen) {
      reverted["write_pause_ms"] = *back - *frozen;
      reverted["pause_source"] = "cutover freeze to revert switch";
    }
    list.push_back(std::move(entry));
  }
  return list;
}

json DnsData(const std::vector<StepRecord>& steps) {
  json dns = {{"ttl", nullptr}, {"changes", json::array()}};
  for (const StepRecord& step : steps) {
    const json& detail = step.detail;
    const std::string direction = StringField(detail, "direction");
    if (step.name == "dns ttl") {
      dns["ttl"] = {{"step_state", StepStateName(step.state)},
                    {"ttl", Field(detail, "ttl")},
                    {"lowered_at", Field(detail, "lowered_at")},
                    {"switch_safe_at", Field(detail, "switch_safe_at")},
                    {"resolvers",
                     Field(detail, "resolvers").is_array() ? detail["resolvers"] : json::array()}};
    } else if ((direction == "switch" || direction == "revert") &&
               Field(detail, "resolvers").is_array()) {
      dns["changes"].push_back(
          {{"step", step.name},
           {"step_state", StepStateName(step.state)},
           {"direction", direction},
           {"switched_at", Field(detail, "switched_at")},
           {"propagation_s", Field(detail, "propagation_s")},
           {"serial_before", Field(detail, "serial_before")},
           {"serial_after", Field(detail, "serial_after")},
           {"records", Field(detail, "records").is_array() ? detail["records"] : json::array()},
           {"resolvers", detail["resolvers"]}});
    }
  }
  return dns;
}

json RollbackData(const std::vector<StepRecord>& steps, const std::vector<TimedSample>& samples) {
  json rollback = {{"events", json::array()},
                   {"undo_steps", json::array()},
                   {"ms", nullptr},
                   {"budget_ms", nullptr},
                   {"within_budget", nullptr}};
  for (const TimedSample& sample : samples) {
    if (sample.kind != "rollback" || !sample.data.is_object()) continue;
    json event = sample.data;
    event["at_ms"] = sample.at_ms;
    if (StringField(event, "event") == "done") {
      rollback["ms"] = Field(event, "ms");
      rollback["budget_ms"] = Field(event, "budget_ms");
      rollback["within_budget"] = Field(event, "within_budget");
    }
    rollback["events"].push_back(std::move(event));
  }
  for (const StepRecord& step : steps) {
    if (!StartsWith(step.name, "undo ")) continue;
    rollback["undo_steps"].push_back(
        {{"name", step.name},
         {"state", StepStateName(step.state)},
         {"started_at", IsoMs(step.started_at_ms)},
         {"finished_at", OptionalIso(step.finished_at_ms)},
         {"duration_ms",
          step.finished_at_ms ? json(*step.finished_at_ms - step.started_at_ms) : json(nullptr)}});
  }
  return rollback;
}

json VerdictData(const std::string& state, const std::string& outcome) {
  std::string result = state;
  std::string fallback;
  if (state == "completed") {
    fallback = "every step done";
  } else if (state == "rolled_back") {
    result = "rolled back";
    fallback = "the migration was undone";
  } else if (state == "failed") {
    fallback = "the run stopped";
  } else if (state == "running" || state == "waiting") {
    fallback = "the run goes on; this report shows it so far";
  } else if (state == "interrupted") {
    fallback =
        "the controller stopped before the run ended; continue it with tandem run --resume, or "
        "undo it with --rollback";
  }
  const std::string said = outcome.empty() ? fallback : outcome;
  std::string line = result;
  if (!line.empty()) line[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(line[0])));
  line += said.empty() ? "" : ": " + said;
  return {{"result", result}, {"outcome", outcome}, {"line", line}};
}

// ---------------------------------------------------------------------------------------------
// The page.

// Any JSON scalar as escaped text: strings as they are, numbers compactly, null as "–".
std::string Text(const json& value) {
  if (value.is_null()) return "&ndash;";
  if (value.is_string()) return EscapeHtml(value.get<std::string>());
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number()) {
    const double number = value.get<double>();
    std::ostringstream out;
    if (value.is_number_integer() || number == std::floor(number)) {
      out << std::fixed;
      out.precision(0);
    } else {
      out.precision(4);
    }
    out << number;
    return EscapeHtml(out.str());
  }
  return EscapeHtml(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string FormatMs(const json& value) {
  if (!value.is_number()) return "&ndash;";
  const double ms = value.get<double>();
  std::ostringstream out;
  out.setf(std::ios::fixed);
  if (ms < 1000) {
    out.precision(0);
    out << ms << " ms";
  } else if (ms < 60'000) {
    out.precision(2);
    out << ms / 1000 << " s";
  } else if (ms < 3'600'000) {
    out.precision(1);
    out << ms / 60'000 << " min";
  } else {
    out.precision(1);
    out << ms / 3'600'000 << " h";
  }
  return out.str();
}

// The series of the gates whose names `matches` accepts, each followed by its threshold.
template <typename Matches>
std::vector<PlotSeries> GateSeries(const json& gate_series, Matches matches) {
  std::vector<PlotSeries> series;
  if (!gate_series.is_object()) return series;
  for (auto it = gate_series.begin(); it != gate_series.end(); ++it) {
    if (!matches(it.key()) || !it.value().is_array()) continue;
    PlotSeries values{it.key(), {}, false, false, true};
    PlotSeries thresholds{it.key() + " threshold", {}, true, false, false};
    for (const json& point : it.value()) {
      const json at = Field(point, "at_ms");
      if (!at.is_number_integer()) continue;
      if (const std::optional<double> value = NumberField(point, "value")) {
        values.points.push_back({at.get<int64_t>(), *value});
      }
      if (const std::optional<double> threshold = NumberField(point, "threshold")) {
        thresholds.points.push_back({at.get<int64_t>(), *threshold});
      }
    }
    series.push_back(std::move(values));
    series.push_back(std::move(thresholds));
  }
  return series;
}

std::string GateCell(const json& gates) {
  if (!gates.is_array() || gates.empty()) return "&ndash;";
  std::ostringstream out;
  out << "<ul class=\"gates\">";
  for (const json& gate : gates) {
    const json ok = Field(gate, "ok");
    std::string verdict = StringField(gate, "verdict");
    if (verdict.empty()) verdict = ok.is_boolean() ? (ok.get<bool>() ? "passing" : "failing") : "";
    const std::string unit = StringField(gate, "unit");
    out << "<li class=\"" << EscapeHtml(verdict) << "\">" << EscapeHtml(StringField(gate, "name"))
        << " " << Text(Field(gate, "value"))
        << (unit.empty() || unit == "ratio" ? "" : " " + EscapeHtml(unit)) << " / limit "
        << Text(Field(gate, "threshold")) << " (" << Text(Field(gate, "samples")) << " samples) <b>"
        << EscapeHtml(verdict) << "</b></li>";
  }
  out << "</ul>";
  return out.str();
}

std::string DetailCell(const json& detail) {
  if (!detail.is_object() || detail.empty()) return "";
  return "<details><summary>detail</summary><pre>" +
         EscapeHtml(detail.dump(2, ' ', false, json::error_handler_t::replace)) +
         "</pre></details>";
}

std::string TimelineTable(const json& steps) {
  if (!steps.is_array() || steps.empty()) {
    return "<p class=\"no-data\">No step was journaled in this run.</p>\n";
  }
  std::ostringstream out;
  out << "<table class=\"timeline\">\n<thead><tr><th>Phase</th><th>Step</th><th>State</th>"
         "<th>Started (UTC)</th><th>Finished (UTC)</th><th>Took</th><th>Gates</th></tr></thead>\n"
         "<tbody>\n";
  for (const json& step : steps) {
    const std::string state = StringField(step, "state");
    out << "<tr class=\"step " << EscapeHtml(state) << "\"><td>" << Text(Field(step, "phase"))
        << " " << Text(Field(step, "phase_name")) << "</td><td>" << Text(Field(step, "name"))
        << DetailCell(Field(step, "detail")) << "</td><td>" << EscapeHtml(state) << "</td><td>"
        << Text(Field(step, "started_at")) << "</td><td>" << Text(Field(step, "finished_at"))
        << "</td><td>" << FormatMs(Field(step, "duration_ms")) << "</td><td>"
        << GateCell(Field(step, "gates")) << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
  return out.str();
}

std::string WritePauseSection(const json& write_pause) {
  if (!write_pause.is_array() || write_pause.empty()) {
    return "<p class=\"no-data\">No write cutover in this run (no datastore with a writer, or "
           "phase 5 not reached).</p>\n";
  }
  std::ostringstream out;
  out << "<table class=\"write-pause\">\n<thead><tr><th>Datastore</th><th>Direction</th>"
         "<th>Write pause</th><th>Measured from</th><th>Drain</th><th>Sub-steps</th>"
         "<th>Step</th></tr></thead>\n<tbody>\n";
  for (const json& datastore : write_pause) {
    for (const char* direction : {"cutover", "revert"}) {
      const json entry = Field(datastore, direction);
      if (!entry.is_object()) continue;
      std::ostringstream sub_steps;
      for (const json& sub_step : Field(entry, "sub_steps")) {
        sub_steps << Text(Field(sub_step, "name")) << " " << FormatMs(Field(sub_step, "ms"))
                  << "<br>";
      }
      out << "<tr><td>" << Text(Field(datastore, "datastore")) << "</td><td>" << direction
          << "</td><td class=\"number\">" << FormatMs(Field(entry, "write_pause_ms")) << "</td><td>"
          << Text(Field(entry, "pause_source")) << "</td><td>" << FormatMs(Field(entry, "drain_ms"))
          << "</td><td>" << sub_steps.str() << "</td><td>" << Text(Field(entry, "step_state"))
          << "</td></tr>\n";
    }
  }
  out << "</tbody></table>\n";
  return out.str();
}

std::string ResolverTable(const json& resolvers, bool with_elapsed) {
  if (!resolvers.is_array() || resolvers.empty()) {
    return "<p class=\"no-data\">No resolver was watched.</p>\n";
  }
  std::ostringstream out;
  out << "<table class=\"resolvers\">\n<thead><tr><th>Resolver</th><th>Answered the new "
         "value</th><th>"
      << (with_elapsed ? "Propagation" : "At") << "</th><th>Last answer</th><th>Error</th></tr>"
      << "</thead>\n<tbody>\n";
  for (const json& resolver : resolvers) {
    out << "<tr><td>" << Text(Field(resolver, "resolver")) << "</td><td>"
        << Text(Field(resolver, "done")) << "</td><td class=\"number\">"
        << (with_elapsed ? FormatMs(Field(resolver, "elapsed_ms")) : Text(Field(resolver, "at")))
        << "</td><td>" << Text(Field(resolver, "answer")) << "</td><td>"
        << Text(Field(resolver, "error")) << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
  return out.str();
}

// "every resolver answered the new values within 3.2 s", or who did not.
std::string PropagationSummary(const json& change) {
  const json resolvers = Field(change, "resolvers");
  std::string waiting;
  if (resolvers.is_array()) {
    for (const json& resolver : resolvers) {
      if (Field(resolver, "done") == json(true)) continue;
      waiting += (waiting.empty() ? "" : ", ") + Text(Field(resolver, "resolver"));
    }
  }
  if (!waiting.empty()) return "still answering the old values: " + waiting;
  return "every resolver answered the new values within " + Text(Field(change, "propagation_s")) +
         " s";
}

std::string DnsSection(const json& dns) {
  std::ostringstream out;
  const json ttl = Field(dns, "ttl");
  const json changes = Field(dns, "changes");
  if (!ttl.is_object() && (!changes.is_array() || changes.empty())) {
    return "<p class=\"no-data\">No DNS step in this run (the plan has no [dns], or its steps "
           "were not reached).</p>\n";
  }
  if (ttl.is_object()) {
    out << "<h3>TTL lowering (dns ttl, " << Text(Field(ttl, "step_state")) << ")</h3>\n<p>TTL "
        << Text(Field(ttl, "ttl")) << " s, lowered at " << Text(Field(ttl, "lowered_at"))
        << "; the switch was safe from " << Text(Field(ttl, "switch_safe_at")) << ".</p>\n"
        << ResolverTable(Field(ttl, "resolvers"), false);
  }
  if (changes.is_array()) {
    for (const json& change : changes) {
      out << "<h3>" << Text(Field(change, "step")) << " (" << Text(Field(change, "direction"))
          << ", " << Text(Field(change, "step_state")) << ")</h3>\n<p>Records changed at "
          << Text(Field(change, "switched_at")) << ", SOA serial "
          << Text(Field(change, "serial_before")) << " &rarr; "
          << Text(Field(change, "serial_after")) << "; " << PropagationSummary(change) << ".</p>\n"
          << ResolverTable(Field(change, "resolvers"), true);
    }
  }
  return out.str();
}

std::string RollbackSection(const json& rollback) {
  const json events = Field(rollback, "events");
  const json undo_steps = Field(rollback, "undo_steps");
  const bool no_events = !events.is_array() || events.empty();
  const bool no_undo = !undo_steps.is_array() || undo_steps.empty();
  if (no_events && no_undo) {
    return "<p class=\"no-data\">No rollback in this run.</p>\n";
  }
  std::ostringstream out;
  if (!Field(rollback, "ms").is_null()) {
    const json within = Field(rollback, "within_budget");
    out << "<p class=\"rollback-summary " << (within == json(false) ? "over" : "within")
        << "\">Rollback took " << FormatMs(Field(rollback, "ms")) << " of a budget of "
        << FormatMs(Field(rollback, "budget_ms")) << ": "
        << (within == json(true)    ? "within the budget"
            : within == json(false) ? "OVER the budget"
                                    : "budget not judged")
        << ".</p>\n";
  }
  if (!no_events) {
    out << "<table class=\"rollback\">\n<thead><tr><th>Event</th><th>At</th><th>Took</th>"
           "<th>Budget</th><th>Within budget</th><th>Why / what</th></tr></thead>\n<tbody>\n";
    for (const json& event : events) {
      std::string what = StringField(event, "why").empty() ? "" : Text(Field(event, "why"));
      for (const char* list : {"undone", "problems"}) {
        const json items = Field(event, list);
        if (!items.is_array() || items.empty()) continue;
        what += std::string(what.empty() ? "" : "; ") + list + ": ";
        for (size_t i = 0; i < items.size(); ++i) what += (i ? ", " : "") + Text(items[i]);
      }
      out << "<tr><td>" << Text(Field(event, "event")) << "</td><td>" << Text(Field(event, "at"))
          << "</td><td class=\"number\">" << FormatMs(Field(event, "ms")) << "</td><td>"
          << FormatMs(Field(event, "budget_ms")) << "</td><td>"
          << Text(Field(event, "within_budget")) << "</td><td>" << what << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
  if (!no_undo) {
    out << "<table class=\"undo-steps\">\n<thead><tr><th>Undo step</th><th>State</th>"
           "<th>Started</th><th>Finished</th><th>Took</th></tr></thead>\n<tbody>\n";
    for (const json& step : undo_steps) {
      out << "<tr><td>" << Text(Field(step, "name")) << "</td><td>" << Text(Field(step, "state"))
          << "</td><td>" << Text(Field(step, "started_at")) << "</td><td>"
          << Text(Field(step, "finished_at")) << "</td><td class=\"number\">"
          << FormatMs(Field(step, "duration_ms")) << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }
  return out.str();
}

// The data for a <script type="application/json"> block: nothing in it can end the element or
// open markup.
std::string EmbeddableJson(const json& data) {
  const std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out += c;
    }
  }
  return out;
}

constexpr char kStyle[] = R"css(
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; margin: 24px; color: #1d2733;
       max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 18px; margin: 28px 0 8px 0; border-bottom: 1px solid #c9d1da; }
h3 { font-size: 15px; margin: 16px 0 6px 0; }
.meta { color: #52606d; margin: 0 0 12px 0; }
.verdict { padding: 12px 16px; border-radius: 6px; font-size: 17px; margin: 12px 0; }
.verdict.completed { background: #e3f4e8; border: 1px solid #2e8b57; }
.verdict.rolled-back, .verdict.interrupted, .verdict.waiting
  { background: #fff4dc; border: 1px solid #c98a00; }
.verdict.failed { background: #fbe5e3; border: 1px solid #c0392b; }
.verdict.running { background: #e4eefb; border: 1px solid #1f5fa8; }
figure.plot { margin: 12px 0 20px 0; }
figcaption { font-weight: bold; margin-bottom: 4px; }
.no-data { color: #7b8794; font-style: italic; background: #f5f7fa; padding: 10px;
           border: 1px dashed #c9d1da; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px 0; }
th, td { border: 1px solid #d5dbe1; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.number { text-align: right; white-space: nowrap; }
tr.step.failed td { background: #fdf0ee; }
tr.step.undone td, tr.step.skipped td { color: #7b8794; }
ul.gates { margin: 0; padding-left: 16px; }
ul.gates li.failing b { color: #c0392b; }
ul.gates li.passing b { color: #2e8b57; }
ul.gates li.insufficient b { color: #c98a00; }
details pre { font-size: 11px; max-width: 520px; overflow-x: auto; background: #f5f7fa; }
.rollback-summary.over { color: #c0392b; font-weight: bold; }
)css";

}  // namespace

engine::Result<json> BuildReportData(const Plan& plan, Journal& journal) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<RunRecord> run, journal.LatestRun());
  if (!run) {
    return engine::NotFound("the journal " + journal.path() +
                            " has no run yet; run the plan first (tandem run " + plan.path + ")");
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<StepRecord> steps, journal.Steps(run->id));
  TANDEM_ASSIGN_OR_RETURN(std::optional<ControllerInfo> controller, journal.Controller());
  TANDEM_ASSIGN_OR_RETURN(std::vector<TimedSample> samples, journal.TimedSamples(run->id));
  RunState state = run->state;
  if ((state == RunState::kRunning || state == RunState::kWaiting) &&
      !(controller && controller->alive)) {
    state = RunState::kInterrupted;
  }
  const int64_t now_ms = NowMs();
  json data;
  data["report_version"] = 1;
  data["generated_at"] = IsoMs(now_ms);
  data["plan"] = {{"name", plan.name}, {"path", plan.path}, {"journal", journal.path()}};
  data["run"] = {{"id", run->id},
                 {"state", RunStateName(state)},
                 {"outcome", run->outcome},
                 {"started_at", IsoMs(run->started_at_ms)},
                 {"started_at_ms", run->started_at_ms},
                 {"finished_at", OptionalIso(run->finished_at_ms)},
                 {"finished_at_ms", OptionalMs(run->finished_at_ms)},
                 {"duration_ms", run->finished_at_ms.value_or(now_ms) - run->started_at_ms}};
  data["verdict"] = VerdictData(RunStateName(state), run->outcome);
  data["steps"] = StepsData(steps);
  data["gate_series"] = GateSeriesData(steps, samples);
  data["traffic"] = TrafficData(steps, samples);
  data["write_pause"] = WritePauseData(steps, samples);
  data["dns"] = DnsData(steps);
  data["rollback"] = RollbackData(steps, samples);
  return data;
}

std::string RenderReportHtml(const json& data) {
  const json plan = Field(data, "plan");
  const json run = Field(data, "run");
  const json verdict = Field(data, "verdict");
  const json gate_series = Field(data, "gate_series");
  std::string result = StringField(verdict, "result");
  std::replace(result.begin(), result.end(), ' ', '-');

  // The plots share the run's time axis.
  const json started = Field(run, "started_at_ms");
  const int64_t t0_ms = started.is_number_integer() ? started.get<int64_t>() : 0;
  const json duration = Field(run, "duration_ms");
  const int64_t t1_ms = t0_ms + (duration.is_number_integer() ? duration.get<int64_t>() : 0);

  PlotSeries traffic{"share of requests on the new servers", {{t0_ms, 0}}, false, true, true};
  const json traffic_points = Field(data, "traffic");
  if (traffic_points.is_array()) {
    for (const json& point : traffic_points) {
      const json at = Field(point, "at_ms");
      const std::optional<double> percent = NumberField(point, "percent");
      if (at.is_number_integer() && percent)
        traffic.points.push_back({at.get<int64_t>(), *percent});
    }
  }
  if (traffic.points.size() == 1) traffic.points.clear();  // nothing but the assumed start

  // Rollbacks and aborts, marked on every plot.
  std::vector<PlotEvent> events;
  if (traffic_points.is_array()) {
    for (const json& point : traffic_points) {
      const json at = Field(point, "at_ms");
      if (StringField(point, "event") == "abort" && at.is_number_integer()) {
        events.push_back({at.get<int64_t>(), std::nullopt, "abort: " + StringField(point, "gate")});
      }
    }
  }
  const json rollback_events = Field(Field(data, "rollback"), "events");
  if (rollback_events.is_array()) {
    // From each "begun" to the "done" after it (to the end of the plot while it runs).
    for (const json& event : rollback_events) {
      const json at = Field(event, "at_ms");
      if (!at.is_number_integer()) continue;
      const std::string kind = StringField(event, "event");
      if (kind == "begun") {
        events.push_back({at.get<int64_t>(), t1_ms, "rollback"});
      } else if (kind == "done" && !events.empty() && events.back().label == "rollback") {
        events.back().end_ms = at.get<int64_t>();
      }
    }
  }

  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>tandem migration report: " << Text(Field(plan, "name")) << " run "
      << Text(Field(run, "id")) << "</title>\n<style>" << kStyle << kSvgLinePlotStyle
      << "</style>\n</head>\n<body>\n";
  out << "<h1>Migration report: " << Text(Field(plan, "name")) << "</h1>\n<p class=\"meta\">Run #"
      << Text(Field(run, "id")) << " of " << Text(Field(plan, "path")) << ", started "
      << Text(Field(run, "started_at")) << ", finished " << Text(Field(run, "finished_at")) << " ("
      << FormatMs(duration) << "); journal " << Text(Field(plan, "journal"))
      << "; report generated " << Text(Field(data, "generated_at")) << ".</p>\n";
  out << "<div class=\"verdict " << EscapeHtml(result) << "\" id=\"verdict\"><b>"
      << Text(Field(verdict, "line")) << "</b></div>\n";

  out << "<h2>Over time</h2>\n";
  out << RenderSvgLinePlot(
      {"traffic", "Traffic share on the new servers", "% of requests", false, 100.0,
       "No traffic shift in this run: the journal holds no traffic sample (the "
       "plan has no [traffic], or phase 4 was not reached)."},
      {traffic}, events, t0_ms, t1_ms);
  out << RenderSvgLinePlot(
      {"error-rate", "Error rate (new servers, gate error_rate)", "error rate", true, std::nullopt,
       "No error rate samples in this run (the error_rate gate ran in no step)."},
      GateSeries(gate_series,
                 [](const std::string& name) { return StartsWith(name, "error_rate"); }),
      events, t0_ms, t1_ms);
  out << RenderSvgLinePlot(
      {"response-time", "Response time (gates latency_*)", "ms", false, std::nullopt,
       "No response time samples in this run (no latency gate ran)."},
      GateSeries(gate_series, [](const std::string& name) { return StartsWith(name, "latency"); }),
      events, t0_ms, t1_ms);
  out << RenderSvgLinePlot(
      {"lag", "Replication lag (gates lag <datastore>)", "ms", false, std::nullopt,
       "No replication lag samples in this run (no lag gate ran)."},
      GateSeries(gate_series, [](const std::string& name) { return StartsWith(name, "lag "); }),
      events, t0_ms, t1_ms);

  out << "<h2>Phase timeline</h2>\n" << TimelineTable(Field(data, "steps"));
  out << "<h2>Write pause</h2>\n" << WritePauseSection(Field(data, "write_pause"));
  out << "<h2>DNS propagation</h2>\n" << DnsSection(Field(data, "dns"));
  out << "<h2>Rollback</h2>\n" << RollbackSection(Field(data, "rollback"));
  out << "<script type=\"application/json\" id=\"tandem-report-data\">" << EmbeddableJson(data)
      << "</script>\n</body>\n</html>\n";
  return out.str();
}

std::string ReportJsonPath(const std::string& html_path) {
  const size_t slash = html_path.rfind('/');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  const size_t dot = html_path.rfind('.');
  if (dot == std::string::npos || dot <= name_start) return html_path + ".json";
  return html_path.substr(0, dot) + ".json";
}

namespace {

engine::Status CannotWrite(const std::string& path, int error) {
  const std::string message = "cannot write the report to " + path + ": " + std::strerror(error) +
                              "; choose a writable path";
  if (error == EACCES || error == EPERM || error == EROFS) {
    return engine::PermissionDenied(message);
  }
  return engine::InvalidArgument(message);
}

// Writes `content` to a temporary file beside `path`, flushes it and renames it over `path`.
engine::Status WriteAtomically(const std::string& path, const std::string& content) {
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temporary = (slash == std::string::npos ? "" : directory) + "." + name + ".tmp." +
                          std::to_string(getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return CannotWrite(path, errno);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return CannotWrite(path, error);
    }
    written += static_cast<size_t>(n);
  }
  const int synced = fsync(fd) == 0 ? 0 : errno;
  const int closed = close(fd) == 0 ? 0 : errno;  // closed whatever fsync said
  if (synced != 0 || closed != 0) {
    unlink(temporary.c_str());
    return CannotWrite(path, synced != 0 ? synced : closed);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return CannotWrite(path, error);
  }
  return engine::Status::Ok();
}

}  // namespace

engine::Status WriteReport(const Plan& plan, Journal& journal, const std::string& html_path) {
  const std::string json_path = ReportJsonPath(html_path);
  if (json_path == html_path) {
    return engine::InvalidArgument("cannot write the report to " + html_path +
                                   ": the page and its data (.json) would be one file; choose a "
                                   "path ending in .html");
  }
  TANDEM_ASSIGN_OR_RETURN(json data, BuildReportData(plan, journal));
  TANDEM_RETURN_IF_ERROR(
      WriteAtomically(json_path, data.dump(2, ' ', false, json::error_handler_t::replace) + "\n"));
  return WriteAtomically(html_path, RenderReportHtml(data));
}

}  // namespace tandem::orchestration
