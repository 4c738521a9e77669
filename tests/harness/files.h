// File: tests/harness/files.h
//
// Small file-system helpers for the test harness: log tails for error messages, atomic writes of
// the servers.env / pids files, directory trees owned by another account (PostgreSQL), and a
// self-removing temporary directory for tests.
//
// Thread safety: the functions are safe for concurrent use on different paths. A TempDir is owned
// by one thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "tests/harness/subprocess.h"

namespace tandem::testing {

// The whole file. Throws std::runtime_error naming the path if it cannot be read.
std::string ReadFile(const std::string& path);

// The last `max_bytes` bytes of `path` (from a line start when possible); a note instead of
// throwing when the file cannot be read, because it is used while reporting another error.
std::string ReadFileTail(const std::string& path, std::size_t max_bytes = 4096);

// Writes `contents` to a temporary file beside `path` and renames it over `path`, so readers see
// the old or the new file, never half of one. Throws std::runtime_error on failure.
void WriteFileAtomically(const std::string& path, const std::string& contents, mode_t mode = 0644);

// Creates `path` and missing parents with `mode` (existing directories are left alone).
void MakeDirectories(const std::string& path, mode_t mode = 0755);

// Removes `path` recursively; a missing path is not an error.
void RemoveTree(const std::string& path);

// Copies a directory tree preserving modes and ownership (cp -a). `to` must not exist.
void CopyTree(const std::string& from, const std::string& to);

// chown -R for `path` to the account. No-op when not running as root.
void ChownTree(const std::string& path, const RunAs& account);

// Throws std::runtime_error explaining the fix if `account` could not reach `path`: every
// ancestor directory must be searchable (x) by it. PostgreSQL runs as `postgres`, so a data
// directory under a 0700 directory owned by root (e.g. from mkdtemp) would fail obscurely.
void CheckSearchableBy(const std::string& path, const RunAs& account);

// A fresh directory under $TANDEM_TEST_TMPDIR (default: the system temp directory), mode 0755 so
// the postgres account can reach data directories inside it; removed recursively on destruction
// unless TANDEM_TEST_KEEP_SERVER_DIRS is set to a non-empty value.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "tandem-test");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// True when TANDEM_TEST_KEEP_SERVER_DIRS is set to a non-empty value: server directories and
// TempDirs are then left behind for debugging.
bool KeepServerDirectories();

}  // namespace tandem::testing
