// File: engine/assessment.h
//
// The vocabulary of phase 1 (assessment): findings that block a migration or deserve a warning,
// each with a stable machine-readable code, the object it concerns, what is wrong and how to fix
// it; plus free-form facts about a server (version, settings, sizes) for the report.
//
// Codes are part of the public JSON contract (`tandem inspect --format json`): add new ones freely,
// never rename one. They are lower_snake_case and start with the engine when engine-specific
// ("mysql_binlog_format", "postgres_wal_level", "redis_target_not_empty") or are generic
// ("schema_missing_table", "clock_skew").
//
// Thread safety: value types.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tandem::engine {

// Which side of the migration a server is on; checks differ (a source needs binlogs, a target
// must be writable by tandem and should be empty or match).
enum class Role { kSource, kTarget };

struct Finding {
  std::string code;     // stable identifier, see above
  std::string object;   // what it concerns: "server", "shop.events_log", "user tandem@%"
  std::string message;  // what is wrong, one sentence
  std::string fix;      // how to fix it, one sentence or a statement to run
};

struct Assessment {
  std::vector<Finding> blockers;
  std::vector<Finding> warnings;
  // Facts for the report: {"version": "...", "binlog_format": "ROW", ...}. Never secrets.
  nlohmann::json facts = nlohmann::json::object();

  void Block(std::string code, std::string object, std::string message, std::string fix) {
    blockers.push_back({std::move(code), std::move(object), std::move(message), std::move(fix)});
  }
  void Warn(std::string code, std::string object, std::string message, std::string fix) {
    warnings.push_back({std::move(code), std::move(object), std::move(message), std::move(fix)});
  }
};

inline void to_json(nlohmann::json& json, const Finding& finding) {
  json = {{"code", finding.code},
          {"object", finding.object},
          {"message", finding.message},
          {"fix", finding.fix}};
}

}  // namespace tandem::engine
