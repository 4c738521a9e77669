// Tests of the sample data sets: every table / key type is there, special rows hold what the
// contract says, and two loads with the same options are identical. They use the shared fixture
// servers (in objects of their own) when TANDEM_TEST_SERVERS is set, private servers otherwise.

#include "tests/harness/sample_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include "tests/harness/files.h"
#include "tests/harness/shared_servers.h"

namespace tandem::testing {
namespace {

using ::testing::Optional;

constexpr int kRows = 600;

// Two MariaDB admin connections: the shared source and target, or two private servers.
class MySqlPair {
 public:
  MySqlPair() {
    if (SharedServers::GetOrNull() == nullptr) {
      dir_ = std::make_unique<TempDir>();
      servers_[0] = MariaDbServer::Start(dir_->path());
      servers_[1] = MariaDbServer::Start(dir_->path());
    }
  }
  MySqlClient Connect(int i) const {
    if (const SharedServers* shared = SharedServers::GetOrNull()) {
      return shared->ConnectMySqlAdmin(i == 0 ? Side::kSource : Side::kTarget);
    }
    return servers_[i]->ConnectAdmin();
  }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<MariaDbServer> servers_[2];
};

class PostgresPair {
 public:
  PostgresPair() {
    if (SharedServers::GetOrNull() == nullptr) {
      dir_ = std::make_unique<TempDir>();
      servers_[0] = PostgresServer::Start(dir_->path());
      servers_[1] = PostgresServer::Start(dir_->path());
    }
  }
  PostgresClient Connect(int i) const {
    if (const SharedServers* shared = SharedServers::GetOrNull()) {
      return shared->ConnectPostgresAdmin(i == 0 ? Side::kSource : Side::kTarget);
    }
    return servers_[i]->ConnectAdmin();
  }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<PostgresServer> servers_[2];
};

class RedisPair {
 public:
  RedisPair() {
    if (SharedServers::GetOrNull() == nullptr) {
      dir_ = std::make_unique<TempDir>();
      servers_[0] = RedisServer::Start(dir_->path());
      servers_[1] = RedisServer::Start(dir_->path());
    }
  }
  RedisConnectOptions Options(int i) const {
    if (const SharedServers* shared = SharedServers::GetOrNull()) {
      const Side side = i == 0 ? Side::kSource : Side::kTarget;
      RedisConnectOptions options;
      options.port = shared->redis_port(side);
      options.password = shared->redis_password(side);
      return options;
    }
    return servers_[i]->ConnectOptions();
  }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<RedisServer> servers_[2];
};

// Drops a database / schema / key prefix when the test ends, pass or fail.
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> action) : action_(std::move(action)) {}
  ~Cleanup() {
    try {
      action_();
    } catch (const std::exception&) {
    }
  }

 private:
  std::function<void()> action_;
};

TEST(SampleData, MySqlLoadsIdenticalTablesOnBothSides) {
  MySqlPair pair;
  MySqlSampleDataOptions options;
  options.rows = kRows;
  options.database = UniqueName("sample");
  MySqlClient source = pair.Connect(0);
  MySqlClient target = pair.Connect(1);
  Cleanup drop([&] {
    source.Execute("DROP DATABASE IF EXISTS " + options.database);
    target.Execute("DROP DATABASE IF EXISTS " + options.database);
  });
  LoadMySqlSampleData(source, options);
  LoadMySqlSampleData(target, options);
  for (const std::string& table : kSampleTables) {
    SCOPED_TRACE(table);
    const std::string name = options.database + "." + table;
    EXPECT_THAT(source.QueryScalar("SELECT COUNT(*) FROM " + name),
                Optional(std::to_string(kRows)));
    ResultRows source_checksum = source.Query("CHECKSUM TABLE " + name);
    ResultRows target_checksum = target.Query("CHECKSUM TABLE " + name);
    EXPECT_EQ(source_checksum[0][1], target_checksum[0][1]);
  }
  const std::string all_types = options.database + ".all_types";
  // Row 2 holds the maximums, row 4 NULLs.
  EXPECT_THAT(source.QueryScalar("SELECT c_bigint_u FROM " + all_types + " WHERE id = 2"),
              Optional(std::string("18446744073709551615")));
  EXPECT_THAT(source.QueryScalar("SELECT CHAR_LENGTH(c_char) FROM " + all_types + " WHERE id = 2"),
              Optional(std::string("10")));
  EXPECT_THAT(source.QueryScalar("SELECT COUNT(*) FROM " + all_types +
                                 " WHERE id = 4 AND c_json IS NULL AND c_bit IS NULL"),
              Optional(std::string("1")));
  // 4-byte characters survive, NULs in binary columns too.
  EXPECT_THAT(source.QueryScalar("SELECT COUNT(*) > 0 FROM " + all_types +
                                 " WHERE c_varchar LIKE '%😀%' OR c_varchar LIKE '%🚀%'"),
              Optional(std::string("1")));
  EXPECT_THAT(source.QueryScalar("SELECT COUNT(*) > 0 FROM " + all_types +
                                 " WHERE LOCATE(X'00', c_varbinary) > 0"),
              Optional(std::string("1")));
  // events_log has exact duplicate rows and no key.
  EXPECT_THAT(
      source.QueryScalar(
          "SELECT COUNT(*) > 0 FROM (SELECT COUNT(*) AS n FROM " + options.database +
          ".events_log GROUP BY happened_at, level, source, message, payload HAVING n > 1) d"),
      Optional(std::string("1")));
  EXPECT_THAT(source.QueryScalar("SELECT COUNT(*) FROM information_schema.statistics WHERE "
                                 "table_schema = '" +
                                 options.database + "' AND table_name = 'events_log'"),
              Optional(std::string("0")));
}

