// Redis's CRC-64 (Jones): the check value, continuation across any split, and agreement of the
// slicing-by-8 loop with a bit-by-bit reference.
#include "connectors/redis/rdb/crc64.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tandem::connectors::redis {
namespace {

// The definition, one bit at a time: reflected, initial value 0, no final xor.
uint64_t ReferenceCrc64(uint64_t crc, const std::string& bytes) {
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
  }
  return crc;
}

std::string Pattern(size_t size) {
  std::string bytes(size, '\0');
  uint32_t state = 12345;
  for (char& byte : bytes) {
    state = state * 1103515245 + 12345;
    byte = static_cast<char>(state >> 16);
  }
  return bytes;
}

TEST(RedisCrc64, CheckValueOf123456789) {
  const std::string check = "123456789";
  EXPECT_EQ(RedisCrc64(0, check.data(), check.size()), 0xe9c6d914c4b8d9caULL);
}

TEST(RedisCrc64, EmptyInputLeavesTheCrcUnchanged) {
  EXPECT_EQ(RedisCrc64(0, nullptr, 0), 0u);
  EXPECT_EQ(RedisCrc64(0x1234, "", 0), 0x1234u);
}

TEST(RedisCrc64, MatchesTheBitwiseReferenceAtEveryLength) {
  const std::string bytes = Pattern(300);
  for (size_t size = 0; size <= bytes.size(); ++size) {
    const std::string prefix = bytes.substr(0, size);
    ASSERT_EQ(RedisCrc64(0, prefix.data(), prefix.size()), ReferenceCrc64(0, prefix))
        << "size " << size;
  }
}

TEST(RedisCrc64, ContinuesAcrossEverySplit) {
  const std::string bytes = Pattern(100);
  const uint64_t whole = RedisCrc64(0, bytes.data(), bytes.size());
  for (size_t split = 0; split <= bytes.size(); ++split) {
    const uint64_t first = RedisCrc64(0, bytes.data(), split);
    ASSERT_EQ(RedisCrc64(first, bytes.data() + split, bytes.size() - split), whole)
        << "split " << split;
  }
}

TEST(RedisCrc64, UnalignedStartGivesTheSameCrc) {
  const std::string bytes = Pattern(1000);
  for (size_t shift = 0; shift < 8; ++shift) {
    std::string shifted = std::string(shift, 'x') + bytes;
    ASSERT_EQ(RedisCrc64(0, shifted.data() + shift, bytes.size()),
              RedisCrc64(0, bytes.data(), bytes.size()));
  }
}

}  // namespace
}  // namespace tandem::connectors::redis
