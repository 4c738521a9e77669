// File: engine/table_schema.h
//
// What a catalog read tells about a table: its name, columns with declared and logical types,
// keys, and size estimates. Produced by connectors (SqlDatabase::DescribeTable), consumed by
// checksum/ (chunking, hashing), the appliers and the assessment (schema comparison).
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/value.h"

namespace tandem::engine {

// A table's name. `schema` is the MySQL database or the PostgreSQL schema.
struct TableId {
  std::string schema;
  std::string name;

  // "schema.name", as users write it in --table.
  std::string ToString() const { return schema + "." + name; }
  friend auto operator<=>(const TableId&, const TableId&) = default;
};

struct Column {
  std::string name;
  // The type as the server declares it, lower case: "decimal(20,6)", "varchar(255)",
  // "timestamp with time zone", "int unsigned".
  std::string declared_type;
  // The logical kind Values of this column have (never kNull).
  ValueKind kind = ValueKind::kOther;
  bool nullable = true;
  // Character set / collation for text columns, when the server has them; empty otherwise.
  std::string charset;
  std::string collation;

  friend bool operator==(const Column&, const Column&) = default;
};

// A primary or unique key: indexes into TableSchema::columns, in key order.
struct KeyDescriptor {
  std::string name;
  std::vector<int> columns;
  bool primary = false;
  // True when every key column is NOT NULL, so the key identifies a row.
  bool all_not_null = true;

  friend bool operator==(const KeyDescriptor&, const KeyDescriptor&) = default;
};

// A foreign key of the table: `columns` (indexes into TableSchema::columns) reference
// `referenced_columns` (names, paired in order) of `referenced_table`. The change pipeline uses it
// to order a child row's change after its parent row's (engine/writeset.h); that ordering holds
// when the referenced columns are the parent's primary key or one of its unique keys, as they are
// in practice (PostgreSQL requires it; MySQL only requires an index).
struct ForeignKey {
  std::string name;
  std::vector<int> columns;
  TableId referenced_table;
  std::vector<std::string> referenced_columns;

  friend bool operator==(const ForeignKey&, const ForeignKey&) = default;
};

struct TableSchema {
  TableId id;
  std::vector<Column> columns;
  // Primary key first when there is one, then unique keys.
  std::vector<KeyDescriptor> keys;
  // Foreign keys this table declares, when the catalog read collects them (may be empty).
  std::vector<ForeignKey> foreign_keys;
  // Estimates from the catalog (may be stale or -1 when unknown).
  int64_t estimated_rows = -1;
  int64_t data_bytes = -1;

  // The key that identifies rows: the primary key, else the first unique key whose columns are all
  // NOT NULL; nullptr when the table has neither.
  const KeyDescriptor* IdentifyingKey() const;
  // Index of the column named `name`, or -1.
  int ColumnIndex(std::string_view name) const;
};

// `table` reduced to its identifying key's columns, in key order, with that key renumbered to
// match (and marked primary), so a range query over the result selects only the key.
// Errors: kInvalidArgument when the table has no identifying key or the key names a column the
// table does not have.
Result<TableSchema> KeyColumnsOnly(const TableSchema& table);

// The identifying key's values of `row` (a full row of `table`), in key order.
// REQUIRES: table.IdentifyingKey() != nullptr and row.size() == table.columns.size().
Row KeyOf(const TableSchema& table, const Row& row);

// Checks a list of column indexes into `table` (as VerificationSupport::DigestRange takes them):
// non-empty, each in range. `purpose` says what they are for, in errors ("digest").
// Errors: kInvalidArgument naming the index that is out of range, or that none were given.
Status CheckColumnIndexes(const TableSchema& table, const std::vector<int>& columns,
                          std::string_view purpose);

}  // namespace tandem::engine
