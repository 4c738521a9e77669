#include "orchestration/journal.h"

#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string_view>
#include <utility>

namespace tandem::orchestration {
namespace {

using engine::Result;
using engine::Status;
using engine::StatusCode;
using nlohmann::json;

// The schema this code writes and reads. A journal with a larger version was written by a newer
// tandem and is refused rather than misread.
constexpr int kSchemaVersion = 1;
constexpr char kJournalKind[] = "tandem journal";
constexpr int kBusyTimeoutMs = 5000;
// A controller on another host whose heartbeat is older than this is presumed gone.
constexpr int64_t kForeignHeartbeatTimeoutMs = 10000;

// Created in one transaction on first open. JSON columns hold nlohmann::json text; times are UNIX
// milliseconds. `samples` is ordered by its implicit rowid (insertion order; rows are never
// deleted, so rowids only grow).
constexpr char kSchema[] = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  plan_name TEXT NOT NULL,
  plan_digest INTEGER NOT NULL,
  state TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  outcome TEXT NOT NULL DEFAULT '');
CREATE TABLE steps(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  phase INTEGER NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  gates TEXT NOT NULL,
  detail TEXT NOT NULL,
  UNIQUE(run_id, name));
CREATE TABLE samples(
  run_id INTEGER NOT NULL REFERENCES runs(id),
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL);
CREATE INDEX samples_by_run_and_kind ON samples(run_id, kind);
CREATE TABLE controller(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  process_start INTEGER NOT NULL,
  token TEXT NOT NULL,
  heartbeat_at INTEGER NOT NULL);
CREATE TABLE requests(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  kind TEXT NOT NULL,
  phase INTEGER,
  created_at INTEGER NOT NULL,
  handled_at INTEGER);
CREATE INDEX requests_by_run ON requests(run_id, kind, phase);
)sql";

constexpr char kStepColumns[] = "id, phase, name, state, started_at, finished_at, gates, detail";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Maps an SQLite result code to the status code the header promises.
StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::kUnavailable;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return StatusCode::kPermissionDenied;
    case SQLITE_NOTADB:
      return StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
      return StatusCode::kCorruption;
    default:
      return StatusCode::kInternal;
  }
}

// "journal <path>: <what>: <SQLite's message>", with the code mapped from `rc`.
Status SqliteError(sqlite3* db, int rc, const std::string& path, std::string_view what) {
  std::string message = "journal " + path + ": " + std::string(what) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR) && system_errno != 0) {
    message += std::string(" (") + std::strerror(system_errno) + ")";
  }
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
    message += " (another process held the journal for more than 5 s; retry)";
  } else if ((rc & 0xff) == SQLITE_NOTADB) {
    message += " (the file is not a tandem journal; choose another journal path)";
  }
  return Status(CodeFor(rc), std::move(message));
}

std::string DumpJson(const json& value) {
  // Replace invalid UTF-8 instead of throwing: the journal must record whatever the gates saw.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One prepared statement with bound values; finalised on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Status Prepare(const char* sql) {
    const int rc = sqlite3_prepare_v2(db_, sql, -1, &statement_, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, rc, path_, "preparing a statement");
    }
    return Status::Ok();
  }

  // Binding only fails on a bad index or out of memory, which Step() then reports.
  Statement& Bind(int index, int64_t value) {
    BindResult(sqlite3_bind_int64(statement_, index, value));
    return *this;
  }
  Statement& Bind(int index, const std::string& value) {
    BindResult(sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()),
                                 SQLITE_TRANSIENT));
    return *this;
  }
  Statement& BindNull(int index) {
    BindResult(sqlite3_bind_null(statement_, index));
    return *this;
  }

  // True when a row is available, false when done.
  Result<bool> Step(std::string_view what) {
    if (bind_rc_ != SQLITE_OK) {
      return SqliteError(db_, bind_rc_, path_, what);
    }
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    return SqliteError(db_, rc, path_, what);
  }

  // Runs a statement that returns no rows.
  Status Run(std::string_view what) {
    TANDEM_ASSIGN_OR_RETURN(bool row, Step(what));
    (void)row;
    return Status::Ok();
  }

  bool IsNull(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  int64_t Int(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(statement_, column);
    if (text == nullptr) {
      return std::string();
    }
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
  }
  std::optional<int64_t> OptionalInt(int column) const {
    if (IsNull(column)) {
      return std::nullopt;
    }
    return Int(column);
  }

 private:
  void BindResult(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
      bind_rc_ = rc;
    }
  }

  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* statement_ = nullptr;
  int bind_rc_ = SQLITE_OK;
};

