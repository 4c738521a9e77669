// RedisSnapshotLoader against private redis-servers: values taken from a real source (DUMP and
// PEXPIRETIME) load into a target equal, with the same absolute expiry; values in pieces write
// every type (sorted set scores exactly); command mode writes strings and refuses streams;
// expired keys are skipped; a target with too few databases, too little memory or an older RDB
// version fails with the fix; function libraries load; a stop request cancels. The load rate of
// small RESTOREs is measured and printed.
#include "connectors/redis/redis_snapshot_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/redis/rdb/crc64.h"
#include "connectors/redis/rdb/rdb_parser.h"
#include "connectors/redis/redis_connection.h"
#include "engine/connection_config.h"
#include "tests/connectors/redis/redis_every_encoding.h"
#include "tests/harness/files.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/subprocess.h"

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;
using tandem::testing::FetchRdb;
using tandem::testing::RedisClient;
using tandem::testing::RedisOptions;
using tandem::testing::RedisServer;
using tandem::testing::RedisValue;
using tandem::testing::TempDir;
using ::testing::HasSubstr;

using Mode = SnapshotLoaderOptions::Mode;

// A key as the parser would hand it over whole: its header and DUMP payload.
struct WholeValue {
  RdbKeyHeader header;
  std::string payload;
};

