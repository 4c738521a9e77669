// File: tests/connectors/redis/rdb/rdb_test_builders.h
//
// Encoders for the RDB unit tests: listpacks, ziplists, intsets, zipmaps and whole RDB files,
// written from the format descriptions (rdb_encodings.h, rdb_parser.h) independently of the
// decoders under test, so a test states its bytes at the level of entries and opcodes.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "connectors/redis/rdb/crc64.h"

namespace tandem::connectors::redis::rdb_test {

// A listpack/ziplist entry: a string or an integer (stored in the smallest integer encoding).
using Entry = std::variant<std::string, int64_t>;

inline void PutLittleEndian(std::string* out, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

inline void PutBigEndian(std::string* out, uint64_t value, int size) {
  for (int i = size - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

inline std::string ListpackBacklen(uint64_t size) {
  std::string out;
  if (size <= 127) {
    out.push_back(static_cast<char>(size));
    return out;
  }
  int count = size < 16383 ? 2 : size < 2097151 ? 3 : size < 268435455 ? 4 : 5;
  for (int i = 0; i < count; ++i) {
    unsigned char byte = static_cast<unsigned char>((size >> (7 * (count - 1 - i))) & 127);
    out.push_back(static_cast<char>(i > 0 ? (byte | 128) : byte));
  }
  return out;
}

inline std::string ListpackEntry(const Entry& entry) {
  std::string encoded;
  if (const auto* text = std::get_if<std::string>(&entry)) {
    const size_t size = text->size();
    if (size < 64) {
      encoded.push_back(static_cast<char>(0x80 | size));
    } else if (size < 4096) {
      encoded.push_back(static_cast<char>(0xE0 | (size >> 8)));
      encoded.push_back(static_cast<char>(size & 0xff));
    } else {
      encoded.push_back(static_cast<char>(0xF0));
      PutLittleEndian(&encoded, size, 4);
    }
    encoded += *text;
  } else {
    const int64_t value = std::get<int64_t>(entry);
    const auto bits = static_cast<uint64_t>(value);
    if (value >= 0 && value <= 127) {
      encoded.push_back(static_cast<char>(value));
    } else if (value >= -4096 && value <= 4095) {
      encoded.push_back(static_cast<char>(0xC0 | ((bits >> 8) & 0x1f)));
      encoded.push_back(static_cast<char>(bits & 0xff));
    } else if (value >= -32768 && value <= 32767) {
      encoded.push_back(static_cast<char>(0xF1));
      PutLittleEndian(&encoded, bits, 2);
    } else if (value >= -8388608 && value <= 8388607) {
      encoded.push_back(static_cast<char>(0xF2));
      PutLittleEndian(&encoded, bits, 3);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      encoded.push_back(static_cast<char>(0xF3));
      PutLittleEndian(&encoded, bits, 4);
    } else {
      encoded.push_back(static_cast<char>(0xF4));
      PutLittleEndian(&encoded, bits, 8);
    }
  }
  return encoded + ListpackBacklen(encoded.size());
}

inline std::string Listpack(const std::vector<Entry>& entries) {
  std::string body;
  for (const Entry& entry : entries) {
    body += ListpackEntry(entry);
  }
  std::string out;
  PutLittleEndian(&out, 6 + body.size() + 1, 4);
  PutLittleEndian(&out, entries.size() < 65535 ? entries.size() : 65535, 2);
  return out + body + '\xff';
}

inline std::string Ziplist(const std::vector<Entry>& entries) {
  std::string body;
  size_t previous_size = 0;
  size_t tail = 10;
  for (const Entry& entry : entries) {
    std::string encoded;
    if (previous_size < 254) {
      encoded.push_back(static_cast<char>(previous_size));
    } else {
      encoded.push_back(static_cast<char>(0xFE));
      PutLittleEndian(&encoded, previous_size, 4);
    }
    if (const auto* text = std::get_if<std::string>(&entry)) {
      const size_t size = text->size();
      if (size < 64) {
        encoded.push_back(static_cast<char>(size));
      } else if (size < 16384) {
        encoded.push_back(static_cast<char>(0x40 | (size >> 8)));
        encoded.push_back(static_cast<char>(size & 0xff));
      } else {
        encoded.push_back(static_cast<char>(0x80));
        PutBigEndian(&encoded, size, 4);
      }
      encoded += *text;
    } else {
      const int64_t value = std::get<int64_t>(entry);
      const auto bits = static_cast<uint64_t>(value);
      if (value >= 0 && value <= 12) {
        encoded.push_back(static_cast<char>(0xF1 + value));
      } else if (value >= -128 && value <= 127) {
        encoded.push_back(static_cast<char>(0xFE));
        PutLittleEndian(&encoded, bits, 1);
      } else if (value >= -32768 && value <= 32767) {
        encoded.push_back(static_cast<char>(0xC0));
        PutLittleEndian(&encoded, bits, 2);
      } else if (value >= -8388608 && value <= 8388607) {
        encoded.push_back(static_cast<char>(0xF0));
        PutLittleEndian(&encoded, bits, 3);
      } else if (value >= INT32_MIN && value <= INT32_MAX) {
        encoded.push_back(static_cast<char>(0xD0));
        PutLittleEndian(&encoded, bits, 4);
      } else {
        encoded.push_back(static_cast<char>(0xE0));
        PutLittleEndian(&encoded, bits, 8);
      }
    }
    tail = 10 + body.size();
    body += encoded;
    previous_size = encoded.size();
  }
  std::string out;
  PutLittleEndian(&out, 10 + body.size() + 1, 4);
  PutLittleEndian(&out, tail, 4);
  PutLittleEndian(&out, entries.size() < 65535 ? entries.size() : 65535, 2);
  return out + body + '\xff';
}

inline std::string Intset(int width, const std::vector<int64_t>& values) {
  std::string out;
  PutLittleEndian(&out, static_cast<uint64_t>(width), 4);
  PutLittleEndian(&out, values.size(), 4);
  for (int64_t value : values) {
    PutLittleEndian(&out, static_cast<uint64_t>(value), width);
  }
  return out;
}

// Field/value pairs; each value gets `free` unused bytes after it.
inline std::string Zipmap(const std::vector<std::pair<std::string, std::string>>& pairs,
                          int free = 0) {
  auto length = [](std::string* out, size_t size) {
    if (size < 254) {
      out->push_back(static_cast<char>(size));
    } else {
      out->push_back(static_cast<char>(0xFE));
      PutLittleEndian(out, size, 4);
    }
  };
  std::string out;
  out.push_back(static_cast<char>(pairs.size() < 254 ? pairs.size() : 254));
  for (const auto& [field, value] : pairs) {
    length(&out, field.size());
    out += field;
    length(&out, value.size());
    out.push_back(static_cast<char>(free));
    out += value;
    out.append(static_cast<size_t>(free), 'x');
  }
  return out + '\xff';
}

// RDB bytes, opcode by opcode. Value bytes are built with the static helpers and appended with
// Value(), which remembers them for ExpectedPayload.
class RdbBuilder {
 public:
  explicit RdbBuilder(int version = 10) : version_(version) {
    char header[10];
    std::snprintf(header, sizeof(header), "REDIS%04d", version);
    bytes_ = header;
  }

  static std::string Length(uint64_t length) {
    std::string out;
    if (length < 64) {
      out.push_back(static_cast<char>(length));
    } else if (length < 16384) {
      out.push_back(static_cast<char>(0x40 | (length >> 8)));
      out.push_back(static_cast<char>(length & 0xff));
    } else if (length <= UINT32_MAX) {
      out.push_back(static_cast<char>(0x80));
      PutBigEndian(&out, length, 4);
    } else {
      out.push_back(static_cast<char>(0x81));
      PutBigEndian(&out, length, 8);
    }
    return out;
  }
  static std::string String(std::string_view text) {
    return Length(text.size()) + std::string(text);
  }
  // INT8/16/32 special encodings (`bytes` 1, 2 or 4).
  static std::string IntString(int64_t value, int bytes) {
    std::string out(1, static_cast<char>(0xC0 | (bytes == 1 ? 0 : bytes == 2 ? 1 : 2)));
    PutLittleEndian(&out, static_cast<uint64_t>(value), bytes);
    return out;
  }
  static std::string LzfString(std::string_view compressed, size_t size) {
    return std::string(1, static_cast<char>(0xC3)) + Length(compressed.size()) + Length(size) +
           std::string(compressed);
  }
  static std::string BinaryDouble(double value) {
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(bits));
    std::string out;
    PutLittleEndian(&out, bits, 8);
    return out;
  }
  static std::string StringDouble(std::string_view text) {
    return std::string(1, static_cast<char>(text.size())) + std::string(text);
  }

  RdbBuilder& Raw(std::string_view bytes) {
    bytes_ += bytes;
    return *this;
  }
  RdbBuilder& Aux(std::string_view name, std::string_view value) {
    return Raw("\xfa").Raw(String(name)).Raw(String(value));
  }
  RdbBuilder& SelectDb(uint64_t database) { return Raw("\xfe").Raw(Length(database)); }
  RdbBuilder& ResizeDb(uint64_t keys, uint64_t expires) {
    return Raw("\xfb").Raw(Length(keys)).Raw(Length(expires));
  }
  RdbBuilder& ExpireMs(int64_t ms) {
    Raw("\xfc");
    PutLittleEndian(&bytes_, static_cast<uint64_t>(ms), 8);
    return *this;
  }
  RdbBuilder& ExpireSeconds(int32_t seconds) {
    Raw("\xfd");
    PutLittleEndian(&bytes_, static_cast<uint32_t>(seconds), 4);
    return *this;
  }
  // A key of `type` whose value serialises as `value_bytes`.
  RdbBuilder& Value(uint8_t type, std::string_view key, std::string_view value_bytes) {
    bytes_.push_back(static_cast<char>(type));
    return Raw(String(key)).Raw(value_bytes);
  }
  std::string Finish(bool checksum = true) const {
    std::string out = bytes_ + '\xff';
    if (version_ >= 5) {
      PutLittleEndian(&out, checksum ? RedisCrc64(0, out.data(), out.size()) : 0, 8);
    }
    return out;
  }

  // What DUMP returns for a value of `type` serialised as `value_bytes`.
  static std::string ExpectedPayload(uint8_t type, std::string_view value_bytes, int version = 10) {
    std::string out = std::string(1, static_cast<char>(type)) + std::string(value_bytes);
    PutLittleEndian(&out, static_cast<uint64_t>(version), 2);
    PutLittleEndian(&out, RedisCrc64(0, out.data(), out.size()), 8);
    return out;
  }

 private:
  int version_;
  std::string bytes_;
};

}  // namespace tandem::connectors::redis::rdb_test
