// checksum::Verify against real servers: consistent sample data in both engines and across them,
// every injected divergence found and named exactly, multisets, resume, and a native replica under
// a concurrent write load.
#include "checksum/verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <tuple>

#include "checksum/verify_report.h"
#include "connectors/mysql/mysql_database.h"
#include "connectors/postgres/postgres_database.h"
#include "tests/harness/local_servers.h"

namespace tandem::checksum {
namespace {

using engine::ConnectionConfig;
using testing::SharedServers;
using testing::Side;
using testing::UniqueName;

engine::Result<std::unique_ptr<engine::Database>> Open(const ConnectionConfig& config) {
  auto upcast = [](auto result) -> engine::Result<std::unique_ptr<engine::Database>> {
    if (!result.ok()) {
      return result.status();
    }
    return std::unique_ptr<engine::Database>(std::move(*result));
  };
  if (config.engine == engine::EngineKind::kMySql) {
    return upcast(connectors::mysql::OpenMySqlDatabase(config));
  }
  return upcast(connectors::postgres::OpenPostgresDatabase(config));
}

ConnectionConfig Config(const std::string& uri) {
  auto config = engine::ParseConnectionUri(uri, "test", "");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

VerifyReport MustVerify(const std::string& source, const std::string& target,
                        VerifyOptions options = {}) {
  auto report = Verify(Config(source), Config(target), Open, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? *report : VerifyReport();
}

// "kind key columns" per difference, e.g. "changed 7 c_decimal".
std::multiset<std::string> Describe(const TableReport& table) {
  std::multiset<std::string> out;
  for (const Difference& difference : table.differences) {
    std::string line = DifferenceKindName(difference.kind);
    for (const engine::Value& value : difference.key) {
      line += " " + value.ToDisplayString();
    }
    for (const std::string& column : difference.columns) {
      line += " " + column;
    }
    out.insert(line);
  }
  return out;
}

const TableReport& Find(const VerifyReport& report, const std::string& name) {
  for (const TableReport& table : report.tables) {
    if (table.table.name == name) {
      return table;
    }
  }
  static TableReport none;
  ADD_FAILURE() << "no table " << name << " in the report";
  return none;
}

// d.t (id INT PRIMARY KEY, v INT) with rows 1..rows, v = id.
void CreateNumberTable(const testing::MariaDbServer& server, int rows) {
  server.Execute(
      "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); "
      "INSERT INTO d.t SELECT seq, seq FROM d.seq_1_to_" +
      std::to_string(rows));
}

class MySqlDatabaseScope {
 public:
  explicit MySqlDatabaseScope(const SharedServers& servers)
      : servers_(servers), name_(UniqueName("verify")) {}
  ~MySqlDatabaseScope() {
    for (Side side : {Side::kSource, Side::kTarget}) {
      try {
        servers_.ExecuteMySql(side, "DROP DATABASE IF EXISTS " + name_);
      } catch (...) {
      }
    }
  }
  const std::string& name() const { return name_; }

 private:
  const SharedServers& servers_;
  std::string name_;
};

TEST(Verifier, MySqlSampleDataIsConsistent) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlDatabaseScope db(*servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    testing::LoadMySqlSampleData(servers->mysql_uri(side), {.rows = 400, .database = db.name()});
  }
  VerifyOptions options;
  options.chunk_rows = 97;  // several chunks per table
  VerifyReport report = MustVerify(servers->mysql_source_uri(db.name()),
                                   servers->mysql_target_uri(db.name()), options);
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  ASSERT_EQ(report.tables.size(), 4u);
  for (const TableReport& table : report.tables) {
    EXPECT_EQ(table.source_rows, 400) << table.table.ToString();
    EXPECT_EQ(table.target_rows, 400) << table.table.ToString();
  }
  EXPECT_GE(Find(report, "all_types").chunks, 5);
  EXPECT_FALSE(Find(report, "events_log").warnings.empty());
  EXPECT_FALSE(report.source_position.empty());
}

TEST(Verifier, MySqlEveryInjectedDivergenceIsNamedExactly) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlDatabaseScope db(*servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    testing::LoadMySqlSampleData(servers->mysql_uri(side), {.rows = 300, .database = db.name()});
  }
  // One change per row, each in a row where the column is not NULL (random rows are ~10% NULL).
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"c_tinyint", "c_tinyint = IF(c_tinyint = 5, 6, 5)"},
      {"c_smallint_u", "c_smallint_u = IF(c_smallint_u = 5, 6, 5)"},
      {"c_mediumint", "c_mediumint = IF(c_mediumint = 5, 6, 5)"},
      {"c_int_u", "c_int_u = IF(c_int_u = 5, 6, 5)"},
      {"c_bigint", "c_bigint = IF(c_bigint = 5, 6, 5)"},
      {"c_bigint_u", "c_bigint_u = IF(c_bigint_u = 5, 6, 5)"},
      {"c_decimal", "c_decimal = IF(c_decimal = 0.000001, 0.000002, 0.000001)"},
      {"c_float", "c_float = IF(c_float = 1.5, 2.5, 1.5)"},
      {"c_double", "c_double = IF(c_double = 1.5, 2.5, 1.5)"},
      {"c_varchar", "c_varchar = CONCAT(LEFT(c_varchar, 200), ' ')"},  // a trailing space
      {"c_text", "c_text = CONCAT(c_text, '\xF0\x9F\x98\x80')"},       // a 4-byte UTF-8 char
      {"c_binary",
       "c_binary = IF(c_binary = X'0102030405060708', X'0102030405060709', "
       "X'0102030405060708')"},
      {"c_varbinary",
       "c_varbinary = CONCAT(IF(LEFT(c_varbinary, 1) = X'AB', X'CD', X'AB'), "
       "SUBSTRING(c_varbinary, 2))"},
      {"c_blob",
       "c_blob = CONCAT(IF(LEFT(c_blob, 1) = X'FF', X'FE', X'FF'), "
       "SUBSTRING(c_blob, 2))"},  // one byte changed
      {"c_date", "c_date = c_date + INTERVAL 1 DAY"},
      {"c_time", "c_time = c_time + INTERVAL 1 MICROSECOND"},
      {"c_datetime", "c_datetime = c_datetime + INTERVAL 1 MICROSECOND"},
      {"c_timestamp", "c_timestamp = c_timestamp + INTERVAL 1 MICROSECOND"},
      {"c_year", "c_year = IF(c_year = 2000, 2001, 2000)"},
      {"c_json", "c_json = JSON_OBJECT('changed', 1)"},
      {"c_enum", "c_enum = IF(c_enum = 'small', 'large', 'small')"},
      {"c_set", "c_set = IF(c_set = 'red', 'blue', 'red')"},
      {"c_bit", "c_bit = c_bit ^ 1"},
  };
  std::multiset<std::string> expected;
  int id = 20;
  for (const auto& [column, assignment] : changes) {
    // The next row after `id` with a value in the column that the change really changes.
    auto found = servers->QueryMySql(
        Side::kTarget, "SELECT id FROM " + db.name() + ".all_types WHERE id > " +
                           std::to_string(id) + " AND " + column + " IS NOT NULL AND LENGTH(" +
                           column + ") > 0 ORDER BY id LIMIT 1");
    ASSERT_EQ(found.size(), 1u) << column;
    id = std::stoi(*found[0][0]);
    servers->ExecuteMySql(Side::kTarget, "UPDATE " + db.name() + ".all_types SET " + assignment +
                                             " WHERE id = " + std::to_string(id));
    expected.insert("changed " + std::to_string(id) + " " + column);
  }
  // NULL vs empty string: row 4 is NULL in every nullable column.
  servers->ExecuteMySql(Side::kTarget,
                        "UPDATE " + db.name() + ".all_types SET c_text = '' WHERE id = 4");
  expected.insert("changed 4 c_text");
  servers->ExecuteMySql(Side::kTarget, "DELETE FROM " + db.name() + ".all_types WHERE id = 7");
  expected.insert("missing 7");
  servers->ExecuteMySql(Side::kTarget,
                        "INSERT INTO " + db.name() + ".all_types (id) VALUES (100000)");
  expected.insert("extra 100000");

