// File: engine/stable_hash.h
//
// StableHash: 64-bit FNV-1a of a text, the same in every run, build and process (std::hash is
// not), for names derived from user input: lock names, replica server ids, slot-name suffixes.
// Not for hash tables exposed to untrusted input and not a checksum of data.
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace tandem::engine {

constexpr uint64_t StableHash(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 1099511628211ull;
  }
  return hash;
}

}  // namespace tandem::engine