RdbValueKind KindOfType(const std::string& type) {
  if (type == "list") return RdbValueKind::kList;
  if (type == "set") return RdbValueKind::kSet;
  if (type == "zset") return RdbValueKind::kZset;
  if (type == "hash") return RdbValueKind::kHash;
  if (type == "stream") return RdbValueKind::kStream;
  return RdbValueKind::kString;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every key of `database` on `server`, sorted.
std::vector<std::string> Keys(RedisClient& client) {
  RedisValue keys = client.CommandValue({"KEYS", "*"});
  std::vector<std::string> out;
  for (const RedisValue& key : keys.elements) {
    out.push_back(key.text);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The keys of `database` on `source` as whole values (DUMP, PEXPIRETIME, TYPE).
std::vector<WholeValue> DumpDatabase(const RedisServer& source, int database) {
  RedisClient client = source.Connect(database);
  std::vector<WholeValue> values;
  for (const std::string& key : Keys(client)) {
    WholeValue value;
    value.header.database = database;
    value.header.key = key;
    value.header.kind = KindOfType(client.Command({"TYPE", key}));
    int64_t expire_at = client.CommandValue({"PEXPIRETIME", key}).integer;
    if (expire_at > 0) {
      value.header.expire_at_ms = expire_at;
    }
    value.payload = client.CommandValue({"DUMP", key}).text;
    value.header.rdb_type = static_cast<uint8_t>(value.payload.at(0));
    values.push_back(std::move(value));
  }
  return values;
}

// The logical content of `key`: its type and elements, in an order independent of the encoding
// (a hash-table set or hash DUMPs its elements in the order of its hash seed, which differs per
// server process).
std::string LogicalValue(RedisClient& client, const std::string& key) {
  std::string type = client.Command({"TYPE", key});
  std::vector<std::string> parts;
  auto flatten = [&](const RedisValue& reply) {
    for (const RedisValue& element : reply.elements) {
      parts.push_back(element.text);
    }
  };
  if (type == "set") {
    flatten(client.CommandValue({"SMEMBERS", key}));
    std::sort(parts.begin(), parts.end());
  } else if (type == "hash") {
    RedisValue all = client.CommandValue({"HGETALL", key});
    for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
      parts.push_back(all.elements[i].text + "=" + all.elements[i + 1].text);
    }
    std::sort(parts.begin(), parts.end());
  } else if (type == "zset") {
    flatten(client.CommandValue({"ZRANGE", key, "0", "-1", "WITHSCORES"}));
  } else if (type == "list") {
    flatten(client.CommandValue({"LRANGE", key, "0", "-1"}));
  } else if (type == "string") {
    parts.push_back(client.Command({"GET", key}));
  } else {
    parts.push_back(client.CommandValue({"DUMP", key}).text);
  }
  std::string out = type;
  for (const std::string& part : parts) {
    out += "\n" + std::to_string(part.size()) + ":" + part;
  }
  return out;
}

// Every key of `databases` is on both servers with the same DUMP (or, where the DUMP differs
// because element order depends on the server's hash seed or the target chose another encoding
// under its own limits, the same logical content) and the same PEXPIRETIME, and
// neither has other keys. `skip` (if set) names keys that must be absent from the target instead.
void ExpectSameKeys(const RedisServer& source, const RedisServer& target,
                    const std::vector<int>& databases,
                    const std::function<bool(int, const std::string&)>& skip = {}) {
  for (int database : databases) {
    RedisClient from = source.Connect(database);
    RedisClient to = target.Connect(database);
    std::vector<std::string> expected;
    for (const std::string& key : Keys(from)) {
      if (skip && skip(database, key)) {
        continue;
      }
      expected.push_back(key);
      std::string from_dump = from.CommandValue({"DUMP", key}).text;
      std::string to_dump = to.CommandValue({"DUMP", key}).text;
      if (from_dump != to_dump) {
        ASSERT_FALSE(to_dump.empty()) << "db " << database << " key " << key << " is missing";
        EXPECT_EQ(LogicalValue(from, key), LogicalValue(to, key))
            << "db " << database << " key " << key;
      }
      EXPECT_EQ(from.CommandValue({"PEXPIRETIME", key}).integer,
                to.CommandValue({"PEXPIRETIME", key}).integer)
          << "db " << database << " key " << key;
    }
    EXPECT_EQ(Keys(to), expected) << "db " << database;
  }
}

// A little of every type, with and without expiry, in databases 0 and 1.
void PopulateSmall(const RedisServer& server) {
  const std::string expire_at = std::to_string(NowMs() + 3600 * 1000);
  for (int database : {0, 1}) {
    RedisClient client = server.Connect(database);
    const std::string d = std::to_string(database);
    client.Pipeline({
        {"SET", "string:int:" + d, "12345"},
        {"SET", "string:embstr:" + d, "hello"},
        {"SET", "string:raw:" + d, std::string(5000, 'r') + "x"},
        {"SET", "string:binary:" + d, std::string("\0\xff\r\n", 4)},
        {"SET", "string:ttl:" + d, "expiring", "PXAT", expire_at},
        {"RPUSH", "list:" + d, "a", "b", "c", "d"},
        {"SADD", "set:int:" + d, "1", "2", "3"},
        {"SADD", "set:text:" + d, "x", "y"},
        {"ZADD", "zset:" + d, "-inf", "low", "0.1", "tenth", "1e-300", "tiny", "+inf", "high"},
        {"HSET", "hash:" + d, "f1", "v1", "f2", "v2"},
        {"PEXPIREAT", "hash:" + d, expire_at},
        {"XADD", "stream:" + d, "1-1", "field", "value"},
        {"XADD", "stream:" + d, "2-1", "field", "value2"},
        {"XGROUP", "CREATE", "stream:" + d, "group", "0"},
    });
  }
}

class RedisSnapshotLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-loader"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::unique_ptr<RedisServer> Start(RedisOptions options = {}) {
    return RedisServer::Start(dir_->path(), options);
  }

  static std::unique_ptr<Connection> Connect(const RedisServer& server, int database = 0) {
    auto config = engine::ParseConnectionUri(server.Uri(database), "--target", "");
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    if (!config.ok()) {
      return nullptr;
    }
    auto connection = Connection::Open(*config);
    EXPECT_TRUE(connection.ok()) << connection.status().ToString();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  // Hands `values` to a loader over a connection to `target` in file order (SELECTDB when the
  // database changes), then OnEnd. Returns the first error.
  static engine::Status Load(const RedisServer& target, const std::vector<WholeValue>& values,
                             SnapshotLoaderOptions options = {},
                             SnapshotLoadSummary* summary = nullptr) {
    std::unique_ptr<Connection> connection = Connect(target, 5);
    if (connection == nullptr) {
      return engine::Internal("no connection");
    }
    RedisSnapshotLoader loader(*connection, options);
    TANDEM_RETURN_IF_ERROR(loader.OnAux("redis-ver", "7.2.4"));
    int database = -1;
    for (const WholeValue& value : values) {
      if (value.header.database != database) {
        database = value.header.database;
        TANDEM_RETURN_IF_ERROR(loader.OnSelectDatabase(database));
      }
      TANDEM_RETURN_IF_ERROR(loader.OnValue(value.header, value.payload));
    }
    engine::Status status = loader.OnEnd();
    if (summary != nullptr) {
      *summary = loader.summary();
    }
    return status;
  }

  static TempDir* dir_;
};

TempDir* RedisSnapshotLoaderTest::dir_ = nullptr;

std::vector<WholeValue> DumpDatabases(const RedisServer& source, const std::vector<int>& dbs) {
  std::vector<WholeValue> values;
  for (int database : dbs) {
    for (WholeValue& value : DumpDatabase(source, database)) {
      values.push_back(std::move(value));
    }
  }
  return values;
}

TEST_F(RedisSnapshotLoaderTest, RestoreCopiesEveryTypeWithAbsoluteExpiry) {
  auto source = Start();
  auto target = Start();
  PopulateSmall(*source);
  std::vector<WholeValue> values = DumpDatabases(*source, {0, 1});
  ASSERT_EQ(values.size(), 22u);
  // A key the target already has under the same name is replaced.
  target->Command({"SET", "list:0", "a string before"}, 0);
  SnapshotLoadSummary summary;
  engine::Status status = Load(*target, values, {}, &summary);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(summary.keys, 22);
  EXPECT_EQ(summary.expired_skipped, 0);
  ExpectSameKeys(*source, *target, {0, 1});
  EXPECT_EQ(target->Command({"XINFO", "GROUPS", "stream:1"}, 1).substr(0, 10), "name\ngroup");
}

TEST_F(RedisSnapshotLoaderTest, ExpiryIsAbsoluteNotATtlComputedAtLoadTime) {
  auto source = Start();
  auto target = Start();
  const int64_t expire_at = NowMs() + 60 * 1000;
  source->Command({"SET", "k", "v", "PXAT", std::to_string(expire_at)}, 0);
  std::vector<WholeValue> values = DumpDatabase(*source, 0);
  // A slow transfer: the key arrives a second later; its expiry must not move by that second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(Load(*target, values).ok());
  EXPECT_EQ(target->CommandValue({"PEXPIRETIME", "k"}, 0).integer, expire_at);
  // Pieces, likewise.
  std::unique_ptr<Connection> connection = Connect(*target);
  RedisSnapshotLoader loader(*connection, {});
  RdbKeyHeader header{0, "pieces", expire_at, RdbValueKind::kSet, 2};
  RdbValuePiece piece{{"m"}, {}, true, true};
  ASSERT_TRUE(loader.OnValuePiece(header, piece).ok());
  ASSERT_TRUE(loader.OnEnd().ok());
  EXPECT_EQ(target->CommandValue({"PEXPIRETIME", "pieces"}, 0).integer, expire_at);
}

TEST_F(RedisSnapshotLoaderTest, PiecesWriteEveryTypeAndScoresExactly) {
  auto target = Start();
  target->Command({"SET", "list", "replaced"}, 1);  // the first piece replaces what is there
  target->Command({"SADD", "set", "stale"}, 1);
  target->Command({"RPUSH", "string", "was a list"}, 1);
  std::unique_ptr<Connection> connection = Connect(*target);
  SnapshotLoaderOptions options;
  options.command_elements = 2;  // split every piece into several commands
  RedisSnapshotLoader loader(*connection, options);
  const int64_t expire_at = NowMs() + 3600 * 1000;
  ASSERT_TRUE(loader.OnSelectDatabase(1).ok());

  RdbKeyHeader list{1, "list", std::nullopt, RdbValueKind::kList, 18};
  ASSERT_TRUE(loader.OnValuePiece(list, {{"a", "b", "c"}, {}, true, false}).ok());
  ASSERT_TRUE(loader.OnValuePiece(list, {{"d", std::string("\0e", 2)}, {}, false, true}).ok());

  RdbKeyHeader set{1, "set", expire_at, RdbValueKind::kSet, 20};
  ASSERT_TRUE(loader.OnValuePiece(set, {{"x", "y", "z"}, {}, true, true}).ok());

  const std::vector<double> scores = {-std::numeric_limits<double>::infinity(),
                                      std::numeric_limits<double>::infinity(),
                                      1e-300,
                                      0.1,
                                      1.0 / 3.0,
                                      -2.5e17,
                                      4.9e-324,
                                      1.7976931348623157e308,
                                      0};
  std::vector<std::string> members;
  for (size_t i = 0; i < scores.size(); ++i) {
    members.push_back("m" + std::to_string(i));
  }
  RdbKeyHeader zset{1, "zset", std::nullopt, RdbValueKind::kZset, 17};
  ASSERT_TRUE(loader.OnValuePiece(zset, {members, scores, true, true}).ok());

  RdbKeyHeader hash{1, "hash", expire_at, RdbValueKind::kHash, 16};
  ASSERT_TRUE(
      loader.OnValuePiece(hash, {{"f1", "v1", "f2", "v2", "f3", "v3"}, {}, true, false}).ok());
  ASSERT_TRUE(loader.OnValuePiece(hash, {{"f4", "v4"}, {}, false, true}).ok());

  // A string (the parser hands strings as one piece with max_value_bytes 0): SET replaces
  // whatever the target holds, of any type.
  RdbKeyHeader string{1, "string", expire_at, RdbValueKind::kString, 0};
  ASSERT_TRUE(loader.OnValuePiece(string, {{std::string("v\0v", 3)}, {}, true, true}).ok());
  ASSERT_TRUE(loader.OnEnd().ok());
  EXPECT_EQ(loader.summary().keys, 5);
  EXPECT_EQ(loader.summary().pieces, 5);
  EXPECT_EQ(target->Command({"GET", "string"}, 1), std::string("v\0v", 3));
  EXPECT_EQ(target->CommandValue({"PEXPIRETIME", "string"}, 1).integer, expire_at);

  EXPECT_EQ(target->Command({"LRANGE", "list", "0", "-1"}, 1), std::string("a\nb\nc\nd\n\0e", 10));
  EXPECT_EQ(target->CommandValue({"PEXPIRETIME", "list"}, 1).integer, -1);
  EXPECT_EQ(target->Command({"SORT", "set", "ALPHA"}, 1), "x\ny\nz");
  EXPECT_EQ(target->CommandValue({"PEXPIRETIME", "set"}, 1).integer, expire_at);
  EXPECT_EQ(target->Command({"HGETALL", "hash"}, 1), "f1\nv1\nf2\nv2\nf3\nv3\nf4\nv4");
  EXPECT_EQ(target->CommandValue({"PEXPIRETIME", "hash"}, 1).integer, expire_at);
  for (size_t i = 0; i < scores.size(); ++i) {
    std::string text = target->Command({"ZSCORE", "zset", members[i]}, 1);
    // Redis prints scores with %.17g (inf / -inf): parsed back they are the same double.
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), scores[i]) << members[i] << " " << text;
  }
  EXPECT_EQ(target->Command({"ZCARD", "zset"}, 1), std::to_string(scores.size()));
}