  VerifyOptions options;
  options.chunk_rows = 64;
  options.leaf_rows = 8;  // forces bisection inside chunks
  VerifyReport report = MustVerify(servers->mysql_source_uri(db.name()),
                                   servers->mysql_target_uri(db.name()), options);
  EXPECT_FALSE(report.Consistent());
  EXPECT_EQ(Describe(Find(report, "all_types")), expected);
  EXPECT_TRUE(Find(report, "customers").differences.empty());
  EXPECT_TRUE(Find(report, "order_lines").differences.empty());
  EXPECT_TRUE(Find(report, "events_log").differences.empty());
}

TEST(Verifier, MultisetKeepsDuplicatesApart) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlDatabaseScope db(*servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecuteMySql(side, "CREATE DATABASE " + db.name() + "; CREATE TABLE " + db.name() +
                                    ".log (a INT, b VARCHAR(10)); INSERT INTO " + db.name() +
                                    ".log VALUES (1, 'x'), (1, 'x'), (2, NULL), (3, 'y')");
  }
  // Target: one of the two duplicates gone, and a row that is in neither twice.
  servers->ExecuteMySql(Side::kTarget, "DELETE FROM " + db.name() +
                                           ".log WHERE a = 1 LIMIT 1; "
                                           "INSERT INTO " +
                                           db.name() + ".log VALUES (3, 'y')");
  VerifyReport report =
      MustVerify(servers->mysql_source_uri(db.name()), servers->mysql_target_uri(db.name()));
  const TableReport& table = Find(report, "log");
  EXPECT_EQ(Describe(table), (std::multiset<std::string>{"missing 1 x", "extra 3 y"}));
  EXPECT_EQ(table.source_rows, 4);
  EXPECT_EQ(table.target_rows, 4);
  EXPECT_FALSE(table.warnings.empty());
}

