// RdbParser against real snapshots: a private redis-server filled with every type in every
// encoding (redis_every_encoding.h), its RDB fetched as a replica gets it (redis-cli --rdb), and
// every key checked against the server: payloads byte for byte against DUMP, key sets, databases
// and absolute expiry times, and the decoded pieces against LRANGE / SMEMBERS / ZRANGE / HGETALL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/redis/rdb/rdb_parser.h"
#include "tests/connectors/redis/redis_every_encoding.h"
#include "tests/harness/local_servers.h"

namespace tandem::connectors::redis {
namespace {

using engine::Status;
using engine::StatusCode;
using tandem::testing::EveryEncodingData;
using tandem::testing::EveryEncodingOptions;
using tandem::testing::PopulateEveryEncoding;
using tandem::testing::RedisClient;
using tandem::testing::RedisOptions;
using tandem::testing::RedisServer;
using tandem::testing::RedisValue;
using tandem::testing::TempDir;
using ::testing::HasSubstr;

using DbKey = std::pair<int, std::string>;

struct Collected {
  RdbKeyHeader header;
  std::string payload;                // OnValue
  std::vector<std::string> elements;  // OnValuePiece, all pieces
  std::vector<double> scores;
  int pieces = 0;
  bool saw_first = false;
  bool saw_last = false;
};

class CollectingVisitor : public RdbVisitor {
 public:
  Status OnAux(std::string_view name, std::string_view value) override {
    aux[std::string(name)] = std::string(value);
    return Status::Ok();
  }
  Status OnSelectDatabase(int database) override {
    databases.insert(database);
    return Status::Ok();
  }
  Status OnValue(const RdbKeyHeader& header, std::string_view payload) override {
    Collected& entry = Entry(header);
    entry.payload.assign(payload);
    return Status::Ok();
  }
  Status OnValuePiece(const RdbKeyHeader& header, const RdbValuePiece& piece) override {
    Collected& entry = Entry(header);
    if (piece.first != (entry.pieces == 0) || entry.saw_last) {
      return engine::Internal("piece flags out of order for " + header.key);
    }
    entry.pieces++;
    entry.saw_first |= piece.first;
    entry.saw_last |= piece.last;
    entry.elements.insert(entry.elements.end(), piece.elements.begin(), piece.elements.end());
    entry.scores.insert(entry.scores.end(), piece.scores.begin(), piece.scores.end());
    return Status::Ok();
  }
  Status OnFunctionLibrary(std::string_view code) override {
    functions.emplace_back(code);
    return Status::Ok();
  }
  Status OnEnd() override {
    ended = true;
    return Status::Ok();
  }

  std::map<DbKey, Collected> keys;
  std::map<std::string, std::string> aux;
  std::set<int> databases;
  std::vector<std::string> functions;
  bool ended = false;

 private:
  Collected& Entry(const RdbKeyHeader& header) {
    Collected& entry = keys[{header.database, header.key}];
    if (entry.pieces == 0 && entry.payload.empty()) {
      entry.header = header;
    }
    return entry;
  }
};

std::vector<std::string> Texts(const RedisValue& reply) {
  std::vector<std::string> out;
  for (const RedisValue& element : reply.elements) {
    out.push_back(element.text);
  }
  return out;
}

class RdbServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-rdb"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::unique_ptr<RedisServer> StartServer() {
    RedisOptions options;
    // DEBUG QUICKLIST-PACKED-THRESHOLD (a PLAIN list node on Redis 7.0) and DEBUG POPULATE.
    options.extra_args = {"--enable-debug-command", "yes"};
    return RedisServer::Start(dir_->path(), options);
  }

  static engine::Result<RdbSummary> Parse(const std::string& rdb, CollectingVisitor& visitor,
                                          size_t max_value_bytes = size_t{32} << 20,
                                          size_t piece_elements = 1000) {
    RdbParserOptions options;
    options.max_value_bytes = max_value_bytes;
    options.piece_elements = piece_elements;
    RdbBufferSource source(rdb);
    return RdbParser(options).Parse(source, visitor);
  }

  // Every key of databases 0..15 with its absolute expiry (PEXPIRETIME, -1 = none).
  static std::map<DbKey, int64_t> ServerKeys(const RedisServer& server) {
    std::map<DbKey, int64_t> out;
    for (int database = 0; database < 16; ++database) {
      RedisClient client = server.Connect(database);
      for (const std::string& key : Texts(client.CommandValue({"KEYS", "*"}))) {
        out[{database, key}] = client.CommandValue({"PEXPIRETIME", key}).integer;
      }
    }
    return out;
  }

