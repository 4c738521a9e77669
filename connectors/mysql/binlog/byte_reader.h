// File: connectors/mysql/binlog/byte_reader.h
//
// ByteReader: a bounds-checked cursor over the bytes of one binlog event. Every read checks that
// the bytes are there and turns a short buffer into kCorruption naming the event and the field;
// nothing ever reads past the end. Integers are little-endian unless the name says BE (the
// temporal and decimal column formats are big-endian).
//
// Thread safety: a value over borrowed bytes; owned by one thread. The bytes must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

class ByteReader {
 public:
  // `what` names the event or structure for error messages ("table map event").
  // REQUIRES: `data` and `what` outlive the reader (both are borrowed).
  ByteReader(std::string_view data, std::string_view what) : data_(data), what_(what) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return data_.size() - offset_; }
  bool empty() const { return offset_ == data_.size(); }

  engine::Result<uint8_t> U8(std::string_view field);
  engine::Result<uint16_t> U16(std::string_view field);
  engine::Result<uint32_t> U32(std::string_view field);
  engine::Result<uint64_t> U64(std::string_view field);
  // An unsigned little-endian integer of `width` bytes. REQUIRES: 1 <= width <= 8.
  engine::Result<uint64_t> UIntLE(size_t width, std::string_view field);
  // An unsigned big-endian integer of `width` bytes. REQUIRES: 1 <= width <= 8.
  engine::Result<uint64_t> UIntBE(size_t width, std::string_view field);
  // The protocol's length-encoded integer (1, 3, 4 or 9 bytes). 0xfb (NULL) and 0xff are refused.
  engine::Result<uint64_t> PackedInt(std::string_view field);
  // `size` bytes, borrowed from the buffer.
  engine::Result<std::string_view> Bytes(uint64_t size, std::string_view field);
  // A length-encoded string.
  engine::Result<std::string_view> PackedBytes(std::string_view field);
  engine::Status Skip(uint64_t size, std::string_view field);
  // Everything not read yet (possibly empty); the cursor moves to the end.
  std::string_view Rest();

  // kCorruption "<what>: <message> at byte <offset>".
  engine::Status Error(std::string_view message) const;

 private:
  engine::Status Short(uint64_t wanted, std::string_view field) const;

  std::string_view data_;
  std::string_view what_;
  size_t offset_ = 0;
};

}  // namespace tandem::connectors::mysql::binlog