class PostgresSchemaScope {
 public:
  explicit PostgresSchemaScope(const SharedServers& servers)
      : servers_(servers), name_(UniqueName("verify")) {}
  ~PostgresSchemaScope() {
    for (Side side : {Side::kSource, Side::kTarget}) {
      try {
        servers_.ExecutePostgres(side, "DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
      } catch (...) {
      }
    }
  }
  const std::string& name() const { return name_; }

 private:
  const SharedServers& servers_;
  std::string name_;
};

TEST(Verifier, PostgresSampleDataIsConsistent) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  PostgresSchemaScope schema(*servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    testing::LoadPostgresSampleData(servers->postgres_uri(side),
                                    {.rows = 300, .schema = schema.name()});
  }
  VerifyOptions options;
  options.chunk_rows = 71;
  for (const std::string& table : testing::kSampleTables) {
    options.tables.push_back({schema.name(), table});
  }
  VerifyReport report =
      MustVerify(servers->postgres_source_uri(), servers->postgres_target_uri(), options);
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  EXPECT_EQ(Find(report, "all_types").source_rows, 300);
}

TEST(Verifier, PostgresNegativeZeroTimestampsAndBytesAreDifferences) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  PostgresSchemaScope schema(*servers);
  const std::string t = schema.name() + ".t";
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecutePostgres(
        side, "CREATE SCHEMA " + schema.name() + "; CREATE TABLE " + t +
                  " (id int PRIMARY KEY, d float8, ts timestamptz(6), b bytea, s text, "
                  "n numeric(10,3), j jsonb); INSERT INTO " +
                  t +
                  " SELECT g, 0.0, '2024-01-01 00:00:00.000001+00', '\\x00ff00', 'abc', 1.5, "
                  "'{\"a\": [1, 2]}' FROM generate_series(1, 200) g");
  }
  servers->ExecutePostgres(Side::kTarget,
                           "UPDATE " + t +
                               " SET d = '-0'::float8 WHERE id = 10; "
                               "UPDATE " +
                               t +
                               " SET ts = ts + interval '1 microsecond' WHERE id = 20; "
                               "UPDATE " +
                               t +
                               " SET b = '\\x00fe00' WHERE id = 30; "
                               "UPDATE " +
                               t +
                               " SET s = 'abc ' WHERE id = 40; "
                               "UPDATE " +
                               t +
                               " SET s = NULL WHERE id = 50; "
                               "UPDATE " +
                               t +
                               " SET n = 1.501 WHERE id = 60; "
                               "UPDATE " +
                               t +
                               " SET j = '{\"a\": [2, 1]}' WHERE id = 70; "
                               "UPDATE " +
                               t + " SET n = 1.500 WHERE id = 80");  // equal: 1.5
  VerifyOptions options;
  options.tables = {{schema.name(), "t"}};
  options.chunk_rows = 50;
  VerifyReport report =
      MustVerify(servers->postgres_source_uri(), servers->postgres_target_uri(), options);
  EXPECT_EQ(
      Describe(Find(report, "t")),
      (std::multiset<std::string>{"changed 10 d", "changed 20 ts", "changed 30 b", "changed 40 s",
                                  "changed 50 s", "changed 60 n", "changed 70 j"}));
}