  // (1) payloads equal DUMP; (2) keys, databases and expiry times equal the server's.
  static void ExpectPayloadsAndKeysMatch(const RedisServer& server,
                                         const CollectingVisitor& visitor) {
    const std::map<DbKey, int64_t> server_keys = ServerKeys(server);
    std::map<DbKey, int64_t> parsed_keys;
    for (const auto& [db_key, collected] : visitor.keys) {
      parsed_keys[db_key] = collected.header.expire_at_ms.value_or(-1);
    }
    EXPECT_EQ(parsed_keys, server_keys);
    std::set<int> databases;
    for (const auto& [db_key, expiry] : server_keys) {
      databases.insert(db_key.first);
    }
    EXPECT_EQ(visitor.databases, databases);
    std::map<int, RedisClient> clients;
    for (const auto& [db_key, collected] : visitor.keys) {
      if (collected.pieces > 0) {
        continue;
      }
      auto [it, inserted] = clients.try_emplace(db_key.first, server.Connect(db_key.first));
      const std::string dump = it->second.CommandValue({"DUMP", db_key.second}).text;
      EXPECT_TRUE(dump == collected.payload)
          << "DUMP differs for key " << db_key.second << " in database " << db_key.first << " ("
          << dump.size() << " vs " << collected.payload.size() << " bytes)";
    }
  }

  // (3) decoded elements equal the server's view of each key.
  // With `all_in_pieces` (max_value_bytes 0) only streams may come as payloads.
  static void ExpectPiecesMatch(const RedisServer& server, const CollectingVisitor& visitor,
                                bool all_in_pieces) {
    std::map<int, RedisClient> clients;
    for (const auto& [db_key, collected] : visitor.keys) {
      auto [it, inserted] = clients.try_emplace(db_key.first, server.Connect(db_key.first));
      RedisClient& client = it->second;
      const std::string& key = db_key.second;
      if (collected.pieces == 0) {
        if (all_in_pieces) {
          EXPECT_EQ(collected.header.kind, RdbValueKind::kStream) << key;
        }
        continue;
      }
      EXPECT_TRUE(collected.saw_first && collected.saw_last) << key;
      switch (collected.header.kind) {
        case RdbValueKind::kString:
          EXPECT_EQ(collected.pieces, 1);
          ASSERT_EQ(collected.elements.size(), 1u);
          EXPECT_TRUE(collected.elements[0] == client.CommandValue({"GET", key}).text) << key;
          break;
        case RdbValueKind::kList:
          EXPECT_TRUE(collected.elements == Texts(client.CommandValue({"LRANGE", key, "0", "-1"})))
              << key;
          break;
        case RdbValueKind::kSet: {
          std::vector<std::string> parsed = collected.elements;
          std::vector<std::string> expected = Texts(client.CommandValue({"SMEMBERS", key}));
          std::sort(parsed.begin(), parsed.end());
          std::sort(expected.begin(), expected.end());
          EXPECT_TRUE(parsed == expected) << key;
          break;
        }
        case RdbValueKind::kZset: {
          ASSERT_EQ(collected.elements.size(), collected.scores.size()) << key;
          std::map<std::string, double> parsed;
          for (size_t i = 0; i < collected.elements.size(); ++i) {
            parsed[collected.elements[i]] = collected.scores[i];
          }
          const std::vector<std::string> flat =
              Texts(client.CommandValue({"ZRANGE", key, "0", "-1", "WITHSCORES"}));
          std::map<std::string, double> expected;
          for (size_t i = 0; i + 1 < flat.size(); i += 2) {
            expected[flat[i]] = std::strtod(flat[i + 1].c_str(), nullptr);
          }
          EXPECT_EQ(parsed.size(), collected.elements.size()) << key << ": repeated members";
          EXPECT_TRUE(parsed == expected) << key;
          break;
        }
        case RdbValueKind::kHash: {
          ASSERT_EQ(collected.elements.size() % 2, 0u) << key;
          std::map<std::string, std::string> parsed;
          for (size_t i = 0; i < collected.elements.size(); i += 2) {
            parsed[collected.elements[i]] = collected.elements[i + 1];
          }
          const std::vector<std::string> flat = Texts(client.CommandValue({"HGETALL", key}));
          std::map<std::string, std::string> expected;
          for (size_t i = 0; i + 1 < flat.size(); i += 2) {
            expected[flat[i]] = flat[i + 1];
          }
          EXPECT_TRUE(parsed == expected) << key;
          break;
        }
        case RdbValueKind::kStream:
          ADD_FAILURE() << "stream " << key << " delivered in pieces";
          break;
      }
    }
  }

  static TempDir* dir_;
};

TempDir* RdbServerTest::dir_ = nullptr;

double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

