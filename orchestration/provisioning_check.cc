#include "orchestration/provisioning_check.h"

#include <string>

namespace tandem::orchestration {
namespace {

using nlohmann::json;

// Whether the fact is reported at all (an empty string is a value: sql_mode '').
bool Has(const json& facts, const char* key) {
  if (!facts.is_object()) return false;
  auto found = facts.find(key);
  return found != facts.end() && !found->is_null();
}

// The fact as text (numbers and strings alike); empty when absent or null.
std::string Text(const json& facts, const char* key) {
  if (!Has(facts, key)) return "";
  const json& value = facts.at(key);
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// A value for messages: '' stays visible.
std::string Shown(const std::string& value) { return value.empty() ? "''" : value; }

std::string Quoted(const std::string& value) { return "'" + value + "'"; }

// MySQL's time_zone in force: "SYSTEM" stands for the host's zone.
std::string MySqlTimeZone(const json& facts) {
  const std::string zone = Text(facts, "time_zone");
  return zone == "SYSTEM" ? "SYSTEM (" + Text(facts, "system_time_zone") + ")" : zone;
}

void CompareMySql(const json& source, const json& target, engine::Assessment* into) {
  auto differ = [&](const char* key, std::string source_value, std::string target_value,
                    const std::string& fix) {
    if (!Has(source, key) || !Has(target, key) || source_value == target_value) return;
    into->Block("mysql_setting_differs", key,
                std::string(key) + " is " + Shown(target_value) + " on the target but " +
                    Shown(source_value) +
                    " on the source: applications would behave differently after the cutover",
                fix);
  };
  const std::string lower_case = Text(source, "lower_case_table_names");
  differ("lower_case_table_names", lower_case, Text(target, "lower_case_table_names"),
         "set lower_case_table_names = " + lower_case +
             " in the target's server configuration; it can only be set when the data directory "
             "is initialised, so re-create the target with it");
  const std::string charset = Text(source, "character_set_server");
  differ("character_set_server", charset, Text(target, "character_set_server"),
         "SET GLOBAL character_set_server = " + Quoted(charset) +
             "; and the same in the target's server configuration");
  const std::string collation = Text(source, "collation_server");
  differ("collation_server", collation, Text(target, "collation_server"),
         "SET GLOBAL collation_server = " + Quoted(collation) +
             "; and the same in the target's server configuration");
  const std::string sql_mode = Text(source, "sql_mode");
  differ("sql_mode", sql_mode, Text(target, "sql_mode"),
         "SET GLOBAL sql_mode = " + Quoted(sql_mode) +
             "; and the same in the target's server configuration");
  const std::string source_zone = MySqlTimeZone(source);
  const std::string target_zone = MySqlTimeZone(target);
  const std::string zone_fix = Text(source, "time_zone") == "SYSTEM"
                                   ? "run the target's host in the source's zone (" +
                                         Text(source, "system_time_zone") +
                                         "), or SET GLOBAL time_zone to that zone on both"
                                   : "SET GLOBAL time_zone = " + Quoted(Text(source, "time_zone")) +
                                         "; and the same in the target's server configuration";
  differ("time_zone", source_zone, target_zone, zone_fix);

  const auto source_packet = source.value("max_allowed_packet", int64_t{-1});
  const auto target_packet = target.value("max_allowed_packet", int64_t{-1});
  if (source_packet > 0 && target_packet > 0 && target_packet < source_packet) {
    into->Block("mysql_setting_differs", "max_allowed_packet",
                "max_allowed_packet is " + std::to_string(target_packet) + " on the target but " +
                    std::to_string(source_packet) +
                    " on the source: rows or statements the source accepts may not reach the "
                    "target",
                "SET GLOBAL max_allowed_packet = " + std::to_string(source_packet) +
                    "; and the same in the target's server configuration");
  }
}

void ComparePostgres(const json& source, const json& target, engine::Assessment* into) {
  const std::string database = Text(target, "database");
  auto differ = [&](const char* key, const char* what, const std::string& fix) {
    const std::string source_value = Text(source, key);
    const std::string target_value = Text(target, key);
    if (source_value.empty() || target_value.empty() || source_value == target_value) return;
    into->Block("postgres_setting_differs", what,
                std::string(what) + " is " + target_value + " on the target but " + source_value +
                    " on the source: " +
                    (std::string(key) == "time_zone"
                         ? "timestamps would read differently after the cutover"
                         : "text would sort, compare or store differently after the cutover"),
                fix);
  };
  const std::string recreate =
      "re-create database " + database + " on the target with CREATE DATABASE ... ENCODING " +
      Quoted(Text(source, "encoding")) + " LC_COLLATE " + Quoted(Text(source, "collate")) +
      " LC_CTYPE " + Quoted(Text(source, "ctype")) + " TEMPLATE template0";
  differ("encoding", "the database encoding", recreate);
  differ("collate", "the database's LC_COLLATE", recreate);
  differ("ctype", "the database's LC_CTYPE", recreate);
  differ("time_zone", "TimeZone",
         "ALTER DATABASE " + database + " SET timezone = " + Quoted(Text(source, "time_zone")) +
             "; (or ALTER SYSTEM SET timezone on the target)");
}

void CompareRedis(const json& source, const json& target, engine::Assessment* into) {
  const auto source_databases = source.value("databases", int64_t{-1});
  const auto target_databases = target.value("databases", int64_t{-1});
  if (source_databases > 0 && target_databases > 0 && target_databases < source_databases) {
    into->Block("redis_setting_differs", "databases",
                "the target has " + std::to_string(target_databases) + " databases, the source " +
                    std::to_string(source_databases) +
                    ": keys of the higher ones have nowhere to go",
                "set databases " + std::to_string(source_databases) +
                    " in the target's redis.conf and restart it");
  }
  const std::string source_policy = Text(source, "maxmemory_policy");
  const std::string target_policy = Text(target, "maxmemory_policy");
  if (source_policy.empty() || target_policy.empty() || source_policy == target_policy) return;
  const bool target_evicts =
      target_policy != "noeviction" && target.value("maxmemory", int64_t{0}) > 0;
  const bool source_evicts =
      source_policy != "noeviction" && source.value("maxmemory", int64_t{0}) > 0;
  const std::string message = "maxmemory-policy is " + target_policy + " on the target but " +
                              source_policy + " on the source";
  const std::string fix = "CONFIG SET maxmemory-policy " + source_policy +
                          " on the target, and the same in its redis.conf";
  if (target_evicts && !source_evicts) {
    into->Block("redis_setting_differs", "maxmemory-policy",
                message + ": the target may evict keys the source keeps", fix);
  } else {
    into->Warn("redis_setting_differs", "maxmemory-policy",
               message + ": keys would expire from memory differently after the cutover", fix);
  }
}

}  // namespace

void CompareSettings(engine::EngineKind engine, const json& source_facts, const json& target_facts,
                     engine::Assessment* into) {
  switch (engine) {
    case engine::EngineKind::kMySql:
      CompareMySql(source_facts, target_facts, into);
      return;
    case engine::EngineKind::kPostgres:
      ComparePostgres(source_facts, target_facts, into);
      return;
    case engine::EngineKind::kRedis:
      CompareRedis(source_facts, target_facts, into);
      return;
  }
}

}  // namespace tandem::orchestration