TEST(Verifier, MySqlToPostgresCommonTypes) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlDatabaseScope db(*servers);
  const std::string name = db.name();
  PostgresSchemaScope cleanup(*servers);  // only for its own name; the schema below is `name`
  servers->ExecuteMySql(Side::kSource,
                        "CREATE DATABASE " + name + "; CREATE TABLE " + name +
                            ".items (id BIGINT PRIMARY KEY, code VARCHAR(20) NOT NULL, "
                            "amount DECIMAL(12,3), ratio DOUBLE, note TEXT, raw VARBINARY(16), "
                            "day DATE, at DATETIME(6), stamp TIMESTAMP(6) NULL, "
                            "dur TIME(6), flag BOOLEAN, doc JSON) ENGINE=InnoDB");
  servers->ExecutePostgres(Side::kTarget,
                           "CREATE SCHEMA " + name + "; CREATE TABLE " + name +
                               ".items (id bigint PRIMARY KEY, code varchar(20) NOT NULL, "
                               "amount numeric(12,3), ratio double precision, note text, "
                               "raw bytea, day date, at timestamp(6), stamp timestamptz(6), "
                               "dur time(6), flag boolean, doc jsonb)");
  std::string mysql_rows;
  std::string postgres_rows;
  for (int i = 1; i <= 150; ++i) {
    const std::string n = std::to_string(i);
    const std::string note = i % 7 == 0   ? "NULL"
                             : i % 5 == 0 ? "''"
                                          : "'n\xC3\xBC\xF0\x9F\x98\x80 " + n + "'";
    mysql_rows += std::string(i == 1 ? "" : ",") + "(" + n + ", 'c" + n + "', " + n + ".250, " + n +
                  ".5, " + note + ", X'00" + (i % 2 ? "ff" : "01") + "', '2024-02-29', " +
                  "'2024-02-29 13:45:00." + std::to_string(100000 + i) + "', " +
                  "'2024-03-01 00:00:00.000001', '01:02:03.5', " + (i % 2 ? "TRUE" : "FALSE") +
                  ", '{\"k\": " + n + ", \"a\": [1, \"x\"]}')";
    postgres_rows += std::string(i == 1 ? "" : ",") + "(" + n + ", 'c" + n + "', " + n + ".25, " +
                     n + ".5, " + note + ", '\\x00" + (i % 2 ? "ff" : "01") +
                     "', '2024-02-29', '2024-02-29 13:45:00." + std::to_string(100000 + i) +
                     "', '2024-03-01 00:00:00.000001+00', '01:02:03.5', " +
                     (i % 2 ? "true" : "false") + ", '{\"a\": [1, \"x\"], \"k\": " + n + "}')";
  }
  servers->ExecuteMySql(Side::kSource, "INSERT INTO " + name + ".items VALUES " + mysql_rows);
  servers->ExecutePostgres(Side::kTarget, "INSERT INTO " + name + ".items VALUES " + postgres_rows);
  std::ignore = cleanup;

  VerifyOptions options;
  options.tables = {{name, "items"}};
  options.chunk_rows = 40;
  VerifyReport report =
      MustVerify(servers->mysql_source_uri(name), servers->postgres_target_uri(), options);
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  EXPECT_EQ(Find(report, "items").source_rows, 150);

  servers->ExecutePostgres(Side::kTarget, "UPDATE " + name +
                                              ".items SET at = at + interval '1 microsecond' "
                                              "WHERE id = 33; DELETE FROM " +
                                              name + ".items WHERE id = 150");
  report = MustVerify(servers->mysql_source_uri(name), servers->postgres_target_uri(), options);
  EXPECT_EQ(Describe(Find(report, "items")),
            (std::multiset<std::string>{"changed 33 at", "missing 150"}));
  servers->ExecutePostgres(Side::kTarget, "DROP SCHEMA " + name + " CASCADE");
}

