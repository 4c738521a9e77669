// File: checksum/verify_report.h
//
// What a verification found, per table and overall, and its JSON form (the public contract of
// `tandem verify --format json`, DESIGN.md):
//
//   { "consistent": bool,
//     "tables": [ { "table": "db.t", "source_rows": n, "target_rows": n, "chunks": n,
//                   "skipped": [ {"range": "...", "reason": "..."} ],
//                   "differences": [ {"kind": "missing"|"extra"|"changed",
//                                     "key": {col: value}, "columns": [...]} ],
//                   "warnings": [...], "skipped_columns": [ {"column","reason"} ],
//                   "resumed_chunks": n, "key": [...] } ],
//     "as_of": {"source": position, "target": position},
//     "elapsed_s": seconds }
//
// Key values in JSON: integers as numbers, NULL as null, everything else as its display string
// (Value::ToDisplayString: ISO dates, bytes as 0x hex).
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checksum/table_pairing.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::checksum {

enum class DifferenceKind { kMissing, kExtra, kChanged };

// "missing" / "extra" / "changed".
const char* DifferenceKindName(DifferenceKind kind);

struct Difference {
  DifferenceKind kind = DifferenceKind::kChanged;
  // The identifying key's values (key order); for a table without a key, every compared column.
  engine::Row key;
  // kChanged: the compared columns whose values differ, in source column order.
  std::vector<std::string> columns;
  // The whole source row (source column order) for kMissing / kChanged; empty for kExtra.
  engine::Row source_row;
  // The whole target row (target column order) for kExtra / kChanged; empty for kMissing.
  engine::Row target_row;
};

struct SkippedRange {
  std::string range;
  std::string reason;
};

struct TableReport {
  engine::TableId table;
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  int64_t chunks = 0;                    // chunks compared, this run and resumed ones
  int64_t resumed_chunks = 0;            // of which taken from --state without re-checking
  std::vector<std::string> key_columns;  // names for Difference::key; all columns when keyless
  std::vector<SkippedRange> skipped;
  std::vector<SkippedColumn> skipped_columns;
  std::vector<std::string> warnings;
  std::vector<Difference> differences;
  bool differences_truncated = false;  // more were found than the report keeps
  // How chunks were hashed: "server" (pushdown digests, each mismatch re-hashed client-side),
  // "client", or "server+client" when server digests were dropped part way.
  std::string hashing = "client";

  bool complete() const { return skipped.empty() && skipped_columns.empty(); }
};

struct VerifyReport {
  std::vector<TableReport> tables;
  std::string source_position;  // as of the end of the run; empty when the server has none
  std::string target_position;
  double elapsed_s = 0;

  bool HasDifferences() const;
  // True when nothing was skipped (tables, ranges, columns).
  bool Complete() const;
  // No differences and nothing skipped: the only state that answers "consistent".
  bool Consistent() const { return !HasDifferences() && Complete(); }

  nlohmann::json ToJson() const;
  // A human summary: one line per table, then each difference and skip.
  std::string ToText() const;
};

// The JSON form of a value as used in difference keys.
nlohmann::json ValueToJson(const engine::Value& value);

}  // namespace tandem::checksum
