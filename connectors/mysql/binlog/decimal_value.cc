#include "connectors/mysql/binlog/decimal_value.h"

#include <array>
#include <cstdio>

namespace tandem::connectors::mysql::binlog {

namespace {

constexpr int kDigitsPerGroup = 9;
constexpr std::array<int, 10> kBytesForDigits = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr std::array<uint32_t, 10> kPowersOfTen = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

uint32_t BigEndian(const unsigned char* bytes, int size) {
  uint32_t value = 0;
  for (int i = 0; i < size; ++i) {
    value = (value << 8) | bytes[i];
  }
  return value;
}

}  // namespace

size_t DecimalBinarySize(int precision, int scale) {
  const int integer_digits = precision - scale;
  return static_cast<size_t>(
      (integer_digits / kDigitsPerGroup) * 4 + kBytesForDigits[integer_digits % kDigitsPerGroup] +
      (scale / kDigitsPerGroup) * 4 + kBytesForDigits[scale % kDigitsPerGroup]);
}

engine::Result<std::string> ReadDecimal(ByteReader& reader, int precision, int scale) {
  const int integer_digits = precision - scale;
  const size_t size = DecimalBinarySize(precision, scale);
  TANDEM_ASSIGN_OR_RETURN(std::string_view raw, reader.Bytes(size, "decimal"));
  if (size == 0) {
    return std::string("0");
  }
  // At most 65 digits in at most 30 bytes (checked by the table map: precision <= 65).
  std::array<unsigned char, 40> bytes{};
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<unsigned char>(raw[i]);
  }
  const bool negative = (bytes[0] & 0x80) == 0;
  bytes[0] ^= 0x80;
  if (negative) {
    for (size_t i = 0; i < size; ++i) {
      bytes[i] = static_cast<unsigned char>(~bytes[i]);
    }
  }
  std::string integer_part;
  std::string fraction_part;
  size_t pos = 0;
  char buffer[16];
  auto group = [&](int digits, std::string* out, bool pad) -> bool {
    const int width = kBytesForDigits[static_cast<size_t>(digits)];
    const uint32_t value = BigEndian(bytes.data() + pos, width);
    pos += static_cast<size_t>(width);
    if (value >= kPowersOfTen[static_cast<size_t>(digits)]) {
      return false;
    }
    if (!pad && out->empty()) {
      if (value == 0) {
        return true;  // no leading zero groups
      }
      std::snprintf(buffer, sizeof(buffer), "%u", value);
    } else {
      std::snprintf(buffer, sizeof(buffer), "%0*u", digits, value);
    }
    *out += buffer;
    return true;
  };
  const int leading = integer_digits % kDigitsPerGroup;
  bool valid = true;
  if (leading > 0) {
    valid = valid && group(leading, &integer_part, false);
  }
  for (int i = 0; i < integer_digits / kDigitsPerGroup; ++i) {
    valid = valid && group(kDigitsPerGroup, &integer_part, false);
  }
  for (int i = 0; i < scale / kDigitsPerGroup; ++i) {
    valid = valid && group(kDigitsPerGroup, &fraction_part, true);
  }
  if (scale % kDigitsPerGroup > 0) {
    valid = valid && group(scale % kDigitsPerGroup, &fraction_part, true);
  }
  if (!valid) {
    return reader.Error("DECIMAL(" + std::to_string(precision) + "," + std::to_string(scale) +
                        ") value has a digit group out of range");
  }
  std::string text = negative ? "-" : "";
  text += integer_part.empty() ? "0" : integer_part;
  if (!fraction_part.empty()) {
    text += "." + fraction_part;
  }
  return text;
}

}  // namespace tandem::connectors::mysql::binlog
