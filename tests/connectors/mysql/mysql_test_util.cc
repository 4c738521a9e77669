#include "tests/connectors/mysql/mysql_test_util.h"

#include <stdexcept>

#include "connectors/mysql/mysql_database.h"

namespace tandem::connectors::mysql {

engine::ConnectionConfig ConfigFor(const std::string& uri) {
  auto config = engine::ParseConnectionUri(uri, "--source", "");
  if (!config.ok()) {
    throw std::runtime_error(config.status().ToString());
  }
  return *config;
}

std::unique_ptr<engine::SqlDatabase> OpenOrThrow(const std::string& uri) {
  auto database = OpenMySqlDatabase(ConfigFor(uri));
  if (!database.ok()) {
    throw std::runtime_error(database.status().ToString());
  }
  return std::move(*database);
}

std::vector<engine::Row> ReadAll(engine::SqlDatabase& database, const engine::TableSchema& table,
                                 const engine::KeyRange& range) {
  std::vector<engine::Row> rows;
  const engine::Status status = database.ReadRange(table, range, [&](engine::Row&& row) {
    rows.push_back(std::move(row));
    return true;
  });
  if (!status.ok()) {
    throw std::runtime_error(status.ToString());
  }
  return rows;
}

const engine::Finding* FindCode(const std::vector<engine::Finding>& findings,
                                std::string_view code) {
  for (const engine::Finding& finding : findings) {
    if (finding.code == code) {
      return &finding;
    }
  }
  return nullptr;
}

std::string Codes(const std::vector<engine::Finding>& findings) {
  std::string out;
  for (const engine::Finding& finding : findings) {
    out += (out.empty() ? "" : ", ") + finding.code + " (" + finding.object + ")";
  }
  return out.empty() ? "none" : out;
}

ScratchDatabase::ScratchDatabase(const testing::SharedServers& servers, testing::Side side,
                                 const std::string& prefix)
    : servers_(servers), side_(side), name_(testing::UniqueName(prefix)) {
  servers_.ExecuteMySql(
      side_, "CREATE DATABASE `" + name_ + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci");
}

ScratchDatabase::~ScratchDatabase() {
  try {
    servers_.ExecuteMySql(side_, "DROP DATABASE IF EXISTS `" + name_ + "`");
  } catch (const std::exception&) {
    // A failed cleanup must not hide the test's own result; the servers are thrown away anyway.
  }
}

void ScratchDatabase::Execute(const std::string& sql) const {
  std::string expanded = sql;
  const std::string placeholder = "{db}";
  for (size_t at = expanded.find(placeholder); at != std::string::npos;
       at = expanded.find(placeholder, at)) {
    expanded.replace(at, placeholder.size(), "`" + name_ + "`");
  }
  servers_.ExecuteMySql(side_, expanded);
}

}  // namespace tandem::connectors::mysql
