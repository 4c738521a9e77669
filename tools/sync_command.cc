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

#include "engine/change_pipeline.h"
#include "engine/database.h"
#include "engine/pipeline_metrics.h"
#include "engine/position.h"
#include "lag/metrics_http_server.h"
#include "lag/prometheus_text.h"
#include "tools/command.h"
#include "tools/database_opener.h"
#include "tools/stop_signals.h"
#include "tools/sync_backend.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;
using engine::Status;
using engine::TableId;
using Clock = std::chrono::steady_clock;

constexpr char kCommand[] = "sync";

constexpr char kUsage[] =
    "Usage: tandem sync --source URI --target URI [--table db.t ...] [--threads N]\n"
    "                   [--until-caught-up] [--duration S] [--metrics-port P] [--format F]\n"
    "                   [--drop-slot] [--slot-wal-warning MB] [--from-now] [--checkpoint-now]\n"
    "                   [--advance-slot]\n"
    "\n"
    "Keeps the target a live copy of the source, MySQL/MariaDB -> MySQL/MariaDB, PostgreSQL ->\n"
    "PostgreSQL or Redis -> Redis (see below). SQL: copies the tables from a consistent snapshot\n"
    "in parallel chunks, then streams every row change into the target with --threads parallel\n"
    "appliers. Transactions that touch the same rows (primary key, any unique key, foreign-key\n"
    "parents) keep source order; independent ones apply in parallel.\n"
    "\n"
    "MySQL/MariaDB: the copy holds the global read lock only to read the snapshot's binlog\n"
    "coordinates; changes are read from the binlog as a replica; DDL on the streamed tables is\n"
    "applied in order. Without --table: every table of the source URI's database (or of every\n"
    "database, when the URI names none), including tables created there later.\n"
    "\n"
    "PostgreSQL: a logical replication slot (pgoutput) and a publication, named after --stream\n"
    "and the target (tandem_<stream>_<8 hex digits>), are created on the source; the copy\n"
    "imports the slot's exported snapshot and uses COPY; the stream starts at the slot's\n"
    "consistent point. The target's tables must exist (as for a native subscription:\n"
    "pg_dump --schema-only SOURCE | psql TARGET); the set of tables is fixed by the first run.\n"
    "Without --table: every table of the source URI's database outside the system schemas. The\n"
    "slot's confirmed position only advances to what the target has durably committed. With\n"
    "--until-caught-up, --drop-slot drops the slot and publication once caught up (the stream\n"
    "cannot resume after that). A warning is printed while the slot retains more than\n"
    "--slot-wal-warning MB of WAL. Tables with unique keys besides the primary key, or with\n"
    "foreign keys, apply updates and deletes serially unless REPLICA IDENTITY FULL.\n"
    "\n"
    "Redis: tandem attaches to the source as a replica (PSYNC). The first run takes a full\n"
    "resync: the target (which must be empty, and a primary) is loaded from the snapshot as it\n"
    "arrives (RESTORE of each value; values over 32 MB, or a target of an older Redis, are\n"
    "rewritten into commands), then the command stream follows, every database, MULTI/EXEC kept\n"
    "whole, expirations as absolute times; commands on different keys apply in parallel. Each\n"
    "target commit is one MULTI/EXEC that also records the replication offset it covers and the\n"
    "transactions it applied (_tandem:checkpoint:<stream>/N, _tandem:applied:<stream>, database\n"
    "0), so a restart applies every command exactly once: PSYNC from that offset (a partial\n"
    "resync) while the source's repl-backlog-size still covers it, else a new full resync that\n"
    "empties the target first. REPLCONF ACK reports only what the target has committed. --table\n"
    "does not apply.\n"
    "\n"
    "--from-now (every engine) starts the stream at the source's present end instead of copying:\n"
    "for a target that already holds the same data, e.g. the reverse stream after a cutover\n"
    "(new side -> old side). Nothing is copied, no user table is created (the SQL target tables\n"
    "must exist; a missing one is refused) and the target may hold data. The first start commits\n"
    "a checkpoint at the source's current position (MySQL: the binlog end and GTID set;\n"
    "PostgreSQL: the consistent point of the slot, created without a snapshot; Redis:\n"
    "master_replid and master_repl_offset, pinned to database 0 by writing the key\n"
    "_tandem:from-now:<stream> in databases 1 and 0 of the source, where it stays), then streams\n"
    "every change committed after it, and nothing committed before it. Later starts resume from\n"
    "the checkpoint as usual (--from-now then has no effect). Redis: a source without a\n"
    "replication backlog (no replica attached since it started, or repl-backlog-ttl passed) is\n"
    "first made to create one (tandem attaches as a replica for a moment; the source forks for a\n"
    "snapshot unless repl-diskless-sync with a delay), so the stream continues from the offset\n"
    "by partial resync; if the source refuses that, the first PSYNC is answered with a full\n"
    "resync, which reloads the target from the source's snapshot (nothing is lost, but it is a\n"
    "full copy; said on stdout).\n"
    "\n"
    "--checkpoint-now (every engine) hands a stream over: it commits the stream's checkpoint at\n"
    "the source's present position, superseding the checkpoint it had, and exits without\n"
    "streaming. Everything the source holds now counts as applied; the next start streams what\n"
    "the source commits after that. For a target known to hold the source's data (tandem run's\n"
    "reverse stream before a writer switch, its forward stream after a rollback drained the\n"
    "reverse one); on any other target it skips changes. Positions as for --from-now, except\n"
    "that an existing PostgreSQL slot is kept and the position is the WAL insert position now.\n"
    "With --advance-slot, the slot (unless a stream is using it) is then moved up to it, for at\n"
    "most 5 s (pg_replication_slot_advance, 64 MiB of WAL at a time), so it no longer keeps the\n"
    "WAL before it; tandem run does so in phase 6, not in the cutover's or rollback's pause.\n"
    "\n"
    "tandem's heartbeat table (_tandem.heartbeat; Redis: the keys _tandem:heartbeat:*) is always\n"
    "streamed, so `tandem lag` can measure this stream end to end.\n"
    "\n"
    "Progress is committed in the target, in the same transactions as the rows it covers\n"
    "(_tandem.checkpoint, _tandem.copy, _tandem.copy_chunk), so Ctrl-C, SIGTERM or even kill -9\n"
    "at any moment loses nothing: run the same command again and it resumes (the copy from its\n"
    "finished chunks, the stream from its checkpoint). Use the same --stream name to resume.\n"
    "Lost connections are retried with backoff (--max-retries consecutive failures).\n"
    "\n"
    "Source requirements, MySQL: log_bin on, binlog_format=ROW, binlog_row_image=FULL; InnoDB.\n"
    "PostgreSQL: wal_level=logical, a free replication slot and WAL sender. Every table needs a\n"
    "primary key or a NOT NULL unique key.\n"
    "Privileges, MySQL: source SELECT, RELOAD, REPLICATION SLAVE and REPLICATION CLIENT (MariaDB\n"
    "10.5+: REPLICATION REPLICA, BINLOG MONITOR); target CREATE, SELECT, INSERT, UPDATE, DELETE,\n"
    "DROP, ALTER on the tables and on _tandem. PostgreSQL: source role with REPLICATION, SELECT\n"
    "on the tables, owner of the tables and CREATE on the database (for the publication); target\n"
    "SELECT, INSERT, UPDATE, DELETE, TRUNCATE on the tables and CREATE on the database (for\n"
    "_tandem); a superuser target copies and applies with session_replication_role=replica\n"
    "(target triggers and foreign-key checks do not fire, as with a native subscription); with\n"
    "another target role, create the target's foreign keys after the initial copy, whose chunks\n"
    "commit in any order. Redis: a source user allowed PSYNC, REPLCONF, PING, INFO, COMMAND\n"
    "and ACL WHOAMI; a target user allowed every command (the load empties it with FLUSHALL and\n"
    "writes with RESTORE, FUNCTION LOAD and any command the source replicates) and CLIENT ID /\n"
    "CLIENT LIST for the lock. These are checked before anything is written.\n"
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
  const bool mysql = settings.source.engine == engine::EngineKind::kMySql &&
                     settings.target.engine == engine::EngineKind::kMySql;
  const bool postgres = settings.source.engine == engine::EngineKind::kPostgres &&
                        settings.target.engine == engine::EngineKind::kPostgres;
  const bool redis = settings.source.engine == engine::EngineKind::kRedis &&
                     settings.target.engine == engine::EngineKind::kRedis;
  if (!mysql && !postgres && !redis) {
    return engine::Unsupported(
        "tandem sync streams MySQL/MariaDB to MySQL/MariaDB, PostgreSQL to PostgreSQL and Redis to "
        "Redis (source is " +
        std::string(engine::EngineKindName(settings.source.engine)) + ", target " +
        std::string(engine::EngineKindName(settings.target.engine)) +
        "): give two mysql://, two postgres:// or two redis:// URIs");
  }
  if (redis && values.count("table")) {
    return engine::InvalidArgument(
        "--table does not apply to Redis: the stream carries every database of the source");
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
  settings.drop_slot = values.count("drop-slot") > 0;
  settings.from_now = values.count("from-now") > 0;
  settings.checkpoint_now = values.count("checkpoint-now") > 0;
  settings.advance_slot = values.count("advance-slot") > 0;
  if (settings.advance_slot && (!settings.checkpoint_now || !postgres)) {
    return engine::InvalidArgument(
        "--advance-slot moves a PostgreSQL source's slot up to a hand-over: it needs "
        "--checkpoint-now and a postgres:// source");
  }
  if (settings.checkpoint_now &&
      (settings.until_caught_up || settings.drop_slot || settings.duration)) {
    return engine::InvalidArgument(
        "--checkpoint-now commits a checkpoint and exits: it takes no --until-caught-up, "
        "--drop-slot or --duration");
  }
  // The target holds the source's data: checked as for --from-now (no emptiness, tables exist).
  settings.from_now = settings.from_now || settings.checkpoint_now;
  const double warning_mb = values["slot-wal-warning"].as<double>();
  if (!(warning_mb > 0 && warning_mb <= 1e9)) {
    return engine::InvalidArgument("--slot-wal-warning must be a positive number of MB");
  }
  settings.slot_wal_warning_bytes = static_cast<int64_t>(warning_mb * 1024 * 1024);
  if (settings.drop_slot && !postgres) {
    return engine::InvalidArgument("--drop-slot is for PostgreSQL sources (replication slots)");
  }
  if (settings.drop_slot && values.count("until-caught-up") == 0) {
    return engine::InvalidArgument(
        "--drop-slot needs --until-caught-up: the slot is dropped only once the target has "
        "everything, since the stream cannot resume without it");
  }
  settings.max_retries = values["max-retries"].as<int>();
  if (settings.max_retries < 0) {
    return engine::InvalidArgument("--max-retries must be 0 (retry forever) or more");
  }
  return settings;
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

// Asks the backend for a warning every 30 s while the stream runs (PostgreSQL: WAL the slot
// retains) and prints it as a progress line. Owns one thread; stops and joins when destroyed.
class WarningWatcher {
 public:
  WarningWatcher(SyncBackend& backend, NoteFunction note) {
    thread_ = std::thread([this, &backend, note = std::move(note)] {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        if (done_cv_.wait_for(lock, std::chrono::seconds(30), [this] { return done_; })) {
          return;
        }
        lock.unlock();
        if (std::optional<std::string> warning = backend.Warning()) {
          note("warning: " + *warning);
        }
        lock.lock();
      }
    });
  }
  ~WarningWatcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }
  WarningWatcher(const WarningWatcher&) = delete;
  WarningWatcher& operator=(const WarningWatcher&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;
};

