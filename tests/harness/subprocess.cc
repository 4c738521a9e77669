#include "tests/harness/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/harness/files.h"
#include "tests/harness/wait.h"

extern char** environ;

namespace tandem::testing {
namespace {

// Runs tasks on one thread that lives as long as the process, so that PR_SET_PDEATHSIG (which
// fires when the forking *thread* exits) means "when the test process exits".
class LauncherThread {
 public:
  static LauncherThread& Get() {
    // Leaked on purpose: the thread must outlive static destruction.
    static LauncherThread* instance = new LauncherThread();
    return *instance;
  }

  // Runs `task` on the launcher thread and returns when it has run; rethrows its exception.
  void Run(std::function<void()> task) {
    std::packaged_task<void()> packaged(std::move(task));
    std::future<void> done = packaged.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(packaged));
    }
    cv_.notify_one();
    done.get();
  }

 private:
  LauncherThread() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;  // guarded by mu_
};

std::string ErrnoText(int error) { return std::strerror(error); }

// Resolves a program name against PATH before the fork (execvp is not async-signal-safe).
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  path += ":/usr/sbin:/sbin";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) {
      continue;
    }
    std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  throw std::runtime_error("cannot find program '" + program + "' in PATH");
}

std::vector<std::string> BuildEnvironment(const SpawnOptions& options) {
  std::vector<std::string> result;
  auto overridden = [&](const std::string& entry) {
    std::string name = entry.substr(0, entry.find('='));
    for (const std::string& prefix : options.drop_env_prefixes) {
      if (name.rfind(prefix, 0) == 0) {
        return true;
      }
    }
    for (const std::string& extra : options.env) {
      if (extra.substr(0, extra.find('=')) == name) {
        return true;
      }
    }
    if (options.run_as && (name == "HOME" || name == "USER" || name == "LOGNAME")) {
      return true;
    }
    return false;
  };
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!overridden(*entry)) {
      result.emplace_back(*entry);
    }
  }
  if (options.run_as) {
    result.push_back("HOME=" + options.run_as->home);
    result.push_back("USER=" + options.run_as->name);
    result.push_back("LOGNAME=" + options.run_as->name);
  }
  result.insert(result.end(), options.env.begin(), options.env.end());
  return result;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    result.push_back(s.data());
  }
  result.push_back(nullptr);
  return result;
}

// What the child reports through the error pipe when it cannot exec.
struct ChildFailure {
  int stage;  // index into kChildStages
  int error;  // errno
};
constexpr const char* kChildStages[] = {"open /dev/null",
                                        "open the log file",
                                        "redirect output",
                                        "setgroups",
                                        "setgid",
                                        "setuid",
                                        "prctl",
                                        "chdir",
                                        "exec"};

[[noreturn]] void ChildFail(int pipe_fd, int stage) {
  ChildFailure failure{stage, errno};
  ssize_t ignored = write(pipe_fd, &failure, sizeof(failure));
  (void)ignored;
  _exit(127);
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string result;
  for (const std::string& arg : argv) {
    if (!result.empty()) {
      result += ' ';
    }
    result += arg;
  }
  return result;
}

}  // namespace

RunAs LookupUser(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    throw std::runtime_error("the OS account '" + name + "' does not exist");
  }
  RunAs result;
  result.name = name;
  result.uid = pw.pw_uid;
  result.gid = pw.pw_gid;
  result.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  int count = 64;
  std::vector<gid_t> groups(count);
  if (getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &count) < 0) {
    groups.resize(count);
    getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &count);
  }
  groups.resize(count);
  result.groups = groups;
  return result;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exited_(other.exited_), wait_status_(other.wait_status_) {
  other.pid_ = 0;
  other.exited_ = false;
  other.wait_status_.reset();
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    exited_ = other.exited_;
    wait_status_ = other.wait_status_;
    other.pid_ = 0;
    other.exited_ = false;
    other.wait_status_.reset();
  }
  return *this;
}

ChildProcess::~ChildProcess() { Stop(); }

