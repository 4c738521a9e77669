// ReadRange of the MySQL connector against the shared source server: exact values of every type,
// bounds on composite and non-integer keys, large values, early stop.

#include <gtest/gtest.h>

#include <cstring>

#include "tests/connectors/mysql/mysql_test_util.h"

namespace tandem::connectors::mysql {
namespace {

using engine::KeyBound;
using engine::KeyRange;
using engine::Row;
using engine::StatusCode;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;
using testing::Side;

std::string LittleEndianDouble(double value) {
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &value, 8);  // x86-64 and the WKB below are little-endian
  return bytes;
}

class MySqlReadRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = testing::SharedServers::GetOrNull();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS; run through ctest)";
    }
    db_ = std::make_unique<ScratchDatabase>(*servers_, Side::kSource, "mysql_read");
    database_ = OpenOrThrow(db_->uri());
  }

  TableSchema Describe(const std::string& table) {
    auto schema = database_->DescribeTable({db_->name(), table});
    if (!schema.ok()) {
      throw std::runtime_error(schema.status().ToString());
    }
    return *schema;
  }

  // The first column of each row of `range`.
  std::vector<Value> Keys(const TableSchema& table, const KeyRange& range, size_t width = 1) {
    std::vector<Value> keys;
    for (const Row& row : ReadAll(*database_, table, range)) {
      for (size_t i = 0; i < width; ++i) {
        keys.push_back(row.at(i));
      }
    }
    return keys;
  }

  const testing::SharedServers* servers_ = nullptr;
  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<engine::SqlDatabase> database_;
};

