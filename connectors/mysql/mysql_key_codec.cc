#include "connectors/mysql/mysql_key_codec.h"

#include <bit>
#include <cstdint>
#include <optional>

namespace tandem::connectors::mysql {

using engine::Result;
using engine::Row;
using engine::Value;
using engine::ValueKind;

namespace {

void PutUint64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

void PutText(std::string* out, std::string_view text) {
  const auto length = static_cast<uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) {
    out->push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  }
  out->append(text);
}

// Reads fields off the front of an encoding; every read is bounds-checked.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  bool empty() const { return bytes_.empty(); }

  std::optional<uint8_t> Byte() {
    if (bytes_.empty()) return std::nullopt;
    const auto value = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return value;
  }
  std::optional<uint64_t> Uint64() {
    if (bytes_.size() < 8) return std::nullopt;
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) {
      value = (value << 8) | static_cast<uint8_t>(bytes_[static_cast<size_t>(i)]);
    }
    bytes_.remove_prefix(8);
    return value;
  }
  std::optional<std::string> Text() {
    if (bytes_.size() < 4) return std::nullopt;
    uint32_t length = 0;
    for (int i = 3; i >= 0; --i) {
      length = (length << 8) | static_cast<uint8_t>(bytes_[static_cast<size_t>(i)]);
    }
    bytes_.remove_prefix(4);
    if (bytes_.size() < length) return std::nullopt;
    std::string text(bytes_.substr(0, length));
    bytes_.remove_prefix(length);
    return text;
  }

 private:
  std::string_view bytes_;
};

engine::Status Corrupt(std::string_view what) {
  return engine::Corruption("a stored copy key does not decode: " + std::string(what));
}

}  // namespace

std::string EncodeKey(const Row& key) {
  std::string out;
  for (const Value& value : key) {
    out.push_back(static_cast<char>(value.kind()));
    switch (value.kind()) {
      case ValueKind::kNull:
        break;
      case ValueKind::kBool:
      case ValueKind::kInt:
      case ValueKind::kDate:
      case ValueKind::kTime:
      case ValueKind::kTimestamp:
        PutUint64(&out, static_cast<uint64_t>(value.int_value()));
        break;
      case ValueKind::kUInt:
        PutUint64(&out, value.uint_value());
        break;
      case ValueKind::kFloat:
      case ValueKind::kDouble:
        PutUint64(&out, std::bit_cast<uint64_t>(value.double_value()));
        break;
      case ValueKind::kDateTime:
        PutUint64(&out, static_cast<uint64_t>(value.int_value()));
        PutUint64(&out, value.uint_value());
        break;
      case ValueKind::kBits:
        PutUint64(&out, value.uint_value());
        PutUint64(&out, static_cast<uint64_t>(value.int_value()));  // the width
        break;
      case ValueKind::kDecimal:
      case ValueKind::kText:
      case ValueKind::kBytes:
      case ValueKind::kJson:
      case ValueKind::kUuid:
      case ValueKind::kInterval:
      case ValueKind::kOther:
        PutText(&out, value.text());
        break;
    }
  }
  return out;
}

Result<Row> DecodeKey(std::string_view bytes) {
  Cursor cursor(bytes);
  Row key;
  while (!cursor.empty()) {
    const std::optional<uint8_t> kind_byte = cursor.Byte();
    if (!kind_byte || *kind_byte > static_cast<uint8_t>(ValueKind::kOther)) {
      return Corrupt("unknown value kind");
    }
    const auto kind = static_cast<ValueKind>(*kind_byte);
    switch (kind) {
      case ValueKind::kNull:
        key.push_back(Value::Null());
        continue;
      case ValueKind::kBool:
      case ValueKind::kInt:
      case ValueKind::kDate:
      case ValueKind::kTime:
      case ValueKind::kTimestamp: {
        const std::optional<uint64_t> raw = cursor.Uint64();
        if (!raw) return Corrupt("short integer");
        const auto number = static_cast<int64_t>(*raw);
        if (kind == ValueKind::kBool) {
          key.push_back(Value::Bool(number != 0));
        } else if (kind == ValueKind::kInt) {
          key.push_back(Value::Int(number));
        } else if (kind == ValueKind::kDate) {
          key.push_back(Value::Date(static_cast<int>(number / 10000),
                                    static_cast<int>((number / 100) % 100),
                                    static_cast<int>(number % 100)));
        } else if (kind == ValueKind::kTime) {
          key.push_back(Value::Time(number));
        } else {
          key.push_back(Value::Timestamp(number));
        }
        continue;
      }
      case ValueKind::kUInt: {
        const std::optional<uint64_t> raw = cursor.Uint64();
        if (!raw) return Corrupt("short unsigned integer");
        key.push_back(Value::UInt(*raw));
        continue;
      }
      case ValueKind::kFloat:
      case ValueKind::kDouble: {
        const std::optional<uint64_t> raw = cursor.Uint64();
        if (!raw) return Corrupt("short floating-point number");
        const double number = std::bit_cast<double>(*raw);
        key.push_back(kind == ValueKind::kFloat ? Value::Float(static_cast<float>(number))
                                                : Value::Double(number));
        continue;
      }
      case ValueKind::kDateTime: {
        const std::optional<uint64_t> date = cursor.Uint64();
        const std::optional<uint64_t> micros = cursor.Uint64();
        if (!date || !micros) return Corrupt("short datetime");
        const auto yyyymmdd = static_cast<int64_t>(*date);
        key.push_back(Value::DateTime(static_cast<int>(yyyymmdd / 10000),
                                      static_cast<int>((yyyymmdd / 100) % 100),
                                      static_cast<int>(yyyymmdd % 100), *micros));
        continue;
      }
      case ValueKind::kBits: {
        const std::optional<uint64_t> bits = cursor.Uint64();
        const std::optional<uint64_t> width = cursor.Uint64();
        if (!bits || !width || *width > 64) {
          return Corrupt("bad bit string");
        }
        key.push_back(Value::Bits(*bits, static_cast<int>(*width)));
        continue;
      }
      default:
        break;
    }
    std::optional<std::string> text = cursor.Text();
    if (!text) return Corrupt("short text");
    switch (kind) {
      case ValueKind::kDecimal:
        key.push_back(Value::Decimal(*text));
        break;
      case ValueKind::kText:
        key.push_back(Value::Text(std::move(*text)));
        break;
      case ValueKind::kBytes:
        key.push_back(Value::Bytes(std::move(*text)));
        break;
      case ValueKind::kJson:
        key.push_back(Value::Json(std::move(*text)));
        break;
      case ValueKind::kUuid:
        key.push_back(Value::Uuid(std::move(*text)));
        break;
      case ValueKind::kInterval:
        key.push_back(Value::Interval(std::move(*text)));
        break;
      default:
        key.push_back(Value::Other(std::move(*text)));
        break;
    }
  }
  return key;
}

}  // namespace tandem::connectors::mysql
