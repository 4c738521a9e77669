// File: lag/prometheus_text.h
//
// The figures of a LagSnapshot in the Prometheus text exposition format (version 0.0.4), for the
// metrics endpoint of `tandem lag`, `tandem sync` and `tandem run` (--metrics-port):
//
//   tandem_lag_seconds{quantile="0.5"|"0.9"|"0.99"}   summary over the sliding window
//   tandem_lag_seconds_sum, tandem_lag_seconds_count   every sample since the start (the sum is
//                                                     mean * count, exact to the histogram's mean)
//   tandem_lag_window_max_seconds                     gauge: max over the sliding window
//   tandem_lag_max_seconds                            gauge: max since the start
//   tandem_lag_current_seconds                        gauge: current lag (see lag_snapshot.h)
//   tandem_lag_oldest_unseen_age_seconds              gauge
//   tandem_lag_stalled                                gauge: 1 when the heartbeat stopped arriving
//   tandem_lag_measurement_error_seconds              gauge: p99 of the samples' error bounds
//   tandem_lag_heartbeats_written_total, tandem_lag_heartbeats_seen_total   counters
//   tandem_lag_positional_behind{measure="replay",unit="bytes"}   gauge per positional measure
//   tandem_lag_up                                     gauge: 0 once the monitor has failed
//
// FormatPipelinePrometheusText does the same for a change pipeline (`tandem sync`):
//
//   tandem_sync_events_read_total, tandem_sync_transactions_applied_total,
//   tandem_sync_rows_applied_total, tandem_sync_target_commits_total,
//   tandem_sync_ddl_applied_total                      counters
//   tandem_sync_events_per_second                     gauge: events read over the last second
//   tandem_sync_queue_events, tandem_sync_queue_bytes  gauges: the reader queue
//   tandem_sync_in_flight_transactions                gauge: dispatched, not yet committed
//   tandem_sync_applied_transaction_sequence          gauge: of the applied position
//   tandem_sync_lag_seconds                           gauge: now - the applied source commit time
//                                                     (-1 unknown; engine/pipeline_metrics.h)
//   tandem_sync_applied_position_info{position="…"}   1, with the applied position as a label
//
// Every series carries `labels` (for example datastore="orders"); label values are escaped as the
// format requires (backslash, double quote, newline).
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <string>

#include "engine/pipeline_metrics.h"
#include "lag/lag_snapshot.h"

namespace tandem::lag {

// The exposition of `snapshot`, ending with a newline.
std::string FormatPrometheusText(const LagSnapshot& snapshot,
                                 const std::map<std::string, std::string>& labels = {});

// The exposition of a change pipeline's `snapshot`, ending with a newline.
std::string FormatPipelinePrometheusText(const engine::PipelineMetricsSnapshot& snapshot,
                                         const std::map<std::string, std::string>& labels = {});

// `value` escaped for use inside a label value's double quotes.
std::string EscapePrometheusLabelValue(const std::string& value);

}  // namespace tandem::lag
