// File: connectors/redis/rdb/rdb_parser.h
//
// RdbParser: a streaming decoder of the RDB snapshot a Redis 7 primary sends on a full resync
// (RDB versions 1..11; Redis 7.0 writes 10, 7.2 writes 11), read from an RdbByteSource (the
// replication socket) in one pass and handed, value by value, to an RdbVisitor (the snapshot
// loader, redis_snapshot_loader.h). The whole RDB is never in memory: one value at a time, and a
// value larger than RdbParserOptions::max_value_bytes is handed over in pieces.
//
// Format (primary sources: Redis's rdb.h / rdb.c, t_*.c, listpack.c, ziplist.c, intset.c, lzf):
//   "REDIS" + 4 ASCII digits (version), then opcodes until EOF (0xFF) + 8-byte CRC-64 (Jones,
//   little-endian; all zeros = not computed). Opcodes: AUX (0xFA) name value; SELECTDB (0xFE)
//   length; RESIZEDB (0xFB) two lengths; EXPIRETIME_MS (0xFC) 8-byte LE ms; EXPIRETIME (0xFD)
//   4-byte LE s; IDLE (0xF8) length; FREQ (0xF9) 1 byte; FUNCTION2 (0xF5) string; FUNCTION
//   (0xF6, pre-release 7.0 rc) rejected as kUnsupported; MODULE_AUX (0xF7) -> kUnsupported; else a
//   value type byte, key string, value.
//   Lengths: 00xxxxxx, 01xxxxxx+byte, 0x80 + 4-byte BE, 0x81 + 8-byte BE; 11xxxxxx = special
//   string encodings INT8/16/32 and LZF (compressed length, raw length, data).
//   Value types: 0 string; 1 list (linked list, old); 2 set; 3 zset (string scores); 4 hash;
//   5 zset_2 (binary double scores); 6/7 module (-> kUnsupported naming the module id's name);
//   9 zipmap hash; 10 ziplist list; 11 intset set; 12 ziplist zset; 13 ziplist hash;
//   14 quicklist (ziplist nodes); 15 stream_listpacks; 16 listpack hash; 17 listpack zset;
//   18 quicklist_2 (listpack nodes, PLAIN/PACKED container); 19 stream_listpacks_2;
//   20 listpack set; 21 stream_listpacks_3.
//
// Every value is decoded and checked in full (lengths, listpack/ziplist/intset structure and
// entry counts, LZF output size, stream fields), whether or not the visitor needs the elements:
// a corrupt snapshot is refused here, never half-loaded into a target unnoticed. The trailing
// CRC-64 is checked when non-zero (the primary has rdbchecksum yes by default).
//
// Thread safety: one parser per thread; it owns nothing shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"

