#include "tests/connectors/postgres/postgres_test_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "connectors/postgres/postgres_database.h"

namespace tandem::postgres_test {

using testing::SharedServers;
using testing::Side;

const SharedServers* Shared() { return SharedServers::GetOrNull(); }

ScratchDatabase::ScratchDatabase(const SharedServers& servers, Side side, const std::string& prefix)
    : servers_(servers), side_(side), name_(testing::UniqueName(prefix)) {
  servers_.ExecutePostgres(side_, "CREATE DATABASE " + name_ + " OWNER tandem", "postgres");
}

ScratchDatabase::~ScratchDatabase() {
  try {
    servers_.ExecutePostgres(side_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)",
                             "postgres");
  } catch (const std::exception& error) {
    ADD_FAILURE() << "dropping scratch database " << name_ << ": " << error.what();
  }
}

std::string ScratchDatabase::Uri(const std::string& query) const {
  return servers_.postgres_uri(side_, name_) + query;
}

std::string ScratchDatabase::UriFor(const std::string& user, const std::string& password) const {
  return "postgres://" + user + ":" + password +
         "@127.0.0.1:" + std::to_string(servers_.postgres_port(side_)) + "/" + name_;
}

void ScratchDatabase::Execute(const std::string& sql) const {
  servers_.ExecutePostgres(side_, sql, name_);
}

testing::ResultRows ScratchDatabase::Query(const std::string& sql) const {
  return servers_.QueryPostgres(side_, sql, name_);
}

testing::PostgresClient ScratchDatabase::ConnectAdmin() const {
  return servers_.ConnectPostgresAdmin(side_, name_);
}

ScratchRole::ScratchRole(const SharedServers& servers, Side side, const std::string& prefix,
                         const std::string& attributes)
    : servers_(servers),
      side_(side),
      name_(testing::UniqueName(prefix)),
      password_("pw-" + testing::UniqueName("secret")) {
  servers_.ExecutePostgres(
      side_, "CREATE ROLE " + name_ + " LOGIN " + attributes + " PASSWORD '" + password_ + "'",
      "postgres");
}

ScratchRole::~ScratchRole() {
  try {
    servers_.ExecutePostgres(side_, "DROP ROLE IF EXISTS " + name_, "postgres");
  } catch (const std::exception& error) {
    ADD_FAILURE() << "dropping scratch role " << name_ << ": " << error.what();
  }
}

engine::ConnectionConfig Config(const std::string& uri) {
  auto config = engine::ParseConnectionUri(uri, "--source", "");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : engine::ConnectionConfig();
}

std::unique_ptr<engine::SqlDatabase> Open(const std::string& uri) {
  auto database = connectors::postgres::OpenPostgresDatabase(Config(uri));
  EXPECT_TRUE(database.ok()) << database.status().ToString();
  return database.ok() ? std::move(database).value() : nullptr;
}

std::vector<engine::Row> ReadAll(engine::SqlDatabase& database, const engine::TableSchema& table,
                                 const engine::KeyRange& range) {
  std::vector<engine::Row> rows;
  engine::Status status = database.ReadRange(table, range, [&](engine::Row&& row) {
    rows.push_back(std::move(row));
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return rows;
}

const engine::Finding* FindFinding(const std::vector<engine::Finding>& findings,
                                   std::string_view code, std::string_view object) {
  for (const engine::Finding& finding : findings) {
    if (finding.code == code && (object.empty() || finding.object == object)) {
      return &finding;
    }
  }
  return nullptr;
}

std::string Describe(const std::vector<engine::Finding>& findings) {
  std::string out;
  for (const engine::Finding& finding : findings) {
    out += (out.empty() ? "" : ", ") + finding.code + "(" + finding.object + ")";
  }
  return out.empty() ? "none" : out;
}

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0;
  int64_t resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace tandem::postgres_test