TEST(Verifier, StoppedRunResumesWithoutRecheckingFinishedChunks) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlDatabaseScope db(*servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecuteMySql(side, "CREATE DATABASE " + db.name() + "; CREATE TABLE " + db.name() +
                                    ".t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO " +
                                    db.name() + ".t SELECT seq, seq FROM " + db.name() +
                                    ".seq_1_to_1000");
  }
  servers->ExecuteMySql(Side::kTarget, "UPDATE " + db.name() + ".t SET v = 0 WHERE id IN (5, 995)");
  testing::TempDir dir;
  VerifyOptions options;
  options.threads = 1;
  options.chunk_rows = 100;
  options.state_path = dir.path() + "/state.json";
  std::atomic<int> chunks{0};
  options.on_progress = [&](const VerifyProgress&) { ++chunks; };
  options.stop_requested = [&] { return chunks.load() >= 3; };
  auto stopped = Verify(Config(servers->mysql_source_uri(db.name())),
                        Config(servers->mysql_target_uri(db.name())), Open, options);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), engine::StatusCode::kCancelled);

  chunks = 0;
  options.stop_requested = nullptr;
  VerifyReport report = MustVerify(servers->mysql_source_uri(db.name()),
                                   servers->mysql_target_uri(db.name()), options);
  const TableReport& table = Find(report, "t");
  EXPECT_EQ(table.resumed_chunks, 3);
  EXPECT_EQ(chunks.load(), 8);  // only the rest was compared (the 11th is the open end)
  EXPECT_EQ(table.chunks, 11);
  EXPECT_EQ(table.source_rows, 1000);
  EXPECT_EQ(Describe(table), (std::multiset<std::string>{"changed 5 v", "changed 995 v"}));

  // A finished state answers again without comparing anything.
  chunks = 0;
  report = MustVerify(servers->mysql_source_uri(db.name()), servers->mysql_target_uri(db.name()),
                      options);
  EXPECT_EQ(chunks.load(), 0);
  EXPECT_EQ(Describe(Find(report, "t")),
            (std::multiset<std::string>{"changed 5 v", "changed 995 v"}));
}

