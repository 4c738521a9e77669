// Integration tests: ReadRange returns exact engine::Values for every PostgreSQL type, honours
// inclusive/exclusive bounds on integer, composite and text keys, chains chunk by chunk with bounds
// taken from the rows it returned, stops early on request, and streams with bounded memory.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using engine::KeyBound;
using engine::KeyRange;
using engine::Row;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;
using testing::Side;

class PostgresReadRangeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Shared() != nullptr) {
      database_ = new ScratchDatabase(*Shared(), Side::kSource, "pgread");
    }
  }
  static void TearDownTestSuite() {
    delete database_;
    database_ = nullptr;
  }
  void SetUp() override {
    if (database_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
    tandem_ = Open(database_->Uri());
    ASSERT_NE(tandem_, nullptr);
  }

  TableSchema Describe(const std::string& schema, const std::string& table) {
    auto described = tandem_->DescribeTable({schema, table});
    EXPECT_TRUE(described.ok()) << described.status().ToString();
    return described.ok() ? *described : TableSchema();
  }

  static KeyRange Range(std::optional<KeyBound> lower, std::optional<KeyBound> upper) {
    KeyRange range;
    range.lower = std::move(lower);
    range.upper = std::move(upper);
    return range;
  }

  static ScratchDatabase* database_;
  std::unique_ptr<engine::SqlDatabase> tandem_;
};

ScratchDatabase* PostgresReadRangeTest::database_ = nullptr;

// 12,800 characters of md5 hex: pglz finds nothing to compress, so the value is TOASTed out of
// line uncompressed.
constexpr char kToastExpression[] =
    "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)";

