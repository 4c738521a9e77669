#include "orchestration/datastore_link.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "checksum/redis_verifier.h"
#include "checksum/verifier.h"
#include "checksum/verify_report.h"
#include "orchestration/utc_time.h"

extern char** environ;

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;
using engine::ConnectionConfig;
using engine::EngineKind;
using engine::Status;

constexpr char kTandemSchema[] = "_tandem";
constexpr char kSourcePasswordEnv[] = "TANDEM_SOURCE_PASSWORD";
constexpr char kTargetPasswordEnv[] = "TANDEM_TARGET_PASSWORD";
constexpr int kExitCannotRun = 2;     // tandem sync: could not run (permanent)
constexpr int kExitCannotExec = 127;  // the binary could not be executed
// How long a refusal because another sync holds the stream's lock is retried before it counts as
// permanent (a previous controller's child stopping: seconds; a second controller: refused).
constexpr auto kLockHeldPatience = std::chrono::seconds(60);
// The log segment of one child run that is searched for its lines: the tail of this size.
constexpr int64_t kMaxLogScanBytes = 4 << 20;

std::string UtcNow() { return FormatUtcTime(std::chrono::system_clock::now()); }

// A TCP port on 127.0.0.1 free right now (the kernel's pick), for the child's metrics endpoint.
// 0 when none could be had.
uint16_t PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  uint16_t port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// The value of the first sample of `metric` in Prometheus text, or nullopt.
std::optional<double> MetricValue(const std::string& text, const std::string& metric) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.compare(0, metric.size(), metric) != 0) {
      continue;
    }
    const char next = line.size() > metric.size() ? line[metric.size()] : '\0';
    if (next != '{' && next != ' ') {
      continue;
    }
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      continue;
    }
    try {
      return std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<int64_t> ToInt(const engine::Value& value) {
  if (value.is_null()) {
    return std::nullopt;
  }
  try {
    return std::stoll(value.ToDisplayString());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Waits for `pid` to exit, up to `timeout`. The exit code, -1 when a signal ended it, nullopt
// when it still runs.
std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (reaped < 0 && errno != EINTR) {
      return -1;  // not our child any more (cannot happen: only the supervisor reaps it)
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// One difference, for matching the two rounds of a verification and for the summary.
struct FoundDifference {
  std::string table;
  std::string identity;     // table, kind and key: equal for the same difference in two rounds
  std::string description;  // "changed in shop.orders key (id=7), columns total"
};

std::string DescribeKey(const checksum::TableReport& table, const engine::Row& key) {
  std::string out = "(";
  for (size_t i = 0; i < key.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    if (i < table.key_columns.size()) {
      out += table.key_columns[i] + "=";
    }
    out += key[i].ToDisplayString();
  }
  return out + ")";
}

std::vector<FoundDifference> Differences(const checksum::VerifyReport& report) {
  std::vector<FoundDifference> found;
  for (const checksum::TableReport& table : report.tables) {
    const std::string name = table.table.ToString();
    for (const checksum::Difference& difference : table.differences) {
      const std::string kind = checksum::DifferenceKindName(difference.kind);
      const std::string key = DescribeKey(table, difference.key);
      std::string description = kind + " in " + name + " key " + key;
      if (!difference.columns.empty()) {
        description += ", columns";
        for (const std::string& column : difference.columns) {
          description += " " + column;
        }
      }
      found.push_back({name, name + "\n" + kind + "\n" + key, std::move(description)});
    }
  }
  return found;
}

// Why `report` is incomplete (its first skip), or empty when it is complete.
std::string FirstSkip(const checksum::VerifyReport& report) {
  for (const checksum::TableReport& table : report.tables) {
    if (!table.skipped.empty()) {
      return table.table.ToString() + " " + table.skipped.front().range + ": " +
             table.skipped.front().reason;
    }
    if (!table.skipped_columns.empty()) {
      return table.table.ToString() + " column " + table.skipped_columns.front().name + ": " +
             table.skipped_columns.front().reason;
    }
  }
  return "";
}

}  // namespace

const char* StreamStateName(StreamState state) {
  switch (state) {
    case StreamState::kIdle:
      return "idle";
    case StreamState::kRunning:
      return "running";
    case StreamState::kRestarting:
      return "restarting";
    case StreamState::kFailed:
      return "failed";
    case StreamState::kStopped:
      return "stopped";
  }
  return "idle";
}

DatastoreLink::DatastoreLink(DatastorePlan plan, DatastoreLinkPorts ports,
                             DatastoreLinkOptions options)
    : plan_(std::move(plan)),
      ports_(std::move(ports)),
      options_(options),
      log_path_(ports_.log_directory + "/" + plan_.name + ".sync.log") {}

DatastoreLink::~DatastoreLink() { Stop(); }

Status DatastoreLink::StartStream() {
  std::lock_guard<std::mutex> serial(stop_mu_);
  if (ports_.tandem_binary.empty() || ::access(ports_.tandem_binary.c_str(), X_OK) != 0) {
    return engine::InvalidArgument("datastore " + plan_.name + ": the tandem binary '" +
                                   ports_.tandem_binary +
                                   "' is not executable; give the path of the tandem executable");
  }
  if (ports_.log_directory.empty() || ::access(ports_.log_directory.c_str(), W_OK) != 0) {
    return engine::InvalidArgument("datastore " + plan_.name + ": the log directory '" +
                                   ports_.log_directory +
                                   "' is not a writable directory; create it or choose another");
  }
  if (ports_.sync_threads < 1 || ports_.sync_threads > 64) {
    return engine::InvalidArgument("datastore " + plan_.name +
                                   ": sync threads must be 1 to 64, not " +
                                   std::to_string(ports_.sync_threads));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == StreamState::kFailed) {
      return engine::FailedPrecondition("datastore " + plan_.name +
                                        ": the stream failed and is not restarted: " + last_error_);
    }
    if (supervisor_.joinable() && !stop_requested_) {
      return Status::Ok();  // already supervised
    }
  }
  if (supervisor_.joinable()) {
    supervisor_.join();  // a stopped run's supervisor, finished
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = false;
    state_ = StreamState::kRunning;
  }
  supervisor_ = std::thread([this] { Supervise(); });
  return Status::Ok();
}

void DatastoreLink::Stop() {
  {
    std::lock_guard<std::mutex> serial(stop_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_requested_ = true;
    }
    cv_.notify_all();
    if (supervisor_.joinable()) {
      supervisor_.join();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != StreamState::kFailed && state_ != StreamState::kIdle) {
      state_ = StreamState::kStopped;
    }
  }
  std::shared_ptr<lag::LagMonitor> monitor;
  {
    std::lock_guard<std::mutex> lock(lag_mu_);
    monitor = std::move(monitor_);
    monitor_.reset();
    last_open_attempt_.reset();
  }
  if (monitor) {
    monitor->Stop();
  }
}

void DatastoreLink::Supervise() {
  std::chrono::milliseconds backoff = options_.restart_backoff;
  for (;;) {
    const auto started = Clock::now();
    const int code = RunChildOnce();
    bool streaming = false;
    std::optional<int64_t> copied;
    std::string last_line;
    ReadChildLog(&streaming, &copied, &last_line);
    std::unique_lock<std::mutex> lock(mu_);
    if (copied) {
      copied_logged_ = copied;
    }
    child_pid_ = 0;
    rows_applied_before_ += rows_applied_current_;
    rows_applied_current_ = 0;
    copy_done_ = copy_done_ || streaming;
    if (!last_line.empty()) {
      last_error_ = last_line;
    }
    if (stop_requested_) {
      state_ = StreamState::kStopped;
      return;
    }
    // The metrics port, picked free just before, can be taken meanwhile: the next run picks
    // another, so that exit is no reason to give up.
    const bool port_taken = last_line.find("cannot listen for metrics on") != std::string::npos;
    // A stream lock still held by the sync of a controller that died a moment ago (it stops on
    // its PDEATHSIG, which takes a few seconds): wait for it, up to kLockHeldPatience.
    const bool lock_held = code == kExitCannotRun &&
                           last_line.find("another tandem sync of stream") != std::string::npos;
    if (lock_held && !lock_held_since_) {
      lock_held_since_ = Clock::now();
    }
    const bool lock_wait = lock_held && Clock::now() - *lock_held_since_ < kLockHeldPatience;
    if (!lock_held) {
      lock_held_since_.reset();
    }
    if ((code == kExitCannotRun && !port_taken && !lock_wait) || code == kExitCannotExec) {
      state_ = StreamState::kFailed;
      if (last_line.empty()) {
        last_error_ = code == kExitCannotExec
                          ? "could not execute " + ports_.tandem_binary + " (see " + log_path_ + ")"
                          : "tandem sync exited with code 2 (see " + log_path_ + ")";
      }
      return;
    }
    if (Clock::now() - started >= std::chrono::minutes(1)) {
      backoff = options_.restart_backoff;
    }
    state_ = StreamState::kRestarting;
    ++restarts_;
    if (cv_.wait_for(lock, backoff, [this] { return stop_requested_; })) {
      state_ = StreamState::kStopped;
      return;
    }
    backoff = std::min(backoff * 2, options_.max_restart_backoff);
  }
}

pid_t DatastoreLink::SpawnChild(std::optional<uint16_t> metrics_port,
                                const std::vector<std::string>& extra_args, std::string* error) {
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> args = {ports_.tandem_binary, "sync",
                                   "--source",           plan_.source.UriWithoutPassword(),
                                   "--target",           plan_.target.UriWithoutPassword(),
                                   "--stream",           plan_.name,
                                   "--threads",          std::to_string(ports_.sync_threads)};
  if (metrics_port) {
    args.push_back("--metrics-port");
    args.push_back(std::to_string(*metrics_port));
  }
  if (options_.start_at_source_end) {
    args.push_back("--from-now");
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with(std::string(kSourcePasswordEnv) + "=") ||
        text.starts_with(std::string(kTargetPasswordEnv) + "=")) {
      continue;
    }
    environment.emplace_back(text);
  }
  if (!plan_.source.password.empty()) {
    environment.push_back(std::string(kSourcePasswordEnv) + "=" + plan_.source.password);
  }
  if (!plan_.target.password.empty()) {
    environment.push_back(std::string(kTargetPasswordEnv) + "=" + plan_.target.password);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& entry : environment) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    *error = "cannot open " + log_path_ + ": " + std::strerror(errno);
    return -1;
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    *error = std::string("cannot open /dev/null: ") + std::strerror(errno);
    ::close(log_fd);
    return -1;
  }
  // The command line carries no password (ConnectionConfig::UriWithoutPassword), so it can go into
  // the log.
  std::string banner = "--- " + UtcNow() + " tandem run starts:";
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    banner += " ";
    banner += argv[i];
  }
  banner += "\n";
  (void)!::write(log_fd, banner.data(), banner.size());
  struct stat info {};
  const int64_t offset = ::fstat(log_fd, &info) == 0 ? static_cast<int64_t>(info.st_size) : 0;

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child. PR_SET_PDEATHSIG fires when the forking thread (the supervisor, which lives until
    // it has reaped this child) or the whole controller dies, kill -9 included.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(1);  // the controller died before prctl took effect
    }
    // Its own process group: Ctrl-C at the terminal reaches the controller only, which then stops
    // its children itself (Stop), instead of racing them.
    ::setpgid(0, 0);
    // The controller may block or ignore signals (a sigwait thread): the sync must see SIGTERM.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int signal_number : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) {
      ::signal(signal_number, SIG_DFL);
    }
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::syscall(SYS_close_range, 3U, ~0U, 0U);  // no controller descriptor leaks into the sync
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(kExitCannotExec);
  }
  const int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    *error = std::string("cannot start tandem sync: fork: ") + std::strerror(fork_errno);
    return -1;
  }
  std::lock_guard<std::mutex> lock(mu_);
  log_offset_ = offset;
  return pid;
}

