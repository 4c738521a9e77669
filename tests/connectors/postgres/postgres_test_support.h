// File: tests/connectors/postgres/postgres_test_support.h
//
// Helpers shared by the PostgreSQL connector's integration tests: a scratch database of its own on
// a shared server (so tables a test creates, with or without keys, are invisible to every other
// test's catalog reads and assessments), a scratch login role, and small wrappers over the
// connector's public API.
//
// Thread safety: objects are owned by one test thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/assessment.h"
#include "engine/database.h"
#include "tests/harness/local_servers.h"

namespace tandem::postgres_test {

// The shared servers, or nullptr when the test runs outside the ctest fixture (then skip).
const testing::SharedServers* Shared();

// A database created on a shared server for one test (or suite) and dropped, with its sessions
// terminated, when this object goes away.
class ScratchDatabase {
 public:
  ScratchDatabase(const testing::SharedServers& servers, testing::Side side,
                  const std::string& prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  // postgres://tandem:tandem-secret@127.0.0.1:PORT/<name>, plus `query` ("?read_timeout=1").
  std::string Uri(const std::string& query = "") const;
  // The same server and database, logged in as `user` / `password`.
  std::string UriFor(const std::string& user, const std::string& password) const;
  // Superuser SQL in this database; throws std::runtime_error on failure.
  void Execute(const std::string& sql) const;
  testing::ResultRows Query(const std::string& sql) const;
  testing::PostgresClient ConnectAdmin() const;

 private:
  const testing::SharedServers& servers_;
  testing::Side side_;
  std::string name_;
};

// A LOGIN role with a password, created for one test and dropped afterwards. Drop the databases
// holding its privileges or objects first (declare it before them).
class ScratchRole {
 public:
  ScratchRole(const testing::SharedServers& servers, testing::Side side, const std::string& prefix,
              const std::string& attributes = "");
  ~ScratchRole();
  ScratchRole(const ScratchRole&) = delete;
  ScratchRole& operator=(const ScratchRole&) = delete;

  const std::string& name() const { return name_; }
  const std::string& password() const { return password_; }

 private:
  const testing::SharedServers& servers_;
  testing::Side side_;
  std::string name_;
  std::string password_;
};

// Parses a URI the tests built; fails the test (and returns a default config) if it does not parse.
engine::ConnectionConfig Config(const std::string& uri);

// Opens the connector or records a test failure and returns nullptr.
std::unique_ptr<engine::SqlDatabase> Open(const std::string& uri);

// Every row of `range`, or records a test failure.
std::vector<engine::Row> ReadAll(engine::SqlDatabase& database, const engine::TableSchema& table,
                                 const engine::KeyRange& range = engine::KeyRange::All());

// The first finding with `code` (and `object`, when given), or nullptr.
const engine::Finding* FindFinding(const std::vector<engine::Finding>& findings,
                                   std::string_view code, std::string_view object = "");

// "code(object), code(object)": for failure messages.
std::string Describe(const std::vector<engine::Finding>& findings);

// The resident set size of this process in bytes (from /proc/self/statm).
int64_t ResidentBytes();

}  // namespace tandem::postgres_test
