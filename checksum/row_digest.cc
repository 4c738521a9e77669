#include "checksum/row_digest.h"

#include <xxhash.h>

#include <cstdio>

#include "checksum/canonical_encoding.h"

namespace tandem::checksum {

std::string Digest128::ToHex() const {
  char buffer[33];
  std::snprintf(buffer, sizeof buffer, "%016llx%016llx", static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low));
  return buffer;
}

Digest128 HashRow(const engine::Row& row, std::string* scratch) {
  scratch->clear();
  for (const engine::Value& value : row) {
    AppendCanonical(value, scratch);
  }
  XXH128_hash_t hash = XXH3_128bits(scratch->data(), scratch->size());
  return Digest128{hash.low64, hash.high64};
}

void ChunkDigest::Add(const Digest128& row_digest) {
  ++rows_;
  uint64_t low = sum_.low + row_digest.low;
  sum_.high += row_digest.high + (low < sum_.low ? 1 : 0);
  sum_.low = low;
}

void ChunkDigest::Merge(const ChunkDigest& other) {
  rows_ += other.rows_ - 1;
  Add(other.sum_);
}

}  // namespace tandem::checksum
