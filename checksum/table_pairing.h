// File: checksum/table_pairing.h
//
// How a source table and its target counterpart are compared: columns matched by name, each pair
// either compared (the canonical encodings of the two kinds are comparable) or skipped with the
// reason, and the identifying key both sides are chunked and joined by. Works across engines: a
// MySQL BIGINT and a PostgreSQL numeric compare as numbers, a MySQL DATETIME and a PostgreSQL
// timestamp as datetimes; a DATETIME against a timestamptz (no zone against a zone) is skipped.
//
// Thread safety: a TablePairing is a value, immutable after PairTables; share it freely.
#pragma once

#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::checksum {

struct ColumnPair {
  std::string name;      // the source's spelling
  int source_index = 0;  // into source.columns
  int target_index = 0;  // into target.columns
};

struct SkippedColumn {
  std::string name;
  std::string reason;
};

struct TablePairing {
  engine::TableSchema source;
  engine::TableSchema target;
  std::vector<ColumnPair> compared;  // in source column order
  std::vector<SkippedColumn> skipped_columns;
  // Positions in `compared` of the identifying key's columns, in key order; empty when the source
  // has no identifying key (then the table is compared as a multiset of rows).
  std::vector<int> key_positions;

  bool keyed() const { return !key_positions.empty(); }
  std::vector<std::string> KeyColumnNames() const;

  // The compared values of a source / target row, in `compared` order.
  engine::Row ProjectSource(const engine::Row& row) const;
  engine::Row ProjectTarget(const engine::Row& row) const;
  // The key of a projected row.
  engine::Row KeyOf(const engine::Row& projected) const;
};

// Whether values of these kinds can be compared through the canonical encoding; when not, the
// reason, else empty.
std::string IncomparableReason(const engine::Column& source, const engine::Column& target);

// Pairs `source` with `target`.
// Errors: kFailedPrecondition when the column sets differ (naming the columns only one side has),
// when the identifying keys differ, or when a key column cannot be compared.
engine::Result<TablePairing> PairTables(const engine::TableSchema& source,
                                        const engine::TableSchema& target);

// An unambiguous byte string for a key (its canonical encoding), for maps and equality.
std::string KeyBytes(const engine::Row& key);

}  // namespace tandem::checksum
