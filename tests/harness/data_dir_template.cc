#include "tests/harness/data_dir_template.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "tests/harness/files.h"
#include "tests/harness/wait.h"

namespace tandem::testing {
namespace {

namespace fs = std::filesystem;

std::string CacheRoot() {
  const char* configured = std::getenv("TANDEM_TEST_TEMPLATE_DIR");
  std::string root =
      configured != nullptr && *configured != '\0'
          ? std::string(configured)
          : (fs::temp_directory_path() / ("tandem-harness-templates-" + std::to_string(geteuid())))
                .string();
  MakeDirectories(root, 0755);
  struct stat info {};
  if (lstat(root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != geteuid()) {
    throw std::runtime_error("the template cache " + root +
                             " is not a directory owned by this user; remove it or set "
                             "TANDEM_TEST_TEMPLATE_DIR");
  }
  return root;
}

std::string HexHash(const std::string& text) {
  // FNV-1a 64: stable across processes and builds (std::hash is not guaranteed to be).
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

// One mutex per template path, so threads of one process build different kinds in parallel but
// the same kind once (flock does not exclude threads sharing a process reliably).
std::mutex& PathMutex(const std::string& path) {
  static std::mutex map_mutex;
  static auto* mutexes = new std::map<std::string, std::unique_ptr<std::mutex>>();
  std::lock_guard<std::mutex> lock(map_mutex);
  auto& entry = (*mutexes)[path];
  if (!entry) {
    entry = std::make_unique<std::mutex>();
  }
  return *entry;
}

class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open lock file " + path + ": " + std::strerror(errno));
    }
    bool locked =
        PollUntil(std::chrono::minutes(5), [&] { return flock(fd_, LOCK_EX | LOCK_NB) == 0; });
    if (!locked) {
      close(fd_);
      throw std::runtime_error("timed out after 5 minutes waiting for " + path +
                               " (another process is building the template; if none is, remove "
                               "the file)");
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { close(fd_); }  // closing releases the lock

 private:
  int fd_ = -1;
};

}  // namespace

std::string GetOrBuildTemplate(const std::string& kind, const std::string& identity,
                               const std::function<void(const std::string& data_dir)>& build) {
  const std::string root = CacheRoot();
  const std::string final_dir = root + "/" + kind + "-" + HexHash(identity);
  const std::string data_dir = final_dir + "/data";
  const std::string ready_marker = final_dir + "/READY";
  if (fs::exists(ready_marker)) {
    return data_dir;
  }
  std::lock_guard<std::mutex> thread_lock(PathMutex(final_dir));
  FileLock process_lock(final_dir + ".lock");
  if (fs::exists(ready_marker)) {
    return data_dir;
  }
  RemoveTree(final_dir);  // a leftover without READY is incomplete
  const std::string building = final_dir + ".building." + std::to_string(getpid());
  RemoveTree(building);
  MakeDirectories(building, 0755);
  try {
    build(building + "/data");
    WriteFileAtomically(building + "/READY", identity + "\n");
    if (rename(building.c_str(), final_dir.c_str()) != 0) {
      throw std::runtime_error("cannot rename " + building + " to " + final_dir + ": " +
                               std::strerror(errno));
    }
  } catch (...) {
    RemoveTree(building);
    throw;
  }
  return data_dir;
}

std::string BinaryIdentity(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    throw std::runtime_error("cannot find " + path + ": " + std::strerror(errno) +
                             " (is the server package installed?)");
  }
  return path + " " + std::to_string(info.st_size) + " " + std::to_string(info.st_mtim.tv_sec);
}

}  // namespace tandem::testing
