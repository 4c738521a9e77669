// File: tests/connectors/redis/redis_every_encoding.cc
//
// The encodings are chosen by lowering the listpack/intset limits with CONFIG SET while a key is
// written (Redis converts a value when a write makes it exceed a limit, never back), and the
// previous limits are restored at the end. Limits a server does not have (set-max-listpack-*
// before Redis 7.2) are skipped; a PLAIN quicklist node needs DEBUG QUICKLIST-PACKED-THRESHOLD
// on Redis 7.0 (enable-debug-command), and is skipped when DEBUG is refused.
#include "tests/connectors/redis/redis_every_encoding.h"

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/harness/files.h"
#include "tests/harness/subprocess.h"

namespace tandem::testing {
namespace {

using Argv = std::vector<std::string>;

// Far-future absolute expiry times, so the keys never expire during a test.
constexpr int64_t kExpireBaseMs = 4102444800000;  // 2100-01-01

constexpr size_t kLargeElements = 1000000;
constexpr size_t kLargeBatch = 10000;  // elements per variadic command
constexpr size_t kPipelineDepth = 10;  // commands per pipeline round trip

const char* const kLimitNames[] = {
    "hash-max-listpack-entries", "hash-max-listpack-value", "zset-max-listpack-entries",
    "zset-max-listpack-value",   "set-max-intset-entries",  "set-max-listpack-entries",
    "set-max-listpack-value",    "list-max-listpack-size",
};

// The current value of each limit the server has.
std::vector<std::pair<std::string, std::string>> SaveLimits(RedisClient& client) {
  std::vector<std::pair<std::string, std::string>> saved;
  for (const char* name : kLimitNames) {
    const RedisValue reply = client.CommandValue({"CONFIG", "GET", name});
    if (reply.elements.size() == 2) {
      saved.emplace_back(name, reply.elements[1].text);
    }
  }
  return saved;
}

void RestoreLimits(RedisClient& client,
                   const std::vector<std::pair<std::string, std::string>>& saved) {
  for (const auto& [name, value] : saved) {
    client.Command({"CONFIG", "SET", name, value});
  }
}

// CONFIG SET when the server has the parameter; false when it does not.
bool SetLimit(RedisClient& client, const std::string& name, const std::string& value) {
  const RedisValue reply = client.CommandValue({"CONFIG", "GET", name});
  if (reply.elements.size() != 2) {
    return false;
  }
  client.Command({"CONFIG", "SET", name, value});
  return true;
}

// A deterministic pseudo-random byte string.
std::string PatternBytes(int64_t seed, size_t size) {
  std::string out(size, '\0');
  uint64_t state = static_cast<uint64_t>(seed) * 6364136223846793005ULL + 1442695040888963407ULL;
  for (char& byte : out) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    byte = static_cast<char>(state >> 56);
  }
  return out;
}

class Writer {
 public:
  Writer(const RedisServer& server, const EveryEncodingOptions& options, EveryEncodingData* data)
      : server_(server), options_(options), data_(data) {}

  void Run() {
    RedisClient admin = server_.Connect(0);
    const auto saved = SaveLimits(admin);
    // Small limits for the writes below; each key then crosses them or not as intended.
    admin.Command({"CONFIG", "SET", "hash-max-listpack-entries", "8"});
    admin.Command({"CONFIG", "SET", "hash-max-listpack-value", "64"});
    admin.Command({"CONFIG", "SET", "zset-max-listpack-entries", "8"});
    admin.Command({"CONFIG", "SET", "zset-max-listpack-value", "64"});
    admin.Command({"CONFIG", "SET", "set-max-intset-entries", "16"});
    SetLimit(admin, "set-max-listpack-entries", "8");
    SetLimit(admin, "set-max-listpack-value", "64");
    admin.Command({"CONFIG", "SET", "list-max-listpack-size", "4"});
    for (int database = 0; database < options_.databases; ++database) {
      WriteDatabase(database);
    }
    admin.Command({"FUNCTION", "LOAD", "REPLACE",
                   "#!lua name=tandem_every_encoding\n"
                   "redis.register_function('tandem_echo', function(keys, args) "
                   "return args[1] end)"});
    if (options_.large) {
      WriteLarge();
    }
    RestoreLimits(admin, saved);
  }

 private:
  std::string Key(const std::string& name, int database) const {
    return name + ":" + std::to_string(database);
  }

  void Record(RedisClient& client, int database, const std::string& key) {
    data_->encodings[{database, key}] = client.Command({"OBJECT", "ENCODING", key});
  }

  void WithTtl(RedisClient& client, const std::string& key, int64_t offset_ms) {
    client.Command({"PEXPIREAT", key, std::to_string(kExpireBaseMs + options_.seed + offset_ms)});
    ++data_->keys_with_ttl;
  }