TEST_F(PostgresReadRangeTest, EveryTypeDecodesToItsExactValue) {
  database_->Execute(R"sql(
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
    CREATE TABLE all_types (
      id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, num numeric, num6 numeric(20,6),
      f4 real, f8 double precision, t text, vc varchar(20), bp char(10), by bytea, d date,
      tm time(6), ts timestamp(6), tstz timestamptz(6), iv interval, b boolean, js json,
      jb jsonb, u uuid, ints integer[], texts text[], bit5 bit(5), vbit varbit(10), bit70 bit(70),
      m mood, dom positive, big text, ttz timetz, dinf date, tsinf timestamptz);
    INSERT INTO all_types VALUES (1, -32768, 2147483647, -9223372036854775808,
      '-12345678901234567890123456789.123456789012345678901234567891', 12.5,
      '-0', '0.1', E'h\u00e9 \U0001F600', 'abc', 'ab', '\x00ff00'::bytea, '2024-02-29',
      '13:45:00.000001', '2024-02-29 13:45:00.000001', '2024-02-29 15:45:00.000001+02',
      '1 year 2 months 3 days 04:05:06.7', true, '{"a":1,  "a":2}', '{"b": [1, 2], "a": null}',
      'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{1,NULL,3}', '{"a b","c,d"}', B'10101', B'101',
      repeat('1', 70)::bit(70), 'happy', 5, NULL, '13:45:00+02', 'infinity', '-infinity');
    INSERT INTO all_types (id) VALUES (2);
    INSERT INTO all_types (id, num, f4, f8) VALUES (3, 'NaN', 'Infinity', 'NaN');
    INSERT INTO all_types (id, f4, f8, num) VALUES (4, '3.4028235e+38', '-1.7976931348623157e+308',
                                                    '0.000001');
  )sql");
  database_->Execute(std::string("UPDATE all_types SET big = ") + kToastExpression +
                     " WHERE id = 1");
  const auto stored =
      database_->Query("SELECT pg_column_size(big), big FROM all_types WHERE id = 1");
  ASSERT_GT(std::stoi(*stored[0][0]), 8000);  // stored uncompressed, out of line
  const std::string big = *stored[0][1];

  const TableSchema table = Describe("public", "all_types");
  std::vector<Row> rows = ReadAll(*tandem_, table);
  ASSERT_EQ(rows.size(), 4u);
  const Row& row = rows[0];
  ASSERT_EQ(row.size(), table.columns.size());
  auto at = [&](const std::string& column) -> const Value& {
    return row[static_cast<size_t>(table.ColumnIndex(column))];
  };
  EXPECT_EQ(at("id"), Value::Int(1));
  EXPECT_EQ(at("i2"), Value::Int(-32768));
  EXPECT_EQ(at("i4"), Value::Int(2147483647));
  EXPECT_EQ(at("i8"), Value::Int(INT64_MIN));
  EXPECT_EQ(at("num"),
            Value::Decimal("-12345678901234567890123456789.123456789012345678901234567891"));
  EXPECT_EQ(at("num6"), Value::Decimal("12.5"));
  EXPECT_EQ(at("f4").kind(), ValueKind::kFloat);
  EXPECT_EQ(at("f4").double_value(), 0.0);
  EXPECT_TRUE(std::signbit(at("f4").double_value()));
  EXPECT_EQ(at("f8"), Value::Double(0.1));
  EXPECT_EQ(at("t"), Value::Text("h\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_EQ(at("vc"), Value::Text("abc"));
  EXPECT_EQ(at("bp"), Value::Text("ab        "));  // char(10) keeps its padding
  EXPECT_EQ(at("by"), Value::Bytes(std::string("\x00\xff\x00", 3)));
  EXPECT_EQ(at("d"), Value::Date(2024, 2, 29));
  EXPECT_EQ(at("tm"), Value::Time((13 * 3600 + 45 * 60) * 1000000LL + 1));
  EXPECT_EQ(at("ts"), Value::DateTime(2024, 2, 29, (13 * 3600 + 45 * 60) * 1000000ULL + 1));
  EXPECT_EQ(at("tstz"), Value::Timestamp(1709214300000001LL));
  EXPECT_EQ(at("iv"), Value::Interval("1 year 2 mons 3 days 04:05:06.7"));
  EXPECT_EQ(at("b"), Value::Bool(true));
  EXPECT_EQ(at("js"), Value::Json("{\"a\":1,  \"a\":2}"));           // json keeps its text
  EXPECT_EQ(at("jb"), Value::Json("{\"a\": null, \"b\": [1, 2]}"));  // jsonb normalised
  EXPECT_EQ(at("u"), Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  EXPECT_EQ(at("ints"), Value::Other("{1,NULL,3}"));
  EXPECT_EQ(at("texts"), Value::Other("{\"a b\",\"c,d\"}"));
  EXPECT_EQ(at("bit5"), Value::Bits(0b10101, 5));
  EXPECT_EQ(at("vbit"), Value::Bits(0b101, 3));
  EXPECT_EQ(at("bit70"), Value::Other(std::string(70, '1')));
  EXPECT_EQ(at("m"), Value::Other("happy"));
  EXPECT_EQ(at("dom"), Value::Int(5));
  EXPECT_EQ(at("big"), Value::Text(big));
  EXPECT_EQ(at("ttz"), Value::Other("13:45:00+02"));
  EXPECT_EQ(at("dinf"), Value::Other("infinity"));
  EXPECT_EQ(at("tsinf"), Value::Other("-infinity"));

  // Row 2: NULL everywhere but the key.
  for (size_t column = 1; column < rows[1].size(); ++column) {
    EXPECT_TRUE(rows[1][column].is_null()) << table.columns[column].name;
  }
  // Row 3: special values.
  const Row& special = rows[2];
  EXPECT_EQ(special[table.ColumnIndex("num")], Value::Decimal("NaN"));
  EXPECT_EQ(special[table.ColumnIndex("f4")].double_value(), INFINITY);
  EXPECT_TRUE(std::isnan(special[table.ColumnIndex("f8")].double_value()));
  // Row 4: extremes survive exactly.
  const Row& extremes = rows[3];
  EXPECT_EQ(extremes[table.ColumnIndex("f4")], Value::Float(3.4028235e+38f));
  EXPECT_EQ(extremes[table.ColumnIndex("f8")], Value::Double(-1.7976931348623157e+308));
  EXPECT_EQ(extremes[table.ColumnIndex("num")], Value::Decimal("0.000001"));
}

TEST_F(PostgresReadRangeTest, ColumnKindsMatchTheDecodedValues) {
  // Every ordinary (non-special) value has the kind DescribeTable announced for its column.
  database_->Execute(R"sql(
    CREATE DOMAIN small_bits AS bit(8);
    CREATE DOMAIN nested AS small_bits;
    CREATE TABLE kinds (id bigint PRIMARY KEY, n numeric(10,2), r real, dp double precision,
      c char(3), by bytea, d date, t time, ts timestamp, tz timestamptz, i interval, b bool,
      j jsonb, u uuid, bits nested, a int[]);
    INSERT INTO kinds VALUES (1, 1.5, 1.5, 1.5, 'x', '\x01', '2020-01-01', '01:02:03',
      '2020-01-01 01:02:03', '2020-01-01 01:02:03+00', '1 day', false, '{}',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', B'10000001', '{1}');
  )sql");
  const TableSchema table = Describe("public", "kinds");
  std::vector<Row> rows = ReadAll(*tandem_, table);
  ASSERT_EQ(rows.size(), 1u);
  for (size_t column = 0; column < table.columns.size(); ++column) {
    EXPECT_EQ(rows[0][column].kind(), table.columns[column].kind)
        << table.columns[column].name << " " << table.columns[column].declared_type;
  }
  EXPECT_EQ(rows[0][table.ColumnIndex("bits")], Value::Bits(0b10000001, 8));
}

TEST_F(PostgresReadRangeTest, IntegerKeyBoundsAreInclusiveOrExclusiveAsFlagged) {
  database_->Execute(
      "CREATE TABLE numbers (id int PRIMARY KEY, label text);"
      "INSERT INTO numbers SELECT g, 'n' || g FROM generate_series(1, 100) g");
  const TableSchema table = Describe("public", "numbers");
  auto ids = [&](const KeyRange& range) {
    std::vector<int64_t> out;
    for (const Row& row : ReadAll(*tandem_, table, range)) {
      out.push_back(row[0].int_value());
    }
    return out;
  };
  auto bound = [](int64_t id, bool inclusive) { return KeyBound{{Value::Int(id)}, inclusive}; };
  auto span = [](int64_t first, int64_t last) {
    std::vector<int64_t> out;
    for (int64_t id = first; id <= last; ++id) out.push_back(id);
    return out;
  };
  EXPECT_EQ(ids(Range(bound(10, false), bound(20, true))), span(11, 20));
  EXPECT_EQ(ids(Range(bound(10, true), bound(20, false))), span(10, 19));
  EXPECT_EQ(ids(Range(bound(10, true), bound(20, true))), span(10, 20));
  EXPECT_EQ(ids(Range(bound(10, false), bound(20, false))), span(11, 19));
  EXPECT_EQ(ids(Range(bound(95, false), std::nullopt)), span(96, 100));
  EXPECT_EQ(ids(Range(std::nullopt, bound(3, true))), span(1, 3));
  EXPECT_EQ(ids(Range(bound(20, false), bound(10, true))), std::vector<int64_t>{});
  EXPECT_EQ(ids(KeyRange::All()), span(1, 100));
}

TEST_F(PostgresReadRangeTest, CompositeKeyUsesRowValueOrder) {
  database_->Execute(
      "CREATE TABLE lines (qty int, order_id int, line_no text, PRIMARY KEY (order_id, line_no));"
      "INSERT INTO lines VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'a'), (4, 2, 'b'), (5, 3, 'a')");
  const TableSchema table = Describe("public", "lines");
  ASSERT_NE(table.IdentifyingKey(), nullptr);
  EXPECT_EQ(table.IdentifyingKey()->columns, (std::vector<int>{1, 2}));
  auto quantities = [&](const KeyRange& range) {
    std::vector<int64_t> out;
    for (const Row& row : ReadAll(*tandem_, table, range)) {
      out.push_back(row[0].int_value());
    }
    return out;
  };
  auto bound = [](int64_t order_id, const char* line_no, bool inclusive) {
    return KeyBound{{Value::Int(order_id), Value::Text(line_no)}, inclusive};
  };
  EXPECT_EQ(quantities(Range(bound(1, "b", false), bound(3, "a", false))),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(quantities(Range(bound(1, "b", true), bound(3, "a", true))),
            (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(quantities(Range(bound(2, "a", false), std::nullopt)), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(quantities(KeyRange::All()), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST_F(PostgresReadRangeTest, TextKeyFollowsTheColumnCollationLikeTheServer) {
  database_->Execute(
      "CREATE TABLE words (w text PRIMARY KEY);"
      "INSERT INTO words VALUES ('a'), ('B'), ('b'), ('\u00e9'), ('z'), ('\U0001F600'), ('ab'),"
      " ('a b'), ('')");
  const TableSchema table = Describe("public", "words");
  auto words = [&](const KeyRange& range) {
    std::vector<std::string> out;
    for (const Row& row : ReadAll(*tandem_, table, range)) {
      out.push_back(row[0].text());
    }
    return out;
  };
  auto server = [&](const std::string& where) {
    std::vector<std::string> out;
    for (const auto& row : database_->Query("SELECT w FROM words " + where + " ORDER BY w")) {
      out.push_back(*row[0]);
    }
    return out;
  };
  EXPECT_EQ(words(KeyRange::All()), server(""));
  EXPECT_EQ(
      words(Range(KeyBound{{Value::Text("a")}, false}, KeyBound{{Value::Text("\xC3\xA9")}, true})),
      server("WHERE w > 'a' AND w <= '\u00e9'"));
  EXPECT_EQ(words(Range(KeyBound{{Value::Text("")}, true}, KeyBound{{Value::Text("b")}, false})),
            server("WHERE w >= '' AND w < 'b'"));
}

TEST_F(PostgresReadRangeTest, ChunksChainedOnReturnedKeysCoverEveryRowOnce) {
  // The last key of a chunk, as ReadRange returned it, bounds the next chunk: the encoder must
  // give the server back exactly the value it sent, for every key type.
  const std::vector<std::pair<std::string, std::string>> key_types = {
      {"timestamptz", "timestamptz '2024-01-01 00:00:00+00' + g * interval '1.000001 second'"},
      {"numeric", "g / 7.0"},
      {"double precision", "g / 7.0"},
      {"real", "(g / 7.0)::real"},
      {"bytea", "decode(lpad(to_hex(g), 4, '0') || '00', 'hex')"},
      {"uuid", "md5(g::text)::uuid"},
      {"text", "g::text || E' \u00e9'"},
      {"date", "date '2000-01-01' + g"},
      {"timestamp", "timestamp '2000-01-01' + g * interval '0.000001 second'"},
      {"boolean", "g % 2 = 0"},
  };
  for (size_t type = 0; type < key_types.size(); ++type) {
    const auto& [sql_type, expression] = key_types[type];
    const std::string name = "chain_" + std::to_string(type);
    database_->Execute("CREATE TABLE " + name + " (k " + sql_type + " PRIMARY KEY, g int);" +
                       "INSERT INTO " + name + " SELECT DISTINCT ON (" + expression + ") " +
                       expression + ", g FROM generate_series(1, 40) g");
    const TableSchema table = Describe("public", name);
    const std::vector<Row> whole = ReadAll(*tandem_, table);
    ASSERT_FALSE(whole.empty()) << sql_type;
    std::vector<Row> chained;
    std::optional<KeyBound> lower;
    for (int chunk = 0; chunk < 100; ++chunk) {
      std::vector<Row> rows;
      engine::Status status = tandem_->ReadRange(table, Range(lower, std::nullopt), [&](Row&& row) {
        rows.push_back(std::move(row));
        return rows.size() < 3;  // stop after 3
      });
      ASSERT_TRUE(status.ok()) << sql_type << ": " << status.ToString();
      if (rows.empty()) {
        break;
      }
      lower = KeyBound{{rows.back()[0]}, false};
      for (Row& row : rows) {
        chained.push_back(std::move(row));
      }
    }
    ASSERT_EQ(chained.size(), whole.size()) << sql_type;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(chained[i], whole[i]) << sql_type << " row " << i;
    }
  }
}

TEST_F(PostgresReadRangeTest, QuotedIdentifiersAndCaseSensitiveNames) {
  database_->Execute(
      "CREATE SCHEMA \"My Schema\";"
      "CREATE TABLE \"My Schema\".\"Odd \"\"Table\"\"\" (\"Key Col\" int PRIMARY KEY,"
      " \"select\" text, \"we\"\"ird\" text);"
      "INSERT INTO \"My Schema\".\"Odd \"\"Table\"\"\" VALUES (1, 'x', 'y'), (2, 'z', 'w')");
  const TableSchema table = Describe("My Schema", "Odd \"Table\"");
  ASSERT_EQ(table.columns.size(), 3u);
  EXPECT_EQ(table.columns[2].name, "we\"ird");
  std::vector<Row> rows =
      ReadAll(*tandem_, table, Range(KeyBound{{Value::Int(1)}, false}, std::nullopt));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][1], Value::Text("z"));
  EXPECT_EQ(tandem_->DescribeTable({"my schema", "Odd \"Table\""}).status().code(),
            engine::StatusCode::kNotFound);
}

TEST_F(PostgresReadRangeTest, TableWithoutKeyIsReadWholeAndRefusesRanges) {
  database_->Execute(
      "CREATE TABLE heap (a int, b text); INSERT INTO heap VALUES (1, 'x'), (1, 'x'), (NULL, 'y')");
  const TableSchema table = Describe("public", "heap");
  EXPECT_EQ(table.IdentifyingKey(), nullptr);
  EXPECT_EQ(ReadAll(*tandem_, table).size(), 3u);
  engine::Status status = tandem_->ReadRange(
      table, Range(KeyBound{{Value::Int(1)}, false}, std::nullopt), [](Row&&) { return true; });
  EXPECT_EQ(status.code(), engine::StatusCode::kFailedPrecondition);
}

TEST_F(PostgresReadRangeTest, DroppedColumnIsNotFound) {
  database_->Execute("CREATE TABLE shrinking (id int PRIMARY KEY, gone int)");
  const TableSchema table = Describe("public", "shrinking");
  database_->Execute("ALTER TABLE shrinking DROP COLUMN gone");
  engine::Status status = tandem_->ReadRange(table, KeyRange::All(), [](Row&&) { return true; });
  EXPECT_EQ(status.code(), engine::StatusCode::kNotFound) << status.ToString();
  EXPECT_TRUE(tandem_->Ping().ok());
}

class PostgresStreamingTest : public PostgresReadRangeTest {
 protected:
  static constexpr int kRows = 200000;
  static void CreateLargeTable() {
    if (created_) {
      return;
    }
    // ~250 bytes a row, ~50 MB in all: buffering the result would show in the RSS.
    database_->Execute(
        "CREATE TABLE large (id int PRIMARY KEY, payload text);"
        "INSERT INTO large SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, " +
        std::to_string(kRows) + ") g");
    created_ = true;
  }
  static bool created_;
};

bool PostgresStreamingTest::created_ = false;

// Sanitizer allocators hold freed memory back (ASan's quarantine), so RSS says nothing there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kRssIsMeaningful = false;
#else
constexpr bool kRssIsMeaningful = true;
#endif
#else
constexpr bool kRssIsMeaningful = true;
#endif

TEST_F(PostgresStreamingTest, LargeReadStreamsWithBoundedMemory) {
  CreateLargeTable();
  const TableSchema table = Describe("public", "large");
  // Warm up allocator and libpq buffers so the baseline includes them.
  int warm = 0;
  ASSERT_TRUE(
      tandem_->ReadRange(table, KeyRange::All(), [&](Row&&) { return ++warm < 1000; }).ok());
  testing::PostgresClient observer = database_->ConnectAdmin();
  const int64_t baseline = ResidentBytes();
  int64_t peak = baseline;
  int64_t rows = 0;
  int64_t previous_id = 0;
  bool ordered = true;
  std::optional<std::string> running_at_first_row;
  engine::Status status = tandem_->ReadRange(table, KeyRange::All(), [&](Row&& row) {
    ordered = ordered && row[0].int_value() > previous_id;
    previous_id = row[0].int_value();
    if (++rows == 1) {
      // Streaming means the first row is here while the server is still producing the rest.
      running_at_first_row = observer.QueryScalar(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
          "state = 'active' AND query LIKE 'SELECT \"id\", \"payload\" FROM %'");
    }
    if (rows % 1000 == 0) {
      peak = std::max(peak, ResidentBytes());
    }
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(rows, kRows);
  EXPECT_TRUE(ordered);
  EXPECT_EQ(running_at_first_row, "1");
  if (kRssIsMeaningful) {
    // The whole result is ~50 MB; streaming keeps growth to a few buffers.
    EXPECT_LT(peak - baseline, 16 * 1024 * 1024)
        << "RSS grew from " << baseline << " to " << peak << " bytes";
  }
}

TEST_F(PostgresStreamingTest, StoppingEarlyCancelsTheRestAndKeepsTheConnection) {
  CreateLargeTable();
  const TableSchema table = Describe("public", "large");
  int rows = 0;
  const auto start = std::chrono::steady_clock::now();
  engine::Status status =
      tandem_->ReadRange(table, KeyRange::All(), [&](Row&&) { return ++rows < 10; });
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(rows, 10);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  std::vector<Row> next = ReadAll(
      *tandem_, table, Range(KeyBound{{Value::Int(10)}, false}, KeyBound{{Value::Int(12)}, true}));
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0][0], Value::Int(11));
}

}  // namespace
}  // namespace tandem::postgres_test