// The initial copy, retried with backoff while the errors are retryable.
engine::Result<CopySummary> CopyWithRetries(const SyncSettings& settings, SyncBackend& backend,
                                            const SyncSelection& selection, int* retries) {
  std::chrono::milliseconds backoff(200);
  int failures = 0;
  for (;;) {
    auto copied = backend.CopyOnce(selection, StopSignals::flag());
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

// The stream's durable resume point and events applied, read from the target's checkpoint rows.
engine::Result<std::optional<engine::Checkpoint>> ReadCommittedCheckpoint(
    const SyncSettings& settings, SyncBackend& backend) {
  TANDEM_ASSIGN_OR_RETURN(auto applier, backend.OpenApplier());
  return engine::ReadResumePosition(*applier, settings.stream);
}

std::string PositionText(const std::optional<engine::Checkpoint>& checkpoint) {
  return checkpoint ? engine::Serialize(checkpoint->position) : std::string();
}

// --from-now: when the stream has no checkpoint on the target, commits one at the backend's
// start position (StartAtSourceEnd), so the stream then resumes from it exactly as after a copy.
// A kill before the commit leaves no checkpoint and the next start does this again (PostgreSQL
// reuses the slot it created). Returns what the copy would have (already_complete).
engine::Result<CopySummary> StartFromNow(const SyncSettings& settings, SyncBackend& backend,
                                         const SyncSelection& selection) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<engine::Checkpoint> existing,
                          ReadCommittedCheckpoint(settings, backend));
  CopySummary summary;
  summary.already_complete = true;
  if (existing) {
    Note(settings, "--from-now has no effect: stream '" + settings.stream +
                       "' has a checkpoint at " + engine::Serialize(existing->position) +
                       "; resuming from it");
    return summary;
  }
  auto start_at = backend.StartAtSourceEnd(selection);
  if (!start_at.ok()) {
    return start_at.status().WithContext("source");
  }
  const engine::Position start = *start_at;
  engine::Checkpoint checkpoint;
  checkpoint.stream = settings.stream;
  checkpoint.position = start;
  TANDEM_RETURN_IF_ERROR(
      backend.ReplaceCheckpoint(checkpoint).WithContext("target: the --from-now checkpoint"));
  Note(settings, "--from-now: stream '" + settings.stream + "' starts at " +
                     engine::Serialize(start) +
                     " (nothing is copied; changes committed on the source after it follow)");
  return summary;
}