int DatastoreLink::RunChildOnce() {
  const uint16_t port = PickFreePort();
  std::string error;
  const pid_t pid = SpawnChild(port, {}, &error);
  if (pid < 0) {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = error;
    return kExitCannotExec;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    child_pid_ = pid;
    metrics_port_ = port;
    state_ = StreamState::kRunning;
  }
  for (;;) {
    if (std::optional<int> code = WaitForExit(pid, std::chrono::milliseconds(0))) {
      return *code;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_requested_; })) {
      break;
    }
  }
  // Stop requested: SIGTERM (the sync stops cleanly, committing its checkpoint), then SIGKILL.
  ::kill(pid, SIGTERM);
  if (std::optional<int> code = WaitForExit(pid, options_.stop_grace)) {
    return *code;
  }
  ::kill(pid, SIGKILL);
  // SIGKILL cannot be caught; the wait ends as soon as the kernel tore the process down.
  std::optional<int> code = WaitForExit(pid, std::chrono::seconds(30));
  return code.value_or(-1);
}

Status DatastoreLink::RunOneShot(const std::vector<std::string>& extra_args,
                                 std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> serial(stop_mu_);  // no StartStream() meanwhile
  if (ports_.tandem_binary.empty() || ::access(ports_.tandem_binary.c_str(), X_OK) != 0) {
    return engine::InvalidArgument("datastore " + plan_.name + ": the tandem binary '" +
                                   ports_.tandem_binary +
                                   "' is not executable; give the path of the tandem executable");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (supervisor_.joinable() && !stop_requested_) {
      return engine::FailedPrecondition("datastore " + plan_.name +
                                        ": the stream runs; stop it before handing it over");
    }
  }
  std::string what = "tandem sync";
  for (const std::string& arg : extra_args) what += " " + arg;
  std::string error;
  const pid_t pid = SpawnChild(std::nullopt, extra_args, &error);
  if (pid < 0) {
    return engine::FailedPrecondition("datastore " + plan_.name + ": " + error);
  }
  std::optional<int> code = WaitForExit(pid, timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    (void)WaitForExit(pid, std::chrono::seconds(30));
    return engine::Timeout("datastore " + plan_.name + ": " + what + " did not finish within " +
                           std::to_string(timeout.count()) + " ms (killed); see " + log_path_);
  }
  if (*code == 0) return Status::Ok();
  bool streaming = false;
  std::optional<int64_t> copied;
  std::string last_error;
  ReadChildLog(&streaming, &copied, &last_error);
  return engine::FailedPrecondition("datastore " + plan_.name + ": " + what + " exited with " +
                                    std::to_string(*code) + ": " +
                                    (last_error.empty() ? "see " + log_path_ : last_error));
}

