// The MariaDB sample data set (contract in sample_data.h).

#include <cinttypes>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "tests/harness/sample_data.h"
#include "tests/harness/sample_random.h"

namespace tandem::testing {
namespace {

constexpr int kRowsPerInsert = 250;

std::string SchemaSql(const std::string& db) {
  const std::string q = "`" + db + "`";
  return "DROP DATABASE IF EXISTS " + q +
         ";\n"
         "CREATE DATABASE " +
         q +
         " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n"
         "CREATE TABLE " +
         q +
         ".all_types (\n"
         "  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
         "  c_tinyint TINYINT NULL, c_tinyint_u TINYINT UNSIGNED NULL,\n"
         "  c_smallint SMALLINT NULL, c_smallint_u SMALLINT UNSIGNED NULL,\n"
         "  c_mediumint MEDIUMINT NULL, c_mediumint_u MEDIUMINT UNSIGNED NULL,\n"
         "  c_int INT NULL, c_int_u INT UNSIGNED NULL,\n"
         "  c_bigint BIGINT NULL, c_bigint_u BIGINT UNSIGNED NULL,\n"
         "  c_decimal DECIMAL(20,6) NULL, c_float FLOAT NULL, c_double DOUBLE NULL,\n"
         "  c_char CHAR(10) NULL, c_varchar VARCHAR(255) NULL, c_text TEXT NULL,\n"
         "  c_binary BINARY(8) NULL, c_varbinary VARBINARY(64) NULL, c_blob BLOB NULL,\n"
         "  c_date DATE NULL, c_time TIME(6) NULL, c_datetime DATETIME(6) NULL,\n"
         "  c_timestamp TIMESTAMP(6) NULL DEFAULT NULL, c_year YEAR NULL,\n"
         "  c_json JSON NULL,\n"
         "  c_enum ENUM('small','medium','large','x-large') NULL,\n"
         "  c_set SET('red','green','blue','black') NULL,\n"
         "  c_bit BIT(10) NULL\n"
         ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
         "CREATE TABLE " +
         q +
         ".order_lines (\n"
         "  order_id INT NOT NULL, line_no SMALLINT NOT NULL,\n"
         "  sku VARCHAR(32) NOT NULL, quantity INT NOT NULL, unit_price DECIMAL(10,2) NOT NULL,\n"
         "  note VARCHAR(100) NULL,\n"
         "  PRIMARY KEY (order_id, line_no)\n"
         ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
         "CREATE TABLE " +
         q +
         ".customers (\n"
         "  email VARCHAR(191) NOT NULL PRIMARY KEY,\n"
         "  full_name VARCHAR(100) NOT NULL, country CHAR(2) NULL,\n"
         "  created_at DATETIME(6) NOT NULL, balance DECIMAL(12,2) NULL, notes TEXT NULL\n"
         ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
         "CREATE TABLE " +
         q +
         ".events_log (\n"
         "  happened_at DATETIME(6) NOT NULL, level VARCHAR(10) NOT NULL,\n"
         "  source VARCHAR(64) NULL, message TEXT NULL, payload JSON NULL\n"
         ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n";
}

class Literals {
 public:
  explicit Literals(MySqlClient& client) : client_(client) {}
  std::string Str(const std::string& s) const { return client_.Quote(s); }
  static std::string Bin(const std::string& bytes) { return "X'" + HexEncode(bytes) + "'"; }
  static std::string Int(int64_t v) { return std::to_string(v); }
  static std::string UInt(uint64_t v) { return std::to_string(v); }

