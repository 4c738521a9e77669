// File: orchestration/provisioning_check.h
//
// Phase 2's configuration comparison: the settings of a target that change what the data means
// or how applications behave once they move to it, compared with the source's, from the facts
// each connector reports in its assessment (engine::Database::Assess). Each difference is a
// finding with the statement that fixes it on the target.
//
//   MySQL / MariaDB   lower_case_table_names, character_set_server, collation_server, sql_mode,
//                     time_zone (SYSTEM resolved through system_time_zone): blockers;
//                     max_allowed_packet: a blocker when the target's is smaller (rows the
//                     source holds may not fit), nothing when it is larger
//   PostgreSQL        the database's encoding, LC_COLLATE and LC_CTYPE, TimeZone: blockers
//   Redis             databases: a blocker when the target has fewer; maxmemory-policy: a
//                     blocker when the target may evict keys and the source may not, else a
//                     warning when they differ
// A fact one side does not report is not compared (older servers, a privilege missing: the
// assessment itself reports those).
//
// Thread safety: a pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/assessment.h"
#include "engine/connection_config.h"

namespace tandem::orchestration {

// Adds the differences of `target_facts` from `source_facts` to `into`.
void CompareSettings(engine::EngineKind engine, const nlohmann::json& source_facts,
                     const nlohmann::json& target_facts, engine::Assessment* into);

}  // namespace tandem::orchestration
