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

}  // namespace tandem::engine