 private:
  MySqlClient& client_;
};

constexpr const char* kNull = "NULL";

// Day numbers (from 1970-01-01) of the ranges used for random dates.
constexpr int64_t kDay1990 = 7305;
constexpr int64_t kDay2030 = 21915;

// Every generator below draws its random numbers in separate statements: the order in which
// function arguments or the operands of '+' are evaluated is unspecified, and the data must not
// depend on the compiler.

std::string RandomDecimal(SampleRandom& r, int integer_digits) {
  int64_t limit = 1;
  for (int i = 0; i < integer_digits; ++i) {
    limit *= 10;
  }
  const bool negative = r.Chance(30);
  const int64_t units = r.Range(0, limit - 1);
  const int64_t fraction = r.Range(0, 999999);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s%" PRId64 ".%06" PRId64, negative ? "-" : "", units,
                fraction);
  return buffer;
}

// A random double: mantissa in [-0.5, 0.5) times 10^[min_exponent, max_exponent].
std::string RandomDouble(SampleRandom& r, int min_exponent, int max_exponent, int digits) {
  const double mantissa = r.Unit() - 0.5;
  const int64_t exponent = r.Range(min_exponent, max_exponent);
  return FormatDouble(mantissa * std::pow(10.0, static_cast<double>(exponent)), digits);
}

// 'YYYY-MM-DD HH:MM:SS.ffffff' with the day in [first_day, last_day] (days from 1970-01-01).
std::string RandomDateTime(SampleRandom& r, int64_t first_day, int64_t last_day) {
  const std::string date = CivilDate(r.Range(first_day, last_day));
  const std::string time = TimeOfDay(r.Range(0, 86400000000LL - 1));
  return "'" + date + " " + time + "'";
}

std::string RandomMoney(SampleRandom& r, int64_t max_units, bool may_be_negative) {
  char buffer[48];
  const bool negative = may_be_negative && r.Chance(20);
  const int64_t units = r.Range(0, max_units);
  const int64_t cents = r.Range(0, 99);
  std::snprintf(buffer, sizeof(buffer), "%s%" PRId64 ".%02" PRId64, negative ? "-" : "", units,
                cents);
  return buffer;
}

std::string RandomJson(SampleRandom& r, Literals& lit, int64_t id) {
  const std::string tag = r.Words(1, 8);
  const int64_t price_units = r.Range(0, 99999);
  const int64_t price_cents = r.Range(10, 99);
  const bool ok = r.Chance(50);
  const int64_t n = r.Range(-1000000, 1000000);
  std::string json =
      "{\"id\": " + std::to_string(id) + ", \"tags\": [\"" + tag +
      "\", \"caf\\u00e9 \\ud83d\\ude00\"], \"price\": " + std::to_string(price_units) + "." +
      std::to_string(price_cents) + ", \"nested\": {\"ok\": " + (ok ? "true" : "false") +
      ", \"none\": null, \"n\": " + std::to_string(n) + "}}";
  return lit.Str(json);
}

std::vector<std::string> AllTypesRow(SampleRandom& r, Literals& lit, int64_t id) {
  if (id == 1) {  // minimums
    return {Literals::Int(id),
            "-128",
            "0",
            "-32768",
            "0",
            "-8388608",
            "0",
            "-2147483648",
            "0",
            "-9223372036854775808",
            "0",
            "-99999999999999.999999",
            "-3.40282e38",
            "-1.7976931348623157e308",
            lit.Str(" "),
            lit.Str(" "),
            lit.Str(" "),
            Literals::Bin(std::string(1, '\0')),
            Literals::Bin(std::string(1, '\0')),
            Literals::Bin(std::string(1, '\0')),
            "'1000-01-01'",
            "'-838:59:59.000000'",
            "'1000-01-01 00:00:00.000000'",
            "'1970-01-01 00:00:01.000000'",
            "1901",
            "'[]'",
            "'small'",
            "''",
            "b'0000000000'"};
  }
  if (id == 2) {  // maximums
    std::string emoji10;
    for (int i = 0; i < 10; ++i) {
      emoji10 += "😀";
    }
    std::string varchar255;
    for (int i = 0; i < 255; ++i) {
      varchar255 += (i % 3 == 0) ? "🚀" : (i % 3 == 1 ? "é" : "z");
    }
    std::string text_max;
    for (int i = 0; i < 16383; ++i) {
      text_max += "🎉";  // 65532 bytes of the 65535 TEXT allows
    }
    return {Literals::Int(id),
            "127",
            "255",
            "32767",
            "65535",
            "8388607",
            "16777215",
            "2147483647",
            "4294967295",
            "9223372036854775807",
            "18446744073709551615",
            "99999999999999.999999",
            "3.40282e38",
            "1.7976931348623157e308",
            lit.Str(emoji10),
            lit.Str(varchar255),
            lit.Str(text_max),
            Literals::Bin(std::string(8, '\xff')),
            Literals::Bin(std::string(64, '\xff')),
            Literals::Bin(std::string(65535, '\xff')),
            "'9999-12-31'",
            "'838:59:59.000000'",
            "'9999-12-31 23:59:59.999999'",
            "'2038-01-19 03:14:07.999999'",
            "2155",
            lit.Str("{\"deep\": [[[[[[[[[[\"😀\"]]]]]]]]]], \"big\": 1.7976931348623157e308}"),
            "'x-large'",
            "'red,green,blue,black'",
            "b'1111111111'"};
  }
  if (id == 3) {  // zeros, empty strings, zero dates
    return {Literals::Int(id),
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "''",
            "''",
            "''",
            "X''",
            "X''",
            "X''",
            "'0000-00-00'",
            "'00:00:00.000000'",
            "'0000-00-00 00:00:00.000000'",
            "'0000-00-00 00:00:00.000000'",
            "0",
            "'{}'",
            "'small'",
            "''",
            "0"};
  }
  if (id == 4) {  // NULL in every nullable column
    std::vector<std::string> row(29, kNull);
    row[0] = Literals::Int(id);
    return row;
  }
  auto maybe = [&](std::string value) { return r.Chance(10) ? std::string(kNull) : value; };
  const bool large = id % 97 == 0;
  std::vector<std::string> row;
  row.reserve(29);
  row.push_back(Literals::Int(id));
  row.push_back(maybe(Literals::Int(r.Range(-128, 127))));
  row.push_back(maybe(Literals::Int(r.Range(0, 255))));
  row.push_back(maybe(Literals::Int(r.Range(-32768, 32767))));
  row.push_back(maybe(Literals::Int(r.Range(0, 65535))));
  row.push_back(maybe(Literals::Int(r.Range(-8388608, 8388607))));
  row.push_back(maybe(Literals::Int(r.Range(0, 16777215))));
  row.push_back(maybe(Literals::Int(r.Range(INT32_MIN, INT32_MAX))));
  row.push_back(maybe(Literals::Int(r.Range(0, UINT32_MAX))));
  row.push_back(maybe(Literals::Int(static_cast<int64_t>(r.Next()))));
  row.push_back(maybe(Literals::UInt(r.Next())));
  row.push_back(maybe(RandomDecimal(r, static_cast<int>(r.Range(0, 14)))));
  row.push_back(maybe(RandomDouble(r, -10, 10, 7)));
  row.push_back(maybe(RandomDouble(r, -300, 300, 17)));
  std::string char_value = r.Text(0, 8);
  if (r.Chance(30)) {
    char_value += "  ";  // trailing spaces (CHAR drops them on read)
  }
  row.push_back(maybe(lit.Str(char_value)));
  std::string varchar_value = r.Text(0, 60);
  if (r.Chance(30)) {
    varchar_value += "   ";  // trailing spaces (VARCHAR keeps them)
  }
  row.push_back(maybe(lit.Str(varchar_value)));
  row.push_back(maybe(lit.Str(large ? r.Text(16000, 16300) : r.Text(0, 400))));
  row.push_back(maybe(Literals::Bin(r.Bytes(0, 8))));
  row.push_back(maybe(Literals::Bin(r.Bytes(0, 64))));
  row.push_back(maybe(Literals::Bin(large ? r.Bytes(20000, 30000) : r.Bytes(0, 300))));
  row.push_back(maybe("'" + CivilDate(r.Range(kDay1990, kDay2030)) + "'"));
  row.push_back(maybe("'" + TimeOfDay(r.Range(-838LL * 3600000000LL, 838LL * 3600000000LL)) + "'"));
  row.push_back(maybe(RandomDateTime(r, -300000, 2900000)));
  row.push_back(maybe(RandomDateTime(r, 1, 24800)));
  row.push_back(maybe(Literals::Int(r.Range(1901, 2155))));
  row.push_back(maybe(RandomJson(r, lit, id)));
  static constexpr const char* kEnum[] = {"small", "medium", "large", "x-large"};
  row.push_back(maybe(std::string("'") + kEnum[r.Next() % 4] + "'"));
  static constexpr const char* kSet[] = {"red", "green", "blue", "black"};
  std::string set_value;
  for (const char* member : kSet) {
    if (r.Chance(40)) {
      set_value += (set_value.empty() ? "" : ",") + std::string(member);
    }
  }
  row.push_back(maybe("'" + set_value + "'"));
  row.push_back(maybe(Literals::Int(r.Range(0, 1023))));
  return row;
}

std::vector<std::string> OrderLineRow(SampleRandom& r, Literals& lit, int64_t k) {
  char sku[32];
  std::snprintf(sku, sizeof(sku), "SKU-%05" PRId64, r.Range(0, 99999));
  const int64_t quantity = r.Range(1, 20);
  const std::string price = RandomMoney(r, 9999, false);
  const bool has_note = r.Chance(30);
  const std::string note = has_note ? lit.Str(r.Text(0, 40)) : std::string(kNull);
  return {Literals::Int(1000 + (k / 5) * 3),
          Literals::Int(1 + k % 5),
          lit.Str(sku),
          Literals::Int(quantity),
          price,
          note};
}

std::string CustomerKey(int64_t k) {
  char buffer[64];
  if (k % 5 == 0) {
    std::snprintf(buffer, sizeof(buffer), "zoë.%06" PRId64 "@exämple.com", k);
  } else if (k % 5 == 1) {
    std::snprintf(buffer, sizeof(buffer), "Customer%06" PRId64 "@Example.com", k);
  } else {
    std::snprintf(buffer, sizeof(buffer), "customer%06" PRId64 "@example.com", k);
  }
  return buffer;
}

std::vector<std::string> CustomerRow(SampleRandom& r, Literals& lit, int64_t k) {
  static constexpr const char* kCountries[] = {"US", "DE", "FR", "JP", "BR", "IN", "NG", "SE"};
  const std::string name = lit.Str(r.Text(3, 40));
  const bool country_null = r.Chance(10);
  const std::string country = lit.Str(kCountries[r.Next() % 8]);
  const std::string created_at = RandomDateTime(r, kDay1990, kDay2030);
  const bool balance_null = r.Chance(10);
  const std::string balance = RandomMoney(r, 99999999, true);
  const bool notes_null = r.Chance(50);
  const std::string notes = lit.Str(r.Text(0, 200));
  return {lit.Str(CustomerKey(k)),
          name,
          country_null ? std::string(kNull) : country,
          created_at,
          balance_null ? std::string(kNull) : balance,
          notes_null ? std::string(kNull) : notes};
}

std::vector<std::string> EventRow(SampleRandom& r, Literals& lit, int64_t) {
  static constexpr const char* kLevels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  const std::string happened_at = RandomDateTime(r, kDay1990, kDay2030);
  const std::string level = std::string("'") + kLevels[r.Next() % 4] + "'";
  const bool source_null = r.Chance(10);
  const std::string source = lit.Str("svc-" + r.Words(3, 12));
  const bool message_null = r.Chance(5);
  const std::string message = lit.Str(r.Text(0, 120));
  const bool payload_null = r.Chance(30);
  const int64_t attempt = r.Range(1, 5);
  const bool ok = r.Chance(50);
  const std::string payload = lit.Str("{\"attempt\": " + std::to_string(attempt) +
                                      ", \"ok\": " + (ok ? "true" : "false") + "}");
  return {happened_at, level, source_null ? std::string(kNull) : source,
          message_null ? std::string(kNull) : message, payload_null ? std::string(kNull) : payload};
}

using RowGenerator = std::function<std::vector<std::string>(SampleRandom&, Literals&, int64_t)>;

void InsertTable(MySqlClient& client, const MySqlSampleDataOptions& options,
                 const std::string& table, const std::string& columns, const RowGenerator& make,
                 bool duplicate_every_tenth) {
  Literals lit(client);
  const std::string prefix =
      "INSERT INTO `" + options.database + "`." + table + " (" + columns + ") VALUES ";
  std::string sql;
  int in_batch = 0;
  client.Execute("START TRANSACTION");
  for (int64_t k = 0; k < options.rows; ++k) {
    // events_log: every 10th row repeats the one before it.
    int64_t source_row = duplicate_every_tenth && k % 10 == 9 ? k - 1 : k;
    SampleRandom r(options.seed, table, static_cast<uint64_t>(source_row));
    // all_types numbers its rows from 1 (its id); the other tables from 0.
    std::vector<std::string> values =
        make(r, lit, table == "all_types" ? source_row + 1 : source_row);
    sql += in_batch == 0 ? prefix : ",";
    sql += "(";
    for (size_t i = 0; i < values.size(); ++i) {
      sql += (i == 0 ? "" : ",") + values[i];
    }
    sql += ")";
    if (++in_batch == kRowsPerInsert) {
      client.Execute(sql);
      sql.clear();
      in_batch = 0;
    }
  }
  if (in_batch > 0) {
    client.Execute(sql);
  }
  client.Execute("COMMIT");
}

}  // namespace

