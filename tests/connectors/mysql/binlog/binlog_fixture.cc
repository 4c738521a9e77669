#include "tests/connectors/mysql/binlog/binlog_fixture.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tandem::connectors::mysql::binlog {

using engine::Column;
using engine::Value;
using engine::ValueKind;

std::string ReadFixture(const std::string& name) {
  const std::string path = std::string(TANDEM_BINLOG_FIXTURE_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read fixture " + path);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

engine::TableSchema FixtureTableSchema() {
  engine::TableSchema schema;
  schema.id = {"fx", "t"};
  auto add = [&](std::string name, std::string type, ValueKind kind, std::string charset = "") {
    Column column;
    column.name = std::move(name);
    column.declared_type = std::move(type);
    column.kind = kind;
    column.charset = std::move(charset);
    schema.columns.push_back(std::move(column));
  };
  add("id", "int(10) unsigned", ValueKind::kUInt);
  add("ti", "tinyint(4)", ValueKind::kInt);
  add("si", "smallint(5) unsigned", ValueKind::kUInt);
  add("mi", "mediumint(9)", ValueKind::kInt);
  add("bi", "bigint(20) unsigned", ValueKind::kUInt);
  add("de", "decimal(20,6)", ValueKind::kDecimal);
  add("de2", "decimal(5,0)", ValueKind::kDecimal);
  add("fl", "float", ValueKind::kFloat);
  add("db", "double", ValueKind::kDouble);
  add("ch", "char(10)", ValueKind::kText, "utf8mb4");
  add("ch300", "char(100)", ValueKind::kText, "utf8mb4");
  add("vc", "varchar(300)", ValueKind::kText, "utf8mb4");
  add("tx", "text", ValueKind::kText, "utf8mb4");
  add("l1", "varchar(20)", ValueKind::kText, "latin1");
  add("bn", "binary(8)", ValueKind::kBytes);
  add("vb", "varbinary(10)", ValueKind::kBytes);
  add("bl", "blob", ValueKind::kBytes);
  add("d", "date", ValueKind::kDate);
  add("t", "time(6)", ValueKind::kTime);
  add("t3", "time(3)", ValueKind::kTime);
  add("t0", "time", ValueKind::kTime);
  add("dt", "datetime(6)", ValueKind::kDateTime);
  add("dt2", "datetime(2)", ValueKind::kDateTime);
  add("ts", "timestamp(6)", ValueKind::kTimestamp);
  add("y", "year(4)", ValueKind::kInt);
  add("j", "longtext", ValueKind::kJson, "utf8mb4");
  add("e", "enum('small','medium','large')", ValueKind::kText, "utf8mb4");
  add("s", "set('red','green','blue')", ValueKind::kText, "utf8mb4");
  add("b", "bit(10)", ValueKind::kBits);
  add("g", "geometry", ValueKind::kBytes);
  return schema;
}

engine::Row FixtureRow1() {
  constexpr int64_t kSecond = 1000000;
  // POINT(1 2): SRID 0, then WKB (little-endian, type 1, x, y).
  const std::string point(
      "\x00\x00\x00\x00\x01\x01\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\xf0\x3f"
      "\x00\x00\x00\x00\x00\x00\x00\x40",
      25);
  return {Value::UInt(1),
          Value::Int(-128),
          Value::UInt(65535),
          Value::Int(-8388608),
          Value::UInt(18446744073709551615ull),
          Value::Decimal("-99999999999999.999999"),
          Value::Decimal("-12345"),
          Value::Float(1.5f),
          Value::Double(-2.25e-300),
          Value::Text("ab"),
          Value::Text("\xc3\x84\xc3\x96\xf0\x9f\x98\x80"),
          Value::Text("x  "),
          Value::Text("hello \xf0\x9f\x98\x80"),
          Value::Text("caf\xc3\xa9"),
          Value::Bytes(std::string("\x01\x02\x00\x00\x00\x00\x00\x00", 8)),
          Value::Bytes(std::string("\x00\xff", 2)),
          Value::Bytes(std::string("\x00\x01\x02", 3)),
          Value::Date(2024, 2, 29),
          Value::Time(-((838 * 3600 + 59 * 60 + 58) * kSecond + 999999)),
          Value::Time(-1500000),
          Value::Time((12 * 3600 + 34 * 60 + 56) * kSecond),
          Value::DateTime(1000, 1, 1, 1),
          Value::DateTime(9999, 12, 31, 86399 * kSecond + 990000),
          Value::Timestamp(kSecond),
          Value::Int(1901),
          Value::Json("{\"a\": [1, \"x\"]}"),
          Value::Text("medium"),
          Value::Text("red,blue"),
          Value::Bits(513, 10),
          Value::Bytes(point)};
}

engine::Row FixtureRow2() {
  engine::Row row(FixtureTableSchema().columns.size());
  row[0] = Value::UInt(2);
  return row;
}

engine::Row FixtureRow2Updated() {
  engine::Row row = FixtureRow2();
  row[5] = Value::Decimal("0.5");
  row[11] = Value::Text("updated");
  return row;
}

engine::Row FixtureRow3() {
  engine::Row row(FixtureTableSchema().columns.size());
  row[0] = Value::UInt(3);
  row[5] = Value::Decimal("0");
  row[9] = Value::Text("");
  row[11] = Value::Text("");
  row[17] = Value::Date(0, 0, 0);
  row[21] = Value::DateTime(0, 0, 0, 0);
  row[23] = Value::Timestamp(0);
  row[24] = Value::Int(0);
  row[26] = Value::Text("");
  row[27] = Value::Text("");
  return row;
}

std::string Show(const engine::Row& row) {
  std::string out = "[";
  for (size_t i = 0; i < row.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::string(engine::ValueKindName(row[i].kind())) + ":" +
           row[i].ToDisplayString();
  }
  return out + "]";
}

}  // namespace tandem::connectors::mysql::binlog