TEST_F(MySqlReadRangeTest, ExactValuesOfEveryType) {
  db_->Execute(
      "CREATE TABLE {db}.exact ("
      " id INT NOT NULL PRIMARY KEY, emoji VARCHAR(32), nul_bytes VARBINARY(16),"
      " fixed_bin BINARY(4), dt6 DATETIME(6), neg_time TIME(6), long_time TIME,"
      " u64 BIGINT UNSIGNED, i64 BIGINT, i8 TINYINT, u8 TINYINT UNSIGNED, i24 MEDIUMINT,"
      " dec_col DECIMAL(30,10), dbl DOUBLE, flt FLOAT, bits BIT(10), bits64 BIT(64),"
      " ts TIMESTAMP(6) NULL DEFAULT NULL, d DATE, zero_d DATE, zero_dt DATETIME, j JSON,"
      " e ENUM('small','Large'), s SET('x','y','z'), yr YEAR, g GEOMETRY NULL, ip INET6 NULL,"
      " latin VARCHAR(10) CHARACTER SET latin1, nothing INT NULL"
      ") DEFAULT CHARSET=utf8mb4");
  db_->Execute(
      "SET time_zone = '+00:00', sql_mode = '';"
      "INSERT INTO {db}.exact VALUES (1, 'a\xf0\x9f\x98\x80z', X'00FF00', X'0001',"
      " '2024-02-29 13:45:00.000001', '-838:59:59.000000', '100:00:01',"
      " 18446744073709551615, -9223372036854775808, -128, 255, -8388608,"
      " '-12345678901234567890.0123456789', -0e0, 0.1, b'1010101010',"
      " b'1111111111111111111111111111111111111111111111111111111111111111',"
      " '2024-02-29 13:45:00.123456', '2024-02-29', '0000-00-00', '0000-00-00 00:00:00',"
      " '{\"a\": [1, \"\xf0\x9f\x98\x80\"]}', 'Large', 'x,z', 2155,"
      " ST_GeomFromText('POINT(1 2)'), '2001:db8::1', 'caf\xc3\xa9', NULL);"
      "INSERT INTO {db}.exact (id, dbl, flt, neg_time, dec_col, ts) VALUES"
      " (2, 1.7976931348623157e308, -0e0, '-00:00:00.000001', '0.0000000001',"
      " '1970-01-01 00:00:01');");
  const TableSchema table = Describe("exact");
  const std::vector<Row> rows = ReadAll(*database_, table, KeyRange::All());
  ASSERT_EQ(rows.size(), 2u);
  const Row& row = rows[0];
  auto at = [&](const std::string& name) -> const Value& {
    return row.at(static_cast<size_t>(table.ColumnIndex(name)));
  };

  EXPECT_EQ(at("id"), Value::Int(1));
  EXPECT_EQ(at("emoji"), Value::Text("a\xf0\x9f\x98\x80z"));
  EXPECT_EQ(at("nul_bytes"), Value::Bytes(std::string("\0\xff\0", 3)));
  EXPECT_EQ(at("fixed_bin"), Value::Bytes(std::string("\0\x01\0\0", 4)));
  EXPECT_EQ(at("dt6"), Value::DateTime(2024, 2, 29, (13 * 3600 + 45 * 60) * 1000000ULL + 1));
  EXPECT_EQ(at("neg_time"), Value::Time(-(838LL * 3600 + 59 * 60 + 59) * 1000000));
  EXPECT_EQ(at("long_time"), Value::Time((100LL * 3600 + 1) * 1000000));
  EXPECT_EQ(at("u64"), Value::UInt(18446744073709551615ULL));
  EXPECT_EQ(at("i64"), Value::Int(INT64_MIN));
  EXPECT_EQ(at("i8"), Value::Int(-128));
  EXPECT_EQ(at("u8"), Value::UInt(255));
  EXPECT_EQ(at("i24"), Value::Int(-8388608));
  EXPECT_EQ(at("dec_col"), Value::Decimal("-12345678901234567890.0123456789"));
  EXPECT_EQ(at("dec_col").text(), "-12345678901234567890.0123456789");
  // MariaDB stores -0.0 as +0.0 and never sends a negative zero (not even for computed values);
  // the decoder copies the IEEE bits as they arrive, and binds -0.0 with its sign (unit-tested).
  EXPECT_EQ(at("dbl"), Value::Double(0.0));
  EXPECT_EQ(at("flt"), Value::Float(0.1f));
  EXPECT_EQ(at("bits"), Value::Bits(0x2aa, 10));
  EXPECT_EQ(at("bits64"), Value::Bits(UINT64_MAX, 64));
  EXPECT_EQ(at("ts"), Value::Timestamp(1709214300123456));
  EXPECT_EQ(at("d"), Value::Date(2024, 2, 29));
  EXPECT_EQ(at("zero_d"), Value::Date(0, 0, 0));
  EXPECT_EQ(at("zero_dt"), Value::DateTime(0, 0, 0, 0));
  EXPECT_EQ(at("j"), Value::Json("{\"a\": [1, \"\xf0\x9f\x98\x80\"]}"));
  EXPECT_EQ(at("e"), Value::Text("Large"));
  EXPECT_EQ(at("s"), Value::Text("x,z"));
  EXPECT_EQ(at("yr"), Value::Int(2155));
  EXPECT_EQ(at("g"), Value::Bytes(std::string("\0\0\0\0\x01\x01\0\0\0", 9) +
                                  LittleEndianDouble(1.0) + LittleEndianDouble(2.0)));
  EXPECT_EQ(at("ip"), Value::Other("2001:db8::1"));
  EXPECT_EQ(at("latin"), Value::Text("caf\xc3\xa9"));
  EXPECT_EQ(at("nothing"), Value::Null());

  const Row& second = rows[1];
  auto at2 = [&](const std::string& name) -> const Value& {
    return second.at(static_cast<size_t>(table.ColumnIndex(name)));
  };
  EXPECT_EQ(at2("dbl"), Value::Double(1.7976931348623157e308));
  EXPECT_EQ(at2("flt"), Value::Float(0.0f));
  EXPECT_EQ(at2("neg_time"), Value::Time(-1));
  EXPECT_EQ(at2("dec_col"), Value::Decimal("0.0000000001"));
  EXPECT_EQ(at2("ts"), Value::Timestamp(1000000));
  EXPECT_EQ(at2("emoji"), Value::Null());
  EXPECT_EQ(at2("bits"), Value::Null());
  EXPECT_EQ(at2("zero_dt"), Value::Null());
}

