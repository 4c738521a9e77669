#include "tests/harness/files.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace tandem::testing {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string ReadFileTail(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return "(cannot read " + path + ")";
  }
  std::streamoff size = in.tellg();
  std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                             ? size - static_cast<std::streamoff>(max_bytes)
                             : 0;
  in.seekg(start);
  std::string tail(static_cast<std::size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (start > 0) {
    if (size_t newline = tail.find('\n'); newline != std::string::npos) {
      tail.erase(0, newline + 1);
    }
  }
  return tail;
}

void WriteFileAtomically(const std::string& path, const std::string& contents, mode_t mode) {
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
    }
    out << contents;
    out.flush();
    if (!out) {
      throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
    }
  }
  chmod(temporary.c_str(), mode);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    unlink(temporary.c_str());
    throw std::runtime_error("cannot rename " + temporary + " to " + path + ": " +
                             std::strerror(error));
  }
}

void MakeDirectories(const std::string& path, mode_t mode) {
  std::error_code error;
  fs::path target(path);
  std::vector<fs::path> missing;
  for (fs::path p = target; !p.empty() && !fs::exists(p, error); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) {
      break;
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (mkdir(it->c_str(), mode) != 0 && errno != EEXIST) {
      throw std::runtime_error("cannot create directory " + it->string() + ": " +
                               std::strerror(errno));
    }
    chmod(it->c_str(), mode);  // not subject to the umask
  }
  if (!fs::is_directory(target, error)) {
    throw std::runtime_error(path + " exists and is not a directory");
  }
}

void RemoveTree(const std::string& path) {
  std::error_code error;
  fs::remove_all(path, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    throw std::runtime_error("cannot remove " + path + ": " + error.message());
  }
}

void CopyTree(const std::string& from, const std::string& to) {
  SpawnOptions options;
  options.argv = {"cp", "-a", "--", from, to};
  RunCommand(options, std::chrono::minutes(2));
}

void ChownTree(const std::string& path, const RunAs& account) {
  if (geteuid() != 0) {
    return;
  }
  auto chown_one = [&](const fs::path& p) {
    if (lchown(p.c_str(), account.uid, account.gid) != 0) {
      throw std::runtime_error("cannot chown " + p.string() + " to " + account.name + ": " +
                               std::strerror(errno));
    }
  };
  chown_one(path);
  if (fs::is_directory(fs::symlink_status(path))) {
    for (const auto& entry : fs::recursive_directory_iterator(path)) {
      chown_one(entry.path());
    }
  }
}

void CheckSearchableBy(const std::string& path, const RunAs& account) {
  if (account.uid == 0) {
    return;
  }
  fs::path current = fs::absolute(path);
  for (fs::path p = current.parent_path();; p = p.parent_path()) {
    struct stat info {};
    if (stat(p.c_str(), &info) == 0) {
      bool searchable = false;
      if (info.st_uid == account.uid) {
        searchable = (info.st_mode & S_IXUSR) != 0;
      } else if (info.st_gid == account.gid ||
                 std::find(account.groups.begin(), account.groups.end(), info.st_gid) !=
                     account.groups.end()) {
        searchable = (info.st_mode & S_IXGRP) != 0;
      } else {
        searchable = (info.st_mode & S_IXOTH) != 0;
      }
      if (!searchable) {
        throw std::runtime_error("the '" + account.name + "' account cannot reach " + path +
                                 ": directory " + p.string() +
                                 " is not searchable by it (chmod o+x " + p.string() +
                                 ", or use a parent directory under /tmp)");
      }
    }
    if (p == p.parent_path()) {
      break;
    }
  }
}

bool KeepServerDirectories() {
  const char* keep = std::getenv("TANDEM_TEST_KEEP_SERVER_DIRS");
  return keep != nullptr && *keep != '\0';
}

TempDir::TempDir(const std::string& prefix) {
  const char* base_env = std::getenv("TANDEM_TEST_TMPDIR");
  std::string base = base_env != nullptr && *base_env != '\0' ? std::string(base_env)
                                                              : fs::temp_directory_path().string();
  MakeDirectories(base, 0755);
  std::string pattern = base + "/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  chmod(pattern.c_str(), 0755);
  path_ = pattern;
}

TempDir::~TempDir() {
  if (!KeepServerDirectories()) {
    std::error_code error;
    fs::remove_all(path_, error);
  }
}

}  // namespace tandem::testing