void LoadMySqlSampleData(MySqlClient& client, const MySqlSampleDataOptions& options) {
  if (options.rows < 0) {
    throw std::runtime_error("LoadMySqlSampleData: rows must be >= 0");
  }
  client.Execute("SET NAMES utf8mb4");
  client.Execute("SET SESSION time_zone = '+00:00'");
  // The server default, spelled out: row 3's zero dates must load even where a test configured a
  // stricter global sql_mode.
  client.Execute(
      "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
      "NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'");
  client.Execute(SchemaSql(options.database));
  InsertTable(client, options, "all_types",
              "id, c_tinyint, c_tinyint_u, c_smallint, c_smallint_u, c_mediumint, "
              "c_mediumint_u, c_int, c_int_u, c_bigint, c_bigint_u, c_decimal, c_float, "
              "c_double, c_char, c_varchar, c_text, c_binary, c_varbinary, c_blob, c_date, "
              "c_time, c_datetime, c_timestamp, c_year, c_json, c_enum, c_set, c_bit",
              AllTypesRow, false);
  InsertTable(client, options, "order_lines", "order_id, line_no, sku, quantity, unit_price, note",
              OrderLineRow, false);
  InsertTable(client, options, "customers", "email, full_name, country, created_at, balance, notes",
              CustomerRow, false);
  InsertTable(client, options, "events_log", "happened_at, level, source, message, payload",
              EventRow, true);
  const std::string q = "`" + options.database + "`.";
  client.Execute("ANALYZE TABLE " + q + "all_types, " + q + "order_lines, " + q + "customers, " +
                 q + "events_log");
}

void LoadMySqlSampleData(const MariaDbServer& server, int rows) {
  MySqlClient client = server.ConnectAdmin();
  MySqlSampleDataOptions options;
  options.rows = rows;
  LoadMySqlSampleData(client, options);
}

void LoadMySqlSampleData(const std::string& uri, const MySqlSampleDataOptions& options) {
  MySqlClient client = MySqlClient::ConnectUri(uri);
  LoadMySqlSampleData(client, options);
}

}  // namespace tandem::testing
