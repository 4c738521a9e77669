// The PostgreSQL sample data set (contract in sample_data.h), loaded with COPY in text format.

#include <cinttypes>
#include <cmath>
#include <functional>
#include <optional>
#include <stdexcept>

#include "tests/harness/sample_data.h"
#include "tests/harness/sample_random.h"

namespace tandem::testing {
namespace {

// As in mysql_sample_data.cc, random numbers are drawn in separate statements so the data does
// not depend on the compiler's evaluation order.

using Field = std::optional<std::string>;  // nullopt = NULL

std::string SchemaSql(const std::string& schema) {
  const std::string s = "\"" + schema + "\"";
  return "DROP SCHEMA IF EXISTS " + s + " CASCADE;\n" + "CREATE SCHEMA " + s + ";\n" +
         "CREATE TYPE " + s +
         ".mood AS ENUM ('sad', 'ok', 'happy');\n"
         "CREATE TABLE " +
         s +
         ".all_types (\n"
         "  id bigserial PRIMARY KEY,\n"
         "  c_smallint smallint, c_int integer, c_bigint bigint,\n"
         "  c_numeric numeric(20,6), c_real real, c_double double precision,\n"
         "  c_text text, c_varchar varchar(255), c_char char(10),\n"
         "  c_bytea bytea,\n"
         "  c_date date, c_time time(6), c_timestamp timestamp(6), c_timestamptz timestamptz(6),\n"
         "  c_interval interval, c_bool boolean,\n"
         "  c_json json, c_jsonb jsonb, c_uuid uuid,\n"
         "  c_int_array integer[], c_text_array text[],\n"
         "  c_mood " +
         s +
         ".mood,\n"
         "  c_large_text text\n"
         ");\n"
         "CREATE TABLE " +
         s +
         ".order_lines (\n"
         "  order_id integer NOT NULL, line_no smallint NOT NULL,\n"
         "  sku varchar(32) NOT NULL, quantity integer NOT NULL, unit_price numeric(10,2) NOT "
         "NULL,\n"
         "  note varchar(100),\n"
         "  PRIMARY KEY (order_id, line_no)\n"
         ");\n"
         "CREATE TABLE " +
         s +
         ".customers (\n"
         "  email text PRIMARY KEY,\n"
         "  full_name text NOT NULL, country char(2),\n"
         "  created_at timestamptz(6) NOT NULL, balance numeric(12,2), notes text\n"
         ");\n"
         "CREATE TABLE " +
         s +
         ".events_log (\n"
         "  happened_at timestamptz(6) NOT NULL, level text NOT NULL,\n"
         "  source text, message text, payload jsonb\n"
         ");\n";
}

// Appends one field in COPY text format.
void AppendCopyField(std::string& out, const Field& field) {
  if (!field) {
    out += "\\N";
    return;
  }
  for (char c : *field) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
}

std::string Bytea(const std::string& bytes) { return "\\x" + HexEncode(bytes); }

// An array element in array-literal syntax: always double-quoted, '"' and '\' escaped.
std::string ArrayElement(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

std::string Uuid(SampleRandom& r) {
  const uint64_t high = r.Next();
  const uint64_t low = r.Next();
  std::string hex = HexEncode(std::string(reinterpret_cast<const char*>(&high), 8) +
                              std::string(reinterpret_cast<const char*>(&low), 8));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string RandomDecimal(SampleRandom& r, int integer_digits, int fraction_digits) {
  int64_t limit = 1;
  for (int i = 0; i < integer_digits; ++i) {
    limit *= 10;
  }
  int64_t fraction_limit = 1;
  for (int i = 0; i < fraction_digits; ++i) {
    fraction_limit *= 10;
  }
  const bool negative = r.Chance(30);
  const int64_t units = r.Range(0, limit - 1);
  const int64_t fraction = r.Range(0, fraction_limit - 1);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s%" PRId64 ".%0*" PRId64, negative ? "-" : "", units,
                fraction_digits, fraction);
  return buffer;
}

std::string RandomDouble(SampleRandom& r, int min_exponent, int max_exponent, int digits) {
  const double mantissa = r.Unit() - 0.5;
  const int64_t exponent = r.Range(min_exponent, max_exponent);
  return FormatDouble(mantissa * std::pow(10.0, static_cast<double>(exponent)), digits);
}

constexpr int64_t kDay1990 = 7305;
constexpr int64_t kDay2030 = 21915;

std::string RandomTimestamp(SampleRandom& r, int64_t first_day, int64_t last_day) {
  const std::string date = CivilDate(r.Range(first_day, last_day));
  const std::string time = TimeOfDay(r.Range(0, 86400000000LL - 1));
  return date + " " + time;
}

std::string RandomTimestamptz(SampleRandom& r) {
  const std::string local = RandomTimestamp(r, kDay1990, kDay2030);
  static constexpr const char* kZones[] = {"+00", "+05:30", "-08", "+14", "-03:30"};
  return local + kZones[r.Next() % 5];
}

std::string RandomInterval(SampleRandom& r) {
  const int64_t years = r.Range(0, 20);
  const int64_t months = r.Range(0, 11);
  const int64_t days = r.Range(-40, 40);
  const int64_t micros = r.Range(-86400000000LL, 86400000000LL);
  return std::to_string(years) + " years " + std::to_string(months) + " mons " +
         std::to_string(days) + " days " + TimeOfDay(micros);
}

std::string Repeat(const std::string& piece, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += piece;
  }
  return out;
}

std::vector<Field> AllTypesRow(SampleRandom& r, int64_t id) {
  const std::string id_text = std::to_string(id);
  if (id == 1) {  // minimums
    return {id_text,
            "-32768",
            "-2147483648",
            "-9223372036854775808",
            "-99999999999999.999999",
            "-3.4028235e38",
            "-1.7976931348623157e308",
            " ",
            " ",
            " ",
            Bytea(std::string(1, '\0')),
            "0001-01-01",
            "00:00:00",
            "0001-01-01 00:00:00",
            "0001-01-01 00:00:00+00",
            "-1000 years -11 mons -30 days -23:59:59.999999",
            "f",
            "[]",
            "[]",
            "00000000-0000-0000-0000-000000000000",
            "{}",
            "{}",
            "sad",
            ""};
  }
  if (id == 2) {  // maximums
    return {id_text,
            "32767",
            "2147483647",
            "9223372036854775807",
            "99999999999999.999999",
            "3.4028235e38",
            "1.7976931348623157e308",
            Repeat("🎉", 5000),
            Repeat("🚀", 255),
            Repeat("😀", 10),
            Bytea(std::string(64, '\xff')),
            "9999-12-31",
            "24:00:00",
            "9999-12-31 23:59:59.999999",
            "9999-12-31 23:59:59.999999+00",
            "1000 years 11 mons 30 days 23:59:59.999999",
            "t",
            "{\"deep\": [[[[[[[[[[\"😀\"]]]]]]]]]], \"big\": 1.7976931348623157e308}",
            "{\"deep\": [[[[[[[[[[\"😀\"]]]]]]]]]], \"big\": 1.7976931348623157e308}",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "{2147483647,-2147483648,0}",
            "{" + ArrayElement(Repeat("z", 1000)) + "," + ArrayElement("😀") + "}",
            "happy",
            r.Letters(20000)};
  }
  if (id == 3) {  // zeros and empty values
    return {id_text,
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "",
            "",
            "",
            Bytea(""),
            "1970-01-01",
            "00:00:00",
            "1970-01-01 00:00:00",
            "1970-01-01 00:00:00+00",
            "00:00:00",
            "f",
            "{}",
            "{}",
            "00000000-0000-0000-0000-000000000001",
            "{}",
            "{\"\"}",
            "ok",
            ""};
  }
  if (id == 4) {  // NULL in every nullable column
    std::vector<Field> row(24, std::nullopt);
    row[0] = id_text;
    return row;
  }
  auto maybe = [&](std::string value) -> Field {
    if (r.Chance(10)) {
      return std::nullopt;
    }
    return value;
  };
  std::vector<Field> row;
  row.reserve(24);
  row.push_back(id_text);
  row.push_back(maybe(std::to_string(r.Range(-32768, 32767))));
  row.push_back(maybe(std::to_string(r.Range(INT32_MIN, INT32_MAX))));
  row.push_back(maybe(std::to_string(static_cast<int64_t>(r.Next()))));
  row.push_back(maybe(RandomDecimal(r, static_cast<int>(r.Range(0, 14)), 6)));
  if (id == 5) {
    row.push_back("NaN");
    row.push_back("Infinity");
  } else if (id == 6) {
    row.push_back("-Infinity");
    row.push_back("NaN");
  } else {
    row.push_back(maybe(RandomDouble(r, -10, 10, 7)));
    row.push_back(maybe(RandomDouble(r, -300, 300, 17)));
  }
  row.push_back(maybe(r.Text(0, 400)));
  std::string varchar_value = r.Text(0, 60);
  if (r.Chance(30)) {
    varchar_value += "   ";
  }
  row.push_back(maybe(varchar_value));
  std::string char_value = r.Text(0, 8);
  if (r.Chance(30)) {
    char_value += "  ";
  }
  row.push_back(maybe(char_value));
  row.push_back(maybe(Bytea(r.Bytes(0, 300))));
  row.push_back(maybe(CivilDate(r.Range(-700000, 2900000))));
  row.push_back(maybe(TimeOfDay(r.Range(0, 86400000000LL - 1))));
  row.push_back(maybe(RandomTimestamp(r, -700000, 2900000)));
  row.push_back(maybe(RandomTimestamptz(r)));
  row.push_back(maybe(RandomInterval(r)));
  row.push_back(maybe(r.Chance(50) ? "t" : "f"));
  {
    // json keeps whitespace, key order and duplicate keys; jsonb does not.
    const int64_t a = r.Range(-1000, 1000);
    const std::string word = r.Words(1, 10);
    row.push_back(maybe("{\"b\": " + std::to_string(a) + ",  \"a\": [1, 2.50, \"x😀\"], \"a\": \"" +
                        word + "\"}"));
  }
  {
    const int64_t n = r.Range(-1000000, 1000000);
    const bool ok = r.Chance(50);
    const std::string word = r.Words(1, 10);
    row.push_back(maybe("{\"n\": " + std::to_string(n) + ", \"ok\": " + (ok ? "true" : "false") +
                        ", \"tag\": \"" + word +
                        "\", \"nested\": {\"none\": null, \"pi\": 3.14}}"));
  }
  row.push_back(maybe(Uuid(r)));
  {
    const int64_t count = r.Range(0, 6);
    std::string array = "{";
    for (int64_t i = 0; i < count; ++i) {
      const bool null_element = r.Chance(10);
      const int64_t value = r.Range(INT32_MIN, INT32_MAX);
      array += (i == 0 ? "" : ",") + (null_element ? std::string("NULL") : std::to_string(value));
    }
    row.push_back(maybe(array + "}"));
  }
  {
    const int64_t count = r.Range(0, 4);
    std::string array = "{";
    for (int64_t i = 0; i < count; ++i) {
      const std::string element = r.Text(0, 12);
      array += (i == 0 ? "" : ",") + ArrayElement(element);
    }
    row.push_back(maybe(array + "}"));
  }
  static constexpr const char* kMoods[] = {"sad", "ok", "happy"};
  row.push_back(maybe(kMoods[r.Next() % 3]));
  if (id % 50 == 0) {
    const int64_t length = r.Range(9000, 20000);
    row.push_back(r.Letters(static_cast<int>(length)));  // incompressible enough to be TOASTed
  } else {
    row.push_back(maybe(r.Words(0, 30)));
  }
  return row;
}

std::string RandomMoney(SampleRandom& r, int64_t max_units, bool may_be_negative) {
  const bool negative = may_be_negative && r.Chance(20);
  const int64_t units = r.Range(0, max_units);
  const int64_t cents = r.Range(0, 99);
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%s%" PRId64 ".%02" PRId64, negative ? "-" : "", units,
                cents);
  return buffer;
}

std::vector<Field> OrderLineRow(SampleRandom& r, int64_t k) {
  char sku[32];
  std::snprintf(sku, sizeof(sku), "SKU-%05" PRId64, r.Range(0, 99999));
  const int64_t quantity = r.Range(1, 20);
  const std::string price = RandomMoney(r, 9999, false);
  const bool has_note = r.Chance(30);
  Field note;
  if (has_note) {
    note = r.Text(0, 40);
  }
  return {std::to_string(1000 + (k / 5) * 3),
          std::to_string(1 + k % 5),
          std::string(sku),
          std::to_string(quantity),
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

std::vector<Field> CustomerRow(SampleRandom& r, int64_t k) {
  static constexpr const char* kCountries[] = {"US", "DE", "FR", "JP", "BR", "IN", "NG", "SE"};
  const std::string name = r.Text(3, 40);
  const bool country_null = r.Chance(10);
  const std::string country = kCountries[r.Next() % 8];
  const std::string created_at = RandomTimestamptz(r);
  const bool balance_null = r.Chance(10);
  const std::string balance = RandomMoney(r, 99999999, true);
  const bool notes_null = r.Chance(50);
  const std::string notes = r.Text(0, 200);
  return {CustomerKey(k),
          name,
          country_null ? Field() : Field(country),
          created_at,
          balance_null ? Field() : Field(balance),
          notes_null ? Field() : Field(notes)};
}

std::vector<Field> EventRow(SampleRandom& r, int64_t) {
  static constexpr const char* kLevels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  const std::string happened_at = RandomTimestamptz(r);
  const std::string level = kLevels[r.Next() % 4];
  const bool source_null = r.Chance(10);
  const std::string source = "svc-" + r.Words(3, 12);
  const bool message_null = r.Chance(5);
  const std::string message = r.Text(0, 120);
  const bool payload_null = r.Chance(30);
  const int64_t attempt = r.Range(1, 5);
  const bool ok = r.Chance(50);
  const std::string payload =
      "{\"attempt\": " + std::to_string(attempt) + ", \"ok\": " + (ok ? "true" : "false") + "}";
  return {happened_at, level, source_null ? Field() : Field(source),
          message_null ? Field() : Field(message), payload_null ? Field() : Field(payload)};
}

using RowGenerator = std::function<std::vector<Field>(SampleRandom&, int64_t)>;

void CopyTable(PostgresClient& client, const PostgresSampleDataOptions& options,
               const std::string& table, const std::string& columns, const RowGenerator& make,
               bool duplicate_every_tenth) {
  std::string data;
  for (int64_t k = 0; k < options.rows; ++k) {
    const int64_t source_row = duplicate_every_tenth && k % 10 == 9 ? k - 1 : k;
    SampleRandom r(options.seed, table, static_cast<uint64_t>(source_row));
    std::vector<Field> fields = make(r, table == "all_types" ? source_row + 1 : source_row);
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) {
        data += '\t';
      }
      AppendCopyField(data, fields[i]);
    }
    data += '\n';
  }
  client.CopyIn("COPY \"" + options.schema + "\"." + table + " (" + columns + ") FROM STDIN", data);
}

}  // namespace

