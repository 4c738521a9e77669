#include "checksum/verify_report.h"

#include <cstdio>
#include <sstream>

namespace tandem::checksum {

using nlohmann::json;

const char* DifferenceKindName(DifferenceKind kind) {
  switch (kind) {
    case DifferenceKind::kMissing:
      return "missing";
    case DifferenceKind::kExtra:
      return "extra";
    case DifferenceKind::kChanged:
      return "changed";
  }
  return "changed";
}

json ValueToJson(const engine::Value& value) {
  switch (value.kind()) {
    case engine::ValueKind::kNull:
      return nullptr;
    case engine::ValueKind::kInt:
      return value.int_value();
    case engine::ValueKind::kUInt:
      return value.uint_value();
    case engine::ValueKind::kBool:
      return value.int_value() != 0;
    default:
      return value.ToDisplayString();
  }
}

bool VerifyReport::HasDifferences() const {
  for (const TableReport& table : tables) {
    if (!table.differences.empty()) {
      return true;
    }
  }
  return false;
}

bool VerifyReport::Complete() const {
  for (const TableReport& table : tables) {
    if (!table.complete()) {
      return false;
    }
  }
  return true;
}

json VerifyReport::ToJson() const {
  json out;
  out["consistent"] = Consistent();
  out["tables"] = json::array();
  for (const TableReport& table : tables) {
    json entry;
    entry["table"] = table.table.ToString();
    entry["source_rows"] = table.source_rows;
    entry["target_rows"] = table.target_rows;
    entry["chunks"] = table.chunks;
    entry["resumed_chunks"] = table.resumed_chunks;
    entry["hashing"] = table.hashing;
    entry["key"] = table.key_columns;
    entry["skipped"] = json::array();
    for (const SkippedRange& skipped : table.skipped) {
      entry["skipped"].push_back({{"range", skipped.range}, {"reason", skipped.reason}});
    }
    entry["skipped_columns"] = json::array();
    for (const SkippedColumn& column : table.skipped_columns) {
      entry["skipped_columns"].push_back({{"column", column.name}, {"reason", column.reason}});
    }
    entry["warnings"] = table.warnings;
    entry["differences"] = json::array();
    for (const Difference& difference : table.differences) {
      json key = json::object();
      for (size_t i = 0; i < difference.key.size() && i < table.key_columns.size(); ++i) {
        key[table.key_columns[i]] = ValueToJson(difference.key[i]);
      }
      entry["differences"].push_back({{"kind", DifferenceKindName(difference.kind)},
                                      {"key", key},
                                      {"columns", difference.columns}});
    }
    entry["differences_truncated"] = table.differences_truncated;
    out["tables"].push_back(std::move(entry));
  }
  out["as_of"] = {{"source", source_position.empty() ? json(nullptr) : json(source_position)},
                  {"target", target_position.empty() ? json(nullptr) : json(target_position)}};
  out["elapsed_s"] = elapsed_s;
  return out;
}

std::string VerifyReport::ToText() const {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-40s %12s %12s %8s %6s %s\n", "table", "source rows",
                "target rows", "chunks", "diffs", "verdict");
  out << line;
  for (const TableReport& table : tables) {
    const char* verdict = !table.differences.empty() ? "DIFFERENT"
                          : !table.complete()        ? "INCOMPLETE"
                                                     : "ok";
    std::snprintf(line, sizeof line, "%-40s %12lld %12lld %8lld %6zu %s\n",
                  table.table.ToString().c_str(), static_cast<long long>(table.source_rows),
                  static_cast<long long>(table.target_rows), static_cast<long long>(table.chunks),
                  table.differences.size(), verdict);
    out << line;
  }
  for (const TableReport& table : tables) {
    for (const std::string& warning : table.warnings) {
      out << "warning: " << table.table.ToString() << ": " << warning << "\n";
    }
    for (const SkippedColumn& column : table.skipped_columns) {
      out << "skipped column " << table.table.ToString() << "." << column.name << ": "
          << column.reason << "\n";
    }
    for (const SkippedRange& skipped : table.skipped) {
      out << "skipped " << table.table.ToString() << " " << skipped.range << ": " << skipped.reason
          << "\n";
    }
    for (const Difference& difference : table.differences) {
      out << DifferenceKindName(difference.kind) << " " << table.table.ToString() << " (";
      for (size_t i = 0; i < difference.key.size() && i < table.key_columns.size(); ++i) {
        out << (i == 0 ? "" : ", ") << table.key_columns[i] << "="
            << difference.key[i].ToDisplayString();
      }
      out << ")";
      if (!difference.columns.empty()) {
        out << " columns:";
        for (const std::string& column : difference.columns) {
          out << " " << column;
        }
      }
      out << "\n";
    }
    if (table.differences_truncated) {
      out << "... " << table.table.ToString() << ": more differences than the report keeps\n";
    }
  }
  std::snprintf(line, sizeof line, "%.2f", elapsed_s);
  out << (Consistent()       ? "CONSISTENT"
          : HasDifferences() ? "DIFFERENT"
                             : "INCOMPLETE")
      << " as of source " << (source_position.empty() ? "-" : source_position) << ", target "
      << (target_position.empty() ? "-" : target_position) << " (" << line << " s)\n";
  return out.str();
}

}  // namespace tandem::checksum
