// File: checksum/redis_value_digest.h
//
// ValueDigest: the client-side digest of one Redis value read as logical elements
// (engine/keyspace_verification.h), equal for equal values whatever their encoding on the server
// and whatever the page boundaries and element order the server chose:
//
//   type          digest
//   string        XXH3-128 over the bytes (pieces concatenated)
//   list, stream  XXH3-128 over the elements, each length-prefixed, in order
//   hash          sum modulo 2^128 of XXH3-128(length-prefixed field + value), with a count
//   set           sum of XXH3-128(member), with a count
//   zset          sum of XXH3-128(length-prefixed member + score as an 8-byte IEEE double), so
//                 "1.1" and "1.1000000000000001" (the same double) agree and scores compare exactly
//
// Sums never XOR, so two differences cannot cancel in pairs (see row_digest.h).
//
// Thread safety: a value type filled by one thread.
#pragma once

#include <xxhash.h>

#include <memory>
#include <string>
#include <vector>

#include "checksum/row_digest.h"
#include "engine/status.h"

namespace tandem::checksum {

class ValueDigest {
 public:
  // REQUIRES: `type` is a Redis type name ("string", "list", ...); other types digest their
  // elements as a list.
  explicit ValueDigest(const std::string& type);
  ~ValueDigest();
  ValueDigest(const ValueDigest&) = delete;
  ValueDigest& operator=(const ValueDigest&) = delete;

  // Adds one page of elements. Errors: kCorruption when a hash or zset page has an odd number
  // of elements, or a score is not a number.
  engine::Status Add(const std::vector<std::string>& elements);

  // "x<count>:<32 hex digits>" (the count is 0 for strings, lists and streams).
  std::string Finish();

 private:
  enum class Kind { kBytes, kSequence, kPairs, kMembers, kScored };
  Kind kind_;
  XXH3_state_t* state_ = nullptr;  // kBytes, kSequence; owned
  ChunkDigest sum_;                // kPairs, kMembers, kScored
  std::string scratch_;
};

// The digest of a stream's consumer groups (elements as KeyProbe::groups), "" for none.
std::string GroupsDigest(const std::vector<std::string>& groups);

}  // namespace tandem::checksum