TEST_F(RedisSnapshotLoaderTest, CommandModeWritesStringsOfEveryEncoding) {
  auto source = Start();
  auto target = Start();
  const std::string expire_at = std::to_string(NowMs() + 3600 * 1000);
  RedisClient client = source->Connect(0);
  client.Pipeline({
      {"SET", "int8", "-7"},
      {"SET", "int16", "1000"},
      {"SET", "int32", "-2000000000"},
      {"SET", "int64-as-text", "12345678901234"},
      {"SET", "short", "hello"},
      {"SET", "empty", ""},
      {"SET", "binary", std::string("\0\x01\xff", 3), "PXAT", expire_at},
      {"SET", "lzf", std::string(100000, 'a') + "tail"},  // compressible: DUMP writes LZF
      {"SET", "long-text", std::string(300, 'q')},
  });
  std::vector<WholeValue> values = DumpDatabase(*source, 0);
  SnapshotLoaderOptions options;
  options.mode = Mode::kCommands;
  engine::Status status = Load(*target, values, options);
  ASSERT_TRUE(status.ok()) << status.ToString();
  for (const WholeValue& value : values) {
    EXPECT_EQ(target->Command({"GET", value.header.key}, 0),
              source->Command({"GET", value.header.key}, 0))
        << value.header.key;
    EXPECT_EQ(target->CommandValue({"PEXPIRETIME", value.header.key}, 0).integer,
              source->CommandValue({"PEXPIRETIME", value.header.key}, 0).integer)
        << value.header.key;
  }
}

