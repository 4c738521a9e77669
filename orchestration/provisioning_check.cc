#include "orchestration/provisioning_check.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <utility>

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

// An integer fact; absent when missing, null (not readable) or not an integer.
std::optional<int64_t> Integer(const json& facts, const char* key) {
  if (!Has(facts, key) || !facts.at(key).is_number_integer()) return std::nullopt;
  return facts.at(key).get<int64_t>();
}

// A value for messages: '' stays visible.
std::string Shown(const std::string& value) { return value.empty() ? "''" : value; }

// A string literal of SQL (MySQL and PostgreSQL alike): quotes doubled.
std::string Quoted(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

std::string MySqlIdentifier(const std::string& name) {
  std::string quoted = "`";
  for (char c : name) quoted += c == '`' ? std::string("``") : std::string(1, c);
  return quoted + "`";
}

std::string PostgresIdentifier(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::set<std::string> SqlModeFlags(const std::string& mode) {
  std::set<std::string> flags;
  size_t begin = 0;
  while (begin <= mode.size()) {
    const size_t comma = std::min(mode.find(',', begin), mode.size());
    if (comma > begin) flags.insert(mode.substr(begin, comma - begin));
    begin = comma + 1;
  }
  return flags;
}

// sql_mode flags that change what a statement stores or means; the others (NO_AUTO_CREATE_USER,
// NO_ENGINE_SUBSTITUTION, ...) change administration, not data.
bool SqlModeFlagChangesData(const std::string& flag) {
  static const std::set<std::string> kFlags = {"STRICT_TRANS_TABLES",
                                               "STRICT_ALL_TABLES",
                                               "ANSI_QUOTES",
                                               "PIPES_AS_CONCAT",
                                               "NO_BACKSLASH_ESCAPES",
                                               "ONLY_FULL_GROUP_BY",
                                               "NO_ZERO_DATE",
                                               "NO_ZERO_IN_DATE",
                                               "ERROR_FOR_DIVISION_BY_ZERO",
                                               "PAD_CHAR_TO_FULL_LENGTH",
                                               "NO_AUTO_VALUE_ON_ZERO",
                                               "REAL_AS_FLOAT",
                                               "TIME_TRUNCATE_FRACTIONAL",
                                               "EMPTY_STRING_IS_NULL",
                                               "SIMULTANEOUS_ASSIGNMENT",
                                               "HIGH_NOT_PRECEDENCE",
                                               "IGNORE_SPACE",
                                               "NO_UNSIGNED_SUBTRACTION",
                                               "ORACLE",
                                               "ANSI",
                                               "TRADITIONAL"};
  return kFlags.count(flag) != 0;
}

std::string JoinFlags(const std::set<std::string>& flags) {
  std::string joined;
  for (const std::string& flag : flags) joined += (joined.empty() ? "" : ",") + flag;
  return joined;
}

void CompareSqlMode(const json& source, const json& target, engine::Assessment* into) {
  if (!Has(source, "sql_mode") || !Has(target, "sql_mode")) return;
  const std::set<std::string> source_flags = SqlModeFlags(Text(source, "sql_mode"));
  std::set<std::string> target_flags = SqlModeFlags(Text(target, "sql_mode"));
  std::set<std::string> missing, extra;  // on the target, of the flags that change data
  std::set<std::string> other_differences;
  for (const std::string& flag : source_flags) {
    if (target_flags.count(flag) != 0) continue;
    (SqlModeFlagChangesData(flag) ? missing : other_differences).insert(flag);
  }
  for (const std::string& flag : target_flags) {
    if (source_flags.count(flag) != 0) continue;
    (SqlModeFlagChangesData(flag) ? extra : other_differences).insert(flag);
  }
  if (missing.empty() && extra.empty()) {
    if (!other_differences.empty()) {
      into->Warn("mysql_setting_differs", "sql_mode",
                 "sql_mode differs in " + JoinFlags(other_differences) +
                     ", flags that do not change what statements store",
                 "none needed");
    }
    return;
  }
  // The fix keeps the target's own flags (which it is sure to accept) and moves only the ones that
  // change data.
  for (const std::string& flag : missing) target_flags.insert(flag);
  for (const std::string& flag : extra) target_flags.erase(flag);
  std::string message = "sql_mode differs in flags that change what statements store or mean:";
  if (!missing.empty()) message += " the target lacks " + JoinFlags(missing);
  if (!extra.empty()) {
    message += std::string(missing.empty() ? "" : ";") + " the target adds " + JoinFlags(extra);
  }
  into->Block("mysql_setting_differs", "sql_mode",
              message + ": applications would behave differently after the cutover",
              "SET GLOBAL sql_mode = " + Quoted(JoinFlags(target_flags)) +
                  " on the target; and the same in its server configuration");
}

std::string Offset(int64_t minutes) {
  char text[48];
  std::snprintf(text, sizeof text, "%c%02lld:%02lld", minutes < 0 ? '-' : '+',
                static_cast<long long>(std::llabs(minutes) / 60),
                static_cast<long long>(std::llabs(minutes) % 60));
  return text;
}

// time_zone compared by what it does: the UTC offsets in January and July, so SYSTEM on a UTC host,
// '+00:00' and 'UTC' are equal, and zones with other daylight-saving rules are not.
void CompareMySqlTimeZone(const json& source, const json& target, engine::Assessment* into) {
  const auto offsets = [](const json& facts) -> std::optional<std::pair<int64_t, int64_t>> {
    if (!Has(facts, "time_zone_offsets_minutes")) return std::nullopt;
    const json& pair = facts.at("time_zone_offsets_minutes");
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() ||
        !pair[1].is_number_integer()) {
      return std::nullopt;
    }
    return std::make_pair(pair[0].get<int64_t>(), pair[1].get<int64_t>());
  };
  const auto source_offsets = offsets(source);
  const auto target_offsets = offsets(target);
  const std::string source_zone = Text(source, "time_zone");
  const std::string target_zone = Text(target, "time_zone");
  const auto described = [](const std::string& zone, const json& facts,
                            const std::optional<std::pair<int64_t, int64_t>>& pair) {
    std::string text = zone == "SYSTEM" ? "SYSTEM (" + Text(facts, "system_time_zone") + ")" : zone;
    if (pair)
      text +=
          ", UTC" + Offset(pair->first) + " in January, UTC" + Offset(pair->second) + " in July";
    return text;
  };
  if (!source_offsets || !target_offsets) {
    if (source_zone != target_zone && Has(source, "time_zone") && Has(target, "time_zone")) {
      into->Warn("mysql_setting_differs", "time_zone",
                 "time_zone is " + described(target_zone, target, target_offsets) +
                     " on the target and " + described(source_zone, source, source_offsets) +
                     " on the source, and tandem could not convert to both to compare them",
                 "load the time zone tables on both (mysql_tzinfo_to_sql) and run phase 2 again");
    }
    return;
  }
  if (*source_offsets == *target_offsets) return;
  const std::string fix =
      source_offsets->first == source_offsets->second
          ? "SET GLOBAL time_zone = " + Quoted(Offset(source_offsets->first)) +
                " on the target; and the same in its server configuration"
          : "load the time zone tables on the target (mysql_tzinfo_to_sql) and set its time_zone "
            "to the source's zone, or run the target's host in that zone";
  into->Block("mysql_setting_differs", "time_zone",
              "time_zone is " + described(target_zone, target, target_offsets) +
                  " on the target but " + described(source_zone, source, source_offsets) +
                  " on the source: NOW() and TIMESTAMP values would read differently after the "
                  "cutover",
              fix);
}

void CompareMySql(const json& source, const json& target, engine::Assessment* into) {
  auto differ = [&](const char* key, const std::string& fix, bool blocks) {
    const std::string source_value = Text(source, key);
    const std::string target_value = Text(target, key);
    if (!Has(source, key) || !Has(target, key) || source_value == target_value) return;
    const std::string message = std::string(key) + " is " + Shown(target_value) +
                                " on the target but " + Shown(source_value) + " on the source";
    if (blocks) {
      into->Block("mysql_setting_differs", key,
                  message + ": applications would behave differently after the cutover", fix);
    } else {
      into->Warn("mysql_setting_differs", key, message, fix);
    }
  };
  const std::string lower_case = Text(source, "lower_case_table_names");
  differ("lower_case_table_names",
         "set lower_case_table_names = " + lower_case +
             " in the target's configuration file and restart it (MySQL 8.0 accepts it only when "
             "the data directory is initialised: re-create the target with it)",
         true);
  // The migrated database's defaults apply to its new tables: a difference blocks. The server's
  // defaults apply only to databases created without a character set: a warning.
  const std::string database = Text(target, "database");
  const std::string database_fix = "ALTER DATABASE " + MySqlIdentifier(database) +
                                   " CHARACTER SET " + Text(source, "database_charset") +
                                   " COLLATE " + Text(source, "database_collation") +
                                   " on the target";
  differ("database_charset", database_fix, true);
  differ("database_collation", database_fix, true);
  differ("character_set_server",
         "SET GLOBAL character_set_server = " + Quoted(Text(source, "character_set_server")) +
             " on the target; and the same in its server configuration",
         false);
  differ("collation_server",
         "SET GLOBAL collation_server = " + Quoted(Text(source, "collation_server")) +
             " on the target; and the same in its server configuration",
         false);
  CompareSqlMode(source, target, into);
  CompareMySqlTimeZone(source, target, into);

  const auto source_packet = Integer(source, "max_allowed_packet");
  const auto target_packet = Integer(target, "max_allowed_packet");
  if (source_packet && target_packet && *target_packet < *source_packet) {
    into->Block("mysql_setting_differs", "max_allowed_packet",
                "max_allowed_packet is " + std::to_string(*target_packet) + " on the target but " +
                    std::to_string(*source_packet) +
                    " on the source: rows or statements the source accepts may not reach the "
                    "target",
                "SET GLOBAL max_allowed_packet = " + std::to_string(*source_packet) +
                    " on the target; and the same in its server configuration");
  }
}

void ComparePostgres(const json& source, const json& target, engine::Assessment* into) {
  const std::string database = PostgresIdentifier(Text(target, "database"));
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
  // Phase 2 runs before any data is copied, so the target's database can still be re-created.
  const std::string recreate = "on the target, before the copy: DROP DATABASE " + database +
                               "; CREATE DATABASE " + database + " ENCODING " +
                               Quoted(Text(source, "encoding")) + " LC_COLLATE " +
                               Quoted(Text(source, "collate")) + " LC_CTYPE " +
                               Quoted(Text(source, "ctype")) + " TEMPLATE template0";
  differ("encoding", "the database encoding", recreate);
  differ("collate", "the database's LC_COLLATE", recreate);
  differ("ctype", "the database's LC_CTYPE", recreate);
  for (const json* side : {&source, &target}) {
    if (Has(*side, "database") && Text(*side, "time_zone").empty()) {
      into->Warn("postgres_setting_unknown", "TimeZone",
                 std::string("the server's TimeZone could not be read on the ") +
                     (side == &source ? "source" : "target") + ", so it was not compared",
                 "GRANT pg_read_all_settings TO tandem's user there");
      break;
    }
  }
  differ("time_zone", "TimeZone",
         "ALTER DATABASE " + database + " SET timezone = " + Quoted(Text(source, "time_zone")) +
             " on the target");
}

void CompareRedis(const json& source, const json& target, engine::Assessment* into) {
  const auto source_databases = Integer(source, "databases");
  const auto target_databases = Integer(target, "databases");
  if (source_databases && target_databases && *target_databases < *source_databases) {
    // What matters is where the source keeps keys: a cluster or managed target with one database
    // takes a source whose keys are all in db0.
    int64_t highest_used = -1;
    if (source.contains("keyspaces") && source.at("keyspaces").is_array()) {
      for (const json& keyspace : source.at("keyspaces")) {
        if (keyspace.value("keys", int64_t{0}) > 0) {
          highest_used = std::max(highest_used, keyspace.value("database", int64_t{-1}));
        }
      }
    }
    const std::string message = "the target has " + std::to_string(*target_databases) +
                                " databases, the source " + std::to_string(*source_databases);
    const std::string fix = "set databases " + std::to_string(*source_databases) +
                            " in the target's redis.conf and restart it";
    if (highest_used >= *target_databases) {
      into->Block("redis_setting_differs", "databases",
                  message + ": the source's keys in db" + std::to_string(highest_used) +
                      " have nowhere to go",
                  fix);
    } else {
      into->Warn("redis_setting_differs", "databases",
                 message +
                     ": the source's keys all fit today, keys written later to a higher "
                     "database would not",
                 fix);
    }
  }
  const std::string source_policy = Text(source, "maxmemory_policy");
  const std::string target_policy = Text(target, "maxmemory_policy");
  if (source_policy.empty() || target_policy.empty() || source_policy == target_policy) return;
  const bool target_evicts =
      target_policy != "noeviction" && Integer(target, "maxmemory").value_or(0) > 0;
  const bool source_evicts =
      source_policy != "noeviction" && Integer(source, "maxmemory").value_or(0) > 0;
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
