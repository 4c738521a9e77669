#include "lag/prometheus_text.h"

#include <cstdio>
#include <sstream>

namespace tandem::lag {
namespace {

std::string Number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

// {a="x",b="y"} from the common labels plus `extra`; "" when there are none.
std::string LabelSet(const std::map<std::string, std::string>& labels,
                     const std::map<std::string, std::string>& extra = {}) {
  std::map<std::string, std::string> all = labels;
  all.insert(extra.begin(), extra.end());
  if (all.empty()) {
    return "";
  }
  std::string text = "{";
  bool first = true;
  for (const auto& [name, value] : all) {
    if (!first) {
      text += ",";
    }
    first = false;
    text += name + "=\"" + EscapePrometheusLabelValue(value) + "\"";
  }
  return text + "}";
}

class Exposition {
 public:
  explicit Exposition(const std::map<std::string, std::string>& labels) : labels_(labels) {}

  void Header(const std::string& name, const std::string& type, const std::string& help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void Sample(const std::string& name, double value,
              const std::map<std::string, std::string>& extra = {}) {
    out_ << name << LabelSet(labels_, extra) << " " << Number(value) << "\n";
  }
  void Gauge(const std::string& name, const std::string& help, double value) {
    Header(name, "gauge", help);
    Sample(name, value);
  }
  void Counter(const std::string& name, const std::string& help, double value) {
    Header(name, "counter", help);
    Sample(name, value);
  }
  std::string str() const { return out_.str(); }

 private:
  const std::map<std::string, std::string>& labels_;
  std::ostringstream out_;
};

}  // namespace

std::string EscapePrometheusLabelValue(const std::string& value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string FormatPrometheusText(const LagSnapshot& snapshot,
                                 const std::map<std::string, std::string>& labels) {
  Exposition out(labels);
  const double ms = 1e-3;
  out.Header("tandem_lag_seconds", "summary",
             "End-to-end replication lag measured by heartbeat; quantiles over the sliding "
             "window, sum and count since the start.");
  out.Sample("tandem_lag_seconds", snapshot.window.p50_ms * ms, {{"quantile", "0.5"}});
  out.Sample("tandem_lag_seconds", snapshot.window.p90_ms * ms, {{"quantile", "0.9"}});
  out.Sample("tandem_lag_seconds", snapshot.window.p99_ms * ms, {{"quantile", "0.99"}});
  out.Sample("tandem_lag_seconds_sum",
             snapshot.overall.mean_ms * ms * static_cast<double>(snapshot.overall.samples));
  out.Sample("tandem_lag_seconds_count", static_cast<double>(snapshot.overall.samples));
  out.Gauge("tandem_lag_window_seconds", "Length of the sliding window of the lag quantiles.",
            std::chrono::duration<double>(snapshot.window_length).count());
  out.Gauge("tandem_lag_window_max_seconds", "Largest lag sample in the sliding window.",
            snapshot.window.max_ms * ms);
  out.Gauge("tandem_lag_max_seconds", "Largest lag sample since the start.",
            snapshot.overall.max_ms * ms);
  out.Gauge("tandem_lag_current_seconds",
            "Current lag: the newest sample, or the age of the oldest heartbeat not yet seen "
            "on the target when that is larger.",
            snapshot.current_lag_ms * ms);
  out.Gauge("tandem_lag_oldest_unseen_age_seconds",
            "Age of the oldest heartbeat written on the source and not yet visible on the target.",
            snapshot.oldest_unseen_age_ms * ms);
  out.Gauge("tandem_lag_stalled", "1 when the heartbeat stopped arriving on the target.",
            snapshot.stalled ? 1 : 0);
  out.Gauge("tandem_lag_measurement_error_seconds",
            "p99 of the error bounds of the lag samples (the observer's polling resolution).",
            snapshot.measurement_error_ms * ms);
  out.Counter("tandem_lag_heartbeats_written_total", "Heartbeats written on the source.",
              static_cast<double>(snapshot.heartbeats_written));
  out.Counter("tandem_lag_heartbeats_seen_total", "Heartbeats seen on the target.",
              static_cast<double>(snapshot.heartbeats_seen));
  if (snapshot.positional && !snapshot.positional->measures.empty()) {
    out.Header("tandem_lag_positional_behind", "gauge",
               "How far the target's replication position trails the source's, per measure.");
    for (const auto& measure : snapshot.positional->measures) {
      out.Sample("tandem_lag_positional_behind", static_cast<double>(measure.behind),
                 {{"measure", measure.name}, {"unit", measure.unit}});
    }
  }
  out.Gauge("tandem_lag_up", "1 while the lag is being measured; 0 after an error stopped it.",
            snapshot.error.ok() ? 1 : 0);
  return out.str();
}

std::string FormatPipelinePrometheusText(const engine::PipelineMetricsSnapshot& snapshot,
                                         const std::map<std::string, std::string>& labels) {
  Exposition out(labels);
  const auto count = [](auto value) { return static_cast<double>(value); };
  out.Counter("tandem_sync_events_read_total", "Events read from the source's change stream.",
              count(snapshot.events_read));
  out.Counter("tandem_sync_transactions_applied_total",
              "Source transactions committed on the target.", count(snapshot.transactions_applied));
  out.Counter("tandem_sync_rows_applied_total", "Row changes committed on the target.",
              count(snapshot.rows_applied));
  out.Counter("tandem_sync_target_commits_total", "Transactions committed on the target.",
              count(snapshot.target_commits));
  out.Counter("tandem_sync_ddl_applied_total", "Schema changes applied on the target.",
              count(snapshot.ddl_applied));
  out.Gauge("tandem_sync_events_per_second", "Events read over the last complete second.",
            snapshot.events_per_second);
  out.Gauge("tandem_sync_queue_events", "Events waiting between the reader and the scheduler.",
            count(snapshot.queue_depth));
  out.Gauge("tandem_sync_queue_bytes", "Bytes of events waiting in the reader queue.",
            count(snapshot.queue_bytes));
  out.Gauge("tandem_sync_in_flight_transactions",
            "Transactions dispatched to appliers and not yet committed.",
            count(snapshot.in_flight_transactions));
  out.Gauge("tandem_sync_applied_transaction_sequence",
            "Sequence number of the newest transaction up to which everything is applied.",
            count(snapshot.applied_transaction_sequence));
  out.Gauge("tandem_sync_lag_seconds",
            "Now minus the source commit time of the applied position; 0 when caught up, -1 "
            "when unknown.",
            snapshot.lag_us < 0 ? -1.0 : static_cast<double>(snapshot.lag_us) * 1e-6);
  out.Header("tandem_sync_applied_position_info", "gauge",
             "The position up to which everything is applied, as a label.");
  out.Sample("tandem_sync_applied_position_info", 1,
             {{"position", engine::Serialize(snapshot.applied_position)}});
  return out.str();
}

}  // namespace tandem::lag