Status DatastoreLink::CheckpointAtSourceEnd(std::chrono::milliseconds timeout, bool advance_slot) {
  if (advance_slot && plan_.source.engine == engine::EngineKind::kPostgres) {
    return RunOneShot({"--checkpoint-now", "--advance-slot"}, timeout);
  }
  return RunOneShot({"--checkpoint-now"}, timeout);
}

Status DatastoreLink::DropSourceSlot(std::chrono::milliseconds timeout) {
  if (plan_.source.engine != engine::EngineKind::kPostgres) return Status::Ok();
  return RunOneShot({"--until-caught-up", "--drop-slot"}, timeout);
}

void DatastoreLink::ReadChildLog(bool* streaming, std::optional<int64_t>* copied,
                                 std::string* last_error) {
  int64_t offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    offset = log_offset_;
  }
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) {
    return;
  }
  in.seekg(0, std::ios::end);
  const int64_t size = static_cast<int64_t>(in.tellg());
  offset = std::max(offset, size - kMaxLogScanBytes);
  if (offset >= size) {
    return;
  }
  in.seekg(offset);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("streaming changes with") != std::string::npos ||
        line.find("initial copy already complete") != std::string::npos) {
      *streaming = true;
    }
    // The copy's summary: "copied 300 rows in 1 chunks ..." (SQL), "loaded 200 keys (..." (Redis).
    for (const char* format : {"%*s copied %lld rows", "%*s loaded %lld keys"}) {
      long long count = 0;
      if (std::sscanf(line.c_str(), format, &count) == 1) {
        *copied = count;
      }
    }
    if (line.starts_with("tandem sync: ")) {
      *last_error = line;
    }
  }
}

