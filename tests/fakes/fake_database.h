// File: tests/fakes/fake_database.h
//
// In-memory implementations of the engine ports (engine/database.h) for unit tests of code written
// against them (orchestration, checksum). Tables, rows, findings and clock readings are set up by
// the test; nothing talks to a server. Owned by one test thread.
#pragma once

#include <map>

#include "engine/database.h"

namespace tandem::testing {

class FakeSqlDatabase : public engine::SqlDatabase {
 public:
  explicit FakeSqlDatabase(engine::EngineKind engine, std::string host = "fake") {
    config_.engine = engine;
    config_.host = std::move(host);
    config_.port = 1;
    config_.user = "tandem";
    config_.password = "fake-secret";
  }

  // Set up by tests.
  engine::ServerInfo server{"FakeSQL", "1.0.0", 10000};
  engine::Assessment assessment;
  std::map<engine::TableId, engine::TableSchema> tables;
  std::map<engine::TableId, std::vector<engine::Row>> rows;
  int64_t clock_offset_micros = 0;  // added to this host's clock

  const engine::ConnectionConfig& config() const override { return config_; }
  engine::Result<engine::ServerInfo> DescribeServer() override { return server; }
  engine::Result<std::chrono::nanoseconds> Ping() override {
    return std::chrono::nanoseconds(100000);
  }
  engine::Result<int64_t> ServerTimeMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() +
           clock_offset_micros;
  }
  engine::Result<engine::Assessment> Assess(engine::Role) override { return assessment; }
  engine::Result<std::vector<engine::TableId>> ListTables(const std::string& schema) override {
    std::vector<engine::TableId> ids;
    for (const auto& [id, table] : tables) {
      if (schema.empty() || id.schema == schema) {
        ids.push_back(id);
      }
    }
    return ids;
  }
  engine::Result<engine::TableSchema> DescribeTable(const engine::TableId& id) override {
    auto found = tables.find(id);
    if (found == tables.end()) {
      return engine::NotFound("no table " + id.ToString());
    }
    return found->second;
  }
  engine::Status ReadRange(const engine::TableSchema& table, const engine::KeyRange&,
                           const engine::RowSink& sink) override {
    for (engine::Row row : rows[table.id]) {
      if (!sink(std::move(row))) {
        break;
      }
    }
    return engine::Status::Ok();
  }

 private:
  engine::ConnectionConfig config_;
};

}  // namespace tandem::testing