void LoadPostgresSampleData(PostgresClient& client, const PostgresSampleDataOptions& options) {
  if (options.rows < 0) {
    throw std::runtime_error("LoadPostgresSampleData: rows must be >= 0");
  }
  client.Execute("SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'");
  client.Execute("BEGIN");
  client.Execute(SchemaSql(options.schema));
  CopyTable(client, options, "all_types",
            "id, c_smallint, c_int, c_bigint, c_numeric, c_real, c_double, c_text, c_varchar, "
            "c_char, c_bytea, c_date, c_time, c_timestamp, c_timestamptz, c_interval, c_bool, "
            "c_json, c_jsonb, c_uuid, c_int_array, c_text_array, c_mood, c_large_text",
            AllTypesRow, false);
  CopyTable(client, options, "order_lines", "order_id, line_no, sku, quantity, unit_price, note",
            OrderLineRow, false);
  CopyTable(client, options, "customers", "email, full_name, country, created_at, balance, notes",
            CustomerRow, false);
  CopyTable(client, options, "events_log", "happened_at, level, source, message, payload", EventRow,
            true);
  const std::string s = "\"" + options.schema + "\"";
  client.Execute("SELECT setval(pg_get_serial_sequence('" + s +
                 ".all_types', 'id'), GREATEST((SELECT max(id) FROM " + s + ".all_types), 1))");
  client.Execute("COMMIT");
  client.Execute("ANALYZE " + s + ".all_types, " + s + ".order_lines, " + s + ".customers, " + s +
                 ".events_log");
}

void LoadPostgresSampleData(const PostgresServer& server, int rows) {
  PostgresClient client = server.ConnectAdmin("tandem");
  client.Execute(std::string("SET ROLE ") + kTestUser);  // the tables belong to the test account
  PostgresSampleDataOptions options;
  options.rows = rows;
  LoadPostgresSampleData(client, options);
}

void LoadPostgresSampleData(const std::string& uri, const PostgresSampleDataOptions& options) {
  PostgresClient client = PostgresClient::ConnectUri(uri);
  LoadPostgresSampleData(client, options);
}

}  // namespace tandem::testing
