// File: connectors/redis/rdb/rdb_encodings.h
//
// Internal to the RDB parser (rdb_parser.h): decoders of the compact encodings Redis embeds in an
// RDB as opaque strings. Each takes the whole blob, checks its structure completely (every read
// bounds-checked, every header field cross-checked) and appends the decoded entries to an
// RdbEntryList; integers are rendered as decimal text, as Redis itself returns them.
// Any inconsistency is kCorruption with a message naming the structure, the entry and the
// problem; on error the list may hold part of the blob's entries (the caller discards the value).
//
//   LZF (lzf_d.c): a sequence of runs; control byte c:
//     c < 32          literal: the next c+1 bytes are copied
//     c >> 5 in 1..6  back reference of length (c>>5)+2 at distance ((c&31)<<8 | next byte) + 1
//     c >> 5 == 7     length 7 + next byte + 2, then the distance byte
//   Listpack (listpack.c): total bytes u32 LE, element count u16 LE (65535 = unknown), entries,
//     0xFF. An entry is encoding+data followed by its "backlen" (the size of encoding+data, 1..5
//     bytes, 7 bits each, most significant first, every byte but the first with bit 7 set):
//       0xxxxxxx         7-bit unsigned integer
//       10xxxxxx         string of up to 63 bytes
//       110xxxxx + 1     13-bit signed integer
//       1110xxxx + 1     string of up to 4095 bytes (length big-endian in 12 bits)
//       0xF0 + 4 LE      string with a 32-bit length
//       0xF1/F2/F3/F4    16/24/32/64-bit signed integer, little-endian
//   Ziplist (ziplist.c): zlbytes u32, zltail u32 (offset of the last entry), zllen u16 (65535 =
//     unknown), entries, 0xFF. An entry is prevlen (1 byte < 254, or 0xFE + u32 LE: the previous
//     entry's size) then the encoding:
//       00xxxxxx / 01xxxxxx+1 (14 bits BE) / 0x80 + u32 BE   string
//       0xC0 int16, 0xD0 int32, 0xE0 int64, 0xF0 int24, 0xFE int8 (little-endian, signed)
//       0xF1..0xFD       immediate integer 0..12 (low 4 bits - 1)
//   Intset (intset.c): encoding u32 (2, 4 or 8 bytes per integer), length u32, the integers
//     little-endian, strictly ascending.
//   Zipmap (zipmap.c, RDB type 9): zmlen u8, then field/value pairs: a length (1 byte < 254, or
//     0xFE + u32 LE), the field; a length, a "free" byte, the value and `free` unused bytes; 0xFF.
//
// Thread safety: pure functions; an RdbEntryList is owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace tandem::connectors::redis::rdb_internal {

// Decoded entries stored back to back in one buffer (no allocation per entry once warm).
class RdbEntryList {
 public:
  void Clear() {
    bytes_.clear();
    ends_.clear();
  }
  void Add(std::string_view entry) {
    bytes_.append(entry);
    ends_.push_back(bytes_.size());
  }
  void AddInteger(int64_t value);
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  // REQUIRES: index < size(). Valid until the list is next modified.
  std::string_view operator[](size_t index) const {
    const size_t begin = index == 0 ? 0 : ends_[index - 1];
    return std::string_view(bytes_).substr(begin, ends_[index] - begin);
  }
  // Removes the first `count` entries (REQUIRES: count <= size()).
  void RemoveFront(size_t count);

 private:
  std::string bytes_;
  std::vector<size_t> ends_;  // ends_[i]: offset in bytes_ just past entry i
};

// Decompresses `compressed` into *out (replacing its contents), which must come to exactly
// `expected_size` bytes; the output never grows beyond that. Errors: kCorruption (a back
// reference before the start, input ending inside a run, output over or under the size).
engine::Status LzfDecompress(std::string_view compressed, size_t expected_size, std::string* out);

// Appends the listpack's entries. Errors: kCorruption.
engine::Status DecodeListpack(std::string_view blob, RdbEntryList* out);

// Appends the ziplist's entries. Errors: kCorruption.
engine::Status DecodeZiplist(std::string_view blob, RdbEntryList* out);

// Appends the intset's integers (decimal). Errors: kCorruption (also for unsorted or repeated
// integers, which Redis refuses too).
engine::Status DecodeIntset(std::string_view blob, RdbEntryList* out);

// Appends field, value, field, value, ... Errors: kCorruption.
engine::Status DecodeZipmap(std::string_view blob, RdbEntryList* out);

// Checks the stream entries inside one stream node listpack, already decoded into `entries` (as
// Redis's streamValidateListpackIntegrity does): the master entry (count, deleted, field count,
// field names, 0), then count + deleted entries (flags, ms and seq deltas, fields or values,
// lp-count), nothing after. Errors: kCorruption.
engine::Status ValidateStreamListpack(const RdbEntryList& entries);

// Redis's string2ll: the whole of `text` is a canonical decimal int64 (no "+", no leading zeros,
// no spaces, "-0" refused).
bool ParseStrictInt64(std::string_view text, int64_t* value);

// A sorted-set score as Redis writes it in a listpack/ziplist or an old zset (decimal, "inf",
// "-inf", "nan"). False when `text` is not a number.
bool ParseScore(std::string_view text, double* value);

}  // namespace tandem::connectors::redis::rdb_internal