ChildProcess ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) {
    throw std::runtime_error("Spawn: empty argv");
  }
  if (options.run_as && geteuid() != 0) {
    throw std::runtime_error("Spawn: running as '" + options.run_as->name + "' requires root");
  }
  // Everything the child needs is prepared here: after fork only system calls happen.
  std::string program = ResolveProgram(options.argv[0]);
  std::vector<std::string> argv_storage = options.argv;
  std::vector<char*> argv = CStrings(argv_storage);
  std::vector<std::string> env_storage = BuildEnvironment(options);
  std::vector<char*> envp = CStrings(env_storage);
  const char* log_path = options.log_path.empty() ? "/dev/null" : options.log_path.c_str();
  const char* working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  const bool detach = options.detach;
  const std::optional<RunAs>& run_as = options.run_as;

  pid_t pid = 0;
  LauncherThread::Get().Run([&] {
    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2: " + ErrnoText(errno));
    }
    const pid_t launcher_pid = getpid();
    pid = fork();
    if (pid < 0) {
      int error = errno;
      close(error_pipe[0]);
      close(error_pipe[1]);
      throw std::runtime_error("fork for '" + program + "': " + ErrnoText(error));
    }
    if (pid == 0) {
      // Child: async-signal-safe calls only.
      close(error_pipe[0]);
      const int report = error_pipe[1];
      sigset_t empty;
      sigemptyset(&empty);
      sigprocmask(SIG_SETMASK, &empty, nullptr);
      for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD}) {
        signal(sig, SIG_DFL);
      }
      if (detach) {
        setsid();
      }
      int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null_fd < 0) {
        ChildFail(report, 0);
      }
      int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0) {
        ChildFail(report, 1);
      }
      if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
          dup2(log_fd, STDERR_FILENO) < 0) {
        ChildFail(report, 2);
      }
      if (run_as) {
        if (setgroups(run_as->groups.size(), run_as->groups.data()) != 0) {
          ChildFail(report, 3);
        }
        if (setgid(run_as->gid) != 0) {
          ChildFail(report, 4);
        }
        if (setuid(run_as->uid) != 0) {
          ChildFail(report, 5);
        }
      }
      // After setuid: a credential change clears the parent death signal.
      if (!detach) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
          ChildFail(report, 6);
        }
        if (getppid() != launcher_pid) {
          _exit(127);  // the parent is already gone
        }
      }
      if (working_dir != nullptr && chdir(working_dir) != 0) {
        ChildFail(report, 7);
      }
      // Inherited descriptors (test sockets, ctest's output pipe) must not stay open in a server
      // that outlives us; the report pipe is close-on-exec.
      if (report > 3) {
        close_range(3, report - 1, 0);
      }
      close_range(report + 1, ~0U, 0);
      execve(program.c_str(), argv.data(), envp.data());
      ChildFail(report, 8);
    }
    close(error_pipe[1]);
    ChildFailure failure{};
    ssize_t n;
    do {
      n = read(error_pipe[0], &failure, sizeof(failure));
    } while (n < 0 && errno == EINTR);
    close(error_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof(failure))) {
      int status = 0;
      waitpid(pid, &status, 0);
      throw std::runtime_error("cannot start '" + CommandLine(options.argv) +
                               "': " + kChildStages[failure.stage] +
                               " failed: " + ErrnoText(failure.error));
    }
  });
  return ChildProcess(pid);
}

bool ChildProcess::Running() {
  if (pid_ == 0 || exited_) {
    return false;
  }
  int status = 0;
  pid_t result = waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    exited_ = true;
    wait_status_ = status;
    return false;
  }
  if (result < 0 && errno == ECHILD) {
    exited_ = true;  // reaped elsewhere
    return false;
  }
  return true;
}

bool ChildProcess::WaitForExit(std::chrono::milliseconds timeout) {
  return PollUntil(timeout, [this] { return !Running(); });
}

void ChildProcess::Stop(int signal, std::chrono::milliseconds grace) {
  if (pid_ == 0) {
    return;
  }
  if (Running()) {
    kill(pid_, signal);
    if (!WaitForExit(grace)) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exited_ = true;
      wait_status_ = status;
    }
  }
  pid_ = 0;
}

pid_t ChildProcess::Release() {
  pid_t pid = pid_;
  pid_ = 0;
  exited_ = false;
  return pid;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  }
  return "wait status " + std::to_string(wait_status);
}

void RunCommand(const SpawnOptions& options, std::chrono::milliseconds timeout) {
  ChildProcess child = ChildProcess::Spawn(options);
  const std::string command = CommandLine(options.argv);
  auto log_tail = [&] {
    return options.log_path.empty()
               ? std::string()
               : "\n--- tail of " + options.log_path + " ---\n" + ReadFileTail(options.log_path);
  };
  if (!child.WaitForExit(timeout)) {
    child.Stop(SIGKILL, std::chrono::seconds(10));
    throw std::runtime_error("'" + command + "' did not finish within " +
                             std::to_string(timeout.count()) + " ms and was killed" + log_tail());
  }
  int status = child.wait_status().value_or(0);
  child.Release();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("'" + command + "' " + DescribeWaitStatus(status) + log_tail());
  }
}

std::optional<unsigned long long> ProcessStartTime(pid_t pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!stat_file || !std::getline(stat_file, line)) {
    return std::nullopt;
  }
  // "pid (comm) state ppid ..." where comm may contain spaces and parentheses.
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(line.substr(close_paren + 1));
  std::string field;
  std::vector<std::string> rest;
  while (fields >> field) {
    rest.push_back(field);
  }
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  if (rest.size() < 20 || rest[0] == "Z" || rest[0] == "X") {
    return std::nullopt;
  }
  try {
    return std::stoull(rest[19]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool StopProcessByPid(pid_t pid, std::optional<unsigned long long> start_time, int signal,
                      std::chrono::milliseconds grace) {
  auto same_process_alive = [&] {
    std::optional<unsigned long long> now = ProcessStartTime(pid);
    return now.has_value() && (!start_time.has_value() || *now == *start_time);
  };
  if (!same_process_alive()) {
    return true;
  }
  kill(pid, signal);
  // If it is our own child, reap it so it does not linger as a zombie.
  auto gone = [&] {
    int status = 0;
    waitpid(pid, &status, WNOHANG);
    return !same_process_alive();
  };
  if (PollUntil(grace, gone)) {
    return true;
  }
  kill(pid, SIGKILL);
  return PollUntil(std::chrono::seconds(10), gone);
}

}  // namespace tandem::testing
