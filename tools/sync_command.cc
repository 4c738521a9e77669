#include "tools/sync_command.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "connectors/mysql/mysql_change_applier.h"
#include "connectors/mysql/mysql_change_stream.h"
#include "connectors/mysql/mysql_snapshot_copy.h"
#include "connectors/mysql/mysql_statement.h"
#include "engine/change_pipeline.h"
#include "engine/database.h"
#include "engine/pipeline_metrics.h"
#include "engine/position.h"
#include "lag/metrics_http_server.h"
#include "lag/prometheus_text.h"
#include "tools/command.h"
#include "tools/database_opener.h"
#include "tools/stop_signals.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;
using engine::Status;
using engine::TableId;
using Clock = std::chrono::steady_clock;

constexpr char kCommand[] = "sync";
// tandem's own bookkeeping schema: never copied wholesale; only its heartbeat table is streamed.
constexpr char kTandemSchema[] = "_tandem";
const TableId kHeartbeatTable{kTandemSchema, "heartbeat"};

constexpr char kUsage[] =
    "Usage: tandem sync --source URI --target URI [--table db.t ...] [--threads N]\n"
    "                   [--until-caught-up] [--duration S] [--metrics-port P] [--format F]\n"
    "\n"
    "Keeps the target a live copy of the source: copies the tables from a consistent snapshot\n"
    "(in parallel chunks; the global read lock is held only to read the snapshot's binlog\n"
    "coordinates), then streams every row change from the source's binlog, read as a replica,\n"
    "into the target with --threads parallel appliers. Transactions that touch the same rows\n"
    "(primary key, any unique key, foreign-key parents) keep source order; independent ones\n"
    "apply in parallel. DDL on the streamed tables is applied in order.\n"
    "\n"
    "Without --table: every table of the source URI's database (or of every database, when the\n"
    "URI names none), including tables created there later. tandem's heartbeat table\n"
    "(_tandem.heartbeat) is always streamed, so `tandem lag` can measure this stream end to end.\n"
    "\n"
    "Progress is committed in the target, in the same transactions as the rows it covers\n"
    "(_tandem.checkpoint, _tandem.copy, _tandem.copy_chunk), so Ctrl-C, SIGTERM or even kill -9\n"
    "at any moment loses nothing: run the same command again and it resumes (the copy from its\n"
    "finished chunks, the stream from its checkpoint). Use the same --stream name to resume.\n"
    "Lost connections are retried with backoff (--max-retries consecutive failures).\n"
    "\n"
    "Source requirements: log_bin on, binlog_format=ROW, binlog_row_image=FULL; every table with\n"
    "a primary key or a NOT NULL unique key, InnoDB. Privileges: source user SELECT on the\n"
    "tables, RELOAD (snapshot coordinates), REPLICATION SLAVE and REPLICATION CLIENT (MariaDB\n"
    "10.5+: REPLICATION REPLICA, BINLOG MONITOR); target user CREATE, SELECT, INSERT, UPDATE,\n"
    "DELETE, DROP, ALTER on the tables and on _tandem. These are checked before anything is\n"
    "written.\n"
    "\n"
    "Exit status: 0 stopped as asked (--until-caught-up: caught up), 2 could not run.";

// Which way the run ended, for the report.
enum class Ending { kCaughtUp, kDuration, kSignal, kError };

const char* EndingName(Ending ending) {
  switch (ending) {
    case Ending::kCaughtUp:
      return "caught_up";
    case Ending::kDuration:
      return "duration";
    case Ending::kSignal:
      return "signal";
    case Ending::kError:
      return "error";
  }
  return "error";
}

struct SyncSettings {
  engine::ConnectionConfig source;
  engine::ConnectionConfig target;
  std::vector<TableId> tables;  // --table, empty = whole schemas
  std::string stream = "sync";
  int threads = 4;
  size_t copy_threads = 4;
  bool until_caught_up = false;
  std::optional<std::chrono::milliseconds> duration;
  std::optional<uint16_t> metrics_port;
  std::string metrics_address = "127.0.0.1";
  int max_retries = 20;
  OutputFormat format = OutputFormat::kText;
};

