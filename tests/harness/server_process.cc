#include "tests/harness/server_process.h"

#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/wait.h"

namespace tandem::testing {

LaunchOutcome LaunchServer(const SpawnOptions& spawn, const std::string& what,
                           std::chrono::milliseconds timeout, const std::function<bool()>& ready,
                           ChildProcess* process) {
  ChildProcess child = ChildProcess::Spawn(spawn);
  std::string last_error;
  bool is_ready = false;
  PollUntil(timeout, [&] {
    if (!child.Running()) {
      return true;
    }
    try {
      is_ready = ready();
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    return is_ready;
  });
  if (is_ready && child.Running()) {
    *process = std::move(child);
    return LaunchOutcome::kReady;
  }
  const std::string log_tail = ReadFileTail(spawn.log_path);
  if (!child.Running()) {
    if (IsPortConflict(log_tail)) {
      return LaunchOutcome::kPortConflict;
    }
    throw std::runtime_error(what + " " + DescribeWaitStatus(child.wait_status().value_or(0)) +
                             " during startup\n--- tail of " + spawn.log_path + " ---\n" +
                             log_tail);
  }
  child.Stop(SIGKILL, std::chrono::seconds(10));
  throw std::runtime_error(what + " was not ready after " + std::to_string(timeout.count() / 1000) +
                           " s and was killed" +
                           (last_error.empty() ? "" : " (last error: " + last_error + ")") +
                           "\n--- tail of " + spawn.log_path + " ---\n" + log_tail);
}

std::string NewServerDirectory(const std::string& parent_dir, const std::string& kind,
                               const std::string& name) {
  static std::atomic<int> counter{0};
  std::string leaf =
      name.empty() ? kind + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter) : name;
  std::string dir = (std::filesystem::absolute(parent_dir) / leaf).lexically_normal().string();
  if (std::filesystem::exists(dir)) {
    throw std::runtime_error("server directory " + dir +
                             " already exists; stop that server and remove it first");
  }
  return dir;
}

void CheckUnixSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("unix socket path " + path + " is " + std::to_string(path.size()) +
                             " bytes, over the " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                             "-byte limit: use a shorter parent directory (e.g. under /tmp)");
  }
}

}  // namespace tandem::testing