// A transaction that rolls back unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
  ~Transaction() {
    if (open_) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // `immediate` takes the write lock at once (waiting up to the busy timeout), for
  // read-modify-write transactions that must not fail to upgrade later.
  Status Begin(bool immediate) {
    const int rc =
        sqlite3_exec(db_, immediate ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, rc, path_, "starting a transaction");
    }
    open_ = true;
    return Status::Ok();
  }

  Status Commit() {
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, rc, path_, "committing");
    }
    open_ = false;
    return Status::Ok();
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool open_ = false;
};

// Owns an sqlite3 handle until released to the Journal.
struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;

Result<RunState> ParseRunState(const std::string& text) {
  for (RunState state : {RunState::kRunning, RunState::kWaiting, RunState::kCompleted,
                         RunState::kRolledBack, RunState::kFailed}) {
    if (text == RunStateName(state)) {
      return state;
    }
  }
  return engine::Corruption("unknown run state \"" + text + "\" in the journal");
}

Result<StepState> ParseStepState(const std::string& text) {
  for (StepState state : {StepState::kStarted, StepState::kDone, StepState::kFailed,
                          StepState::kUndone, StepState::kSkipped}) {
    if (text == StepStateName(state)) {
      return state;
    }
  }
  return engine::Corruption("unknown step state \"" + text + "\" in the journal");
}

Result<json> ParseJsonColumn(const std::string& text, const std::string& path,
                             std::string_view column) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return engine::Corruption("journal " + path + ": the " + std::string(column) +
                              " column does not hold JSON");
  }
  return value;
}

// Reads a step row selected with kStepColumns.
Result<StepRecord> ReadStep(const Statement& row, const std::string& path) {
  StepRecord step;
  step.id = row.Int(0);
  step.phase = static_cast<int>(row.Int(1));
  step.name = row.Text(2);
  TANDEM_ASSIGN_OR_RETURN(step.state, ParseStepState(row.Text(3)));
  step.started_at_ms = row.Int(4);
  step.finished_at_ms = row.OptionalInt(5);
  TANDEM_ASSIGN_OR_RETURN(step.gates, ParseJsonColumn(row.Text(6), path, "steps.gates"));
  TANDEM_ASSIGN_OR_RETURN(step.detail, ParseJsonColumn(row.Text(7), path, "steps.detail"));
  return step;
}

// --- the identity of a process, for the controller lock ---

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) {
    return "unknown-host";
  }
  return name;
}

struct ProcessFacts {
  bool readable = false;
  char state = '?';
  int64_t start_ticks = 0;  // field 22 of /proc/<pid>/stat: clock ticks after boot
};

// Reads /proc/<pid>/stat. The command (field 2) may hold spaces and parentheses, so the fields
// are counted from the last ')'.
ProcessFacts ReadProcessFacts(int64_t pid) {
  ProcessFacts facts;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!file || !std::getline(file, line)) {
    return facts;
  }
  const size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return facts;
  }
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  // After ')' come fields 3 (state), 4, ..., 22 (starttime).
  for (int number = 3; number <= 22; ++number) {
    if (!(fields >> field)) {
      return facts;
    }
    if (number == 3) {
      facts.state = field.empty() ? '?' : field[0];
    }
  }
  try {
    facts.start_ticks = std::stoll(field);
  } catch (const std::exception&) {
    return facts;
  }
  facts.readable = true;
  return facts;
}

int64_t OwnProcessStart() { return ReadProcessFacts(getpid()).start_ticks; }