  void WriteDatabase(int database) {
    RedisClient client = server_.Connect(database);
    const std::string seed = std::to_string(options_.seed);
    std::vector<std::string> keys;
    auto add = [&](const std::string& name) {
      keys.push_back(Key(name, database));
      return keys.back();
    };

    // Strings: int, embstr, raw, a 100 KB compressible value (LZF in the RDB), binary bytes.
    client.Command({"SET", add("string:int"), std::to_string(12345 + options_.seed + database)});
    client.Command({"SET", add("string:negative-int"), std::to_string(-98765 - database)});
    client.Command({"SET", add("string:embstr"), "short value " + seed});
    client.Command({"SET", add("string:raw"), std::string(100, 'r') + seed});
    std::string big;
    while (big.size() < 100 * 1024) {
      big += "the quick brown fox " + std::to_string(big.size() % 977) + " ";
    }
    client.Command({"SET", add("string:100kb"), big});
    client.Command(
        {"SET", add("string:binary"),
         std::string("\0\xff\x01 binary", 10) + PatternBytes(options_.seed + database, 64)});
    client.Command({"SET", add(std::string("bin\0key\xff", 8)), "binary key"});
    const std::string ttl_string = add("string:ttl");
    client.Command({"SET", ttl_string, "expires"});
    WithTtl(client, ttl_string, database);

    // Lists: small (listpack/quicklist), several nodes, a PLAIN node where the server allows.
    client.Command({"RPUSH", add("list:small"), "a", "b", "3", "-4"});
    Argv push = {"RPUSH", add("list:nodes")};
    for (int i = 0; i < 50; ++i) {
      push.push_back(i % 3 == 0 ? std::to_string(i * 1000 - 7) : "element-" + std::to_string(i));
    }
    client.Command(push);
    const std::string ttl_list = add("list:ttl");
    client.Command({"RPUSH", ttl_list, "x", "y"});
    WithTtl(client, ttl_list, 100 + database);
    WritePlainNode(client, add("list:plain"));

    // Sets: intset, listpack (Redis >= 7.2), hashtable (too many members, or strings on 7.0).
    client.Command({"SADD", add("set:intset"), "1", "-2", "300", "70000", "-5000000000"});
    client.Command({"SADD", add("set:small-strings"), "apple", "banana", "cherry"});
    Argv members = {"SADD", add("set:hashtable")};
    for (int i = 0; i < 40; ++i) {
      members.push_back("member-" + std::to_string(i) + "-" + seed);
    }
    client.Command(members);
    Argv numbers = {"SADD", add("set:many-ints")};
    for (int i = 0; i < 40; ++i) {
      numbers.push_back(std::to_string(i * 37 - 500));
    }
    client.Command(numbers);
    const std::string ttl_set = add("set:ttl");
    client.Command({"SADD", ttl_set, "9", "8"});
    WithTtl(client, ttl_set, 200 + database);

    // Sorted sets: listpack, skiplist with -inf, +inf, negative and fractional scores.
    client.Command(
        {"ZADD", add("zset:listpack"), "1", "one", "2.5", "two and a half", "-3", "minus three"});
    Argv scored = {"ZADD",   add("zset:skiplist"), "-inf",  "bottom", "+inf", "top",
                   "-0.125", "negative fraction",  "1e300", "huge"};
    for (int i = 0; i < 20; ++i) {
      scored.push_back(std::to_string(i) + ".5");
      scored.push_back("m" + std::to_string(i));
    }
    client.Command(scored);
    const std::string ttl_zset = add("zset:ttl");
    client.Command({"ZADD", ttl_zset, "1", "a"});
    WithTtl(client, ttl_zset, 300 + database);

    // Hashes: listpack, hashtable (many fields, and a long value).
    client.Command({"HSET", add("hash:listpack"), "field", "value", "number", "42", "neg", "-7"});
    Argv fields = {"HSET", add("hash:hashtable")};
    for (int i = 0; i < 30; ++i) {
      fields.push_back("field-" + std::to_string(i));
      fields.push_back(i % 2 == 0 ? std::to_string(i * 11) : "value-" + std::to_string(i));
    }
    client.Command(fields);
    client.Command({"HSET", add("hash:long-value"), "f", std::string(200, 'v')});
    const std::string ttl_hash = add("hash:ttl");
    client.Command({"HSET", ttl_hash, "a", "b"});
    WithTtl(client, ttl_hash, 400 + database);

    // Stream: entries (some deleted), two consumer groups, pending entries, consumers.
    const std::string stream = add("stream:events");
    for (int i = 1; i <= 12; ++i) {
      Argv xadd = {"XADD",           stream,  std::to_string(1700000000000 + i) + "-0",
                   "kind",           "event", "n",
                   std::to_string(i)};
      if (i % 4 == 0) {
        xadd.push_back("extra");
        xadd.push_back("field " + std::to_string(i));
      }
      client.Command(xadd);
    }
    client.Command({"XDEL", stream, "1700000000003-0", "1700000000007-0"});
    client.Command({"XGROUP", "CREATE", stream, "readers", "0"});
    client.Command({"XGROUP", "CREATE", stream, "idle", "$"});
    client.Command(
        {"XREADGROUP", "GROUP", "readers", "alice", "COUNT", "3", "STREAMS", stream, ">"});
    client.Command({"XREADGROUP", "GROUP", "readers", "bob", "COUNT", "2", "STREAMS", stream, ">"});
    client.Command({"XACK", stream, "readers", "1700000000001-0"});
    client.Command({"XGROUP", "CREATECONSUMER", stream, "idle", "carol"});
    const std::string ttl_stream = add("stream:ttl");
    client.Command({"XADD", ttl_stream, "1-1", "a", "b"});
    WithTtl(client, ttl_stream, 500 + database);

    for (const std::string& key : keys) {
      if (client.Command({"EXISTS", key}) == "1") {
        Record(client, database, key);
      }
    }
  }

