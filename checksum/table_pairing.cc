#include "checksum/table_pairing.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "checksum/canonical_encoding.h"

namespace tandem::checksum {
namespace {

using engine::Column;
using engine::Result;
using engine::Row;
using engine::TableSchema;
using engine::ValueKind;

// The canonical encoding class of a kind (canonical_encoding.h); kinds in one class compare.
int EncodingClass(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return -1;
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kUInt:
    case ValueKind::kDecimal:
      return 1;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return 2;
    case ValueKind::kText:
    case ValueKind::kUuid:
    case ValueKind::kOther:
      return 3;
    case ValueKind::kInterval:
      return 11;  // server-printed text: only the same engine prints it the same way
    case ValueKind::kBytes:
      return 4;
    case ValueKind::kDate:
      return 5;
    case ValueKind::kTime:
      return 6;
    case ValueKind::kDateTime:
      return 7;
    case ValueKind::kTimestamp:
      return 8;
    case ValueKind::kJson:
      return 9;
    case ValueKind::kBits:
      return 10;
  }
  return -1;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Describe(const Column& column) {
  return column.declared_type + " (" + std::string(engine::ValueKindName(column.kind)) + ")";
}

}  // namespace

std::vector<std::string> TablePairing::KeyColumnNames() const {
  std::vector<std::string> names;
  for (int position : key_positions) {
    names.push_back(compared[static_cast<size_t>(position)].name);
  }
  return names;
}

Row TablePairing::ProjectSource(const Row& row) const {
  Row out;
  out.reserve(compared.size());
  for (const ColumnPair& pair : compared) {
    out.push_back(static_cast<size_t>(pair.source_index) < row.size()
                      ? row[static_cast<size_t>(pair.source_index)]
                      : engine::Value());
  }
  return out;
}

Row TablePairing::ProjectTarget(const Row& row) const {
  Row out;
  out.reserve(compared.size());
  for (const ColumnPair& pair : compared) {
    out.push_back(static_cast<size_t>(pair.target_index) < row.size()
                      ? row[static_cast<size_t>(pair.target_index)]
                      : engine::Value());
  }
  return out;
}

Row TablePairing::KeyOf(const Row& projected) const {
  Row key;
  key.reserve(key_positions.size());
  for (int position : key_positions) {
    key.push_back(projected[static_cast<size_t>(position)]);
  }
  return key;
}

std::string IncomparableReason(const Column& source, const Column& target) {
  const int source_class = EncodingClass(source.kind);
  const int target_class = EncodingClass(target.kind);
  if (source_class == target_class && source_class != 11) {
    return "";
  }
  if (source_class == 11 && target_class == 11 && source.declared_type == target.declared_type) {
    return "";
  }
  if (source.kind == ValueKind::kDateTime && target.kind == ValueKind::kTimestamp) {
    return "source " + Describe(source) + " has no time zone, target " + Describe(target) +
           " has one: the same instant cannot be established";
  }
  if (source.kind == ValueKind::kTimestamp && target.kind == ValueKind::kDateTime) {
    return "source " + Describe(source) + " has a time zone, target " + Describe(target) +
           " has none: the same instant cannot be established";
  }
  return "source " + Describe(source) + " and target " + Describe(target) +
         " have no common canonical form";
}

Result<TablePairing> PairTables(const TableSchema& source, const TableSchema& target) {
  TablePairing pairing;
  pairing.source = source;
  pairing.target = target;
  std::map<std::string, int> target_by_name;
  for (size_t i = 0; i < target.columns.size(); ++i) {
    target_by_name[Lower(target.columns[i].name)] = static_cast<int>(i);
  }
  std::vector<std::string> only_source;
  std::map<std::string, int> unmatched_target = target_by_name;
  for (size_t i = 0; i < source.columns.size(); ++i) {
    const Column& column = source.columns[i];
    auto found = target_by_name.find(Lower(column.name));
    if (found == target_by_name.end()) {
      only_source.push_back(column.name);
      continue;
    }
    unmatched_target.erase(found->first);
    const Column& other = target.columns[static_cast<size_t>(found->second)];
    std::string reason = IncomparableReason(column, other);
    if (!reason.empty()) {
      pairing.skipped_columns.push_back({column.name, reason});
      continue;
    }
    pairing.compared.push_back({column.name, static_cast<int>(i), found->second});
  }
  if (!only_source.empty() || !unmatched_target.empty()) {
    std::string message = "the columns of " + source.id.ToString() + " differ:";
    if (!only_source.empty()) {
      message += " only the source has";
      for (const std::string& name : only_source) {
        message += " " + name;
      }
      message += ";";
    }
    if (!unmatched_target.empty()) {
      message += " only the target has";
      for (const auto& [name, index] : unmatched_target) {
        message += " " + target.columns[static_cast<size_t>(index)].name;
      }
      message += ";";
    }
    message += " make the schemas match before verifying";
    return engine::FailedPrecondition(message);
  }

  const engine::KeyDescriptor* source_key = source.IdentifyingKey();
  const engine::KeyDescriptor* target_key = target.IdentifyingKey();
  if (source_key == nullptr && target_key == nullptr) {
    return pairing;
  }
  auto key_names = [](const TableSchema& table, const engine::KeyDescriptor* key) {
    std::vector<std::string> names;
    if (key != nullptr) {
      for (int index : key->columns) {
        names.push_back(Lower(table.columns[static_cast<size_t>(index)].name));
      }
    }
    return names;
  };
  const std::vector<std::string> source_names = key_names(source, source_key);
  if (source_names != key_names(target, target_key)) {
    return engine::FailedPrecondition(
        "the identifying keys of " + source.id.ToString() +
        " differ between source and target (primary key, else first NOT NULL unique key): give "
        "both the same key");
  }
  for (const std::string& name : source_names) {
    auto position = std::find_if(pairing.compared.begin(), pairing.compared.end(),
                                 [&](const ColumnPair& pair) { return Lower(pair.name) == name; });
    if (position == pairing.compared.end()) {
      return engine::FailedPrecondition("key column " + name + " of " + source.id.ToString() +
                                        " cannot be compared between the engines");
    }
    pairing.key_positions.push_back(static_cast<int>(position - pairing.compared.begin()));
  }
  return pairing;
}

std::string KeyBytes(const Row& key) {
  std::string out;
  for (const engine::Value& value : key) {
    AppendCanonical(value, &out);
  }
  return out;
}

}  // namespace tandem::checksum