// A native replica under a continuous write load: verify must not report rows in flight, and must
// report a row corrupted on the replica.
TEST(Verifier, NativeReplicaUnderWriteLoad) {
  testing::TempDir dir;
  auto source = testing::MariaDbServer::Start(dir.path());
  auto replica = testing::MariaDbServer::Start(dir.path());
  replica->StartReplicaOf(*source);
  source->Execute(
      "CREATE DATABASE live; CREATE TABLE live.t (id INT PRIMARY KEY, v BIGINT, s VARCHAR(40)) "
      "ENGINE=InnoDB; INSERT INTO live.t SELECT seq, seq, CONCAT('row ', seq) FROM "
      "live.seq_1_to_20000");
  replica->WaitForReplicaCatchUp(*source);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  std::thread load([&] {
    auto client = source->ConnectAdmin();
    int64_t i = 0;
    while (!stop.load()) {
      ++i;
      const int64_t id = 101 + (i * 7919) % 19800;  // never rows 1-100
      client.Execute("UPDATE live.t SET v = v + 1, s = CONCAT('upd ', " + std::to_string(i) +
                     ") WHERE id = " + std::to_string(id) + "; INSERT INTO live.t VALUES (" +
                     std::to_string(100000 + i) + ", 0, 'new') ; DELETE FROM live.t WHERE id = " +
                     std::to_string(100000 + i - 5));
      ++writes;
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // ~1-2k writes/s
    }
  });
  VerifyOptions options;
  options.chunk_rows = 500;
  options.tables = {{"live", "t"}};
  options.max_lag_ms = 5000;
  VerifyReport clean = MustVerify(source->Uri("live"), replica->Uri("live"), options);
  EXPECT_TRUE(clean.Consistent()) << clean.ToText();

  // Not binlogged on the replica: a silent corruption, replication keeps running.
  replica->Execute("SET SESSION sql_log_bin = 0; UPDATE live.t SET s = 'corrupted' WHERE id = 42");
  VerifyReport corrupted = MustVerify(source->Uri("live"), replica->Uri("live"), options);
  stop = true;
  load.join();
  EXPECT_GT(writes.load(), 20);
  EXPECT_EQ(Describe(Find(corrupted, "t")), (std::multiset<std::string>{"changed 42 s"}))
      << corrupted.ToText();
}

// Server-side digests (pushdown, the default between engines of one kind) must not cancel equal
// errors in pairs of rows, as an XOR of CRC32s does, and must see a FLOAT change below the six
// digits MariaDB prints by default; equal rows stay on the server path.
TEST(Verifier, MySqlServerDigestsFindSwappedValuesAndFloatBits) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlDatabaseScope scope(*servers);
  const std::string db = scope.name();
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecuteMySql(side, "CREATE DATABASE " + db + "; CREATE TABLE " + db +
                                    ".t (id INT PRIMARY KEY, s VARCHAR(20), f FLOAT, "
                                    "d DECIMAL(10,2)); INSERT INTO " +
                                    db + ".t SELECT seq, CONCAT('v', seq), seq / 3, seq / 7 FROM " +
                                    db + ".seq_1_to_3000");
  }
  VerifyOptions options;
  options.chunk_rows = 1000;
  options.hashing = Hashing::kServer;
  VerifyReport equal =
      MustVerify(servers->mysql_source_uri(db), servers->mysql_target_uri(db), options);
  EXPECT_TRUE(equal.Consistent()) << equal.ToText();
  EXPECT_EQ(Find(equal, "t").hashing, "server");

  // Rows 10 and 20 swap their text: each row's CRC changes by the same XOR pattern, which an
  // XOR aggregate cancels. Row 2500's float changes in its last bit.
  servers->ExecuteMySql(Side::kTarget, "UPDATE " + db +
                                           ".t SET s = IF(id = 10, 'v20', 'v10') WHERE id IN (10, "
                                           "20); UPDATE " +
                                           db + ".t SET f = f * (1 + 1.2e-7) WHERE id = 2500");
  VerifyReport swapped =
      MustVerify(servers->mysql_source_uri(db), servers->mysql_target_uri(db), options);
  EXPECT_EQ(Describe(Find(swapped, "t")),
            (std::multiset<std::string>{"changed 10 s", "changed 20 s", "changed 2500 f"}))
      << swapped.ToText();
}