void DatastoreLink::RefreshCopyProgress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == StreamState::kIdle || final_copy_reading_) {
      return;
    }
    // Once the copy is done, one last reading (without waiting out the second) fixes the figures.
    if (!copy_done_ && last_copy_reading_ &&
        Clock::now() - *last_copy_reading_ < std::chrono::seconds(1)) {
      return;
    }
  }
  bool done_before_reading = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_before_reading = copy_done_;
  }
  int64_t total = -1;
  int64_t copied = -1;
  if (plan_.source.engine == EngineKind::kRedis) {
    auto count_keys = [this](const ConnectionConfig& config) -> int64_t {
      auto opened = ports_.open_database(config);
      if (!opened.ok()) {
        return -1;
      }
      auto* keyspace = dynamic_cast<engine::KeyValueDatabase*>(opened->get());
      if (keyspace == nullptr) {
        return -1;
      }
      auto described = keyspace->DescribeKeyspaces();
      if (!described.ok()) {
        return -1;
      }
      int64_t keys = 0;
      for (const engine::KeyspaceInfo& info : *described) {
        keys += info.keys;
      }
      return keys;
    };
    total = count_keys(plan_.source);
    copied = count_keys(plan_.target);
  } else {
    if (auto opened = ports_.open_database(plan_.source); opened.ok()) {
      if (auto* source = dynamic_cast<engine::SqlDatabase*>(opened->get())) {
        if (auto tables = source->ListTables(""); tables.ok()) {
          total = 0;
          for (const engine::TableId& table : *tables) {
            if (table.schema == kTandemSchema) {
              continue;
            }
            auto schema = source->DescribeTable(table);
            if (schema.ok() && schema->estimated_rows > 0) {
              total += schema->estimated_rows;
            }
          }
        }
      }
    }
    // The stream's chunks in the target's bookkeeping: _tandem.copy_chunk(stream, ...,
    // rows_copied, done), written by the copy in the same transactions as the rows.
    if (auto opened = ports_.open_database(plan_.target); opened.ok()) {
      if (auto* target = dynamic_cast<engine::SqlDatabase*>(opened->get())) {
        auto chunks = target->DescribeTable({kTandemSchema, "copy_chunk"});
        if (chunks.ok()) {
          int stream_column = -1;
          int rows_column = -1;
          for (size_t i = 0; i < chunks->columns.size(); ++i) {
            if (chunks->columns[i].name == "stream") {
              stream_column = static_cast<int>(i);
            } else if (chunks->columns[i].name == "rows_copied") {
              rows_column = static_cast<int>(i);
            }
          }
          if (stream_column >= 0 && rows_column >= 0) {
            int64_t sum = 0;
            const Status read =
                target->ReadRange(*chunks, engine::KeyRange::All(), [&](engine::Row&& row) {
                  if (row[stream_column].ToDisplayString() == plan_.name) {
                    sum += ToInt(row[rows_column]).value_or(0);
                  }
                  return true;
                });
            if (read.ok()) {
              copied = sum;
            }
          }
        } else if (chunks.status().code() == engine::StatusCode::kNotFound) {
          copied = 0;  // the copy has not begun
        }
      }
    }
  }
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (done_before_reading) {
    // The copy's bookkeeping is gone once it is done: take its own count, or (a copy finished by
    // an earlier controller) the source's size.
    // (Once counted, a copy's rows stay as counted: the estimate is only for a copy never seen.)
    copied = copied_logged_ ? *copied_logged_ : (copied_ > 0 ? copied_ : total);
  }
  if (copied >= 0) {
    if (last_copy_reading_ && copied > copied_ && total > copied) {
      const double seconds = std::chrono::duration<double>(now - *last_copy_reading_).count();
      const double rate = static_cast<double>(copied - copied_) / std::max(seconds, 1e-3);
      eta_ = std::chrono::milliseconds(
          static_cast<int64_t>(static_cast<double>(total - copied) / rate * 1000.0));
    }
    copied_ = copied;
  }
  if (total >= 0) {
    total_estimate_ = total;
  }
  last_copy_reading_ = now;
  final_copy_reading_ = done_before_reading && copied >= 0 && total >= 0;
}