std::string NewToken() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> distribution;
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx",
                static_cast<unsigned long long>(distribution(device)),
                static_cast<unsigned long long>(distribution(device)));
  return text;
}

struct LockRow {
  int64_t pid = 0;
  std::string host;
  int64_t process_start = 0;
  std::string token;
  int64_t heartbeat_at_ms = 0;
};

// Whether the holder of `row` is this very process (same host, pid and start time).
bool IsThisProcess(const LockRow& row) {
  return row.host == HostName() && row.pid == static_cast<int64_t>(getpid()) &&
         row.process_start == OwnProcessStart();
}

// The liveness rule of the header: on this host, the pid is alive and started at the recorded
// time (a zombie counts as gone); on another host, the heartbeat is at most 10 s old.
bool HolderAlive(const LockRow& row, int64_t now_ms) {
  if (row.host != HostName()) {
    return now_ms - row.heartbeat_at_ms <= kForeignHeartbeatTimeoutMs;
  }
  if (IsThisProcess(row)) {
    return true;
  }
  if (row.pid <= 0 || row.pid > INT_MAX) {
    return false;
  }
  if (kill(static_cast<pid_t>(row.pid), 0) == -1 && errno == ESRCH) {
    return false;
  }
  const ProcessFacts facts = ReadProcessFacts(row.pid);
  if (!facts.readable) {
    // kill() says it exists but /proc hides it (another user, hidepid): trust kill().
    return true;
  }
  if (facts.state == 'Z' || facts.state == 'X') {
    return false;
  }
  return facts.start_ticks == row.process_start;
}

std::string SecondsText(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms < 0 ? 0 : ms) / 1000.0);
  return text;
}

}  // namespace

