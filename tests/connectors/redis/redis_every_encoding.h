// File: tests/connectors/redis/redis_every_encoding.h
//
// Test data for the Redis sync: a server filled with every data type in every internal encoding
// Redis 7 has (OBJECT ENCODING), with and without TTLs, over several databases, plus a function
// library; optionally 1,000,000-element hash, list and sorted set. The encodings are reached by
// setting the *-max-listpack-* / set-max-intset-entries / list-max-listpack-size limits with
// CONFIG SET around the writes (restored afterwards), so the server's later writes use its
// normal limits.
//
//   type     encodings produced
//   string   int, embstr, raw (also a 100 KB value, which the RDB stores LZF-compressed when
//            rdbcompression is on), binary bytes
//   list     listpack, quicklist (several listpack nodes; a PLAIN node with a 10 KB element when
//            list-max-listpack-size allows it)
//   set      intset, listpack, hashtable
//   zset     listpack, skiplist (scores incl. -inf, +inf, negative, fractional)
//   hash     listpack, hashtable
//   stream   entries, deleted entries, consumer groups with pending entries and consumers
//
// Thread safety: the functions use their own connections.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/harness/redis_server.h"

namespace tandem::testing {

struct EveryEncodingOptions {
  int databases = 3;   // databases 0 .. databases-1 get data (database d's keys end in ":d")
  bool large = false;  // also "large:hash", "large:list", "large:zset" of 1,000,000 elements
                       // in database 0
  int64_t seed = 1;    // values derive from it
};

// What was written: (database, key) -> the OBJECT ENCODING it has on `server` afterwards.
struct EveryEncodingData {
  std::map<std::pair<int, std::string>, std::string> encodings;
  int keys_with_ttl = 0;
};

// Writes the data into `server` (which must be empty) and returns it.
EveryEncodingData PopulateEveryEncoding(const RedisServer& server,
                                        const EveryEncodingOptions& options = {});

// The server's snapshot as a replica receives it (`redis-cli --rdb`, which sends SYNC), saved as
// <server dir>/<name>.rdb and returned. Throws std::runtime_error when redis-cli fails.
std::string FetchRdb(const RedisServer& server, const std::string& name = "snapshot");

}  // namespace tandem::testing