StreamProgress DatastoreLink::Progress() {
  uint16_t port = 0;
  pid_t pid = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    port = metrics_port_;
    pid = child_pid_;
  }
  if (pid > 0 && port > 0) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(std::chrono::seconds(1));
    client.set_read_timeout(std::chrono::seconds(1));
    if (auto response = client.Get("/metrics"); response && response->status == 200) {
      if (std::optional<double> rows =
              MetricValue(response->body, "tandem_sync_rows_applied_total")) {
        std::lock_guard<std::mutex> lock(mu_);
        if (child_pid_ == pid) {
          rows_applied_current_ = static_cast<int64_t>(*rows);
        }
      }
    }
    bool streaming = false;
    std::optional<int64_t> copied;
    std::string last_line;
    ReadChildLog(&streaming, &copied, &last_line);
    std::lock_guard<std::mutex> lock(mu_);
    copy_done_ = copy_done_ || streaming;
    if (copied) {
      copied_logged_ = copied;
    }
  }
  RefreshCopyProgress();
  std::lock_guard<std::mutex> lock(mu_);
  StreamProgress progress;
  progress.state = state_;
  progress.copied = copied_;
  progress.total_estimate = total_estimate_;
  progress.copy_done = copy_done_;
  if (copy_done_ && total_estimate_ >= 0) {
    // Catalog estimates are estimates: once done, the copy covered everything.
    progress.total_estimate = std::max(total_estimate_, copied_);
  }
  progress.events_applied = rows_applied_before_ + rows_applied_current_;
  progress.restarts = restarts_;
  progress.last_error = last_error_;
  progress.eta = copy_done_ ? std::nullopt : eta_;
  progress.child_pid = child_pid_;
  return progress;
}

