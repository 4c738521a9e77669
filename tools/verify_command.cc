#include "tools/verify_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "checksum/repair_sql.h"
#include "checksum/verifier.h"
#include "tools/command.h"
#include "tools/database_opener.h"
#include "tools/redis_verify_command.h"
#include "tools/stop_signals.h"
#include "tools/verify_output.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;

constexpr char kUsage[] =
    "Usage: tandem verify --source URI --target URI [--table db.t ...] [--threads N]\n"
    "                     [--chunk-time S] [--max-lag MS] [--report PATH] [--repair-sql PATH]\n"
    "                     [--state PATH] [--hashing auto|server|client] [--format text|json]\n"
    "\n"
    "Proves that the target holds the same rows as the source, table by table, in key-range\n"
    "chunks read on both sides at the same time and hashed with XXH3-128 over a canonical\n"
    "encoding (MySQL/MariaDB and PostgreSQL, also across the two engines). A differing chunk is\n"
    "bisected down to rows, each reported as missing (in the target), extra (in the target) or\n"
    "changed (with the columns). When the target is a native replica of the source, a difference\n"
    "is re-checked after the replica applied the source position it was read at, so writes in\n"
    "flight are not reported. Tables without a primary or NOT NULL unique key are compared as\n"
    "multisets of rows, with a warning.\n"
    "\n"
    "--hashing server has each server digest its chunk (same engine on both sides only; a chunk\n"
    "whose digests differ is hashed here before anything is called different); client streams\n"
    "the rows and hashes them here; auto (default) uses the servers where the engines match.\n"
    "\n"
    "--max-lag pauses while the replica trails more than MS milliseconds; --max-threads-running\n"
    "pauses while the source is busy. --state records finished chunks: a run killed and started\n"
    "again with the same --state continues where it stopped. --repair-sql writes the INSERT /\n"
    "UPDATE / DELETE statements that make the target match.\n"
    "\n"
    "Exit status: 0 consistent (and nothing skipped), 1 differences found, 2 could not answer.";

// "[#######.......]  42% shop.orders  120 chunks  ETA 12 s" on a terminal's stderr.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), start_(Clock::now()) {}

  void Update(const checksum::VerifyProgress& progress) {
    if (!enabled_) {
      return;
    }
    const double fraction = progress.rows_estimated > 0
                                ? std::min(1.0, static_cast<double>(progress.rows_done) /
                                                    static_cast<double>(progress.rows_estimated))
                                : 0.0;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const int filled = static_cast<int>(fraction * 30);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(30, '.');
    char eta[32] = "?";
    if (fraction > 0.01) {
      std::snprintf(eta, sizeof eta, "%.0f s", elapsed / fraction - elapsed);
    }
    std::fprintf(stderr, "\r[%s] %3d%% table %d/%d %s  %lld chunks  ETA %s   ", bar.c_str(),
                 static_cast<int>(fraction * 100), progress.tables_done + 1, progress.tables_total,
                 progress.table.ToString().c_str(), static_cast<long long>(progress.chunks_done),
                 eta);
    dirty_ = true;
  }

  void Finish() {
    if (dirty_) {
      std::fprintf(stderr, "\r%*s\r", 100, "");
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  const bool enabled_;
  const Clock::time_point start_;
  bool dirty_ = false;
};

int WriteRepairSql(const std::string& path, const engine::ConnectionConfig& source_config,
                   const engine::ConnectionConfig& target_config,
                   const checksum::VerifyReport& report) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    return ReportError("verify", "cannot write --repair-sql file " + path);
  }
  out << checksum::RepairPreamble(target_config.engine);
  bool opened = false;
  std::unique_ptr<engine::Database> source;
  std::unique_ptr<engine::Database> target;
  for (const checksum::TableReport& table : report.tables) {
    if (table.differences.empty()) {
      continue;
    }
    if (!opened) {
      auto source_opened = OpenDatabase(source_config);
      auto target_opened = OpenDatabase(target_config);
      if (!source_opened.ok()) {
        return ReportError("verify", source_opened.status().WithContext("source"));
      }
      if (!target_opened.ok()) {
        return ReportError("verify", target_opened.status().WithContext("target"));
      }
      source = std::move(*source_opened);
      target = std::move(*target_opened);
      opened = true;
    }
    auto pairing = checksum::DescribePair(dynamic_cast<engine::SqlDatabase&>(*source),
                                          dynamic_cast<engine::SqlDatabase&>(*target), table.table);
    if (!pairing.ok()) {
      return ReportError("verify", pairing.status().WithContext("writing repair statements"));
    }
    out << "-- " << table.table.ToString() << ": " << table.differences.size()
        << " difference(s)\n";
    for (const checksum::Difference& difference : table.differences) {
      out << checksum::RepairStatement(*pairing, difference, target_config.engine);
    }
  }
  out.flush();
  if (!out) {
    return ReportError("verify", "cannot write --repair-sql file " + path);
  }
  return kExitYes;
}

}  // namespace

