#include "connectors/mysql/mysql_type_map.h"

#include <array>
#include <cctype>

namespace tandem::connectors::mysql {

using engine::ValueKind;

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

template <size_t N>
bool OneOf(std::string_view value, const std::array<std::string_view, N>& set) {
  for (std::string_view candidate : set) {
    if (value == candidate) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IsSpatialType(std::string_view data_type) {
  static constexpr std::array<std::string_view, 9> kSpatial = {
      "geometry",        "point",        "linestring",         "polygon",       "multipoint",
      "multilinestring", "multipolygon", "geometrycollection", "geomcollection"};
  return OneOf(Lower(data_type), kSpatial);
}

ValueKind KindForColumnType(std::string_view data_type, std::string_view column_type,
                            bool is_json) {
  static constexpr std::array<std::string_view, 5> kIntegers = {"tinyint", "smallint", "mediumint",
                                                                "int", "bigint"};
  static constexpr std::array<std::string_view, 6> kTexts = {"char", "varchar",    "tinytext",
                                                             "text", "mediumtext", "longtext"};
  static constexpr std::array<std::string_view, 6> kBinaries = {"binary", "varbinary",  "tinyblob",
                                                                "blob",   "mediumblob", "longblob"};

  const std::string type = Lower(data_type);
  if (OneOf(type, kIntegers) || type == "integer") {
    return Lower(column_type).find("unsigned") != std::string::npos ? ValueKind::kUInt
                                                                    : ValueKind::kInt;
  }
  if (type == "year") return ValueKind::kInt;
  if (type == "decimal" || type == "numeric") return ValueKind::kDecimal;
  if (type == "float") return ValueKind::kFloat;
  if (type == "double" || type == "real" || type == "double precision") return ValueKind::kDouble;
  if (OneOf(type, kTexts)) return is_json ? ValueKind::kJson : ValueKind::kText;
  if (type == "enum" || type == "set") return ValueKind::kText;
  if (OneOf(type, kBinaries)) return ValueKind::kBytes;
  if (IsSpatialType(type)) return ValueKind::kBytes;
  if (type == "date") return ValueKind::kDate;
  if (type == "time") return ValueKind::kTime;
  if (type == "datetime") return ValueKind::kDateTime;
  if (type == "timestamp") return ValueKind::kTimestamp;
  if (type == "json") return ValueKind::kJson;
  if (type == "bit") return ValueKind::kBits;
  if (type == "uuid") return ValueKind::kUuid;
  return ValueKind::kOther;
}

std::string LowerCaseOutsideQuotes(std::string_view column_type) {
  std::string out;
  out.reserve(column_type.size());
  char quote = 0;
  for (size_t i = 0; i < column_type.size(); ++i) {
    const char c = column_type[i];
    if (quote != 0) {
      out.push_back(c);
      if (c == '\\' && i + 1 < column_type.size()) {
        out.push_back(column_type[++i]);
      } else if (c == quote) {
        // A doubled quote ('it''s') stays inside the string.
        if (i + 1 < column_type.size() && column_type[i + 1] == quote) {
          out.push_back(column_type[++i]);
        } else {
          quote = 0;
        }
      }
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
      out.push_back(c);
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

std::string JsonValidCheckClause(std::string_view column) {
  std::string out = "json_valid(`";
  for (char c : column) {
    out.push_back(c);
    if (c == '`') {
      out.push_back('`');
    }
  }
  out += "`)";
  return out;
}

}  // namespace tandem::connectors::mysql
