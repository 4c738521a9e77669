#include "connectors/mysql/mysql_type_map.h"

#include <gtest/gtest.h>

namespace tandem::connectors::mysql {
namespace {

using engine::ValueKind;

TEST(MySqlKindForColumnType, IntegersBySignedness) {
  EXPECT_EQ(KindForColumnType("int", "int(11)", false), ValueKind::kInt);
  EXPECT_EQ(KindForColumnType("int", "int(10) unsigned", false), ValueKind::kUInt);
  EXPECT_EQ(KindForColumnType("BIGINT", "BIGINT(20) UNSIGNED ZEROFILL", false), ValueKind::kUInt);
  EXPECT_EQ(KindForColumnType("tinyint", "tinyint(1)", false), ValueKind::kInt);
  EXPECT_EQ(KindForColumnType("year", "year(4)", false), ValueKind::kInt);
}

TEST(MySqlKindForColumnType, EveryFamily) {
  EXPECT_EQ(KindForColumnType("decimal", "decimal(20,6)", false), ValueKind::kDecimal);
  EXPECT_EQ(KindForColumnType("float", "float", false), ValueKind::kFloat);
  EXPECT_EQ(KindForColumnType("double", "double", false), ValueKind::kDouble);
  EXPECT_EQ(KindForColumnType("varchar", "varchar(255)", false), ValueKind::kText);
  EXPECT_EQ(KindForColumnType("longtext", "longtext", false), ValueKind::kText);
  EXPECT_EQ(KindForColumnType("longtext", "longtext", true), ValueKind::kJson);
  EXPECT_EQ(KindForColumnType("json", "json", false), ValueKind::kJson);
  EXPECT_EQ(KindForColumnType("enum", "enum('a','b')", false), ValueKind::kText);
  EXPECT_EQ(KindForColumnType("set", "set('a','b')", false), ValueKind::kText);
  EXPECT_EQ(KindForColumnType("varbinary", "varbinary(64)", false), ValueKind::kBytes);
  EXPECT_EQ(KindForColumnType("blob", "blob", false), ValueKind::kBytes);
  EXPECT_EQ(KindForColumnType("geometry", "geometry", false), ValueKind::kBytes);
  EXPECT_EQ(KindForColumnType("point", "point", false), ValueKind::kBytes);
  EXPECT_EQ(KindForColumnType("date", "date", false), ValueKind::kDate);
  EXPECT_EQ(KindForColumnType("time", "time(6)", false), ValueKind::kTime);
  EXPECT_EQ(KindForColumnType("datetime", "datetime(6)", false), ValueKind::kDateTime);
  EXPECT_EQ(KindForColumnType("timestamp", "timestamp(6)", false), ValueKind::kTimestamp);
  EXPECT_EQ(KindForColumnType("bit", "bit(10)", false), ValueKind::kBits);
  EXPECT_EQ(KindForColumnType("uuid", "uuid", false), ValueKind::kUuid);
  EXPECT_EQ(KindForColumnType("inet6", "inet6", false), ValueKind::kOther);
}

TEST(MySqlLowerCaseOutsideQuotes, KeepsLabels) {
  EXPECT_EQ(LowerCaseOutsideQuotes("INT(10) UNSIGNED"), "int(10) unsigned");
  EXPECT_EQ(LowerCaseOutsideQuotes("ENUM('Small','X-Large')"), "enum('Small','X-Large')");
  EXPECT_EQ(LowerCaseOutsideQuotes("SET('It''S','B\\'Q')"), "set('It''S','B\\'Q')");
}

TEST(MySqlJsonValidCheckClause, QuotesTheColumn) {
  EXPECT_EQ(JsonValidCheckClause("doc"), "json_valid(`doc`)");
  EXPECT_EQ(JsonValidCheckClause("we`ird"), "json_valid(`we``ird`)");
}

TEST(MySqlIsSpatialType, KnowsTheFamily) {
  EXPECT_TRUE(IsSpatialType("GEOMETRY"));
  EXPECT_TRUE(IsSpatialType("multipolygon"));
  EXPECT_FALSE(IsSpatialType("blob"));
}

}  // namespace
}  // namespace tandem::connectors::mysql
