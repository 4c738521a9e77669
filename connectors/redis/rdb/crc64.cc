// File: connectors/redis/rdb/crc64.cc
//
// Slicing-by-8: eight 256-entry tables (built at compile time) let the loop fold 8 input bytes per
// step, which matters because every byte of a full-sync RDB (hundreds of MB) passes through here.
#include "connectors/redis/rdb/crc64.h"

#include <array>
#include <bit>
#include <cstring>

namespace tandem::connectors::redis {
namespace {

// 0xad93d23594c935a9 bit-reversed: the polynomial as the reflected algorithm uses it.
constexpr uint64_t kReflectedPolynomial = 0x95ac9329ac4bc9b5ULL;

using Tables = std::array<std::array<uint64_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables tables{};
  for (uint64_t byte = 0; byte < 256; ++byte) {
    uint64_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ kReflectedPolynomial : crc >> 1;
    }
    tables[0][byte] = crc;
  }
  for (size_t slice = 1; slice < 8; ++slice) {
    for (size_t byte = 0; byte < 256; ++byte) {
      const uint64_t previous = tables[slice - 1][byte];
      tables[slice][byte] = (previous >> 8) ^ tables[0][previous & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

uint64_t LoadLittleEndian64(const unsigned char* bytes) {
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t value;
    std::memcpy(&value, bytes, sizeof(value));
    return value;
  } else {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) {
      value = (value << 8) | bytes[i];
    }
    return value;
  }
}

}  // namespace

uint64_t RedisCrc64(uint64_t crc, const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  while (size >= 8) {
    crc ^= LoadLittleEndian64(bytes);
    crc = kTables[7][crc & 0xff] ^ kTables[6][(crc >> 8) & 0xff] ^ kTables[5][(crc >> 16) & 0xff] ^
          kTables[4][(crc >> 24) & 0xff] ^ kTables[3][(crc >> 32) & 0xff] ^
          kTables[2][(crc >> 40) & 0xff] ^ kTables[1][(crc >> 48) & 0xff] ^ kTables[0][crc >> 56];
    bytes += 8;
    size -= 8;
  }
  while (size > 0) {
    crc = kTables[0][(crc ^ *bytes) & 0xff] ^ (crc >> 8);
    ++bytes;
    --size;
  }
  return crc;
}

}  // namespace tandem::connectors::redis
