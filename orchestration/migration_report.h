// File: orchestration/migration_report.h
//
// The migration report of `tandem report PLAN` and `tandem run PLAN --report PATH`: what the
// newest run of a plan's journal did, as data (JSON) and as ONE self-contained HTML page.
//
// The page holds, in this order: the verdict (completed / rolled back / failed / running /
// waiting / interrupted, with the run's outcome line); inline SVG plots over the run's time of the
// traffic share on the new servers, the error rate, the response time and the replication lag
// (each gate's series with its threshold dashed, a rollback shaded from its beginning to its end,
// a traffic abort marked; a plot without samples says so in words); the phase timeline as a table
// with every gate's value, threshold, samples and verdict; the write pause per datastore (cutover
// and revert, with the sub-steps); DNS propagation per resolver; the rollback timings against the
// budget; and the data below embedded verbatim in
// <script type="application/json" id="tandem-report-data">.
// The page fetches nothing: no external style sheet, image, font or script, no http(s) URL in any
// src or href, no executable script at all; its Content-Security-Policy (default-src 'none',
// inline styles only) makes a browser refuse any fetch. It opens without a network and logs no
// console message. Every string from the journal or the plan is HTML-escaped; in the embedded
// JSON, <, > and & are written \u003c, \u003e, \u0026.
//
// The data (BuildReportData). Times are ISO 8601 UTC with milliseconds ("at", "started_at", ...)
// beside Unix milliseconds ("at_ms", "started_at_ms", ...):
//   "report_version": 1, "generated_at",
//   "plan": {"name", "path", "journal"},
//   "run": {"id", "state" (RunStateName; "interrupted" for a running/waiting run whose
//           controller is gone), "outcome", "started_at", "started_at_ms", "finished_at",
//           "finished_at_ms" (null while it runs), "duration_ms" (to now while it runs)},
//   "verdict": {"result": "completed"|"rolled back"|"failed"|"running"|"waiting"|"interrupted",
//               "outcome", "line" (the two as one sentence)},
//   "steps": [{"phase", "phase_name", "name", "state", "started_at", "started_at_ms",
//              "finished_at", "finished_at_ms", "duration_ms", "gates": [...], "detail": {...}}],
//   "gate_series": {"<gate name>": [{"at", "at_ms", "step", "value", "threshold", "ok",
//                   "unit", "source": "sample"|"step end"}]}   from the "gates" samples and every
//                   step's final readings, oldest first,
//   "traffic": [{"at", "at_ms", "step", "percent", "event", "gate", "abort_ms"}]   the "traffic"
//              samples (event "weights set" or "abort"; gate and abort_ms only for an abort) and
//              a rollback's done "undo traffic" step (event "undone", at its end), oldest first,
//   "write_pause": [{"datastore",
//                    "cutover": {"step_state", "write_pause_ms", "pause_source", "drain_ms",
//                                "frozen_at", "switched_at", "verify", "sub_steps": [{"name",
//                                "ms", "at", "at_ms"}]} or null,
//                    "revert": the same or null}]   from the "writes <ds>" / "undo writes <ds>"
//                   steps and the "write_cutover" samples; "pause_source" says where
//                   write_pause_ms came from ("step detail", "journaled switch", "sub-step times",
//                   or for a cutover stopped before its switch and reverted, "cutover freeze to
//                   revert switch") and write_pause_ms is null when the journal cannot tell,
//   "dns": {"ttl": {"step_state", "ttl", "lowered_at", "switch_safe_at", "resolvers": [...]} or
//           null,
//           "changes": [{"step", "step_state", "direction": "switch"|"revert", "switched_at",
//                        "propagation_s", "serial_before", "serial_after", "records": [...],
//                        "resolvers": [{"resolver", "done", "elapsed_ms", "answer", "error"}]}]},
//   "rollback": {"events": [the "rollback" samples as journaled, plus "at_ms"],
//                "undo_steps": [{"name", "state", "started_at", "finished_at", "duration_ms"}],
//                "ms", "budget_ms", "within_budget" (from the newest "done" event; null
//                without one)}.
//
// Thread safety: free functions; the journal is used on the caller's thread (journal.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/status.h"
#include "orchestration/journal.h"
#include "orchestration/plan.h"

namespace tandem::orchestration {

// The data of the newest run of `journal` (see the file comment). Reads only (Journal::Steps,
// Journal::TimedSamples). Errors: kNotFound "the journal <path> has no run yet; run the plan first
// (tandem run PLAN)"; kCorruption when a sample is not JSON; the journal's errors.
engine::Result<nlohmann::json> BuildReportData(const Plan& plan, Journal& journal);

// The page for `data` as BuildReportData made it (see the file comment). Missing sections render
// as "no data"; it never throws on a partial or older document.
std::string RenderReportHtml(const nlohmann::json& data);

// Where WriteReport puts the JSON beside the HTML at `html_path`: the last extension of the file
// name replaced by ".json" ("out/report.html" -> "out/report.json"), or ".json" appended when the
// name has none ("out/report" -> "out/report.json").
std::string ReportJsonPath(const std::string& html_path);

// Builds the data and writes the page to `html_path` and the data to ReportJsonPath(html_path),
// each atomically (a temporary file in the same directory, flushed, then renamed over the
// target): a reader sees the old report or the new one, never half of one.
// Errors: BuildReportData's; kInvalidArgument when `html_path` ends in ".json" (the two files
// would be one) or its directory does not exist; kPermissionDenied when the directory is not
// writable — both as "cannot write the report to <path>: <strerror>; choose a writable path".
engine::Status WriteReport(const Plan& plan, Journal& journal, const std::string& html_path);

}  // namespace tandem::orchestration