TEST_F(MySqlReadRangeTest, SampleDataDecodesEveryRow) {
  testing::LoadMySqlSampleData(servers_->mysql_source_uri(),
                               {.rows = 200, .database = db_->name()});
  const TableSchema table = Describe("all_types");
  const std::vector<Row> rows = ReadAll(*database_, table, KeyRange::All());
  ASSERT_EQ(rows.size(), 200u);
  auto at = [&](size_t row, const std::string& name) -> const Value& {
    return rows.at(row).at(static_cast<size_t>(table.ColumnIndex(name)));
  };
  // Row 1: minimums.
  EXPECT_EQ(at(0, "id"), Value::UInt(1));
  EXPECT_EQ(at(0, "c_tinyint"), Value::Int(-128));
  EXPECT_EQ(at(0, "c_bigint"), Value::Int(INT64_MIN));
  EXPECT_EQ(at(0, "c_decimal"), Value::Decimal("-99999999999999.999999"));
  EXPECT_EQ(at(0, "c_double"), Value::Double(-1.7976931348623157e308));
  EXPECT_EQ(at(0, "c_binary"), Value::Bytes(std::string(8, '\0')));
  EXPECT_EQ(at(0, "c_time"), Value::Time(-(838LL * 3600 + 59 * 60 + 59) * 1000000));
  EXPECT_EQ(at(0, "c_timestamp"), Value::Timestamp(1000000));
  EXPECT_EQ(at(0, "c_year"), Value::Int(1901));
  EXPECT_EQ(at(0, "c_set"), Value::Text(""));
  EXPECT_EQ(at(0, "c_bit"), Value::Bits(0, 10));
  // Row 2: maximums.
  EXPECT_EQ(at(1, "c_bigint_u"), Value::UInt(UINT64_MAX));
  EXPECT_EQ(at(1, "c_decimal"), Value::Decimal("99999999999999.999999"));
  EXPECT_EQ(at(1, "c_text").text().size(), 65532u);
  EXPECT_EQ(at(1, "c_blob"), Value::Bytes(std::string(65535, '\xff')));
  EXPECT_EQ(at(1, "c_datetime"), Value::DateTime(9999, 12, 31, 86399999999ULL));
  EXPECT_EQ(at(1, "c_timestamp"), Value::Timestamp(2147483647LL * 1000000 + 999999));
  EXPECT_EQ(at(1, "c_bit"), Value::Bits(1023, 10));
  EXPECT_EQ(at(1, "c_set"), Value::Text("red,green,blue,black"));
  // Row 3: zeros and zero dates.
  EXPECT_EQ(at(2, "c_date"), Value::Date(0, 0, 0));
  EXPECT_EQ(at(2, "c_datetime"), Value::DateTime(0, 0, 0, 0));
  EXPECT_EQ(at(2, "c_timestamp"), Value::Timestamp(0));
  EXPECT_EQ(at(2, "c_varbinary"), Value::Bytes(""));
  EXPECT_EQ(at(2, "c_json"), Value::Json("{}"));
  // Row 4: NULL in every nullable column.
  for (size_t i = 1; i < table.columns.size(); ++i) {
    EXPECT_TRUE(rows.at(3).at(i).is_null()) << table.columns[i].name;
  }
  // Row 97 carries a large TEXT and BLOB.
  EXPECT_GT(at(96, "c_text").text().size(), 16000u);
  EXPECT_GT(at(96, "c_blob").text().size(), 20000u);
  for (const Row& row : rows) {
    ASSERT_EQ(row.size(), table.columns.size());
    for (size_t i = 0; i < row.size(); ++i) {
      if (!row[i].is_null()) {
        EXPECT_EQ(row[i].kind(), table.columns[i].kind) << table.columns[i].name;
      }
    }
  }
}

TEST_F(MySqlReadRangeTest, CompositeKeyBoundsAreExact) {
  db_->Execute(
      "CREATE TABLE {db}.pairs (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT,"
      " PRIMARY KEY (a, b));"
      "INSERT INTO {db}.pairs VALUES (1,'a',1),(1,'b',2),(1,'c',3),(2,'a',4),(2,'b',5),"
      "(2,'c',6),(3,'a',7),(3,'b',8),(3,'c',9)");
  const TableSchema table = Describe("pairs");
  auto bound = [](int a, const char* b, bool inclusive) {
    return KeyBound{{Value::Int(a), Value::Text(b)}, inclusive};
  };
  auto values = [&](const KeyRange& range) {
    std::vector<int64_t> out;
    for (const Row& row : ReadAll(*database_, table, range)) {
      out.push_back(row.at(2).int_value());
    }
    return out;
  };
  KeyRange range;
  range.lower = bound(1, "b", false);
  range.upper = bound(2, "b", true);
  EXPECT_EQ(values(range), (std::vector<int64_t>{3, 4, 5}));
  range.lower = bound(1, "b", true);
  range.upper = bound(2, "b", false);
  EXPECT_EQ(values(range), (std::vector<int64_t>{2, 3, 4}));
  range.lower = bound(3, "a", false);
  range.upper.reset();
  EXPECT_EQ(values(range), (std::vector<int64_t>{8, 9}));
  range.lower.reset();
  range.upper = bound(1, "a", true);
  EXPECT_EQ(values(range), (std::vector<int64_t>{1}));
  range.lower = bound(2, "c", false);
  range.upper = bound(3, "a", false);
  EXPECT_TRUE(values(range).empty());
  EXPECT_EQ(values(KeyRange::All()).size(), 9u);
}