TEST_F(RedisSnapshotLoaderTest, CommandModeRefusesAStream) {
  auto source = Start();
  auto target = Start();
  source->Command({"XADD", "events", "1-1", "f", "v"}, 2);
  std::vector<WholeValue> values = DumpDatabase(*source, 2);
  SnapshotLoaderOptions options;
  options.mode = Mode::kCommands;
  engine::Status status = Load(*target, values, options);
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("'events' (database 2) is a stream"));
}

TEST_F(RedisSnapshotLoaderTest, ExpiredKeysAreSkipped) {
  auto source = Start();
  auto target = Start();
  source->Command({"SET", "live", "v"}, 0);
  std::vector<WholeValue> values = DumpDatabase(*source, 0);
  WholeValue expired = values.at(0);
  expired.header.key = "expired";
  expired.header.expire_at_ms = NowMs() - 1000;
  values.push_back(expired);
  SnapshotLoadSummary summary;
  ASSERT_TRUE(Load(*target, values, {}, &summary).ok());
  EXPECT_EQ(summary.keys, 1);
  EXPECT_EQ(summary.expired_skipped, 1);
  EXPECT_EQ(target->Command({"EXISTS", "live"}, 0), "1");
  EXPECT_EQ(target->Command({"EXISTS", "expired"}, 0), "0");

  // In pieces: the whole key is skipped, every piece of it.
  std::unique_ptr<Connection> connection = Connect(*target);
  RedisSnapshotLoader loader(*connection, {});
  RdbKeyHeader header{0, "expired-list", NowMs() - 1, RdbValueKind::kList, 18};
  ASSERT_TRUE(loader.OnValuePiece(header, {{"a"}, {}, true, false}).ok());
  ASSERT_TRUE(loader.OnValuePiece(header, {{"b"}, {}, false, true}).ok());
  ASSERT_TRUE(loader.OnEnd().ok());
  EXPECT_EQ(loader.summary().expired_skipped, 1);
  EXPECT_EQ(loader.summary().keys, 0);
  EXPECT_EQ(target->Command({"EXISTS", "expired-list"}, 0), "0");
}