namespace tandem::connectors::redis {

// Supplies the snapshot's bytes in order (the replication client implements it over the socket,
// tests over a buffer).
class RdbByteSource {
 public:
  virtual ~RdbByteSource() = default;
  // Reads exactly `size` bytes into `out`. Errors: kCorruption "the RDB ended after N bytes" when
  // the source ends first (a truncated transfer); kConnectionFailed / kTimeout from the socket.
  virtual engine::Status Read(char* out, size_t size) = 0;
};

// A source over bytes already in memory (tests, and small transfers). Does not copy `bytes`.
class RdbBufferSource final : public RdbByteSource {
 public:
  explicit RdbBufferSource(std::string_view bytes) : bytes_(bytes) {}
  engine::Status Read(char* out, size_t size) override;
  size_t remaining() const { return bytes_.size() - offset_; }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

// The data types Redis exposes (TYPE), whatever the RDB encoding.
enum class RdbValueKind { kString, kList, kSet, kZset, kHash, kStream };

// "string", "list", "set", "zset", "hash", "stream".
std::string_view RdbValueKindName(RdbValueKind kind);

// One key's identity, as the visitor is told before its value.
struct RdbKeyHeader {
  int database = 0;
  std::string key;
  // Absolute expiry time in Unix milliseconds; nullopt = persistent. Never converted to a relative
  // TTL here (the loader applies it as an absolute time, so TTLs do not drift).
  std::optional<int64_t> expire_at_ms;
  RdbValueKind kind = RdbValueKind::kString;
  uint8_t rdb_type = 0;  // the value type byte as in the RDB (the encoding)
};

// A piece of a value too large to restore whole (RdbParserOptions::max_value_bytes), decoded:
//   kind     elements
//   kList    the items, in list order (RPUSH them)
//   kSet     the members (SADD)
//   kZset    member, score pairs: `elements[i]` member, `scores[i]` its score (ZADD)
//   kHash    field, value, field, value, ... (HSET)
//   kString  one piece, elements = {value}, only when max_value_bytes == 0 (otherwise a string
//            is restored whole, however large: it is at most proto-max-bulk-len)
//   kStream  never in pieces (restored whole however large; see max_value_bytes)
struct RdbValuePiece {
  std::vector<std::string> elements;
  std::vector<double> scores;  // kZset only, same length as elements
  bool first = false;          // the key's first piece: the loader replaces the key
  bool last = false;           // the key's last piece: the loader applies the expiry after it
};

// Receives the snapshot in file order. Any error returned stops the parse and is returned by
// Parse() unchanged.
class RdbVisitor {
 public:
  virtual ~RdbVisitor() = default;
  // An AUX field ("redis-ver", "repl-id", "repl-offset", "lua" (old), "aof-base", ...).
  virtual engine::Status OnAux(std::string_view name, std::string_view value) = 0;
  // SELECTDB: the keys that follow belong to database `database`.
  virtual engine::Status OnSelectDatabase(int database) = 0;
  // A whole value as a DUMP/RESTORE payload: the RDB type byte, the value exactly as the RDB
  // serialised it, the RDB version as 2 bytes little-endian, and the CRC-64 of all that as 8 bytes
  // little-endian: byte-for-byte what DUMP of the key returns on the source (when the source wrote
  // the RDB with the same version). `payload` is valid only during the call.
  virtual engine::Status OnValue(const RdbKeyHeader& header, std::string_view payload) = 0;
  // A value larger than max_value_bytes, decoded, one piece per call (first ... last), in order.
  virtual engine::Status OnValuePiece(const RdbKeyHeader& header, const RdbValuePiece& piece) = 0;
  // A function library (FUNCTION2): the code FUNCTION LOAD takes.
  virtual engine::Status OnFunctionLibrary(std::string_view code) = 0;
  // The EOF opcode was read and the checksum matched: the snapshot is complete.
  virtual engine::Status OnEnd() = 0;
};

struct RdbParserOptions {
  // A value whose serialised size exceeds this is handed over decoded in pieces instead of as a
  // payload (lists, sets, sorted sets, hashes); strings and streams always go whole.
  // max_value_bytes == 0 delivers every list/set/zset/hash/string value as pieces (a string as one
  // piece, elements = {value}, first and last set), while streams still go whole as a payload.
  // Empty lists/sets/zsets/hashes are skipped, as Redis skips them when it loads an RDB.
  size_t max_value_bytes = size_t{32} << 20;
  // Elements per RdbValuePiece (hash: field/value pairs; zset: members).
  size_t piece_elements = 1000;
};

// What a parse saw, for progress lines and the report.
struct RdbSummary {
  int version = 0;                // the RDB version from the header
  int64_t keys = 0;               // values delivered (OnValue + first pieces)
  int64_t bytes = 0;              // bytes read from the source, header to checksum
  bool checksum_checked = false;  // false when the primary sent a zero checksum
};

// The value of a string's DUMP/RESTORE payload (type byte 0, an RDB string in any encoding: raw,
// integer or LZF; then the 2-byte version and 8-byte CRC, which are not checked here), decoded as
// Parse() decodes strings. Errors: kCorruption.
engine::Result<std::string> DecodeStringPayload(std::string_view payload);

class RdbParser {
 public:
  explicit RdbParser(RdbParserOptions options = {}) : options_(options) {}

  // Reads the whole snapshot from `source` (through the checksum, nothing beyond it) and hands it
  // to `visitor`. Errors, each one line naming the byte offset and what was found:
  //   kCorruption: bad magic, an unknown opcode or type byte, a length or encoding out of range, a
  //     listpack/ziplist/intset/LZF/stream structure that does not check, a checksum mismatch,
  //     or the source ending early ("truncated");
  //   kUnsupported: an RDB version above 11 (a newer Redis: "upgrade tandem or sync from a
  //     Redis <= 7.2"), a module value type or module AUX data ("the source uses module type
  //     '<name>'; tandem cannot copy module data: remove those keys or sync without them"), the
  //     pre-release FUNCTION opcode;
  //   the source's or the visitor's errors unchanged.
  engine::Result<RdbSummary> Parse(RdbByteSource& source, RdbVisitor& visitor);

 private:
  RdbParserOptions options_;
};

}  // namespace tandem::connectors::redis