// The tables the copy takes and what the stream selects.
struct Selection {
  std::vector<TableId> copy_tables;
  std::vector<TableId> stream_tables;
  std::vector<std::string> stream_schemas;
};

// Sets the stop flag when --duration is over; ends early when the run is done.
class DurationTimer {
 public:
  explicit DurationTimer(std::optional<std::chrono::milliseconds> duration) {
    if (!duration) {
      return;
    }
    thread_ = std::thread([this, deadline = Clock::now() + *duration] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!done_cv_.wait_until(lock, deadline, [this] { return done_; })) {
        fired_.store(true);
        StopSignals::RequestStop();
      }
    });
  }
  ~DurationTimer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    done_cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  DurationTimer(const DurationTimer&) = delete;
  DurationTimer& operator=(const DurationTimer&) = delete;

  bool fired() const { return fired_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;  // guarded by mu_
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

// One progress line on stdout, stamped with UTC time (text mode only: JSON mode keeps stdout for
// the report). stderr is kept for the one-line error. Never a password (configs are redacted).
void Note(const SyncSettings& settings, const std::string& line) {
  if (settings.format != OutputFormat::kText) {
    return;
  }
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%SZ", &utc);
  std::cout << stamp << " " << line << std::endl;
}

engine::Result<SyncSettings> ParseSettings(const po::variables_map& values) {
  SyncSettings settings;
  TANDEM_ASSIGN_OR_RETURN(settings.format, ParseOutputFormat(values["format"].as<std::string>()));
  TANDEM_ASSIGN_OR_RETURN(settings.source, ParseSourceUri(values["source"].as<std::string>()));
  TANDEM_ASSIGN_OR_RETURN(settings.target, ParseTargetUri(values["target"].as<std::string>()));
  if (settings.source.engine != engine::EngineKind::kMySql ||
      settings.target.engine != engine::EngineKind::kMySql) {
    return engine::Unsupported(
        "tandem sync streams MySQL/MariaDB to MySQL/MariaDB so far (source is " +
        std::string(engine::EngineKindName(settings.source.engine)) + ", target " +
        std::string(engine::EngineKindName(settings.target.engine)) + "): give two mysql:// URIs");
  }
  if (values.count("table")) {
    for (const std::string& text : values["table"].as<std::vector<std::string>>()) {
      TANDEM_ASSIGN_OR_RETURN(TableId table, ParseTableOption(text));
      if (table.schema == kTandemSchema) {
        return engine::InvalidArgument("--table " + text +
                                       ": _tandem is tandem's own bookkeeping, not user data");
      }
      settings.tables.push_back(std::move(table));
    }
  }
  settings.stream = values["stream"].as<std::string>();
  if (settings.stream.empty() || settings.stream.size() > 100 ||
      settings.stream.find('/') != std::string::npos) {
    return engine::InvalidArgument("--stream must be 1 to 100 characters without '/'");
  }
  settings.threads = values["threads"].as<int>();
  if (settings.threads < 1 || settings.threads > engine::kMaxPipelineWorkers) {
    return engine::InvalidArgument("--threads must be between 1 and " +
                                   std::to_string(engine::kMaxPipelineWorkers));
  }
  const int copy_threads =
      values.count("copy-threads") ? values["copy-threads"].as<int>() : settings.threads;
  if (copy_threads < 1 || copy_threads > 64) {
    return engine::InvalidArgument("--copy-threads must be between 1 and 64");
  }
  settings.copy_threads = static_cast<size_t>(copy_threads);
  settings.until_caught_up = values.count("until-caught-up") > 0;
  if (values.count("duration")) {
    const double seconds = values["duration"].as<double>();
    if (!(seconds > 0 && seconds <= 1e7)) {
      return engine::InvalidArgument("--duration must be a positive number of seconds");
    }
    settings.duration = std::chrono::milliseconds(std::llround(seconds * 1000));
  }
  TANDEM_ASSIGN_OR_RETURN(settings.metrics_port, ParseMetricsPort(values));
  settings.metrics_address = values["metrics-address"].as<std::string>();
  settings.max_retries = values["max-retries"].as<int>();
  if (settings.max_retries < 0) {
    return engine::InvalidArgument("--max-retries must be 0 (retry forever) or more");
  }
  return settings;
}

// What to copy and stream: --table, or every table of the source URI's database(s).
engine::Result<Selection> SelectTables(const SyncSettings& settings) {
  TANDEM_ASSIGN_OR_RETURN(auto source, OpenDatabase(settings.source));
  auto* sql = dynamic_cast<engine::SqlDatabase*>(source.get());
  if (sql == nullptr) {
    return engine::Internal("the source connector does not list tables");
  }
  Selection selection;
  if (!settings.tables.empty()) {
    selection.copy_tables = settings.tables;
    selection.stream_tables = settings.tables;
  } else {
    TANDEM_ASSIGN_OR_RETURN(std::vector<TableId> listed, sql->ListTables(""));
    std::set<std::string> schemas;
    if (!settings.source.database.empty()) {
      schemas.insert(settings.source.database);
    }
    for (TableId& table : listed) {
      if (table.schema == kTandemSchema) {
        continue;
      }
      schemas.insert(table.schema);
      selection.copy_tables.push_back(std::move(table));
    }
    if (schemas.empty()) {
      return engine::FailedPrecondition("the source " + settings.source.Redacted() +
                                        " has no user tables to sync: name a database in the "
                                        "URI or tables with --table");
    }
    selection.stream_schemas.assign(schemas.begin(), schemas.end());
  }
  // The heartbeat of `tandem lag` rides along, so lag is measurable through this stream.
  selection.stream_tables.push_back(kHeartbeatTable);
  if (sql->DescribeTable(kHeartbeatTable).ok()) {
    selection.copy_tables.push_back(kHeartbeatTable);
  }
  return selection;
}

// Sleeps `backoff` in small steps; false when a stop was asked meanwhile.
bool SleepUnlessStopped(std::chrono::milliseconds backoff) {
  const auto until = Clock::now() + backoff;
  while (Clock::now() < until) {
    if (StopSignals::stop_requested()) {
      return false;
    }
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
  }
  return !StopSignals::stop_requested();
}

std::chrono::milliseconds NextBackoff(std::chrono::milliseconds backoff) {
  return std::min(backoff * 2, std::chrono::milliseconds(30'000));
}

// The initial copy, retried with backoff while the errors are retryable.
engine::Result<connectors::mysql::SnapshotCopyResult> CopyWithRetries(const SyncSettings& settings,
                                                                      const Selection& selection,
                                                                      int* retries) {
  connectors::mysql::SnapshotCopyOptions options;
  options.stream = settings.stream;
  options.threads = settings.copy_threads;
  options.stop = StopSignals::flag();
  std::chrono::milliseconds backoff(200);
  int failures = 0;
  for (;;) {
    auto copied = connectors::mysql::CopySnapshot(settings.source, settings.target,
                                                  selection.copy_tables, options);
    if (copied.ok() || !copied.status().retryable() || StopSignals::stop_requested()) {
      return copied;
    }
    ++failures;
    ++*retries;
    if (settings.max_retries > 0 && failures > settings.max_retries) {
      return copied.status().WithContext("the initial copy, after " +
                                         std::to_string(settings.max_retries) + " retries");
    }
    Note(settings, "initial copy interrupted (" + copied.status().message() + "); resuming in " +
                       std::to_string(backoff.count()) + " ms");
    if (!SleepUnlessStopped(backoff)) {
      return engine::Cancelled("stopped while waiting to resume the initial copy");
    }
    backoff = NextBackoff(backoff);
  }
}

// 64-bit FNV-1a: stable across runs and builds (std::hash is not).
uint64_t StableHash(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 1099511628211ull;
  }
  return hash;
}

// One stream at a time: a named lock on the target (GET_LOCK), held by this connection for the
// run. A killed process's lock goes with its connection, so a restart waits a little for the server
// to notice the closed socket.
class StreamLock {
 public:
  static engine::Result<std::unique_ptr<StreamLock>> Acquire(const SyncSettings& settings) {
    TANDEM_ASSIGN_OR_RETURN(auto connection,
                            connectors::mysql::MySqlConnection::Open(settings.target));
    char name[64];
    std::snprintf(name, sizeof name, "tandem-sync/%016llx",
                  static_cast<unsigned long long>(StableHash(settings.stream)));
    TANDEM_ASSIGN_OR_RETURN(auto statement,
                            connectors::mysql::MySqlStatement::Prepare(
                                *connection, "SELECT GET_LOCK(?, 10)", "locking the stream"));
    TANDEM_ASSIGN_OR_RETURN(std::vector<engine::Row> rows,
                            statement->QueryAll({engine::Value::Text(name)}));
    if (rows.size() != 1 || rows[0].size() != 1 || rows[0][0].is_null() ||
        connectors::mysql::TextOf(rows[0][0]) != "1") {
      return engine::FailedPrecondition("another tandem sync of stream '" + settings.stream +
                                        "' is running against " + settings.target.Redacted() +
                                        " (it holds the lock " + name +
                                        "): stop it first, or give this one another --stream");
    }
    return std::unique_ptr<StreamLock>(new StreamLock(std::move(connection)));
  }

 private:
  explicit StreamLock(std::unique_ptr<connectors::mysql::MySqlConnection> connection)
      : connection_(std::move(connection)) {}
  std::unique_ptr<connectors::mysql::MySqlConnection> connection_;  // holds the lock
};

// The stream's durable resume point and events applied, read from the target's checkpoint rows.
engine::Result<std::optional<engine::Checkpoint>> ReadCommittedCheckpoint(
    const SyncSettings& settings) {
  TANDEM_ASSIGN_OR_RETURN(auto applier, connectors::mysql::OpenMySqlChangeApplier(settings.target));
  return engine::ReadResumePosition(*applier, settings.stream);
}

std::string PositionText(const std::optional<engine::Checkpoint>& checkpoint) {
  return checkpoint ? engine::Serialize(checkpoint->position) : std::string();
}

}  // namespace

int RunSyncCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>()->required(),
                                                    "the old database (URI)")(
      "target", po::value<std::string>()->required(), "the new database (URI)")(
      "table", po::value<std::vector<std::string>>(),
      "database.table to sync (repeatable; default: every table of the source URI's database)")(
      "threads", po::value<int>()->default_value(4),
      "parallel appliers (one target connection each)")(
      "copy-threads", po::value<int>(),
      "parallel copy workers (one source and one target connection each; default --threads)")(
      "until-caught-up", "stop once everything written on the source so far is applied")(
      "duration", po::value<double>(), "stop after this many seconds")(
      "stream", po::value<std::string>()->default_value("sync"),
      "name of the stream's checkpoint in _tandem (one per source/target pair)")(
      "max-retries", po::value<int>()->default_value(20),
      "consecutive failed reconnects before giving up (0 = never give up)")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  AddMetricsOptions(options);
  po::variables_map values;
  int exit_code = kExitCannotAnswer;
  if (!ParseCommandLine(kCommand, kUsage, options, args, &values, &exit_code)) {
    return exit_code;
  }
  auto parsed = ParseSettings(values);
  if (!parsed.ok()) {
    return ReportError(kCommand, parsed.status());
  }
  const SyncSettings settings = std::move(*parsed);
  const auto started = Clock::now();
  StopSignals signals;
  DurationTimer timer(settings.duration);

  // Everything that can refuse the run is checked before anything is written.
  if (Status checked = connectors::mysql::CheckBinlogSource(settings.source); !checked.ok()) {
    return ReportError(kCommand, checked.WithContext("source"));
  }
  auto selection = SelectTables(settings);
  if (!selection.ok()) {
    return ReportError(kCommand, selection.status().WithContext("source"));
  }
  auto lock = StreamLock::Acquire(settings);
  if (!lock.ok()) {
    return ReportError(kCommand, lock.status().WithContext("target"));
  }

  engine::PipelineMetrics metrics;
  std::unique_ptr<lag::MetricsHttpServer> metrics_server;
  if (settings.metrics_port) {
    const std::map<std::string, std::string> labels = {{"source", settings.source.Redacted()},
                                                       {"target", settings.target.Redacted()},
                                                       {"stream", settings.stream}};
    auto server = lag::MetricsHttpServer::Start(
        settings.metrics_address, *settings.metrics_port, [&metrics, labels] {
          return lag::FormatPipelinePrometheusText(metrics.Snapshot(), labels);
        });
    if (!server.ok()) {
      return ReportError(kCommand, server.status());
    }
    metrics_server = std::move(*server);
  }

  int retries = 0;
  Note(settings, "initial copy of " + std::to_string(selection->copy_tables.size()) +
                     " table(s) from " + settings.source.Redacted() + " to " +
                     settings.target.Redacted());
  auto copy = CopyWithRetries(settings, *selection, &retries);
  std::optional<connectors::mysql::SnapshotCopyResult> copy_result;
  Status run_status;
  if (copy.ok()) {
    copy_result = *copy;
    if (copy->already_complete) {
      Note(settings, "initial copy already complete; resuming the stream from its checkpoint");
    } else {
      char line[256];
      std::snprintf(line, sizeof line,
                    "copied %lld rows in %lld chunks (%lld done before) in %.1f s; global read "
                    "lock held %.1f ms",
                    static_cast<long long>(copy->rows_copied),
                    static_cast<long long>(copy->chunks_copied),
                    static_cast<long long>(copy->chunks_skipped), copy->elapsed.count(),
                    static_cast<double>(copy->global_lock_held.count()) / 1000.0);
      Note(settings, line);
    }
  } else if (copy.status().code() != engine::StatusCode::kCancelled) {
    run_status = copy.status().WithContext("initial copy");
  }

  if (copy.ok() && !StopSignals::stop_requested()) {
    engine::PipelineOptions pipeline_options;
    pipeline_options.stream_name = settings.stream;
    pipeline_options.workers = settings.threads;
    pipeline_options.stop_when_idle = settings.until_caught_up;
    // Behind the source, a worker commits up to 256 source transactions at once, handed to the
    // applier in spans of 2,000 row changes, each applied as its net effect (fewer, larger
    // statements; mysql_change_applier.h). Bytes stay bounded by max_group_bytes.
    pipeline_options.max_group_transactions = 256;
    pipeline_options.max_apply_batch = 2000;
    if (settings.until_caught_up) {
      // Caught up = everything the source had logged when streaming began is applied; a pause of
      // the source or the network before that is not the end.
      auto end = connectors::mysql::ReadBinlogEnd(settings.source);
      if (!end.ok()) {
        return ReportError(kCommand, end.status().WithContext("source"));
      }
      pipeline_options.stop_at = *end;
    }
    pipeline_options.stop_flag = StopSignals::flag();
    pipeline_options.metrics = &metrics;
    engine::ReconnectOptions reconnect;
    reconnect.max_consecutive_failures = settings.max_retries;
    reconnect.on_retry = [&](const Status& error, std::chrono::milliseconds backoff) {
      ++retries;
      Note(settings,
           error.message() + "; reconnecting in " + std::to_string(backoff.count()) + " ms");
    };
    connectors::mysql::MySqlChangeStreamOptions stream_options;
    // The same replica id on every run of this stream: the source drops a killed run's lingering
    // dump thread when the next one connects (else it may hold binlogs from PURGE for a while).
    stream_options.server_id = static_cast<uint32_t>(
        1'000'000'000u +
        StableHash(settings.target.Redacted() + "/" + settings.stream) % 1'000'000'000u);
    stream_options.tables = selection->stream_tables;
    stream_options.schemas = selection->stream_schemas;
    stream_options.schema_fallback = settings.target;  // see mysql_change_stream.h
    const engine::BinlogPosition copy_start = copy->start_position;
    Note(settings, "streaming changes with " + std::to_string(settings.threads) + " applier(s)");
    run_status = engine::RunWithReconnect(
        pipeline_options, reconnect,
        [&](const std::optional<engine::Checkpoint>& resume)
            -> engine::Result<std::unique_ptr<engine::ChangeStream>> {
          engine::BinlogPosition start = copy_start;
          if (resume) {
            const auto* binlog = std::get_if<engine::BinlogPosition>(&resume->position);
            if (binlog == nullptr) {
              return engine::FailedPrecondition(
                  "the target's checkpoint for stream '" + settings.stream +
                  "' is not a binlog position (" + engine::Serialize(resume->position) +
                  "): it was written by a sync from another kind of source; use another "
                  "--stream or another target");
            }
            start = *binlog;
          }
          return connectors::mysql::OpenMySqlChangeStream(settings.source, start, stream_options);
        },
        [&](int) { return connectors::mysql::OpenMySqlChangeApplier(settings.target); });
    if (!run_status.ok()) {
      run_status = run_status.WithContext("change stream");
    }
  }
  if (metrics_server) {
    metrics_server->Stop();
  }

  const engine::PipelineMetricsSnapshot snapshot = metrics.Snapshot();
  auto checkpoint = ReadCommittedCheckpoint(settings);
  Ending ending = Ending::kCaughtUp;
  if (!run_status.ok()) {
    ending = Ending::kError;
  } else if (timer.fired()) {
    ending = Ending::kDuration;
  } else if (StopSignals::stop_requested()) {
    ending = Ending::kSignal;
  }
  const double lag_ms = snapshot.lag_us < 0 ? -1.0 : static_cast<double>(snapshot.lag_us) / 1000.0;
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const std::string position = checkpoint.ok() ? PositionText(*checkpoint) : std::string();
  const int64_t events_applied =
      checkpoint.ok() && checkpoint->has_value() ? (*checkpoint)->events_applied : 0;

  if (settings.format == OutputFormat::kJson) {
    nlohmann::json report = {
        {"position", position},
        {"events_applied", events_applied},
        {"lag_ms", lag_ms},
        {"stream", settings.stream},
        {"stopped", EndingName(ending)},
        {"ok", run_status.ok()},
        {"transactions_applied", snapshot.transactions_applied},
        {"rows_applied", snapshot.rows_applied},
        {"events_read", snapshot.events_read},
        {"target_commits", snapshot.target_commits},
        {"ddl_applied", snapshot.ddl_applied},
        {"reconnects", retries},
        {"elapsed_s", elapsed},
    };
    if (copy_result) {
      nlohmann::json created = nlohmann::json::array();
      for (const TableId& table : copy_result->tables_created) {
        created.push_back(table.ToString());
      }
      report["copy"] = {
          {"already_complete", copy_result->already_complete},
          {"rows_copied", copy_result->rows_copied},
          {"chunks_copied", copy_result->chunks_copied},
          {"chunks_skipped", copy_result->chunks_skipped},
          {"tables_created", created},
          {"global_lock_ms", static_cast<double>(copy_result->global_lock_held.count()) / 1000.0},
          {"elapsed_s", copy_result->elapsed.count()},
      };
    }
    if (!run_status.ok()) {
      report["error"] = run_status.ToString();
    }
    std::cout << report.dump(2) << std::endl;
  } else if (run_status.ok()) {
    std::printf("stream             %s\n", settings.stream.c_str());
    std::printf("stopped            %s\n", EndingName(ending));
    std::printf("position           %s\n", position.empty() ? "(none yet)" : position.c_str());
    std::printf("events applied     %lld (all runs)\n", static_cast<long long>(events_applied));
    std::printf(
        "this run           %lld transactions, %lld rows in %lld target commits, "
        "%d reconnects, %.1f s\n",
        static_cast<long long>(snapshot.transactions_applied),
        static_cast<long long>(snapshot.rows_applied),
        static_cast<long long>(snapshot.target_commits), retries, elapsed);
    std::printf("lag                %.1f ms\n", lag_ms);
    std::fflush(stdout);
  }
  if (!run_status.ok()) {
    return ReportError(kCommand, run_status);
  }
  if (!checkpoint.ok()) {
    return ReportError(kCommand, checkpoint.status().WithContext("reading the checkpoint"));
  }
  return kExitYes;
}

}  // namespace tandem::tools
