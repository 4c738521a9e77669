#include "checksum/repair_sql.h"

#include <strings.h>

#include <cmath>
#include <cstdio>

namespace tandem::checksum {
namespace {

using engine::EngineKind;
using engine::Value;
using engine::ValueKind;

bool IsMySql(EngineKind engine) { return engine == EngineKind::kMySql; }

std::string StringLiteral(const std::string& text, EngineKind engine) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "''";
    } else if (IsMySql(engine) && c == '\\') {
      out += "\\\\";
    } else if (IsMySql(engine) && c == '\0') {
      out += "\\0";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Table(const engine::TableId& table, EngineKind engine) {
  return SqlIdentifier(table.schema, engine) + "." + SqlIdentifier(table.name, engine);
}

// "a = 1 AND b IS NULL" over the key (or, keyless, every compared column but JSON, which has no
// equality in PostgreSQL and compares as text in MySQL).
std::string WhereClause(const TablePairing& pairing, const Difference& difference,
                        EngineKind engine) {
  std::string out;
  auto add = [&](const std::string& column, const Value& value) {
    out += out.empty() ? "" : " AND ";
    out += SqlIdentifier(column, engine);
    out += value.is_null() ? " IS NULL" : " = " + SqlLiteral(value, engine);
  };
  if (pairing.keyed()) {
    for (size_t i = 0; i < pairing.key_positions.size() && i < difference.key.size(); ++i) {
      const ColumnPair& pair = pairing.compared[static_cast<size_t>(pairing.key_positions[i])];
      add(pairing.target.columns[static_cast<size_t>(pair.target_index)].name, difference.key[i]);
    }
    return out;
  }
  for (size_t i = 0; i < pairing.compared.size() && i < difference.key.size(); ++i) {
    const engine::Column& column =
        pairing.target.columns[static_cast<size_t>(pairing.compared[i].target_index)];
    if (column.kind == ValueKind::kJson || difference.key[i].kind() == ValueKind::kJson) {
      continue;
    }
    add(column.name, difference.key[i]);
  }
  return out.empty() ? "TRUE" : out;
}

}  // namespace

std::string SqlIdentifier(const std::string& name, EngineKind engine) {
  const char quote = IsMySql(engine) ? '`' : '"';
  std::string out(1, quote);
  for (char c : name) {
    out.push_back(c);
    if (c == quote) {
      out.push_back(c);
    }
  }
  out.push_back(quote);
  return out;
}

std::string SqlLiteral(const Value& value, EngineKind engine) {
  switch (value.kind()) {
    case ValueKind::kNull:
      return "NULL";
    case ValueKind::kBool:
      return value.int_value() ? "TRUE" : "FALSE";
    case ValueKind::kInt:
    case ValueKind::kUInt:
    case ValueKind::kDecimal:
      return value.ToDisplayString();
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      const double number = value.double_value();
      if (std::isnan(number)) {
        return "'NaN'";
      }
      if (std::isinf(number)) {
        return number > 0 ? "'Infinity'" : "'-Infinity'";
      }
      char buffer[40];
      std::snprintf(buffer, sizeof buffer, "%.17g", number);
      // PostgreSQL: quoted, so float8in reads it (keeps -0, which a numeric literal loses).
      return IsMySql(engine) ? std::string(buffer) : "'" + std::string(buffer) + "'";
    }
    case ValueKind::kBytes:
      return IsMySql(engine) ? "X'" + Hex(value.text()) + "'" : "'\\x" + Hex(value.text()) + "'";
    case ValueKind::kTimestamp: {
      // The display form ends in "+00" (UTC); MySQL takes the zone from the session (set to UTC by
      // the preamble) and refuses the suffix.
      std::string text = value.ToDisplayString();
      if (IsMySql(engine) && text.size() > 3 && text.compare(text.size() - 3, 3, "+00") == 0) {
        text.resize(text.size() - 3);
      }
      return StringLiteral(text, engine);
    }
    case ValueKind::kDate:
    case ValueKind::kTime:
    case ValueKind::kDateTime:
      return StringLiteral(value.ToDisplayString(), engine);
    case ValueKind::kBits: {
      if (IsMySql(engine)) {
        return std::to_string(value.uint_value());
      }
      const int width = value.int_value() > 0 && value.int_value() <= 64
                            ? static_cast<int>(value.int_value())
                            : 64;
      std::string bits;
      for (int i = width - 1; i >= 0; --i) {
        bits.push_back(((value.uint_value() >> i) & 1) ? '1' : '0');
      }
      return "B'" + bits + "'";
    }
    case ValueKind::kText:
    case ValueKind::kJson:
    case ValueKind::kUuid:
    case ValueKind::kInterval:
    case ValueKind::kOther:
      return StringLiteral(value.text(), engine);
  }
  return "NULL";
}

