// File: connectors/mysql/mysql_type_map.h
//
// The logical kind (engine::ValueKind) of a MySQL/MariaDB column, from what
// information_schema.COLUMNS says about it:
//
//   DATA_TYPE                                          kind
//   tinyint smallint mediumint int bigint              kInt, or kUInt when COLUMN_TYPE says
//   unsigned year                                               kInt decimal numeric kDecimal float
//   kFloat double real                                        kDouble char varchar tinytext text
//   mediumtext longtext     kText (kJson when a json_valid() CHECK marks
//                                                      the column as MariaDB's JSON)
//   enum set                                           kText (the labels)
//   binary varbinary tinyblob blob mediumblob longblob kBytes
//   geometry point linestring polygon multi...         kBytes (the server's internal WKB)
//   date / time / datetime / timestamp                 kDate / kTime / kDateTime / kTimestamp
//   json (MySQL)                                       kJson
//   bit                                                kBits
//   uuid (MariaDB 10.7+)                               kUuid
//   anything else (inet4, inet6, vector, ...)          kOther (the server's text form)
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "engine/value.h"

namespace tandem::connectors::mysql {

// `data_type` and `column_type` as information_schema.COLUMNS has them (any case); `is_json` when
// the column is known to hold JSON (MariaDB: CHECK (json_valid(`col`))).
engine::ValueKind KindForColumnType(std::string_view data_type, std::string_view column_type,
                                    bool is_json);

// `column_type` lower-cased except inside quotes, so enum/set labels keep their case:
// "ENUM('A','b')" -> "enum('A','b')", "INT(10) UNSIGNED" -> "int(10) unsigned".
std::string LowerCaseOutsideQuotes(std::string_view column_type);

// Whether `data_type` is a spatial type (geometry, point, ...).
bool IsSpatialType(std::string_view data_type);

// The CHECK clause MariaDB attaches to a JSON column named `column`: "json_valid(`column`)".
std::string JsonValidCheckClause(std::string_view column);

}  // namespace tandem::connectors::mysql
