// File: checksum/row_digest.h
//
// Hashing rows and chunks for verification. A row's digest is XXH3-128 over the canonical encoding
// of its values (canonical_encoding.h). A chunk's digest combines the digests of its rows so that
//   - it does not depend on the order the rows arrived in (engines may order text keys by different
//     collations), and
//   - no pair of differences can cancel out: rows are added (sum modulo 2^128) together with a row
//     count, never XORed, so two equal rows count twice and a row missing on one side together
//     with its duplicate on the other still shows. (An XOR of CRC32s, as pt-table-checksum uses,
//     cancels equal errors in pairs of rows.)
//
// Thread safety: value types; a ChunkDigest is filled by one thread.
#pragma once

#include <cstdint>
#include <string>

#include "engine/value.h"

namespace tandem::checksum {

struct Digest128 {
  uint64_t low = 0;
  uint64_t high = 0;

  // 32 lower-case hex digits, high half first.
  std::string ToHex() const;
  friend bool operator==(const Digest128&, const Digest128&) = default;
  friend auto operator<=>(const Digest128&, const Digest128&) = default;
};

// XXH3-128 of the canonical encoding of `row`. `scratch` is reused between calls to avoid
// allocating per row (its content on return is unspecified).
Digest128 HashRow(const engine::Row& row, std::string* scratch);

class ChunkDigest {
 public:
  void Add(const Digest128& row_digest);
  // Merges another chunk's digest (the digest of the union of both chunks' rows).
  void Merge(const ChunkDigest& other);

  int64_t rows() const { return rows_; }
  Digest128 sum() const { return sum_; }
  friend bool operator==(const ChunkDigest&, const ChunkDigest&) = default;

 private:
  int64_t rows_ = 0;
  Digest128 sum_;  // sum of row digests modulo 2^128
};

}  // namespace tandem::checksum
