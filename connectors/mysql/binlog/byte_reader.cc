#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Status;

Status ByteReader::Error(std::string_view message) const {
  return engine::Corruption(std::string(what_) + ": " + std::string(message) + " at byte " +
                            std::to_string(offset_));
}

Status ByteReader::Short(uint64_t wanted, std::string_view field) const {
  return engine::Corruption(std::string(what_) + " is truncated: " + std::string(field) +
                            " needs " + std::to_string(wanted) + " bytes at byte " +
                            std::to_string(offset_) + ", only " + std::to_string(remaining()) +
                            " left");
}

Result<uint64_t> ByteReader::UIntLE(size_t width, std::string_view field) {
  if (remaining() < width) {
    return Short(width, field);
  }
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(data_[offset_ + i])) << (8 * i);
  }
  offset_ += width;
  return value;
}

Result<uint64_t> ByteReader::UIntBE(size_t width, std::string_view field) {
  if (remaining() < width) {
    return Short(width, field);
  }
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value = (value << 8) | static_cast<unsigned char>(data_[offset_ + i]);
  }
  offset_ += width;
  return value;
}

Result<uint8_t> ByteReader::U8(std::string_view field) {
  if (remaining() < 1) {
    return Short(1, field);
  }
  return static_cast<uint8_t>(data_[offset_++]);
}

Result<uint16_t> ByteReader::U16(std::string_view field) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t value, UIntLE(2, field));
  return static_cast<uint16_t>(value);
}

Result<uint32_t> ByteReader::U32(std::string_view field) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t value, UIntLE(4, field));
  return static_cast<uint32_t>(value);
}

Result<uint64_t> ByteReader::U64(std::string_view field) { return UIntLE(8, field); }

Result<uint64_t> ByteReader::PackedInt(std::string_view field) {
  TANDEM_ASSIGN_OR_RETURN(uint8_t first, U8(field));
  if (first < 0xfb) {
    return first;
  }
  switch (first) {
    case 0xfc:
      return UIntLE(2, field);
    case 0xfd:
      return UIntLE(3, field);
    case 0xfe:
      return UIntLE(8, field);
    default:
      --offset_;
      return Error("invalid length-encoded integer prefix " + std::to_string(first) + " in " +
                   std::string(field));
  }
}

Result<std::string_view> ByteReader::Bytes(uint64_t size, std::string_view field) {
  if (remaining() < size) {
    return Short(size, field);
  }
  std::string_view out = data_.substr(offset_, static_cast<size_t>(size));
  offset_ += static_cast<size_t>(size);
  return out;
}

Result<std::string_view> ByteReader::PackedBytes(std::string_view field) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t size, PackedInt(field));
  return Bytes(size, field);
}

Status ByteReader::Skip(uint64_t size, std::string_view field) {
  if (remaining() < size) {
    return Short(size, field);
  }
  offset_ += static_cast<size_t>(size);
  return Status::Ok();
}

std::string_view ByteReader::Rest() {
  std::string_view out = data_.substr(offset_);
  offset_ = data_.size();
  return out;
}

}  // namespace tandem::connectors::mysql::binlog