TEST_F(RedisSnapshotLoaderTest, DatabaseBeyondTheTargetsIsAFailedPrecondition) {
  RedisOptions options;
  options.extra_args = {"--databases", "4"};
  auto target = Start(options);
  std::unique_ptr<Connection> connection = Connect(*target, 0);
  RedisSnapshotLoader loader(*connection, {});
  ASSERT_TRUE(loader.OnSelectDatabase(3).ok());
  engine::Status status = loader.OnSelectDatabase(5);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_THAT(status.message(),
              HasSubstr("the target has fewer databases than the source (database 5): raise "
                        "`databases` in the target's redis.conf"));
  // Also when the database comes with a key's header.
  RedisSnapshotLoader by_header(*connection, {});
  RdbKeyHeader header{7, "k", std::nullopt, RdbValueKind::kSet, 2};
  engine::Status piece = by_header.OnValuePiece(header, {{"m"}, {}, true, true});
  EXPECT_EQ(piece.code(), StatusCode::kFailedPrecondition) << piece.ToString();
  EXPECT_THAT(piece.message(), HasSubstr("(database 7)"));
}

TEST_F(RedisSnapshotLoaderTest, OutOfMemoryNamesTheKeyAndMaxmemory) {
  auto source = Start();
  auto target = Start();
  source->Command({"SET", "big", std::string(1000, 'b')}, 0);
  std::vector<WholeValue> values = DumpDatabase(*source, 0);
  target->Command({"CONFIG", "SET", "maxmemory", "1"});
  engine::Status status = Load(*target, values);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("key 'big' (database 0)"));
  EXPECT_THAT(status.message(), HasSubstr("raise maxmemory"));
  EXPECT_EQ(status.message().find('\n'), std::string::npos);
}