// The same on PostgreSQL, whose server digest hashes each row's text with hashtextextended.
TEST(Verifier, PostgresServerDigestsFindSwappedValues) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  const std::string schema = UniqueName("pushdown");
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecutePostgres(side, "CREATE SCHEMA " + schema + "; CREATE TABLE " + schema +
                                       ".t (id int PRIMARY KEY, s text, f real); INSERT INTO " +
                                       schema +
                                       ".t SELECT g, 'v' || g, g / 3.0 FROM "
                                       "generate_series(1, 3000) g");
  }
  VerifyOptions options;
  options.chunk_rows = 1000;
  options.hashing = Hashing::kServer;
  const std::string source = servers->postgres_source_uri();
  const std::string target = servers->postgres_target_uri();
  options.tables = {{schema, "t"}};
  VerifyReport equal = MustVerify(source, target, options);
  EXPECT_TRUE(equal.Consistent()) << equal.ToText();
  EXPECT_EQ(Find(equal, "t").hashing, "server");
  servers->ExecutePostgres(Side::kTarget,
                           "UPDATE " + schema +
                               ".t SET s = CASE id WHEN 10 THEN 'v20' ELSE 'v10' END WHERE id IN "
                               "(10, 20); UPDATE " +
                               schema + ".t SET f = f * (1 + 1.2e-7) WHERE id = 2500");
  VerifyReport swapped = MustVerify(source, target, options);
  EXPECT_EQ(Describe(Find(swapped, "t")),
            (std::multiset<std::string>{"changed 10 s", "changed 20 s", "changed 2500 f"}))
      << swapped.ToText();
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecutePostgres(side, "DROP SCHEMA " + schema + " CASCADE");
  }
}

