// File: orchestration/inspection.h
//
// Phase 1 of a migration, the assessment behind `tandem inspect`: is each side ready for
// replication and cutover? Runs each connector's own checks (Database::Assess) and adds what needs
// both sides or is the same for every engine: round-trip time, the clock difference between the
// hosts, engine compatibility, and for SQL engines the schema comparison of target against source.
//
// The result is the JSON of the command-line contract (DESIGN.md): `ready`, `blockers`,
// `warnings`, `source`, `target`, where each finding is {code, object, message, fix}.
//
// Threading: InspectPair uses the given connections from the calling thread only.
// Privileges: read-only. MySQL: SELECT on the tables and information_schema, and it reads
// SHOW GRANTS / global variables; PostgreSQL: CONNECT and pg_catalog access; Redis: INFO, CONFIG
// GET, MODULE LIST, DBSIZE (a missing one is reported as a finding, not a failure).
#pragma once

#include <nlohmann/json.hpp>

#include "engine/assessment.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::orchestration {

struct SideMeasurements {
  engine::ServerInfo server;
  double round_trip_ms = 0;  // median of several pings
  // Server clock minus this host's clock, from the sample with the shortest round trip;
  // uncertain by half that round trip.
  double clock_offset_ms = 0;
  double clock_uncertainty_ms = 0;
};

struct InspectionReport {
  bool ready = false;
  std::vector<engine::Finding> blockers;
  std::vector<engine::Finding> warnings;
  nlohmann::json source = nlohmann::json::object();
  nlohmann::json target;  // null when no target was given

  // The contract JSON: {ready, blockers, warnings, source, target}.
  nlohmann::json ToJson() const;
};

// Assesses `source` (and `target`, when not null) for a migration from source to target.
// Errors: only when a side cannot be assessed at all (connection lost, a query the connector needs
// refused in a way it cannot turn into a finding); such errors name the side.
engine::Result<InspectionReport> InspectPair(engine::Database& source, engine::Database* target);

// The schema comparison used by InspectPair, exposed for the orchestrator's phase 2: every table
// of `source` compared with the same-named table of `target` (columns, types, keys). Findings go
// into `into` as blockers (a column missing, a type that differs, a different key) or warnings (a
// table the target does not have yet, an extra column).
engine::Status CompareSchemas(engine::SqlDatabase& source, engine::SqlDatabase& target,
                              engine::Assessment* into);

}  // namespace tandem::orchestration