void DatastoreLink::StopLagMonitor() {
  std::shared_ptr<lag::LagMonitor> monitor;
  {
    std::lock_guard<std::mutex> lock(lag_mu_);
    monitor = std::move(monitor_);
    monitor_.reset();
  }
  if (monitor != nullptr) {
    monitor->Stop();
  }
}

std::optional<lag::LagSnapshot> DatastoreLink::Lag(std::string* why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == StreamState::kIdle || state_ == StreamState::kStopped) {
      if (why != nullptr) {
        *why = "the stream of " + plan_.name + " is not started";
      }
      return std::nullopt;
    }
  }
  std::shared_ptr<lag::LagMonitor> failed;
  std::lock_guard<std::mutex> lock(lag_mu_);
  const auto now = Clock::now();
  const bool may_open = !last_open_attempt_ || now - *last_open_attempt_ >= std::chrono::seconds(1);
  if (monitor_ != nullptr) {
    lag::LagSnapshot snapshot = monitor_->Snapshot();
    if (snapshot.error.ok() || !may_open) {
      return snapshot;
    }
    failed = std::move(monitor_);  // a server went away: measure afresh
    monitor_.reset();
  }
  if (failed != nullptr) {
    failed->Stop();
  }
  if (!may_open) {
    if (why != nullptr) {
      *why = lag_error_;
    }
    return std::nullopt;
  }
  last_open_attempt_ = now;
  lag::LagMonitorOptions options;
  options.interval = options_.heartbeat_interval;
  options.window = options_.lag_window;
  options.window_slots = 10;
  // 2 ms between target reads bounds the observer's load (500 reads/s) at a resolution of about
  // 1 ms, well inside any max_lag a plan can set usefully.
  options.poll_interval = std::chrono::milliseconds(2);
  auto opened = lag::LagMonitor::Open(plan_.source, plan_.target, ports_.lag, options);
  if (!opened.ok()) {
    lag_error_ = "cannot measure the lag of " + plan_.name + ": " + opened.status().message();
    if (why != nullptr) {
      *why = lag_error_;
    }
    return std::nullopt;
  }
  monitor_ = std::move(*opened);
  lag_error_.clear();
  return monitor_->Snapshot();
}