TEST_F(MySqlReadRangeTest, VarcharDecimalTemporalAndBinaryKeys) {
  db_->Execute(
      "CREATE TABLE {db}.names (name VARCHAR(40) NOT NULL PRIMARY KEY, n INT);"
      "INSERT INTO {db}.names VALUES ('alice',1),('bob',2),('carol',3),('dave',4),"
      "('zo\xc3\xab',5);"
      "CREATE TABLE {db}.prices (p DECIMAL(30,20) NOT NULL PRIMARY KEY);"
      "INSERT INTO {db}.prices VALUES (1.00000000000000000001),(1.00000000000000000002),"
      "(1.00000000000000000003);"
      "CREATE TABLE {db}.times (at DATETIME(6) NOT NULL PRIMARY KEY);"
      "INSERT INTO {db}.times VALUES ('2024-01-01 00:00:00.000001'),"
      "('2024-01-01 00:00:00.000002'),('2024-01-01 00:00:00.000003');"
      "CREATE TABLE {db}.blobs (k VARBINARY(8) NOT NULL PRIMARY KEY);"
      "INSERT INTO {db}.blobs VALUES (X'00'),(X'0000'),(X'01'),(X'FF')");

  const TableSchema names = Describe("names");
  KeyRange range;
  range.lower = KeyBound{{Value::Text("bob")}, false};
  range.upper = KeyBound{{Value::Text("dave")}, true};
  EXPECT_EQ(Keys(names, range), (std::vector<Value>{Value::Text("carol"), Value::Text("dave")}));
  range.lower->inclusive = true;
  range.upper->inclusive = false;
  EXPECT_EQ(Keys(names, range), (std::vector<Value>{Value::Text("bob"), Value::Text("carol")}));
  range.lower = KeyBound{{Value::Text("dave")}, false};
  range.upper.reset();
  EXPECT_EQ(Keys(names, range), (std::vector<Value>{Value::Text("zo\xc3\xab")}));

  // Bound as DECIMAL, so neighbours that are one double apart are told apart.
  const TableSchema prices = Describe("prices");
  range.lower = KeyBound{{Value::Decimal("1.00000000000000000001")}, false};
  range.upper = KeyBound{{Value::Decimal("1.00000000000000000002")}, true};
  EXPECT_EQ(Keys(prices, range), (std::vector<Value>{Value::Decimal("1.00000000000000000002")}));

  const TableSchema times = Describe("times");
  const uint64_t micro = 1;
  range.lower = KeyBound{{Value::DateTime(2024, 1, 1, micro)}, false};
  range.upper = KeyBound{{Value::DateTime(2024, 1, 1, 3 * micro)}, false};
  EXPECT_EQ(Keys(times, range), (std::vector<Value>{Value::DateTime(2024, 1, 1, 2)}));

  // Binary keys compare bytewise.
  const TableSchema blobs = Describe("blobs");
  range.lower = KeyBound{{Value::Bytes(std::string("\0", 1))}, false};
  range.upper = KeyBound{{Value::Bytes("\x01")}, true};
  EXPECT_EQ(Keys(blobs, range),
            (std::vector<Value>{Value::Bytes(std::string("\0\0", 2)), Value::Bytes("\x01")}));
}

