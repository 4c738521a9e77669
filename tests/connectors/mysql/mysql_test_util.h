// File: tests/connectors/mysql/mysql_test_util.h
//
// Helpers shared by the MySQL connector's integration tests: opening the connector from a URI,
// reading a whole range into memory, finding findings by code, and a throwaway database on a shared
// fixture server.
//
// Thread safety: owned by one test thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/assessment.h"
#include "engine/connection_config.h"
#include "engine/database.h"
#include "tests/harness/local_servers.h"

namespace tandem::connectors::mysql {

// Parses `uri` (throws std::runtime_error when it does not parse).
engine::ConnectionConfig ConfigFor(const std::string& uri);

// Opens the connector (throws std::runtime_error with the status when it fails).
std::unique_ptr<engine::SqlDatabase> OpenOrThrow(const std::string& uri);

// Every row of `range` (throws on error).
std::vector<engine::Row> ReadAll(engine::SqlDatabase& database, const engine::TableSchema& table,
                                 const engine::KeyRange& range);

// The first finding with `code`, or nullptr.
const engine::Finding* FindCode(const std::vector<engine::Finding>& findings,
                                std::string_view code);

// All codes, for failure messages: "mysql_a, mysql_b".
std::string Codes(const std::vector<engine::Finding>& findings);

// A database with a unique name on one side of the shared servers, dropped on destruction.
class ScratchDatabase {
 public:
  ScratchDatabase(const testing::SharedServers& servers, testing::Side side,
                  const std::string& prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  // The tandem account's URI for this database.
  std::string uri() const { return servers_.mysql_uri(side_, name_); }
  // Runs SQL as the admin account; `{db}` in `sql` is replaced by the quoted database name.
  void Execute(const std::string& sql) const;

 private:
  const testing::SharedServers& servers_;
  const testing::Side side_;
  const std::string name_;
};

}  // namespace tandem::connectors::mysql