TEST(SampleData, MySqlLoadsTenThousandRowsQuickly) {
  MySqlPair pair;
  MySqlSampleDataOptions options;
  options.rows = 10000;
  options.database = UniqueName("sample_big");
  MySqlClient client = pair.Connect(0);
  Cleanup drop([&] { client.Execute("DROP DATABASE IF EXISTS " + options.database); });
  const auto started = std::chrono::steady_clock::now();
  LoadMySqlSampleData(client, options);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_THAT(client.QueryScalar("SELECT COUNT(*) FROM " + options.database + ".all_types"),
              Optional(std::string("10000")));
  // Generous bound for a loaded CI machine; typically a few seconds for all four tables.
  EXPECT_LT(elapsed, std::chrono::seconds(60));
  RecordProperty(
      "load_ms",
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST(SampleData, PostgresLoadsIdenticalTablesOnBothSides) {
  PostgresPair pair;
  PostgresSampleDataOptions options;
  options.rows = kRows;
  options.schema = UniqueName("sample");
  PostgresClient source = pair.Connect(0);
  PostgresClient target = pair.Connect(1);
  Cleanup drop([&] {
    source.Execute("DROP SCHEMA IF EXISTS " + options.schema + " CASCADE");
    target.Execute("DROP SCHEMA IF EXISTS " + options.schema + " CASCADE");
  });
  LoadPostgresSampleData(source, options);
  LoadPostgresSampleData(target, options);
  const std::map<std::string, std::string> order_by = {{"all_types", "id"},
                                                       {"order_lines", "order_id, line_no"},
                                                       {"customers", "email"},
                                                       {"events_log", "t::text"}};
  for (const std::string& table : kSampleTables) {
    SCOPED_TRACE(table);
    const std::string name = options.schema + "." + table;
    EXPECT_THAT(source.QueryScalar("SELECT count(*) FROM " + name),
                Optional(std::to_string(kRows)));
    const std::string digest = "SELECT md5(string_agg(t::text, E'\\n' ORDER BY " +
                               order_by.at(table) + ")) FROM " + name + " t";
    EXPECT_EQ(source.QueryScalar(digest), target.QueryScalar(digest));
  }
  const std::string all_types = options.schema + ".all_types";
  EXPECT_THAT(source.QueryScalar("SELECT c_real::text || ' ' || c_double::text FROM " + all_types +
                                 " WHERE id = 5"),
              Optional(std::string("NaN Infinity")));
  EXPECT_THAT(source.QueryScalar("SELECT c_time::text FROM " + all_types + " WHERE id = 2"),
              Optional(std::string("24:00:00")));
  // Large values really are stored out of line in the TOAST table.
  EXPECT_THAT(source.QueryScalar("SELECT count(*) > 0 FROM " + all_types +
                                 " WHERE pg_column_size(c_large_text) > 4000"),
              Optional(std::string("t")));
  const std::string toast =
      source
          .QueryScalar("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = '" +
                       all_types + "'::regclass")
          .value();
  EXPECT_THAT(source.QueryScalar("SELECT count(*) > 0 FROM " + toast), Optional(std::string("t")));
  // The serial sequence continues after the loaded ids.
  EXPECT_THAT(
      source.QueryScalar("SELECT nextval(pg_get_serial_sequence('" + all_types + "', 'id'))"),
      Optional(std::to_string(kRows + 1)));
}

// The value of `key` as a sorted or ordered list of strings.
std::vector<std::string> ReadValue(RedisClient& client, const std::string& type,
                                   const std::string& key) {
  auto flatten = [](const RedisValue& reply) {
    std::vector<std::string> out;
    for (const RedisValue& element : reply.elements) {
      out.push_back(element.ToString());
    }
    return out;
  };
  if (type == "string") {
    return {client.Command({"GET", key})};
  }
  if (type == "list") {
    return flatten(client.CommandValue({"LRANGE", key, "0", "-1"}));
  }
  if (type == "zset") {
    return flatten(client.CommandValue({"ZRANGE", key, "0", "-1", "WITHSCORES"}));
  }
  if (type == "stream") {
    return {client.Command({"XRANGE", key, "-", "+"})};
  }
  std::vector<std::string> out;
  if (type == "set") {
    out = flatten(client.CommandValue({"SMEMBERS", key}));
  } else if (type == "hash") {
    std::vector<std::string> flat = flatten(client.CommandValue({"HGETALL", key}));
    for (size_t i = 0; i + 1 < flat.size(); i += 2) {
      out.push_back(flat[i] + "=" + flat[i + 1]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SampleData, RedisLoadsIdenticalKeysOnBothSides) {
  RedisPair pair;
  RedisSampleDataOptions options;
  options.rows = kRows;
  options.key_prefix = UniqueName("sample") + ":";
  options.expire_at_unix_ms = DefaultSampleExpiryUnixMs();
  Cleanup drop([&] {
    for (int side = 0; side < 2; ++side) {
      for (int db : options.databases) {
        RedisConnectOptions connect = pair.Options(side);
        connect.database = db;
        RedisClient client = RedisClient::Connect(connect);
        std::string cursor = "0";
        do {
          RedisValue reply = client.CommandValue(
              {"SCAN", cursor, "MATCH", options.key_prefix + "*", "COUNT", "1000"});
          cursor = reply.elements[0].text;
          for (const RedisValue& key : reply.elements[1].elements) {
            client.Command({"DEL", key.text});
          }
        } while (cursor != "0");
      }
    }
  });
  LoadRedisSampleData(pair.Options(0), options);
  LoadRedisSampleData(pair.Options(1), options);
  for (int db : options.databases) {
    SCOPED_TRACE("db " + std::to_string(db));
    RedisConnectOptions source_options = pair.Options(0);
    RedisConnectOptions target_options = pair.Options(1);
    source_options.database = db;
    target_options.database = db;
    RedisClient source = RedisClient::Connect(source_options);
    RedisClient target = RedisClient::Connect(target_options);
    std::map<std::string, int> types;
    int keys = 0;
    int with_ttl = 0;
    std::string cursor = "0";
    do {
      RedisValue reply =
          source.CommandValue({"SCAN", cursor, "MATCH", options.key_prefix + "*", "COUNT", "1000"});
      cursor = reply.elements[0].text;
      for (const RedisValue& key_value : reply.elements[1].elements) {
        const std::string& key = key_value.text;
        ++keys;
        const std::string type = source.Command({"TYPE", key});
        ++types[type];
        EXPECT_EQ(type, target.Command({"TYPE", key})) << key;
        const std::string expire = source.Command({"PEXPIRETIME", key});
        EXPECT_EQ(expire, target.Command({"PEXPIRETIME", key})) << key;
        with_ttl += expire != "-1" ? 1 : 0;
        // DUMP is no canonical form (hash tables serialise in a per-process random order, and
        // streams carry delivery times), so compare what a client reads, sorted where unordered.
        EXPECT_EQ(ReadValue(source, type, key), ReadValue(target, type, key)) << key;
      }
    } while (cursor != "0");
    EXPECT_EQ(keys, kRows);
    for (const char* type : {"string", "hash", "list", "set", "zset", "stream"}) {
      EXPECT_GT(types[type], 0) << type;
    }
    EXPECT_GT(with_ttl, 0);
    EXPECT_LT(with_ttl, keys);
  }
  RedisConnectOptions source_options = pair.Options(0);
  RedisClient source = RedisClient::Connect(source_options);
  EXPECT_EQ(source.Command({"OBJECT", "ENCODING", options.key_prefix + "intset:15"}), "intset");
  EXPECT_EQ(source.Command({"OBJECT", "ENCODING", options.key_prefix + "intset:5"}), "hashtable");
  EXPECT_EQ(source.Command({"OBJECT", "ENCODING", options.key_prefix + "hash:3"}), "hashtable");
  EXPECT_EQ(source.Command({"XINFO", "GROUPS", options.key_prefix + "stream:8"}).find("cg") !=
                std::string::npos,
            true);
}

}  // namespace
}  // namespace tandem::testing