bool DatastoreLink::WaitForCatchUp(const std::atomic<bool>* stop) {
  // Exactly, by position: the source's log position now, and the wait until the stream's
  // checkpoint on the target has reached it. The heartbeats below are the fallback for a source
  // whose position cannot be read (no write freeze in its connector, or a refused read).
  if (auto position = SourcePosition(); position.ok()) {
    auto waited = WaitUntilApplied(*position, options_.verify_catch_up_timeout,
                                   [stop] { return stop != nullptr && stop->load(); });
    return waited.ok();
  }
  std::shared_ptr<lag::LagMonitor> monitor;
  {
    std::lock_guard<std::mutex> lock(lag_mu_);
    monitor = monitor_;
  }
  if (monitor == nullptr) {
    // No measurement: give the stream the time a heartbeat would have needed (at most 2 s).
    const auto until =
        Clock::now() + std::min(options_.verify_catch_up_timeout, std::chrono::milliseconds(2000));
    while (Clock::now() < until && (stop == nullptr || !stop->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  const int64_t written = monitor->Snapshot().heartbeats_written;
  const auto deadline = Clock::now() + options_.verify_catch_up_timeout;
  while (Clock::now() < deadline && (stop == nullptr || !stop->load())) {
    const lag::LagSnapshot snapshot = monitor->Snapshot();
    if (!snapshot.error.ok()) {
      return false;
    }
    if (snapshot.heartbeats_seen > written) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

engine::Result<VerifyOutcome> DatastoreLink::Verify(const std::atomic<bool>* stop) {
  const auto started = Clock::now();
  const bool redis = plan_.source.engine == EngineKind::kRedis;
  const auto stop_requested = [stop] { return stop != nullptr && stop->load(); };
  struct Round {
    checksum::VerifyReport report;
    std::vector<int> databases;  // Redis: parallel to report.tables
  };
  // One verification of `tables` (SQL) or `databases` (Redis); empty: everything.
  auto run = [&](const std::vector<engine::TableId>& tables,
                 const std::vector<int>& databases) -> engine::Result<Round> {
    Round round;
    if (redis) {
      checksum::RedisVerifyOptions options;
      options.threads = 2;
      options.databases = databases;
      options.stop_requested = stop_requested;
      TANDEM_ASSIGN_OR_RETURN(
          checksum::RedisVerifyReport report,
          checksum::VerifyRedis(plan_.source, plan_.target, ports_.open_database, options));
      round.report = std::move(report.report);
      round.databases = std::move(report.databases);
      return round;
    }
    checksum::VerifyOptions options;
    options.threads = 1;
    options.tables = tables;
    options.stop_requested = stop_requested;
    TANDEM_ASSIGN_OR_RETURN(
        round.report, checksum::Verify(plan_.source, plan_.target, ports_.open_database, options));
    return round;
  };

  // SQL: the user tables the source URI shows; tandem's own bookkeeping (_tandem) differs
  // between the sides by design.
  std::vector<engine::TableId> tables;
  if (!redis) {
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<engine::Database> opened,
                            ports_.open_database(plan_.source));
    auto* source = dynamic_cast<engine::SqlDatabase*>(opened.get());
    if (source == nullptr) {
      return engine::Unsupported("datastore " + plan_.name + ": the source is not a SQL database");
    }
    TANDEM_ASSIGN_OR_RETURN(std::vector<engine::TableId> listed, source->ListTables(""));
    for (engine::TableId& table : listed) {
      if (table.schema != kTandemSchema) {
        tables.push_back(std::move(table));
      }
    }
    if (tables.empty()) {
      VerifyOutcome outcome;
      outcome.consistent = true;
      outcome.summary = "consistent: the source has no tables";
      outcome.elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      return outcome;
    }
  }

  TANDEM_ASSIGN_OR_RETURN(Round first, run(tables, {}));
  std::vector<FoundDifference> found = Differences(first.report);
  std::string incomplete = FirstSkip(first.report);
  int64_t rows = 0;
  for (const checksum::TableReport& table : first.report.tables) {
    rows += table.source_rows;
  }
  const size_t table_count = first.report.tables.size();

  if (!found.empty()) {
    // Confirm: once the stream caught up, the same differences must still be there.
    WaitForCatchUp(stop);
    if (stop_requested()) {
      return engine::Cancelled("verification of " + plan_.name + " stopped");
    }
    std::set<std::string> differing_tables;
    for (const FoundDifference& difference : found) {
      differing_tables.insert(difference.table);
    }
    std::vector<engine::TableId> again;
    std::vector<int> databases;
    for (size_t i = 0; i < first.report.tables.size(); ++i) {
      if (!differing_tables.contains(first.report.tables[i].table.ToString())) {
        continue;
      }
      again.push_back(first.report.tables[i].table);
      if (redis && i < first.databases.size()) {
        databases.push_back(first.databases[i]);
      }
    }
    TANDEM_ASSIGN_OR_RETURN(Round second, run(again, databases));
    std::set<std::string> first_identities;
    for (const FoundDifference& difference : found) {
      first_identities.insert(difference.identity);
    }
    std::vector<FoundDifference> confirmed;
    for (FoundDifference& difference : Differences(second.report)) {
      if (first_identities.contains(difference.identity)) {
        confirmed.push_back(std::move(difference));
      }
    }
    found = std::move(confirmed);
    if (incomplete.empty()) {
      incomplete = FirstSkip(second.report);
    }
  }

  VerifyOutcome outcome;
  outcome.differing = static_cast<int64_t>(found.size());
  outcome.consistent = found.empty() && incomplete.empty();
  outcome.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  const std::string unit = redis ? " keys" : " rows";
  if (!found.empty()) {
    outcome.summary = std::to_string(found.size()) +
                      (found.size() == 1 ? " difference" : " differences") +
                      "; first: " + found.front().description;
  } else if (!incomplete.empty()) {
    outcome.summary = "incomplete: " + incomplete;
  } else {
    outcome.summary = "consistent: " + std::to_string(table_count) +
                      (redis ? " databases, " : " tables, ") + std::to_string(rows) + unit;
  }
  return outcome;
}

engine::Result<engine::Position> DatastoreLink::SourcePosition() {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<engine::Database> source,
                          ports_.open_database(plan_.source));
  engine::WriteFreeze* freeze = source->write_freeze();
  if (freeze == nullptr) {
    return engine::Unsupported(plan_.name + ": the " + plan_.source_uri_redacted +
                               " connector reads no log position");
  }
  return freeze->CurrentPosition();
}

engine::Result<std::chrono::milliseconds> DatastoreLink::WaitUntilApplied(
    const engine::Position& position, std::chrono::milliseconds timeout,
    const std::function<bool()>& stop) {
  if (!ports_.open_applied_reader) {
    return engine::InvalidArgument(plan_.name + ": no way to read the stream's checkpoint");
  }
  std::function<engine::Result<engine::Position>()> reader;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + timeout;
  engine::Position applied;
  engine::Status last_error;
  // The checkpoint now, over the reader's connection (opened again after a failure).
  const auto read_applied = [&]() -> engine::Result<engine::Position> {
    if (!reader) {
      TANDEM_ASSIGN_OR_RETURN(reader, ports_.open_applied_reader(plan_.target, plan_.name));
    }
    return reader();
  };
  while (true) {
    engine::Result<engine::Position> read = read_applied();
    if (read.ok()) {
      last_error = engine::Status();
      applied = *read;
      auto order = engine::Compare(applied, position);
      if (!order.ok()) {
        return engine::FailedPrecondition(
            plan_.name + ": the stream's checkpoint " + engine::Serialize(applied) +
            " cannot be compared with the source's position " + engine::Serialize(position) + ": " +
            order.status().message());
      }
      if (*order != std::strong_ordering::less) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
      }
    } else {
      last_error = read.status();
      reader = nullptr;  // opened again on the next round
    }
    if (stop && stop()) {
      return engine::Cancelled(plan_.name + ": stopped while waiting for the stream to drain");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!last_error.ok()) return last_error;
      return engine::Timeout(plan_.name + ": the stream applied up to " +
                             (std::holds_alternative<std::monostate>(applied)
                                  ? std::string("nothing")
                                  : engine::Serialize(applied)) +
                             ", not yet " + engine::Serialize(position) + ", after " +
                             std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace tandem::orchestration