TEST_F(RedisSnapshotLoaderTest, RefusedWriteNamesTheCommandAndKey) {
  auto target = Start();
  target->Command({"ACL", "SETUSER", "loader", "on", ">loader-pw", "~*", "+@all", "-rpush"});
  auto config = engine::ParseConnectionUri(
      "redis://loader:loader-pw@127.0.0.1:" + std::to_string(target->port()) + "/0", "--target",
      "");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto connection = Connection::Open(*config);
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  RedisSnapshotLoader loader(**connection, {});
  RdbKeyHeader header{0, "denied-list", std::nullopt, RdbValueKind::kList, 18};
  engine::Status status = loader.OnValuePiece(header, {{"a", "b"}, {}, true, true});
  if (status.ok()) {
    status = loader.OnEnd();
  }
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("key 'denied-list' (database 0)"));
  EXPECT_THAT(status.message(), HasSubstr("RPUSH"));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("loader-pw")));
}

TEST_F(RedisSnapshotLoaderTest, NewerRdbVersionNamesTheVersions) {
  auto source = Start();
  auto target = Start();
  source->Command({"SET", "k", "v"}, 0);
  std::vector<WholeValue> values = DumpDatabase(*source, 0);
  // Pretend the payload comes from a newer Redis: version 13, checksum recomputed.
  std::string& payload = values.at(0).payload;
  size_t at = payload.size() - 10;
  payload[at] = 13;
  payload[at + 1] = 0;
  uint64_t crc = RedisCrc64(0, payload.data(), payload.size() - 8);
  for (int i = 0; i < 8; ++i) {
    payload[payload.size() - 8 + static_cast<size_t>(i)] = static_cast<char>(crc >> (8 * i));
  }
  engine::Status status = Load(*target, values);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("cannot read this snapshot's RDB version 13"));
  EXPECT_THAT(status.message(), HasSubstr("written by Redis 7.2.4"));
  EXPECT_THAT(status.message(), HasSubstr("key 'k'"));
}

TEST_F(RedisSnapshotLoaderTest, FunctionLibraryLoads) {
  auto source = Start();
  auto target = Start();
  const std::string code =
      "#!lua name=tandemlib\n"
      "redis.register_function('tandem_echo', function(keys, args) return args[1] end)";
  source->Command({"FUNCTION", "LOAD", code});
  std::unique_ptr<Connection> connection = Connect(*target);
  RedisSnapshotLoader loader(*connection, {});
  ASSERT_TRUE(loader.OnFunctionLibrary(code).ok());
  ASSERT_TRUE(loader.OnFunctionLibrary(code).ok());  // REPLACE: loading again is fine
  ASSERT_TRUE(loader.OnEnd().ok());
  EXPECT_EQ(loader.summary().functions, 2);
  EXPECT_EQ(target->Command({"FCALL", "tandem_echo", "0", "hello"}), "hello");
  EXPECT_EQ(target->Command({"FUNCTION", "DUMP"}), source->Command({"FUNCTION", "DUMP"}));
}

TEST_F(RedisSnapshotLoaderTest, StopRequestCancels) {
  auto target = Start();
  std::unique_ptr<Connection> connection = Connect(*target);
  std::atomic<bool> stop{true};
  SnapshotLoaderOptions options;
  options.stop = &stop;
  RedisSnapshotLoader loader(*connection, options);
  RdbKeyHeader header{0, "k", std::nullopt, RdbValueKind::kSet, 2};
  EXPECT_EQ(loader.OnValuePiece(header, {{"m"}, {}, true, true}).code(), StatusCode::kCancelled);
  EXPECT_EQ(loader.OnValue(header, "x").code(), StatusCode::kCancelled);
}