// A PostgreSQL physical standby under a continuous write load (the harness runs with
// synchronous_commit off, so WAL of committed rows can lie beyond the flushed position): no row in
// flight is reported, with server digests and with client hashing.
TEST(Verifier, PostgresStandbyUnderWriteLoad) {
  testing::TempDir dir;
  auto primary = testing::PostgresServer::Start(dir.path(), {.wal_level = "replica"});
  auto standby = testing::PostgresServer::StartStandbyOf(*primary, dir.path());
  primary->Execute(
      "CREATE TABLE t (id int PRIMARY KEY, v bigint, s text); "
      "INSERT INTO t SELECT g, g, 'row ' || g FROM generate_series(1, 20000) g");
  standby->WaitForStandbyCatchUp(*primary);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  std::thread load([&] {
    auto client = primary->ConnectAdmin();
    int64_t i = 0;
    while (!stop.load()) {
      ++i;
      const int64_t id = 101 + (i * 7919) % 19800;
      client.Execute("UPDATE t SET v = v + 1, s = 'upd ' || " + std::to_string(i) + " WHERE id = " +
                     std::to_string(id) + "; INSERT INTO t VALUES (" + std::to_string(100000 + i) +
                     ", 0, 'new'); DELETE FROM t WHERE id = " + std::to_string(100000 + i - 5));
      ++writes;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  VerifyOptions options;
  options.chunk_rows = 500;
  options.tables = {{"public", "t"}};
  options.max_lag_ms = 5000;
  for (Hashing hashing : {Hashing::kAuto, Hashing::kClient}) {
    options.hashing = hashing;
    VerifyReport report = MustVerify(primary->Uri(), standby->Uri(), options);
    EXPECT_TRUE(report.Consistent()) << report.ToText();
  }
  stop = true;
  load.join();
  EXPECT_GT(writes.load(), 20);
}

// --max-lag: while the replica trails more than the bound, verify pauses before every chunk, and
// when that lasts past the throttle timeout the table is a skipped range naming the lag (never a
// verdict).
TEST(Verifier, PausesWhileTheReplicaLagsAndGivesUpAfterTheThrottleTimeout) {
  testing::TempDir dir;
  auto source = testing::MariaDbServer::Start(dir.path());
  auto replica = testing::MariaDbServer::Start(dir.path());
  replica->StartReplicaOf(*source);
  CreateNumberTable(*source, 1000);
  replica->WaitForReplicaCatchUp(*source);
  replica->Execute("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 60; START SLAVE");
  source->Execute("UPDATE d.t SET v = v + 1 WHERE id = 1");
  // Seconds_Behind_Master grows one second a second while the delayed event waits.
  auto probe = connectors::mysql::OpenMySqlDatabase(Config(replica->Uri("d")));
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int64_t lag_ms = 0;
  // Right after START SLAVE the I/O thread may still be connecting (Seconds_Behind_Master is
  // NULL and the probe says replication is not running); that settles within the deadline.
  std::string last_error;
  while (lag_ms <= 1000 && std::chrono::steady_clock::now() < deadline) {
    auto lag = (*probe)->verification()->ReplicaLagMillis();
    if (lag.ok()) {
      lag_ms = lag->value_or(0);
    } else {
      last_error = lag.status().ToString();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(lag_ms, 1000) << last_error;
  VerifyOptions options;
  options.tables = {{"d", "t"}};
  options.max_lag_ms = 1000;
  options.throttle_timeout = std::chrono::milliseconds(1500);
  const auto start = std::chrono::steady_clock::now();
  VerifyReport report = MustVerify(source->Uri("d"), replica->Uri("d"), options);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(report.Consistent());
  const TableReport& table = Find(report, "t");
  ASSERT_EQ(table.skipped.size(), 1u) << report.ToText();
  EXPECT_NE(table.skipped[0].reason.find("replica lag"), std::string::npos)
      << table.skipped[0].reason;
  EXPECT_EQ(table.chunks, 0);
  EXPECT_GE(elapsed, 1.4);
}

// A busy source (more statements running than --max-threads-running) pauses verify until the
// load is gone; then it finishes with a full answer.
TEST(Verifier, PausesWhileTheSourceIsBusy) {
  testing::TempDir dir;
  auto source = testing::MariaDbServer::Start(dir.path());
  auto target = testing::MariaDbServer::Start(dir.path());
  for (auto* server : {source.get(), target.get()}) {
    CreateNumberTable(*server, 1000);
  }
  std::thread busy([&] { source->Execute("SELECT SLEEP(3)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the SLEEP is running
  VerifyOptions options;
  options.tables = {{"d", "t"}};
  options.threads = 1;
  options.max_threads_running = 1;  // the check's own statement is the one allowed
  const auto start = std::chrono::steady_clock::now();
  VerifyReport report = MustVerify(source->Uri("d"), target->Uri("d"), options);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  busy.join();
  EXPECT_TRUE(report.Consistent()) << report.ToText();
  EXPECT_GE(elapsed, 2.0);  // waited for most of the 3 s SLEEP
}

// The target goes away in the middle of a table: the rest of the table is a skipped range with
// the reason, the run ends (no hang), and the report cannot say consistent.
TEST(Verifier, ServerGoneMidRunIsASkippedRange) {
  testing::TempDir dir;
  auto source = testing::MariaDbServer::Start(dir.path());
  auto target = testing::MariaDbServer::Start(dir.path());
  for (auto* server : {source.get(), target.get()}) {
    CreateNumberTable(*server, 5000);
  }
  VerifyOptions options;
  options.threads = 1;
  options.chunk_rows = 100;
  int chunks = 0;
  options.on_progress = [&](const VerifyProgress&) {
    if (++chunks == 3) {
      target->Stop();
    }
  };
  auto report = Verify(Config(source->Uri("d")), Config(target->Uri("d")), Open, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->Consistent());
  const TableReport& table = Find(*report, "t");
  ASSERT_EQ(table.skipped.size(), 1u) << report->ToText();
  EXPECT_NE(table.skipped[0].range.find("(300"), std::string::npos) << table.skipped[0].range;
  EXPECT_NE(table.skipped[0].reason.find("target"), std::string::npos) << table.skipped[0].reason;
  EXPECT_EQ(table.chunks, 3);
}

}  // namespace
}  // namespace tandem::checksum
