// File: orchestration/provisioning_check.h
//
// Phase 2's configuration comparison: the settings of a target that change what the data means
// or how applications behave once they move to it, compared with the source's, from the facts
// each connector reports in its assessment (engine::Database::Assess). Each difference is a
// finding with the statement that fixes it on the target.
//
//   MySQL / MariaDB   lower_case_table_names, the database's default character set and
//                     collation: blockers; character_set_server, collation_server: warnings
//                     (they apply only to databases created without a character set);
//                     sql_mode compared as a set of flags: a blocker when it differs in a flag
//                     that changes what statements store or mean (STRICT_*, ANSI_QUOTES,
//                     NO_ZERO_DATE, ...), a warning for the others; time_zone compared by its UTC
//                     offsets in January and July (SYSTEM on a UTC host equals '+00:00'): a
//                     blocker when they differ, a warning when a side cannot convert;
//                     max_allowed_packet: a blocker when the target's is smaller (rows the
//                     source holds may not fit), nothing when it is larger
//   PostgreSQL        the database's encoding, LC_COLLATE and LC_CTYPE, the TimeZone
//                     applications get (database setting, else the server's): blockers
//   Redis             databases: a blocker when a source database holding keys has no
//                     counterpart on the target, a warning when the target has fewer;
//                     maxmemory-policy: a blocker when the target may evict keys and the source
//                     may not, else a warning when they differ
// Each fix names the target and quotes identifiers and values.
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
