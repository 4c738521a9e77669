#include "engine/table_schema.h"

namespace tandem::engine {

const KeyDescriptor* TableSchema::IdentifyingKey() const {
  for (const KeyDescriptor& key : keys) {
    if (key.primary) {
      return &key;
    }
  }
  for (const KeyDescriptor& key : keys) {
    if (key.all_not_null) {
      return &key;
    }
  }
  return nullptr;
}

int TableSchema::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

Result<TableSchema> KeyColumnsOnly(const TableSchema& table) {
  const KeyDescriptor* key = table.IdentifyingKey();
  if (key == nullptr) {
    return InvalidArgument(table.id.ToString() +
                           " has no primary key or NOT NULL unique key to chunk by");
  }
  TableSchema projected;
  projected.id = table.id;
  KeyDescriptor renumbered = *key;
  renumbered.columns.clear();
  for (int index : key->columns) {
    if (index < 0 || static_cast<size_t>(index) >= table.columns.size()) {
      return InvalidArgument("key " + key->name + " of " + table.id.ToString() +
                             " names a column the table does not have");
    }
    renumbered.columns.push_back(static_cast<int>(projected.columns.size()));
    projected.columns.push_back(table.columns[static_cast<size_t>(index)]);
  }
  renumbered.primary = true;  // so IdentifyingKey() picks it
  projected.keys.push_back(renumbered);
  return projected;
}

Row KeyOf(const TableSchema& table, const Row& row) {
  const KeyDescriptor* key = table.IdentifyingKey();
  Row values;
  values.reserve(key->columns.size());
  for (int column : key->columns) {
    values.push_back(row[static_cast<size_t>(column)]);
  }
  return values;
}

Status CheckColumnIndexes(const TableSchema& table, const std::vector<int>& columns,
                          std::string_view purpose) {
  for (int index : columns) {
    if (index < 0 || static_cast<size_t>(index) >= table.columns.size()) {
      return InvalidArgument("column " + std::to_string(index) + " is not in " +
                             table.id.ToString());
    }
  }
  if (columns.empty()) {
    return InvalidArgument("no columns to " + std::string(purpose) + " in " + table.id.ToString());
  }
  return Status::Ok();
}

}  // namespace tandem::engine