std::string RepairPreamble(EngineKind target_engine) {
  if (IsMySql(target_engine)) {
    return "-- tandem verify repair statements for the target (MySQL/MariaDB)\n"
           "SET NAMES utf8mb4;\nSET time_zone = '+00:00';\n";
  }
  return "-- tandem verify repair statements for the target (PostgreSQL)\n"
         "SET TimeZone = 'UTC';\nSET standard_conforming_strings = on;\n";
}

std::string RepairStatement(const TablePairing& pairing, const Difference& difference,
                            EngineKind engine) {
  const std::string table = Table(pairing.target.id, engine);
  switch (difference.kind) {
    case DifferenceKind::kMissing: {
      // Every source column, under the target's name for it.
      std::string columns;
      std::string values;
      for (const ColumnPair& pair : pairing.compared) {
        columns += (columns.empty() ? "" : ", ") +
                   SqlIdentifier(
                       pairing.target.columns[static_cast<size_t>(pair.target_index)].name, engine);
        values += (values.empty() ? "" : ", ") +
                  SqlLiteral(difference.source_row[static_cast<size_t>(pair.source_index)], engine);
      }
      for (const SkippedColumn& skipped : pairing.skipped_columns) {
        const int source_index = pairing.source.ColumnIndex(skipped.name);
        for (const engine::Column& column : pairing.target.columns) {
          if (source_index >= 0 && column.name.size() == skipped.name.size() &&
              strcasecmp(column.name.c_str(), skipped.name.c_str()) == 0) {
            columns += ", " + SqlIdentifier(column.name, engine);
            values +=
                ", " + SqlLiteral(difference.source_row[static_cast<size_t>(source_index)], engine);
          }
        }
      }
      return "INSERT INTO " + table + " (" + columns + ") VALUES (" + values + ");\n";
    }
    case DifferenceKind::kExtra:
      if (pairing.keyed()) {
        return "DELETE FROM " + table + " WHERE " + WhereClause(pairing, difference, engine) +
               ";\n";
      }
      if (IsMySql(engine)) {
        return "DELETE FROM " + table + " WHERE " + WhereClause(pairing, difference, engine) +
               " LIMIT 1;\n";
      }
      return "DELETE FROM " + table + " WHERE ctid = (SELECT ctid FROM " + table + " WHERE " +
             WhereClause(pairing, difference, engine) + " LIMIT 1);\n";
    case DifferenceKind::kChanged: {
      std::string assignments;
      for (const std::string& name : difference.columns) {
        for (const ColumnPair& pair : pairing.compared) {
          if (pair.name != name) {
            continue;
          }
          assignments +=
              (assignments.empty() ? "" : ", ") +
              SqlIdentifier(pairing.target.columns[static_cast<size_t>(pair.target_index)].name,
                            engine) +
              " = " +
              SqlLiteral(difference.source_row[static_cast<size_t>(pair.source_index)], engine);
        }
      }
      return "UPDATE " + table + " SET " + assignments + " WHERE " +
             WhereClause(pairing, difference, engine) + ";\n";
    }
  }
  return "";
}

}  // namespace tandem::checksum
