#include "orchestration/inspection.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

namespace tandem::orchestration {
namespace {

using engine::Assessment;
using engine::Database;
using engine::EngineKind;
using engine::Finding;
using engine::Result;
using engine::Status;

constexpr int kPingSamples = 7;
constexpr int kClockSamples = 5;
// Beyond this difference between the hosts' clocks, time-based comparisons in reports (TTLs,
// timestamps written with NOW()) mislead; tandem's own lag measurement does not depend on it.
constexpr double kClockWarningMs = 500;

Result<SideMeasurements> Measure(Database& database) {
  SideMeasurements measured;
  TANDEM_ASSIGN_OR_RETURN(measured.server, database.DescribeServer());
  std::vector<double> round_trips;
  for (int i = 0; i < kPingSamples; ++i) {
    TANDEM_ASSIGN_OR_RETURN(std::chrono::nanoseconds round_trip, database.Ping());
    round_trips.push_back(static_cast<double>(round_trip.count()) / 1e6);
  }
  std::sort(round_trips.begin(), round_trips.end());
  measured.round_trip_ms = round_trips[round_trips.size() / 2];

  // Clock offset, NTP style: the server's reading against the midpoint of the local interval
  // around the request; the sample with the shortest interval is the most certain.
  double best_interval_ms = 1e18;
  for (int i = 0; i < kClockSamples; ++i) {
    auto before = std::chrono::system_clock::now();
    TANDEM_ASSIGN_OR_RETURN(int64_t server_micros, database.ServerTimeMicros());
    auto after = std::chrono::system_clock::now();
    double interval_ms = std::chrono::duration<double, std::milli>(after - before).count();
    if (interval_ms < best_interval_ms) {
      best_interval_ms = interval_ms;
      double local_mid_micros = std::chrono::duration<double, std::micro>(
                                    (before + (after - before) / 2).time_since_epoch())
                                    .count();
      measured.clock_offset_ms = (static_cast<double>(server_micros) - local_mid_micros) / 1000.0;
      measured.clock_uncertainty_ms = interval_ms / 2;
    }
  }
  return measured;
}

double RoundTo(double value, double step) { return std::round(value / step) * step; }

nlohmann::json SideJson(const Database& database, const SideMeasurements& measured,
                        const Assessment& assessment) {
  nlohmann::json side = assessment.facts;
  side["uri"] = database.config().Redacted();
  side["engine"] = std::string(engine::EngineKindName(database.config().engine));
  side["product"] = measured.server.product;
  side["version"] = measured.server.version;
  side["round_trip_ms"] = RoundTo(measured.round_trip_ms, 0.001);
  side["clock_offset_ms"] = RoundTo(measured.clock_offset_ms, 0.001);
  side["clock_uncertainty_ms"] = RoundTo(measured.clock_uncertainty_ms, 0.001);
  side["blockers"] = assessment.blockers.size();
  side["warnings"] = assessment.warnings.size();
  return side;
}

// The release series whose data formats match: major.minor for MySQL, MariaDB and Redis (10.6 and
// 10.11, 7.0 and 7.2 differ), major alone for PostgreSQL (15.x).
int ReleaseSeries(EngineKind engine, const engine::ServerInfo& info) {
  return engine == EngineKind::kPostgres ? info.version_number / 10000 : info.version_number / 100;
}

// Kinds whose values compare faithfully across engines; a change from one to another is a type
// mismatch. Widening within integers or from float to double is accepted (no value is lost).
bool KindsCompatible(engine::ValueKind source, engine::ValueKind target) {
  using engine::ValueKind;
  if (source == target) {
    return true;
  }
  auto is_integer = [](ValueKind kind) {
    return kind == ValueKind::kInt || kind == ValueKind::kUInt || kind == ValueKind::kBool;
  };
  if (is_integer(source) && (is_integer(target) || target == ValueKind::kDecimal)) {
    return true;
  }
  if (source == ValueKind::kFloat && target == ValueKind::kDouble) {
    return true;
  }
  if (source == ValueKind::kBits && target == ValueKind::kBool) {
    return true;
  }
  return false;
}

std::string KeyColumnNames(const engine::TableSchema& table, const engine::KeyDescriptor& key) {
  std::string names;
  for (int index : key.columns) {
    names += (names.empty() ? "" : ", ") + table.columns[index].name;
  }
  return names;
}

}  // namespace

nlohmann::json InspectionReport::ToJson() const {
  return {{"ready", ready},
          {"blockers", blockers},
          {"warnings", warnings},
          {"source", source},
          {"target", target}};
}

Status CompareSchemas(engine::SqlDatabase& source, engine::SqlDatabase& target, Assessment* into) {
  const bool same_engine = source.config().engine == target.config().engine;
  TANDEM_ASSIGN_OR_RETURN(std::vector<engine::TableId> source_tables, source.ListTables(""));
  TANDEM_ASSIGN_OR_RETURN(std::vector<engine::TableId> target_table_list, target.ListTables(""));
  std::set<engine::TableId> target_tables(target_table_list.begin(), target_table_list.end());
  int missing = 0;
  for (const engine::TableId& id : source_tables) {
    const std::string object = id.ToString();
    if (!target_tables.contains(id)) {
      ++missing;
      into->Warn("schema_missing_table", object, "the target has no table " + object + " yet",
                 "let `tandem sync` create it from the source definition, or create it on the "
                 "target before verifying");
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(engine::TableSchema source_table, source.DescribeTable(id));
    TANDEM_ASSIGN_OR_RETURN(engine::TableSchema target_table, target.DescribeTable(id));
    for (const engine::Column& column : source_table.columns) {
      int index = target_table.ColumnIndex(column.name);
      if (index < 0) {
        into->Block("schema_missing_column", object + "." + column.name,
                    "the target table " + object + " has no column " + column.name + " (" +
                        column.declared_type + ")",
                    "add the column on the target: ALTER TABLE " + object + " ADD COLUMN " +
                        column.name + " " + column.declared_type);
        continue;
      }
      const engine::Column& other = target_table.columns[index];
      // Same engine: the declared types must match exactly, except that JSON is JSON however the
      // server spells it (MySQL `json`, MariaDB `longtext` with a json_valid check).
      const bool both_json =
          column.kind == engine::ValueKind::kJson && other.kind == engine::ValueKind::kJson;
      bool types_differ = same_engine ? column.declared_type != other.declared_type && !both_json
                                      : !KindsCompatible(column.kind, other.kind);
      if (types_differ) {
        into->Block("schema_type_mismatch", object + "." + column.name,
                    "column " + column.name + " is " + column.declared_type +
                        " on the source but " + other.declared_type + " on the target",
                    "change the target column to " + column.declared_type +
                        (same_engine ? "" : " or an equivalent type") +
                        " so values copy and compare exactly");
      } else if (same_engine && !column.collation.empty() && column.collation != other.collation) {
        into->Warn("schema_collation_mismatch", object + "." + column.name,
                   "column " + column.name + " has collation " + column.collation +
                       " on the source but " + other.collation +
                       " on the target: ordering and unique keys may differ",
                   "use collation " + column.collation + " on the target");
      }
      if (!column.nullable && other.nullable) {
        into->Warn(
            "schema_nullability_mismatch", object + "." + column.name,
            "column " + column.name + " is NOT NULL on the source but nullable on the target",
            "make the target column NOT NULL");
      } else if (column.nullable && !other.nullable) {
        into->Block("schema_nullability_mismatch", object + "." + column.name,
                    "column " + column.name +
                        " is nullable on the source but NOT NULL on the target: NULLs cannot be "
                        "copied",
                    "make the target column nullable");
      }
    }
    for (const engine::Column& column : target_table.columns) {
      if (source_table.ColumnIndex(column.name) < 0) {
        into->Warn("schema_extra_column", object + "." + column.name,
                   "the target table " + object + " has a column " + column.name +
                       " the source does not have",
                   "drop it from the target, or make sure it has a default");
      }
    }
    const engine::KeyDescriptor* source_key = source_table.IdentifyingKey();
    const engine::KeyDescriptor* target_key = target_table.IdentifyingKey();
    if (source_key != nullptr) {
      std::string source_names = KeyColumnNames(source_table, *source_key);
      std::string target_names =
          target_key == nullptr ? "" : KeyColumnNames(target_table, *target_key);
      if (source_names != target_names) {
        into->Block("schema_key_mismatch", object,
                    "the source identifies rows of " + object + " by (" + source_names +
                        ") but the target by " +
                        (target_names.empty() ? "no key" : "(" + target_names + ")"),
                    "give the target table the same primary key (" + source_names + ")");
      }
    }
  }
  into->facts["tables_compared"] = source_tables.size() - missing;
  into->facts["tables_missing_on_target"] = missing;
  return Status::Ok();
}

Result<InspectionReport> InspectPair(Database& source, Database* target) {
  InspectionReport report;
  TANDEM_ASSIGN_OR_RETURN(SideMeasurements source_measured, Measure(source));
  TANDEM_ASSIGN_OR_RETURN(Assessment source_assessment, source.Assess(engine::Role::kSource));
  Assessment pair;  // findings that need both sides
  std::optional<SideMeasurements> target_measured;
  std::optional<Assessment> target_assessment;
  if (target != nullptr) {
    const EngineKind source_engine = source.config().engine;
    const EngineKind target_engine = target->config().engine;
    if ((source_engine == EngineKind::kRedis) != (target_engine == EngineKind::kRedis)) {
      return engine::InvalidArgument(
          "cannot migrate between " + std::string(engine::EngineKindName(source_engine)) + " and " +
          std::string(engine::EngineKindName(target_engine)) +
          ": Redis pairs only with Redis (give a --target of the same kind)");
    }
    TANDEM_ASSIGN_OR_RETURN(target_measured, Measure(*target));
    TANDEM_ASSIGN_OR_RETURN(target_assessment, target->Assess(engine::Role::kTarget));

    const double difference = target_measured->clock_offset_ms - source_measured.clock_offset_ms;
    const double uncertainty =
        target_measured->clock_uncertainty_ms + source_measured.clock_uncertainty_ms;
    pair.facts["clock_difference_ms"] = RoundTo(difference, 0.001);
    pair.facts["clock_difference_uncertainty_ms"] = RoundTo(uncertainty, 0.001);
    if (std::abs(difference) - uncertainty > kClockWarningMs) {
      pair.Warn("clock_skew", "hosts",
                "the target's clock is " + std::to_string(static_cast<int64_t>(difference)) +
                    " ms " + (difference > 0 ? "ahead of" : "behind") +
                    " the source's: timestamps written with NOW() and TTL comparisons differ "
                    "between the sides (tandem's lag measurement is not affected)",
                "synchronise both hosts with NTP (chrony or systemd-timesyncd)");
    }
    if (source_engine == target_engine &&
        ReleaseSeries(target_engine, target_measured->server) <
            ReleaseSeries(source_engine, source_measured.server)) {
      bool redis = source_engine == EngineKind::kRedis;
      Finding finding{"version_downgrade", "server",
                      "the target runs " + target_measured->server.product + " " +
                          target_measured->server.version + ", older than the source's " +
                          source_measured.server.version,
                      "run the same or a newer major version on the target"};
      (redis ? pair.blockers : pair.warnings).push_back(std::move(finding));
    }
    if (source_engine == EngineKind::kRedis) {
      const nlohmann::json& facts = target_assessment->facts;
      int64_t used = source_assessment.facts.value("used_memory", int64_t{0});
      int64_t limit = facts.value("maxmemory", int64_t{0});
      if (limit > 0 && used > limit) {
        pair.Block("redis_target_too_small", "server",
                   "the target's maxmemory (" + std::to_string(limit) +
                       " bytes) is below what the source uses (" + std::to_string(used) + " bytes)",
                   "raise maxmemory on the target (CONFIG SET maxmemory 0, or a size above the "
                   "source's used_memory)");
      }
    } else {
      auto* source_sql = dynamic_cast<engine::SqlDatabase*>(&source);
      auto* target_sql = dynamic_cast<engine::SqlDatabase*>(target);
      if (source_sql != nullptr && target_sql != nullptr) {
        TANDEM_RETURN_IF_ERROR_CONTEXT(CompareSchemas(*source_sql, *target_sql, &pair),
                                       "comparing schemas");
      }
    }
  }

  auto append = [](std::vector<Finding>* into, const std::vector<Finding>& from) {
    into->insert(into->end(), from.begin(), from.end());
  };
  append(&report.blockers, source_assessment.blockers);
  append(&report.warnings, source_assessment.warnings);
  report.source = SideJson(source, source_measured, source_assessment);
  if (target != nullptr) {
    append(&report.blockers, target_assessment->blockers);
    append(&report.warnings, target_assessment->warnings);
    append(&report.blockers, pair.blockers);
    append(&report.warnings, pair.warnings);
    report.target = SideJson(*target, *target_measured, *target_assessment);
    for (auto& [key, value] : pair.facts.items()) {
      report.target[key] = value;
    }
  }
  report.ready = report.blockers.empty();
  return report;
}

}  // namespace tandem::orchestration