int RunVerifyCommand(const std::vector<std::string>& args) {
  if (NamesRedisServer(args)) {
    return RunRedisVerifyCommand(args);  // keyspace comparison, tools/redis_verify_command.h
  }
  const int default_threads =
      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 2u, 8u));
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>()->required(),
                                                    "the old database (URI)")(
      "target", po::value<std::string>()->required(), "the new database (URI)")(
      "table", po::value<std::vector<std::string>>(),
      "schema.table to verify (repeatable; default: every table of the source)")(
      "threads", po::value<int>()->default_value(default_threads),
      "chunks compared in parallel (each uses one connection per side)")(
      "chunk-time", po::value<double>()->default_value(0.5),
      "target seconds per chunk; chunk size adapts to it")(
      "chunk-rows", po::value<int64_t>()->default_value(0),
      "fixed rows per chunk instead of --chunk-time (0 = adaptive)")(
      "max-lag", po::value<int64_t>()->default_value(-1),
      "pause while the target replica trails more than MS milliseconds (-1 = off)")(
      "max-threads-running", po::value<int64_t>()->default_value(25),
      "pause while the source runs more statements than this (0 = off)")(
      "catch-up-timeout", po::value<double>()->default_value(30),
      "seconds to wait for the replica to apply a position when re-checking a difference")(
      "report", po::value<std::string>(), "also write the JSON report to PATH")(
      "repair-sql", po::value<std::string>(),
      "write statements that make the target match the source to PATH")(
      "state", po::value<std::string>(), "resume state file (created if missing)")(
      "hashing", po::value<std::string>()->default_value("auto"),
      "auto, server (pushdown digests; same engine only) or client")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  po::variables_map values;
  int exit_code = kExitCannotAnswer;
  if (!ParseCommandLine("verify", kUsage, options, args, &values, &exit_code)) {
    return exit_code;
  }
  auto format = ParseOutputFormat(values["format"].as<std::string>());
  if (!format.ok()) {
    return ReportError("verify", format.status());
  }
  auto source_config = ParseSourceUri(values["source"].as<std::string>());
  if (!source_config.ok()) {
    return ReportError("verify", source_config.status());
  }
  auto target_config = ParseTargetUri(values["target"].as<std::string>());
  if (!target_config.ok()) {
    return ReportError("verify", target_config.status());
  }
  checksum::VerifyOptions verify_options;
  if (values.count("table")) {
    for (const std::string& text : values["table"].as<std::vector<std::string>>()) {
      auto table = ParseTableOption(text);
      if (!table.ok()) {
        return ReportError("verify", table.status());
      }
      verify_options.tables.push_back(*table);
    }
  }
  verify_options.threads = values["threads"].as<int>();
  verify_options.chunk_time_s = values["chunk-time"].as<double>();
  verify_options.chunk_rows = values["chunk-rows"].as<int64_t>();
  verify_options.max_lag_ms = values["max-lag"].as<int64_t>();
  verify_options.max_threads_running = values["max-threads-running"].as<int64_t>();
  const double catch_up = values["catch-up-timeout"].as<double>();
  if (verify_options.threads < 1 || verify_options.threads > 64) {
    return ReportError("verify", "--threads must be between 1 and 64");
  }
  if (!(verify_options.chunk_time_s > 0) || verify_options.chunk_rows < 0 || !(catch_up > 0)) {
    return ReportError("verify",
                       "--chunk-time and --catch-up-timeout must be positive, --chunk-rows >= 0");
  }
  const std::string hashing = values["hashing"].as<std::string>();
  if (hashing == "auto") {
    verify_options.hashing = checksum::Hashing::kAuto;
  } else if (hashing == "server") {
    verify_options.hashing = checksum::Hashing::kServer;
  } else if (hashing == "client") {
    verify_options.hashing = checksum::Hashing::kClient;
  } else {
    return ReportError("verify", "--hashing must be auto, server or client, not '" + hashing + "'");
  }
  verify_options.catch_up_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(catch_up * 1000));
  if (values.count("state")) {
    verify_options.state_path = values["state"].as<std::string>();
  }
  ProgressLine progress(*format == OutputFormat::kText && ::isatty(STDERR_FILENO) == 1);
  verify_options.on_progress = [&](const checksum::VerifyProgress& update) {
    progress.Update(update);
  };
  StopSignals signals;
  verify_options.stop_requested = [] { return StopSignals::stop_requested(); };

  auto report = checksum::Verify(*source_config, *target_config, OpenDatabase, verify_options);
  progress.Finish();
  if (!report.ok()) {
    return ReportError("verify", report.status());
  }
  const nlohmann::json json = report->ToJson();
  if (values.count("report")) {
    const int written = WriteJsonReportFile(json, values["report"].as<std::string>());
    if (written != kExitYes) {
      return written;
    }
  }
  if (values.count("repair-sql")) {
    const int written = WriteRepairSql(values["repair-sql"].as<std::string>(), *source_config,
                                       *target_config, *report);
    if (written != kExitYes) {
      return written;
    }
  }
  return FinishVerify(*report, json, report->ToText(), *format);
}

}  // namespace tandem::tools