const char* RunStateName(RunState state) {
  switch (state) {
    case RunState::kRunning:
      return "running";
    case RunState::kWaiting:
      return "waiting";
    case RunState::kCompleted:
      return "completed";
    case RunState::kRolledBack:
      return "rolled_back";
    case RunState::kFailed:
      return "failed";
    case RunState::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

const char* StepStateName(StepState state) {
  switch (state) {
    case StepState::kStarted:
      return "started";
    case StepState::kDone:
      return "done";
    case StepState::kFailed:
      return "failed";
    case StepState::kUndone:
      return "undone";
    case StepState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

Journal::Journal(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

Journal::~Journal() { sqlite3_close_v2(db_); }

Status Journal::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(db_, rc, path_, std::string("running ") + sql);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path, bool create) {
  if (path.empty()) {
    return engine::InvalidArgument("the journal path is empty; give the plan's journal file");
  }
  struct stat info;
  if (!create && stat(path.c_str(), &info) != 0 && errno == ENOENT) {
    return engine::NotFound("no journal at " + path + ": the plan has not been run");
  }

  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  const int open_rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DatabaseHandle db(raw);
  if (open_rc != SQLITE_OK) {
    return SqliteError(raw, open_rc, path, "opening");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  std::unique_ptr<Journal> journal(new Journal(path, db.release()));
  const std::string& journal_path = journal->path_;
  sqlite3* handle = journal->db_;

  // Recognise (or, on an empty file, create) the schema before touching any setting, so a file
  // that is not a journal is refused unchanged.
  {
    Transaction transaction(handle, journal_path);
    TANDEM_RETURN_IF_ERROR(transaction.Begin(/*immediate=*/create));
    Statement tables(handle, journal_path);
    TANDEM_RETURN_IF_ERROR(tables.Prepare("SELECT count(*) FROM sqlite_schema"));
    TANDEM_ASSIGN_OR_RETURN(bool has_row, tables.Step("reading the schema"));
    const int64_t table_count = has_row ? tables.Int(0) : 0;
    if (table_count == 0) {
      if (!create) {
        return engine::FailedPrecondition(
            "journal " + path +
            " is an empty database, not a tandem journal; remove it or choose another path");
      }
      TANDEM_RETURN_IF_ERROR(journal->Exec(kSchema));
      for (const auto& [key, value] :
           {std::pair<std::string, std::string>{"schema_version", std::to_string(kSchemaVersion)},
            std::pair<std::string, std::string>{"kind", kJournalKind}}) {
        Statement insert(handle, journal_path);
        TANDEM_RETURN_IF_ERROR(insert.Prepare("INSERT INTO meta(key, value) VALUES (?1, ?2)"));
        insert.Bind(1, key).Bind(2, value);
        TANDEM_RETURN_IF_ERROR(insert.Run("writing the schema version"));
      }
    } else {
      const std::string not_a_journal =
          "journal " + path +
          " is an SQLite database but not a tandem journal; choose another journal path";
      Statement has_meta(handle, journal_path);
      TANDEM_RETURN_IF_ERROR(has_meta.Prepare(
          "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'"));
      TANDEM_ASSIGN_OR_RETURN(bool meta_row, has_meta.Step("reading the schema"));
      if (!meta_row || has_meta.Int(0) == 0) {
        return engine::FailedPrecondition(not_a_journal);
      }
      Statement meta(handle, journal_path);
      TANDEM_RETURN_IF_ERROR(
          meta.Prepare("SELECT (SELECT value FROM meta WHERE key = 'kind'),"
                       "       (SELECT value FROM meta WHERE key = 'schema_version')"));
      TANDEM_ASSIGN_OR_RETURN(bool row, meta.Step("reading the journal's meta table"));
      if (!row || meta.IsNull(0) || meta.Text(0) != kJournalKind || meta.IsNull(1)) {
        return engine::FailedPrecondition(not_a_journal);
      }
      const std::string version_text = meta.Text(1);
      int version = 0;
      try {
        size_t used = 0;
        version = std::stoi(version_text, &used);
        if (used != version_text.size()) {
          version = 0;
        }
      } catch (const std::exception&) {
        version = 0;
      }
      if (version <= 0) {
        return engine::FailedPrecondition("journal " + path +
                                          " has an unreadable schema version \"" + version_text +
                                          "\"; choose another journal path");
      }
      if (version > kSchemaVersion) {
        return engine::FailedPrecondition(
            "journal " + path + " has schema version " + std::to_string(version) +
            ", newer than this tandem reads (" + std::to_string(kSchemaVersion) +
            "); use the tandem that wrote it");
      }
    }
    TANDEM_RETURN_IF_ERROR(transaction.Commit());
  }

  // WAL is persistent in the file; synchronous and foreign_keys hold for this connection.
  {
    Statement mode(handle, journal_path);
    TANDEM_RETURN_IF_ERROR(mode.Prepare("PRAGMA journal_mode=WAL"));
    TANDEM_ASSIGN_OR_RETURN(bool row, mode.Step("switching to WAL mode"));
    if (!row || mode.Text(0) != "wal") {
      return engine::Unsupported("journal " + path + ": SQLite refused WAL mode (it stays in \"" +
                                 (row ? mode.Text(0) : std::string()) +
                                 "\" mode); put the journal on a local file system");
    }
  }
  TANDEM_RETURN_IF_ERROR(journal->Exec("PRAGMA synchronous=FULL"));
  TANDEM_RETURN_IF_ERROR(journal->Exec("PRAGMA foreign_keys=ON"));
  return journal;
}

// --- the single-controller lock ---

Status Journal::AcquireController() {
  Transaction transaction(db_, path_);
  TANDEM_RETURN_IF_ERROR(transaction.Begin(/*immediate=*/true));
  const int64_t now = NowMs();
  {
    Statement select(db_, path_);
    TANDEM_RETURN_IF_ERROR(select.Prepare(
        "SELECT pid, host, process_start, token, heartbeat_at FROM controller WHERE id = 1"));
    TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading the controller lock"));
    if (has_row) {
      LockRow holder{select.Int(0), select.Text(1), select.Int(2), select.Text(3), select.Int(4)};
      if (!IsThisProcess(holder) && HolderAlive(holder, now)) {
        const std::string pid = std::to_string(holder.pid);
        return engine::FailedPrecondition(
            "another controller (pid " + pid + " on host " + holder.host + ", alive, last seen " +
            SecondsText(now - holder.heartbeat_at_ms) +
            " ago) runs this plan; wait for it, or stop it with Ctrl-C / kill " + pid);
      }
    }
  }
  const std::string token = NewToken();
  Statement write(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      write.Prepare("INSERT OR REPLACE INTO controller(id, pid, host, process_start, token, "
                    "heartbeat_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)"));
  write.Bind(1, static_cast<int64_t>(getpid()))
      .Bind(2, HostName())
      .Bind(3, OwnProcessStart())
      .Bind(4, token)
      .Bind(5, now);
  TANDEM_RETURN_IF_ERROR(write.Run("taking the controller lock"));
  TANDEM_RETURN_IF_ERROR(transaction.Commit());
  token_ = token;
  return Status::Ok();
}

Status Journal::RenewController() {
  if (token_.empty()) {
    return engine::FailedPrecondition("journal " + path_ +
                                      ": this process does not hold the controller lock; "
                                      "acquire it before renewing");
  }
  Statement update(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      update.Prepare("UPDATE controller SET heartbeat_at = ?1 WHERE id = 1 AND token = ?2"));
  update.Bind(1, NowMs()).Bind(2, token_);
  TANDEM_RETURN_IF_ERROR(update.Run("renewing the controller lock"));
  if (sqlite3_changes(db_) == 1) {
    return Status::Ok();
  }
  token_.clear();
  TANDEM_ASSIGN_OR_RETURN(std::optional<ControllerInfo> holder, Controller());
  if (!holder.has_value()) {
    return engine::FailedPrecondition("journal " + path_ +
                                      ": the controller lock was released by another process; "
                                      "this controller must stop");
  }
  return engine::FailedPrecondition("the controller lock was taken over by pid " +
                                    std::to_string(holder->pid) + " on host " + holder->host +
                                    "; this controller must stop");
}

void Journal::ReleaseController() {
  if (token_.empty()) {
    return;
  }
  Statement remove(db_, path_);
  if (remove.Prepare("DELETE FROM controller WHERE id = 1 AND token = ?1").ok()) {
    remove.Bind(1, token_);
    // A failure leaves the row; its pid dies with this process, which frees the lock anyway.
    (void)remove.Run("releasing the controller lock");
  }
  token_.clear();
}

Result<std::optional<ControllerInfo>> Journal::Controller() {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(select.Prepare(
      "SELECT pid, host, process_start, token, heartbeat_at FROM controller WHERE id = 1"));
  TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading the controller lock"));
  if (!has_row) {
    return std::optional<ControllerInfo>();
  }
  LockRow row{select.Int(0), select.Text(1), select.Int(2), select.Text(3), select.Int(4)};
  ControllerInfo info;
  info.pid = row.pid;
  info.host = row.host;
  info.heartbeat_at_ms = row.heartbeat_at_ms;
  info.alive = HolderAlive(row, NowMs());
  return std::optional<ControllerInfo>(std::move(info));
}

// --- runs ---

Result<std::optional<RunRecord>> Journal::LatestRun() {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      select.Prepare("SELECT id, plan_name, plan_digest, state, started_at, finished_at, outcome "
                     "FROM runs ORDER BY id DESC LIMIT 1"));
  TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading the latest run"));
  if (!has_row) {
    return std::optional<RunRecord>();
  }
  RunRecord run;
  run.id = select.Int(0);
  run.plan_name = select.Text(1);
  run.plan_digest = static_cast<uint64_t>(select.Int(2));
  TANDEM_ASSIGN_OR_RETURN(run.state, ParseRunState(select.Text(3)));
  run.started_at_ms = select.Int(4);
  run.finished_at_ms = select.OptionalInt(5);
  run.outcome = select.Text(6);
  return std::optional<RunRecord>(std::move(run));
}

Result<int64_t> Journal::BeginRun(const std::string& plan_name, uint64_t plan_digest) {
  Statement insert(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      insert.Prepare("INSERT INTO runs(plan_name, plan_digest, state, started_at, outcome) "
                     "VALUES (?1, ?2, ?3, ?4, '')"));
  insert.Bind(1, plan_name)
      .Bind(2, static_cast<int64_t>(plan_digest))
      .Bind(3, std::string(RunStateName(RunState::kRunning)))
      .Bind(4, NowMs());
  TANDEM_RETURN_IF_ERROR(insert.Run("recording a new run"));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status Journal::SetRunState(int64_t run_id, RunState state) {
  if (state == RunState::kInterrupted) {
    return engine::InvalidArgument(
        "the run state \"interrupted\" is derived by status and never stored");
  }
  Statement update(db_, path_);
  TANDEM_RETURN_IF_ERROR(update.Prepare("UPDATE runs SET state = ?1 WHERE id = ?2"));
  update.Bind(1, std::string(RunStateName(state))).Bind(2, run_id);
  TANDEM_RETURN_IF_ERROR(update.Run("setting the run state"));
  if (sqlite3_changes(db_) == 0) {
    return engine::NotFound("journal " + path_ + " has no run " + std::to_string(run_id));
  }
  return Status::Ok();
}

Status Journal::FinishRun(int64_t run_id, RunState state, const std::string& outcome) {
  if (state != RunState::kCompleted && state != RunState::kRolledBack &&
      state != RunState::kFailed) {
    return engine::InvalidArgument(std::string("a run cannot finish in state \"") +
                                   RunStateName(state) +
                                   "\"; use completed, rolled_back or failed");
  }
  Statement update(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      update.Prepare("UPDATE runs SET state = ?1, finished_at = ?2, outcome = ?3 WHERE id = ?4"));
  update.Bind(1, std::string(RunStateName(state)))
      .Bind(2, NowMs())
      .Bind(3, outcome)
      .Bind(4, run_id);
  TANDEM_RETURN_IF_ERROR(update.Run("finishing the run"));
  if (sqlite3_changes(db_) == 0) {
    return engine::NotFound("journal " + path_ + " has no run " + std::to_string(run_id));
  }
  return Status::Ok();
}

// --- steps ---

Result<StepRecord> Journal::StartStep(int64_t run_id, int phase, const std::string& name,
                                      const json& detail) {
  Transaction transaction(db_, path_);
  TANDEM_RETURN_IF_ERROR(transaction.Begin(/*immediate=*/true));
  {
    Statement existing(db_, path_);
    TANDEM_RETURN_IF_ERROR(existing.Prepare(
        (std::string("SELECT ") + kStepColumns + " FROM steps WHERE run_id = ?1 AND name = ?2")
            .c_str()));
    existing.Bind(1, run_id).Bind(2, name);
    TANDEM_ASSIGN_OR_RETURN(bool has_row, existing.Step("reading a step"));
    if (has_row) {
      // The resume case: the step keeps its id, state and started_at.
      return ReadStep(existing, path_);
    }
  }
  {
    Statement run(db_, path_);
    TANDEM_RETURN_IF_ERROR(run.Prepare("SELECT 1 FROM runs WHERE id = ?1"));
    run.Bind(1, run_id);
    TANDEM_ASSIGN_OR_RETURN(bool has_run, run.Step("reading a run"));
    if (!has_run) {
      return engine::NotFound("journal " + path_ + " has no run " + std::to_string(run_id));
    }
  }
  StepRecord step;
  step.phase = phase;
  step.name = name;
  step.state = StepState::kStarted;
  step.started_at_ms = NowMs();
  step.detail = detail;
  Statement insert(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      insert.Prepare("INSERT INTO steps(run_id, phase, name, state, started_at, gates, detail) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  insert.Bind(1, run_id)
      .Bind(2, static_cast<int64_t>(phase))
      .Bind(3, name)
      .Bind(4, std::string(StepStateName(StepState::kStarted)))
      .Bind(5, step.started_at_ms)
      .Bind(6, DumpJson(step.gates))
      .Bind(7, DumpJson(detail));
  TANDEM_RETURN_IF_ERROR(insert.Run("recording the intent of step \"" + name + "\""));
  step.id = static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  TANDEM_RETURN_IF_ERROR(transaction.Commit());
  return step;
}

Status Journal::FinishStep(int64_t step_id, StepState state, const json& gates,
                           const json& detail) {
  if (state == StepState::kStarted) {
    return engine::InvalidArgument(
        "a step cannot finish in state \"started\"; use done, failed, undone or skipped");
  }
  Statement update(db_, path_);
  TANDEM_RETURN_IF_ERROR(update.Prepare(
      "UPDATE steps SET state = ?1, finished_at = ?2, gates = ?3, detail = ?4 WHERE id = ?5"));
  update.Bind(1, std::string(StepStateName(state)))
      .Bind(2, NowMs())
      .Bind(3, DumpJson(gates))
      .Bind(4, DumpJson(detail))
      .Bind(5, step_id);
  TANDEM_RETURN_IF_ERROR(update.Run("recording the outcome of a step"));
  if (sqlite3_changes(db_) == 0) {
    return engine::NotFound("journal " + path_ + " has no step " + std::to_string(step_id));
  }
  return Status::Ok();
}

Status Journal::SetStepState(int64_t step_id, StepState state) {
  Statement update(db_, path_);
  TANDEM_RETURN_IF_ERROR(update.Prepare("UPDATE steps SET state = ?1 WHERE id = ?2"));
  update.Bind(1, std::string(StepStateName(state))).Bind(2, step_id);
  TANDEM_RETURN_IF_ERROR(update.Run("recording the state of a step"));
  if (sqlite3_changes(db_) == 0) {
    return engine::NotFound("journal " + path_ + " has no step " + std::to_string(step_id));
  }
  return Status::Ok();
}

Status Journal::UpdateStepGates(int64_t step_id, const json& gates) {
  Statement update(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      update.Prepare("UPDATE steps SET gates = ?1 WHERE id = ?2 AND state = ?3"));
  update.Bind(1, DumpJson(gates))
      .Bind(2, step_id)
      .Bind(3, std::string(StepStateName(StepState::kStarted)));
  TANDEM_RETURN_IF_ERROR(update.Run("updating a step's gates"));
  if (sqlite3_changes(db_) == 1) {
    return Status::Ok();
  }
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(select.Prepare("SELECT state FROM steps WHERE id = ?1"));
  select.Bind(1, step_id);
  TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading a step"));
  if (!has_row) {
    return engine::NotFound("journal " + path_ + " has no step " + std::to_string(step_id));
  }
  return engine::FailedPrecondition("step " + std::to_string(step_id) + " is " + select.Text(0) +
                                    ", not started; its gates are final");
}

Result<std::vector<StepRecord>> Journal::Steps(int64_t run_id) {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(select.Prepare(
      (std::string("SELECT ") + kStepColumns + " FROM steps WHERE run_id = ?1 ORDER BY id")
          .c_str()));
  select.Bind(1, run_id);
  std::vector<StepRecord> steps;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading the steps"));
    if (!has_row) {
      break;
    }
    TANDEM_ASSIGN_OR_RETURN(StepRecord step, ReadStep(select, path_));
    steps.push_back(std::move(step));
  }
  return steps;
}

Result<std::optional<StepRecord>> Journal::FindStep(int64_t run_id, const std::string& name) {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(select.Prepare(
      (std::string("SELECT ") + kStepColumns + " FROM steps WHERE run_id = ?1 AND name = ?2")
          .c_str()));
  select.Bind(1, run_id).Bind(2, name);
  TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading a step"));
  if (!has_row) {
    return std::optional<StepRecord>();
  }
  TANDEM_ASSIGN_OR_RETURN(StepRecord step, ReadStep(select, path_));
  return std::optional<StepRecord>(std::move(step));
}

// --- samples ---

Status Journal::AppendSample(int64_t run_id, const std::string& kind, const json& data) {
  Statement insert(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      insert.Prepare("INSERT INTO samples(run_id, at, kind, data) VALUES (?1, ?2, ?3, ?4)"));
  insert.Bind(1, run_id).Bind(2, NowMs()).Bind(3, kind).Bind(4, DumpJson(data));
  Status status = insert.Run("appending a sample");
  if (!status.ok() && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return engine::NotFound("journal " + path_ + " has no run " + std::to_string(run_id));
  }
  return status;
}

Result<std::vector<json>> Journal::Samples(int64_t run_id, const std::string& kind) {
  return ReadSamples(run_id, kind);
}

Result<std::vector<json>> Journal::SamplesOfEveryRun(const std::string& kind) {
  return ReadSamples(std::nullopt, kind);
}

Result<std::vector<Journal::TimedSample>> Journal::TimedSamples(int64_t run_id) {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      select.Prepare("SELECT at, kind, data FROM samples WHERE run_id = ?1 ORDER BY rowid"));
  select.Bind(1, run_id);
  std::vector<TimedSample> samples;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading samples"));
    if (!has_row) {
      break;
    }
    TimedSample sample;
    sample.at_ms = select.Int(0);
    sample.kind = select.Text(1);
    TANDEM_ASSIGN_OR_RETURN(sample.data, ParseJsonColumn(select.Text(2), path_, "samples.data"));
    samples.push_back(std::move(sample));
  }
  return samples;
}

Result<std::vector<json>> Journal::ReadSamples(std::optional<int64_t> run_id,
                                               const std::string& kind) {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(select.Prepare(
      "SELECT data FROM samples WHERE (?1 IS NULL OR run_id = ?1) AND kind = ?2 ORDER BY rowid"));
  if (run_id) {
    select.Bind(1, *run_id);
  } else {
    select.BindNull(1);
  }
  select.Bind(2, kind);
  std::vector<json> samples;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading samples"));
    if (!has_row) {
      break;
    }
    TANDEM_ASSIGN_OR_RETURN(json data, ParseJsonColumn(select.Text(0), path_, "samples.data"));
    samples.push_back(std::move(data));
  }
  return samples;
}

// --- requests ---

Status Journal::RequestApproval(int64_t run_id, int phase) {
  Statement insert(db_, path_);
  TANDEM_RETURN_IF_ERROR(insert.Prepare(
      "INSERT INTO requests(run_id, kind, phase, created_at) VALUES (?1, 'approve', ?2, ?3)"));
  insert.Bind(1, run_id).Bind(2, static_cast<int64_t>(phase)).Bind(3, NowMs());
  Status status = insert.Run("recording an approval");
  if (!status.ok() && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return engine::NotFound("journal " + path_ + " has no run " + std::to_string(run_id));
  }
  return status;
}

Result<bool> Journal::IsApproved(int64_t run_id, int phase) {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(
      select.Prepare("SELECT EXISTS(SELECT 1 FROM requests WHERE run_id = ?1 AND "
                     "kind = 'approve' AND phase = ?2)"));
  select.Bind(1, run_id).Bind(2, static_cast<int64_t>(phase));
  TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading approvals"));
  return has_row && select.Int(0) != 0;
}

Status Journal::RequestRollback(int64_t run_id) {
  Statement insert(db_, path_);
  TANDEM_RETURN_IF_ERROR(insert.Prepare(
      "INSERT INTO requests(run_id, kind, phase, created_at) VALUES (?1, 'rollback', 0, ?2)"));
  insert.Bind(1, run_id).Bind(2, NowMs());
  Status status = insert.Run("recording a rollback request");
  if (!status.ok() && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return engine::NotFound("journal " + path_ + " has no run " + std::to_string(run_id));
  }
  return status;
}

Result<bool> Journal::IsRollbackRequested(int64_t run_id) {
  Statement select(db_, path_);
  TANDEM_RETURN_IF_ERROR(select.Prepare(
      "SELECT EXISTS(SELECT 1 FROM requests WHERE run_id = ?1 AND kind = 'rollback')"));
  select.Bind(1, run_id);
  TANDEM_ASSIGN_OR_RETURN(bool has_row, select.Step("reading rollback requests"));
  return has_row && select.Int(0) != 0;
}

}  // namespace tandem::orchestration