TEST_F(MySqlReadRangeTest, ChunksPartitionTheSampleTables) {
  testing::LoadMySqlSampleData(servers_->mysql_source_uri(),
                               {.rows = 300, .database = db_->name()});
  for (const std::string name : {"customers", "order_lines", "all_types"}) {
    const TableSchema table = Describe(name);
    const auto* key = table.IdentifyingKey();
    ASSERT_NE(key, nullptr) << name;
    const std::vector<Row> all = ReadAll(*database_, table, KeyRange::All());
    ASSERT_EQ(all.size(), 300u) << name;
    // Cut at every 37th row: (-inf, k1], (k1, k2], ..., (kn, +inf).
    std::vector<Row> chunked;
    std::optional<KeyBound> lower;
    for (size_t cut = 36; cut < all.size() + 37; cut += 37) {
      KeyRange range;
      range.lower = lower;
      if (cut < all.size()) {
        Row key_values;
        for (int index : key->columns) {
          key_values.push_back(all[cut].at(static_cast<size_t>(index)));
        }
        range.upper = KeyBound{key_values, true};
        lower = KeyBound{key_values, false};
      }
      for (Row& row : ReadAll(*database_, table, range)) {
        chunked.push_back(std::move(row));
      }
      if (!range.upper) {
        break;
      }
    }
    EXPECT_EQ(chunked, all) << name;
  }
}

TEST_F(MySqlReadRangeTest, LargeValuesAreReadWhole) {
  db_->Execute(
      "CREATE TABLE {db}.big (id INT PRIMARY KEY, t LONGTEXT, b LONGBLOB);"
      "INSERT INTO {db}.big VALUES (1, REPEAT('\xf0\x9f\x98\x80', 300000),"
      " REPEAT(X'00FF', 1500000)), (2, 'short', X'00')");
  const TableSchema table = Describe("big");
  const std::vector<Row> rows = ReadAll(*database_, table, KeyRange::All());
  ASSERT_EQ(rows.size(), 2u);
  std::string emoji;
  for (int i = 0; i < 300000; ++i) emoji += "\xf0\x9f\x98\x80";
  std::string bytes;
  for (int i = 0; i < 1500000; ++i) bytes += std::string("\0\xff", 2);
  EXPECT_EQ(rows[0][1], Value::Text(emoji));
  EXPECT_EQ(rows[0][2], Value::Bytes(bytes));
  EXPECT_EQ(rows[1][1], Value::Text("short"));
  EXPECT_EQ(rows[1][2], Value::Bytes(std::string("\0", 1)));
}

TEST_F(MySqlReadRangeTest, StoppingEarlyLeavesTheConnectionUsable) {
  testing::LoadMySqlSampleData(servers_->mysql_source_uri(),
                               {.rows = 300, .database = db_->name()});
  const TableSchema table = Describe("all_types");
  int seen = 0;
  const engine::Status status =
      database_->ReadRange(table, KeyRange::All(), [&](Row&&) { return ++seen < 3; });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(seen, 3);
  EXPECT_TRUE(database_->Ping().ok());
  EXPECT_EQ(ReadAll(*database_, table, KeyRange::All()).size(), 300u);
}

TEST_F(MySqlReadRangeTest, ChangedTableIsReportedNotMisread) {
  db_->Execute(
      "CREATE TABLE {db}.shifty (id INT PRIMARY KEY, v INT); INSERT INTO {db}.shifty "
      "VALUES (1, 2)");
  const TableSchema before = Describe("shifty");
  db_->Execute("ALTER TABLE {db}.shifty MODIFY v VARCHAR(10)");
  const engine::Status status =
      database_->ReadRange(before, KeyRange::All(), [](Row&&) { return true; });
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("reading " + db_->name() + ".shifty"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("column `v` arrived as a string"), std::string::npos)
      << status.message();
  EXPECT_EQ(status.message().find("tandem-secret"), std::string::npos) << status.message();
  db_->Execute("ALTER TABLE {db}.shifty DROP COLUMN v");
  const engine::Status dropped =
      database_->ReadRange(before, KeyRange::All(), [](Row&&) { return true; });
  EXPECT_EQ(dropped.code(), StatusCode::kNotFound) << dropped.ToString();
  EXPECT_NE(dropped.message().find(db_->name() + ".shifty"), std::string::npos);
}

TEST_F(MySqlReadRangeTest, KeylessTableReadsWholeAndRefusesBounds) {
  db_->Execute("CREATE TABLE {db}.heap (v INT); INSERT INTO {db}.heap VALUES (1),(1),(2)");
  const TableSchema table = Describe("heap");
  EXPECT_EQ(ReadAll(*database_, table, KeyRange::All()).size(), 3u);
  KeyRange range;
  range.lower = KeyBound{{Value::Int(1)}, false};
  EXPECT_EQ(database_->ReadRange(table, range, [](Row&&) { return true; }).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::connectors::mysql