  // A list with a 10 KB element in a PLAIN node: Redis 7.0 makes one only above the quicklist
  // packed threshold (DEBUG QUICKLIST-PACKED-THRESHOLD); 7.2 also for an element larger than a
  // negative list-max-listpack-size allows.
  void WritePlainNode(RedisClient& client, const std::string& key) {
    bool lowered = false;
    try {
      client.Command({"DEBUG", "QUICKLIST-PACKED-THRESHOLD", "8192"});
      lowered = true;
    } catch (const std::runtime_error&) {
      // DEBUG disabled: the list gets an ordinary packed node.
    }
    client.Command({"CONFIG", "SET", "list-max-listpack-size", "-1"});
    client.Command({"RPUSH", key, "before", std::string(10 * 1024, 'p'), "after"});
    client.Command({"CONFIG", "SET", "list-max-listpack-size", "4"});
    if (lowered) {
      client.Command({"DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824"});
    }
  }

  // 1,000,000-element hash, list and sorted set in database 0, written in pipelined batches of
  // variadic commands.
  void WriteLarge() {
    RedisClient client = server_.Connect(0);
    std::vector<Argv> pipeline;
    auto flush = [&] {
      if (!pipeline.empty()) {
        client.Pipeline(pipeline);
        pipeline.clear();
      }
    };
    auto queue = [&](Argv command) {
      pipeline.push_back(std::move(command));
      if (pipeline.size() >= kPipelineDepth) {
        flush();
      }
    };
    for (size_t start = 0; start < kLargeElements; start += kLargeBatch) {
      Argv hash = {"HSET", "large:hash"};
      Argv list = {"RPUSH", "large:list"};
      Argv zset = {"ZADD", "large:zset"};
      hash.reserve(2 + 2 * kLargeBatch);
      list.reserve(2 + kLargeBatch);
      zset.reserve(2 + 2 * kLargeBatch);
      for (size_t i = start; i < start + kLargeBatch; ++i) {
        const std::string n = std::to_string(i);
        hash.push_back("f" + n);
        hash.push_back("v" + std::to_string(i * 7 + static_cast<size_t>(options_.seed)));
        list.push_back("item-" + n);
        zset.push_back(std::to_string(static_cast<double>(i) / 4));
        zset.push_back("member-" + n);
      }
      queue(std::move(hash));
      queue(std::move(list));
      queue(std::move(zset));
    }
    flush();
    for (const char* key : {"large:hash", "large:list", "large:zset"}) {
      Record(client, 0, key);
    }
  }

  const RedisServer& server_;
  const EveryEncodingOptions& options_;
  EveryEncodingData* data_;
};

}  // namespace

EveryEncodingData PopulateEveryEncoding(const RedisServer& server,
                                        const EveryEncodingOptions& options) {
  EveryEncodingData data;
  Writer(server, options, &data).Run();
  return data;
}

std::string FetchRdb(const RedisServer& server, const std::string& name) {
  const std::string path = server.dir() + "/" + name + ".rdb";
  SpawnOptions spawn;
  spawn.argv = {"redis-cli",
                "-h",
                "127.0.0.1",
                "-p",
                std::to_string(server.port()),
                "-a",
                server.password(),
                "--no-auth-warning",
                "--rdb",
                path};
  spawn.log_path = path + ".log";
  RunCommand(spawn, std::chrono::minutes(5));
  return ReadFile(path);
}

}  // namespace tandem::testing