TEST_F(RdbServerTest, EveryEncodingPayloadsEqualDumpAndPiecesEqualTheServer) {
  auto server = StartServer();
  const EveryEncodingData data = PopulateEveryEncoding(*server, {.databases = 3});
  ASSERT_GT(data.keys_with_ttl, 0);
  const std::string rdb = tandem::testing::FetchRdb(*server, "every-encoding");

  CollectingVisitor whole;
  auto summary = Parse(rdb, whole);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_TRUE(whole.ended);
  EXPECT_TRUE(summary->checksum_checked);
  EXPECT_EQ(summary->bytes, static_cast<int64_t>(rdb.size()));
  EXPECT_EQ(summary->keys, static_cast<int64_t>(whole.keys.size()));
  EXPECT_EQ(whole.keys.size(), data.encodings.size());
  ExpectPayloadsAndKeysMatch(*server, whole);
  // rdbcompression yes (the default): the 100 KB string is stored LZF-compressed (0xC3).
  for (int database = 0; database < 3; ++database) {
    const Collected& big = whole.keys[{database, "string:100kb:" + std::to_string(database)}];
    ASSERT_GT(big.payload.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(big.payload[1]), 0xC3);
  }
  // (4) the function library.
  ASSERT_EQ(whole.functions.size(), 1u);
  EXPECT_THAT(whole.functions[0], HasSubstr("tandem_every_encoding"));
  EXPECT_EQ(whole.aux.count("redis-ver"), 1u);

  // (3) pieces: everything (max 0), and only what exceeds 4 KB.
  for (size_t max : {size_t{0}, size_t{4096}}) {
    CollectingVisitor pieces;
    auto piece_summary = Parse(rdb, pieces, max, 7);
    ASSERT_TRUE(piece_summary.ok()) << piece_summary.status().ToString();
    ExpectPiecesMatch(*server, pieces, max == 0);
    ExpectPayloadsAndKeysMatch(*server, pieces);
  }
}

TEST_F(RdbServerTest, LargeKeysArriveInSeveralPieces) {
  auto server = StartServer();
  const EveryEncodingData data = PopulateEveryEncoding(*server, {.databases = 3, .large = true});
  const std::string rdb = tandem::testing::FetchRdb(*server, "large");

  CollectingVisitor whole;
  const double cpu_start = CpuSeconds();
  const auto wall_start = std::chrono::steady_clock::now();
  auto summary = Parse(rdb, whole);
  const double cpu = CpuSeconds() - cpu_start;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  std::printf("parsed %zu bytes (%lld keys) in %.3f s CPU, %.3f s wall: %.0f MB/s\n", rdb.size(),
              static_cast<long long>(summary->keys), cpu, wall, rdb.size() / wall / 1e6);
  ExpectPayloadsAndKeysMatch(*server, whole);

  CollectingVisitor pieces;
  summary = Parse(rdb, pieces, 4096, 1000);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  for (const char* key : {"large:hash", "large:list", "large:zset"}) {
    const Collected& collected = pieces.keys[{0, key}];
    EXPECT_GE(collected.pieces, 1000) << key;
    const size_t per_unit = collected.header.kind == RdbValueKind::kHash ? 2 : 1;
    EXPECT_EQ(collected.elements.size(), 1000000 * per_unit) << key;
  }
  ExpectPiecesMatch(*server, pieces, false);
}

TEST_F(RdbServerTest, ChangedByteInARealRdbIsAChecksumMismatch) {
  auto server = StartServer();
  PopulateEveryEncoding(*server, {.databases = 1});
  std::string rdb = tandem::testing::FetchRdb(*server, "corrupt");
  const size_t at = rdb.find("short value");
  ASSERT_NE(at, std::string::npos);
  rdb[at] = 'S';
  CollectingVisitor visitor;
  auto summary = Parse(rdb, visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("checksum mismatch"));
  EXPECT_FALSE(visitor.ended);
}

TEST_F(RdbServerTest, MillionSmallKeysParseThroughput) {
  auto server = StartServer();
  server->Command({"DEBUG", "POPULATE", "1000000", "key", "16"});
  const std::string rdb = tandem::testing::FetchRdb(*server, "million");

  class CountingVisitor : public RdbVisitor {
   public:
    Status OnAux(std::string_view, std::string_view) override { return Status::Ok(); }
    Status OnSelectDatabase(int) override { return Status::Ok(); }
    Status OnValue(const RdbKeyHeader&, std::string_view payload) override {
      bytes += payload.size();
      return Status::Ok();
    }
    Status OnValuePiece(const RdbKeyHeader&, const RdbValuePiece&) override { return Status::Ok(); }
    Status OnFunctionLibrary(std::string_view) override { return Status::Ok(); }
    Status OnEnd() override { return Status::Ok(); }
    size_t bytes = 0;
  } visitor;
  const double cpu_start = CpuSeconds();
  RdbBufferSource source(rdb);
  auto summary = RdbParser().Parse(source, visitor);
  const double cpu = CpuSeconds() - cpu_start;
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->keys, 1000000);
  std::printf("1,000,000 keys, %zu RDB bytes parsed in %.3f s CPU\n", rdb.size(), cpu);
}

}  // namespace
}  // namespace tandem::connectors::redis
