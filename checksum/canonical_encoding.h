// File: checksum/canonical_encoding.h
//
// The canonical byte encoding of values that verification hashes, chosen so that values which are
// equal in meaning encode to the same bytes whichever engine they came from, and values that differ
// in meaning never do. Every value is a class tag, a length and a payload, so a row's encoding
// (the concatenation of its values) is unambiguous.
//
//   class     tag  payload                                     covers
//   null      0    -                                           NULL (distinct from '' and 0)
//   number    1    canonical decimal text (CanonicalDecimal)   kInt, kUInt, kBool, kDecimal: so
//                                                              BIGINT 5, NUMERIC 5.00 and true/1
//                                                              agree
//   float     2    8 bytes: IEEE-754 bits, little endian       kFloat, kDouble; -0.0 and 0.0
//   differ,
//                                                              every NaN encodes as one quiet NaN
//   text      3    the bytes                                   kText, kUuid (lower case),
//   kInterval,
//                                                              kOther
//   bytes     4    the bytes                                   kBytes
//   date      5    8 bytes: yyyymmdd                           kDate
//   time      6    8 bytes: signed µs                          kTime
//   datetime  7    8+8 bytes: yyyymmdd, µs of day              kDateTime
//   timestamp 8    8 bytes: µs since epoch, UTC                kTimestamp
//   json      9    the document re-serialised with sorted      kJson: '{"b":1, "a":2}' and
//                  keys and no insignificant white space      '{"a":2,"b":1}' agree
//   bits      10   8 bytes: the bits                           kBits (width is the column's)
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "engine/value.h"

namespace tandem::checksum {

// Appends the canonical encoding of `value` to `out`.
void AppendCanonical(const engine::Value& value, std::string* out);

// The canonical JSON text of a document (sorted keys, compact). Text that does not parse as JSON
// is returned unchanged, so it still compares byte for byte.
std::string CanonicalJson(const std::string& text);

}  // namespace tandem::checksum
