// File: engine/key_range.h
//
// KeyRange: a contiguous range of rows ordered by a table's identifying key, the unit of chunked
// reads and verification. Bounds are key tuples (one Value per key column, in key order); a missing
// bound is open. The lower bound is exclusive or inclusive as flagged, the upper bound likewise, so
// consecutive chunks can share a boundary without overlapping: (a, b], (b, c], ...
//
// Thread safety: a value type.
#pragma once

#include <optional>
#include <string>

#include "engine/value.h"

namespace tandem::engine {

struct KeyBound {
  Row key;  // one Value per key column
  bool inclusive = false;
};

struct KeyRange {
  std::optional<KeyBound> lower;  // none = from the first row
  std::optional<KeyBound> upper;  // none = to the last row

  static KeyRange All() { return KeyRange(); }
  // "(1, 1000]" style, for reports; composite keys as tuples "((1,'a'), (5,'z')]".
  std::string ToString() const;
};

}  // namespace tandem::engine
