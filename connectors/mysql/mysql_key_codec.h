// File: connectors/mysql/mysql_key_codec.h
//
// An exact, self-describing byte encoding of a key tuple (engine::Row), so the snapshot copier can
// store chunk bounds and copy progress in a target table (`_tandem`.`copy_chunk`) and read them
// back as the very same Values after a restart. Every value is:
//
//   field     size            meaning
//   kind      1 byte          engine::ValueKind
//   payload   by kind:
//     kNull                                 nothing
//     kBool kInt kDate kTime kTimestamp     int_value, 8 bytes little-endian
//     kUInt                                 uint_value, 8 bytes little-endian
//     kFloat kDouble                        double_value's IEEE bits, 8 bytes little-endian
//     kDateTime                             int_value then uint_value, 8 + 8 bytes
//     kBits                                 uint_value, then the width (int_value), 8 + 8 bytes
//     text kinds (kDecimal kText kBytes     length (4 bytes little-endian), then the bytes
//     kJson kUuid kInterval kOther)
//
// The encoding is internal to tandem (written and read by the same code); it is not ordered.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::mysql {

// `key` in the encoding above; DecodeKey gives back an equal Row. Never fails.
std::string EncodeKey(const engine::Row& key);

// Errors: kCorruption when `bytes` is not an encoding EncodeKey produced (short, unknown kind,
// trailing bytes).
engine::Result<engine::Row> DecodeKey(std::string_view bytes);

}  // namespace tandem::connectors::mysql