// --checkpoint-now: the checkpoint "<stream>" at the source's present end
// (SyncBackend::PresentEnd), committed whatever the stream had; the resume position is the greatest
// of its checkpoints, so this one supersedes the earlier ones.
engine::Result<engine::Position> CheckpointNow(const SyncSettings& settings, SyncBackend& backend,
                                               const SyncSelection& selection) {
  auto end = backend.PresentEnd(selection);
  if (!end.ok()) return end.status().WithContext("source");
  engine::Checkpoint checkpoint;
  checkpoint.stream = settings.stream;
  checkpoint.position = *end;
  TANDEM_ASSIGN_OR_RETURN(std::optional<engine::Checkpoint> before,
                          ReadCommittedCheckpoint(settings, backend));
  std::string history_note;
  if (before) {
    auto order = engine::Compare(before->position, *end);
    if (!order.ok()) {
      // Another history: a Redis source whose replication id changed (its backlog was freed and
      // created again) is still the same server; any other source is another one.
      if (settings.source.engine != engine::EngineKind::kRedis) {
        return engine::FailedPrecondition(
            "stream '" + settings.stream + "' has a checkpoint at " +
            engine::Serialize(before->position) + " that cannot be ordered against the source's " +
            engine::Serialize(*end) + " (" + order.status().message() +
            "): it belongs to another source; use another --stream");
      }
      history_note = " (the source's replication id changed since; every checkpoint replaced)";
    } else if (*order == std::strong_ordering::greater) {
      return engine::FailedPrecondition("stream '" + settings.stream + "' has applied up to " +
                                        engine::Serialize(before->position) +
                                        ", past the source's present end " +
                                        engine::Serialize(*end) + "; nothing to hand over");
    }
  }
  TANDEM_RETURN_IF_ERROR(backend.ReplaceCheckpoint(checkpoint).WithContext("target"));
  Note(settings, "--checkpoint-now: stream '" + settings.stream + "' handed over at " +
                     engine::Serialize(*end) +
                     (before ? " (was " + engine::Serialize(before->position) + ")" : "") +
                     history_note + "; the next start streams what the source commits after it");
  return *end;
}

}  // namespace

int RunSyncCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>()->required(),
                                                    "the old database (URI)")(
      "target", po::value<std::string>()->required(), "the new database (URI)")(
      "table", po::value<std::vector<std::string>>(),
      "schema.table to sync (repeatable; default: every table of the source URI's database)")(
      "threads", po::value<int>()->default_value(4),
      "parallel appliers (one target connection each)")(
      "copy-threads", po::value<int>(),
      "parallel copy workers (one source and one target connection each; default --threads)")(
      "until-caught-up", "stop once everything written on the source so far is applied")(
      "duration", po::value<double>(), "stop after this many seconds")(
      "stream", po::value<std::string>()->default_value("sync"),
      "name of the stream's checkpoint in _tandem (one per source/target pair); PostgreSQL: also "
      "names the slot and publication")("drop-slot",
                                        "PostgreSQL, with --until-caught-up: drop the replication "
                                        "slot and publication once caught up")(
      "from-now",
      "no initial copy: the target already holds the source's data; the first start streams "
      "from the source's present position (a checkpoint makes later starts resume)")(
      "checkpoint-now",
      "commit the stream's checkpoint at the source's present position (superseding the one it "
      "had) and exit: the next start streams only what the source commits after it")(
      "advance-slot",
      "PostgreSQL, with --checkpoint-now: then move the idle slot up to that position (for at "
      "most 5 s), so it no longer keeps the WAL before it")(
      "slot-wal-warning", po::value<double>()->default_value(1024),
      "PostgreSQL: warn while the slot retains more WAL than this many MB")(
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
  const NoteFunction note = [&settings](const std::string& line) { Note(settings, line); };
  std::unique_ptr<SyncBackend> backend = NewSyncBackend(settings, note);

  // Everything that can refuse the run is checked before anything is written.
  auto selection = backend->SelectTables();
  if (!selection.ok()) {
    return ReportError(kCommand, selection.status().WithContext("source"));
  }
  if (Status checked = backend->CheckSource(*selection); !checked.ok()) {
    return ReportError(kCommand, checked);
  }
  auto lock = backend->LockStream();
  if (!lock.ok()) {
    return ReportError(kCommand, lock.status().WithContext("target"));
  }
  if (Status prepared = backend->Prepare(*selection); !prepared.ok()) {
    return ReportError(kCommand, prepared);
  }

  if (settings.checkpoint_now) {
    auto handed = CheckpointNow(settings, *backend, *selection);
    if (!handed.ok()) return ReportError(kCommand, handed.status());
    if (settings.advance_slot) backend->ReleaseSourceLog(*handed);
    if (settings.format == OutputFormat::kJson) {
      std::cout << nlohmann::json{{"position", engine::Serialize(*handed)},
                                  {"events_applied", 0},
                                  {"lag_ms", 0},
                                  {"stream", settings.stream},
                                  {"checkpoint_now", true}}
                       .dump(2)
                << std::endl;
    }
    return 0;
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
  const bool redis = settings.source.engine == engine::EngineKind::kRedis;
  engine::Result<CopySummary> copy = CopySummary{};
  if (settings.from_now) {
    copy = StartFromNow(settings, *backend, *selection);
    if (!copy.ok()) {
      return ReportError(kCommand, copy.status());
    }
  } else {
    Note(settings, "initial copy of " +
                       (redis ? std::string("every database")
                              : std::to_string(selection->copy_tables.size()) + " table(s)") +
                       " from " + settings.source.Redacted() + " to " + settings.target.Redacted());
    copy = CopyWithRetries(settings, *backend, *selection, &retries);
  }
  Status run_status;
  if (copy.ok()) {
    if (settings.from_now) {
      // StartFromNow said where the stream starts.
    } else if (copy->already_complete) {
      Note(settings, "initial copy already complete; resuming the stream from its checkpoint");
    } else if (!redis) {  // the Redis backend reports its snapshot load itself
      char line[256];
      std::snprintf(
          line, sizeof line, "copied %lld rows in %lld chunks (%lld done before) in %.1f s",
          static_cast<long long>(copy->rows_copied), static_cast<long long>(copy->chunks_copied),
          static_cast<long long>(copy->chunks_skipped), copy->elapsed.count());
      std::string text = line;
      if (copy->source_lock_held) {
        std::snprintf(line, sizeof line, "; global read lock held %.1f ms",
                      static_cast<double>(copy->source_lock_held->count()) / 1000.0);
        text += line;
      }
      Note(settings, text);
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
    // statements). Bytes stay bounded by max_group_bytes.
    pipeline_options.max_group_transactions = 256;
    pipeline_options.max_apply_batch = 2000;
    if (settings.until_caught_up) {
      // Caught up = everything the source had logged when streaming began is applied; a pause of
      // the source or the network before that is not the end.
      auto end = backend->ReadSourceEnd();
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
    Note(settings,
         "streaming changes with " + std::to_string(pipeline_options.workers) + " applier(s)");
    WarningWatcher watcher(*backend, note);
    run_status = engine::RunWithReconnect(
        pipeline_options, reconnect,
        [&](const std::optional<engine::Checkpoint>& resume) {
          return backend->OpenStream(*selection, resume);
        },
        [&](int) { return backend->OpenApplier(); });
    if (run_status.code() == engine::StatusCode::kCancelled && StopSignals::stop_requested()) {
      run_status = Status::Ok();  // stopped as asked in the middle of a reload
    }
    if (!run_status.ok()) {
      run_status = run_status.WithContext("change stream");
    }
  }
  if (metrics_server) {
    metrics_server->Stop();
  }

  const engine::PipelineMetricsSnapshot snapshot = metrics.Snapshot();
  auto checkpoint = ReadCommittedCheckpoint(settings, *backend);
  Ending ending = Ending::kCaughtUp;
  if (!run_status.ok()) {
    ending = Ending::kError;
  } else if (timer.fired()) {
    ending = Ending::kDuration;
  } else if (StopSignals::stop_requested()) {
    ending = Ending::kSignal;
  }
  const bool clean = run_status.ok() && copy.ok() && checkpoint.ok() && ending == Ending::kCaughtUp;
  if (Status finished = backend->Finish(clean); !finished.ok() && run_status.ok()) {
    run_status = finished;
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
        {"from_now", settings.from_now},
    };
    if (copy.ok()) {
      nlohmann::json created = nlohmann::json::array();
      for (const TableId& table : copy->tables_created) {
        created.push_back(table.ToString());
      }
      report["copy"] = {
          {"already_complete", copy->already_complete},
          {"rows_copied", copy->rows_copied},
          {"chunks_copied", copy->chunks_copied},
          {"chunks_skipped", copy->chunks_skipped},
          {"tables_created", created},
          {"elapsed_s", copy->elapsed.count()},
      };
      if (copy->source_lock_held) {
        report["copy"]["global_lock_ms"] =
            static_cast<double>(copy->source_lock_held->count()) / 1000.0;
      }
    }
    backend->AddToReport(report);
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

engine::Status SyncBackend::ReplaceCheckpoint(engine::Checkpoint checkpoint) {
  TANDEM_ASSIGN_OR_RETURN(auto applier, OpenApplier());
  TANDEM_ASSIGN_OR_RETURN(std::optional<engine::Checkpoint> row,
                          applier->ReadCheckpoint(checkpoint.stream));
  checkpoint.events_applied = row ? row->events_applied : 0;
  TANDEM_RETURN_IF_ERROR(applier->Begin());
  return applier->Commit(checkpoint).WithContext("committing the --checkpoint-now checkpoint");
}

std::unique_ptr<SyncBackend> NewSyncBackend(const SyncSettings& settings, NoteFunction note) {
  switch (settings.source.engine) {
    case engine::EngineKind::kPostgres:
      return NewPostgresSyncBackend(settings, std::move(note));
    case engine::EngineKind::kRedis:
      return NewRedisSyncBackend(settings, std::move(note));
    case engine::EngineKind::kMySql:
      break;
  }
  return NewMySqlSyncBackend(settings, std::move(note));
}

}  // namespace tandem::tools