TEST_F(RedisSnapshotLoaderTest, ManySmallKeysWithFewInFlightAndTheLoadRate) {
  auto source = Start();
  auto target = Start();
  source->Command({"SET", "template", "small-value-0123456789"}, 0);
  WholeValue value = DumpDatabase(*source, 0).at(0);
  const char* env = std::getenv("TANDEM_LOADER_BENCH_KEYS");
  const int keys = env != nullptr ? std::atoi(env) : 200000;
  std::unique_ptr<Connection> connection = Connect(*target);
  for (size_t in_flight : {size_t{7}, size_t{1000}}) {
    ASSERT_EQ(target->Command({"FLUSHALL"}), "OK");
    SnapshotLoaderOptions options;
    options.max_in_flight_commands = in_flight;
    RedisSnapshotLoader loader(*connection, options);
    const int count = in_flight < 100 ? 5000 : keys;
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(loader.OnSelectDatabase(0).ok());
    RdbKeyHeader header = value.header;
    for (int i = 0; i < count; ++i) {
      header.key = "key:" + std::to_string(i);
      ASSERT_TRUE(loader.OnValue(header, value.payload).ok());
    }
    ASSERT_TRUE(loader.OnEnd().ok());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(target->Command({"DBSIZE"}), std::to_string(count));
    EXPECT_EQ(target->Command({"GET", "key:" + std::to_string(count - 1)}),
              "small-value-0123456789");
    std::cout << "loaded " << count << " small RESTOREs with " << in_flight << " in flight in "
              << seconds << " s: " << static_cast<int64_t>(count / seconds) << " keys/s\n";
  }
}

// Forwards to the loader, leaving out stream keys (which command mode cannot write).
class WithoutStreams final : public RdbVisitor {
 public:
  explicit WithoutStreams(RdbVisitor& next) : next_(next) {}
  engine::Status OnAux(std::string_view name, std::string_view value) override {
    return next_.OnAux(name, value);
  }
  engine::Status OnSelectDatabase(int database) override {
    return next_.OnSelectDatabase(database);
  }
  engine::Status OnValue(const RdbKeyHeader& header, std::string_view payload) override {
    if (header.kind == RdbValueKind::kStream) {
      ++streams_;
      return engine::Status::Ok();
    }
    return next_.OnValue(header, payload);
  }
  engine::Status OnValuePiece(const RdbKeyHeader& header, const RdbValuePiece& piece) override {
    return next_.OnValuePiece(header, piece);
  }
  engine::Status OnFunctionLibrary(std::string_view code) override {
    return next_.OnFunctionLibrary(code);
  }
  engine::Status OnEnd() override { return next_.OnEnd(); }
  int streams() const { return streams_; }

 private:
  RdbVisitor& next_;
  int streams_ = 0;
};

class RedisSnapshotEndToEndTest : public RedisSnapshotLoaderTest {
 protected:
  void SetUp() override {
    RedisOptions options;
    options.extra_args = {"--enable-debug-command", "yes"};
    source_ = Start(options);
    data_ = tandem::testing::PopulateEveryEncoding(*source_);
    rdb_ = FetchRdb(*source_);
  }

  std::unique_ptr<RedisServer> source_;
  tandem::testing::EveryEncodingData data_;
  std::string rdb_;
};

TEST_F(RedisSnapshotEndToEndTest, EveryEncodingRestoresEqual) {
  auto target = Start();
  std::unique_ptr<Connection> connection = Connect(*target);
  RedisSnapshotLoader loader(*connection, {});
  RdbBufferSource bytes(rdb_);
  auto parsed = RdbParser().Parse(bytes, loader);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(loader.summary().keys, static_cast<int64_t>(data_.encodings.size()));
  EXPECT_EQ(loader.summary().functions, 1);
  ExpectSameKeys(*source_, *target, {0, 1, 2});
  EXPECT_EQ(target->Command({"FUNCTION", "DUMP"}), source_->Command({"FUNCTION", "DUMP"}));
}

TEST_F(RedisSnapshotEndToEndTest, EveryEncodingLoadsWithCommandsExceptStreams) {
  RdbParserOptions parser_options;
  parser_options.max_value_bytes = 0;  // everything but strings and streams in pieces
  parser_options.piece_elements = 7;   // several pieces per value
  SnapshotLoaderOptions options;
  options.mode = Mode::kCommands;
  options.command_elements = 3;
  options.max_in_flight_commands = 10;

  // A stream stops a command-mode load, naming the key.
  {
    auto target = Start();
    std::unique_ptr<Connection> connection = Connect(*target);
    RedisSnapshotLoader loader(*connection, options);
    RdbBufferSource bytes(rdb_);
    auto parsed = RdbParser(parser_options).Parse(bytes, loader);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kUnsupported) << parsed.status().ToString();
    EXPECT_THAT(parsed.status().message(), HasSubstr("is a stream"));
  }
  // Everything else loads equal.
  auto target = Start();
  std::unique_ptr<Connection> connection = Connect(*target);
  RedisSnapshotLoader loader(*connection, options);
  WithoutStreams filter(loader);
  RdbBufferSource bytes(rdb_);
  auto parsed = RdbParser(parser_options).Parse(bytes, filter);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_GT(filter.streams(), 0);
  EXPECT_GT(loader.summary().pieces, 0);
  EXPECT_EQ(loader.summary().keys + filter.streams(), static_cast<int64_t>(data_.encodings.size()));
  ExpectSameKeys(*source_, *target, {0, 1, 2}, [&](int database, const std::string& key) {
    return source_->Command({"TYPE", key}, database) == "stream";
  });
}

TEST_F(RedisSnapshotLoaderTest, MillionElementValuesLoadInPiecesInBothModes) {
  RedisOptions source_options;
  source_options.extra_args = {"--enable-debug-command", "yes"};
  auto source = Start(source_options);
  tandem::testing::EveryEncodingOptions every;
  every.databases = 1;
  every.large = true;
  tandem::testing::PopulateEveryEncoding(*source, every);
  const std::string rdb = FetchRdb(*source);
  for (Mode mode : {Mode::kRestore, Mode::kCommands}) {
    auto target = Start();
    std::unique_ptr<Connection> connection = Connect(*target);
    SnapshotLoaderOptions options;
    options.mode = mode;
    RedisSnapshotLoader loader(*connection, options);
    WithoutStreams filter(loader);
    RdbParserOptions parser_options;
    parser_options.max_value_bytes = mode == Mode::kCommands ? 0 : size_t{1} << 20;
    RdbBufferSource bytes(rdb);
    auto start = std::chrono::steady_clock::now();
    auto parsed = RdbParser(parser_options)
                      .Parse(bytes, mode == Mode::kCommands ? static_cast<RdbVisitor&>(filter)
                                                            : static_cast<RdbVisitor&>(loader));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << (mode == Mode::kCommands ? "commands" : "restore") << ": " << parsed->bytes
              << " RDB bytes, " << loader.summary().keys << " keys (" << loader.summary().pieces
              << " in pieces) in " << seconds << " s\n";
    EXPECT_GE(loader.summary().pieces, 3);
    for (const char* key : {"large:hash", "large:list", "large:zset"}) {
      EXPECT_EQ(target->Command({"TYPE", key}), source->Command({"TYPE", key})) << key;
    }
    ExpectSameKeys(*source, *target, {0}, [&](int database, const std::string& key) {
      return mode == Mode::kCommands && source->Command({"TYPE", key}, database) == "stream";
    });
  }
}

TEST(RdbVersionOfRedis, MapsReleasesToTheirRdbVersion) {
  EXPECT_EQ(RdbVersionOfRedis("7.4.1"), 12);
  EXPECT_EQ(RdbVersionOfRedis("7.2.4"), 11);
  EXPECT_EQ(RdbVersionOfRedis("7.0.15"), 10);
  EXPECT_EQ(RdbVersionOfRedis("6.2.14"), 9);
  EXPECT_EQ(RdbVersionOfRedis("5.0.0"), 9);
  EXPECT_EQ(RdbVersionOfRedis("4.0.14"), 8);
  EXPECT_EQ(RdbVersionOfRedis("3.2.12"), 7);
  EXPECT_EQ(RdbVersionOfRedis("3.0.7"), 6);
  EXPECT_EQ(RdbVersionOfRedis("8.0.0"), 12);
  EXPECT_EQ(RdbVersionOfRedis("garbage"), std::nullopt);
  EXPECT_EQ(RdbVersionOfRedis(""), std::nullopt);
  EXPECT_EQ(RdbVersionOfRedis("7"), std::nullopt);
}

}  // namespace
}  // namespace tandem::connectors::redis
