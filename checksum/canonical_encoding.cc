#include "checksum/canonical_encoding.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace tandem::checksum {
namespace {

using engine::Value;
using engine::ValueKind;

enum Tag : char {
  kNullTag = 0,
  kNumberTag = 1,
  kFloatTag = 2,
  kTextTag = 3,
  kBytesTag = 4,
  kDateTag = 5,
  kTimeTag = 6,
  kDateTimeTag = 7,
  kTimestampTag = 8,
  kJsonTag = 9,
  kBitsTag = 10,
};

void AppendFixed64(uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

void AppendTagged(Tag tag, std::string_view payload, std::string* out) {
  out->push_back(tag);
  AppendFixed64(payload.size(), out);
  out->append(payload);
}

void AppendTaggedFixed(Tag tag, uint64_t value, std::string* out) {
  out->push_back(tag);
  AppendFixed64(8, out);
  AppendFixed64(value, out);
}

}  // namespace

std::string CanonicalJson(const std::string& text) {
  // nlohmann::json keeps object keys in a std::map, so dump() writes them sorted.
  nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return text;
  }
  return document.dump();
}

void AppendCanonical(const Value& value, std::string* out) {
  switch (value.kind()) {
    case ValueKind::kNull:
      out->push_back(kNullTag);
      return;
    case ValueKind::kBool:
    case ValueKind::kInt:
      AppendTagged(kNumberTag, std::to_string(value.int_value()), out);
      return;
    case ValueKind::kUInt:
      AppendTagged(kNumberTag, std::to_string(value.uint_value()), out);
      return;
    case ValueKind::kDecimal:
      AppendTagged(kNumberTag, value.text(), out);  // already canonical (Value::Decimal)
      return;
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      double number = value.double_value();
      if (std::isnan(number)) {
        number = std::numeric_limits<double>::quiet_NaN();
      }
      uint64_t bits;
      std::memcpy(&bits, &number, sizeof bits);
      AppendTaggedFixed(kFloatTag, bits, out);
      return;
    }
    case ValueKind::kText:
    case ValueKind::kUuid:
    case ValueKind::kInterval:
    case ValueKind::kOther:
      AppendTagged(kTextTag, value.text(), out);
      return;
    case ValueKind::kBytes:
      AppendTagged(kBytesTag, value.text(), out);
      return;
    case ValueKind::kDate:
      AppendTaggedFixed(kDateTag, static_cast<uint64_t>(value.int_value()), out);
      return;
    case ValueKind::kTime:
      AppendTaggedFixed(kTimeTag, static_cast<uint64_t>(value.int_value()), out);
      return;
    case ValueKind::kDateTime:
      out->push_back(kDateTimeTag);
      AppendFixed64(16, out);
      AppendFixed64(static_cast<uint64_t>(value.int_value()), out);
      AppendFixed64(value.uint_value(), out);
      return;
    case ValueKind::kTimestamp:
      AppendTaggedFixed(kTimestampTag, static_cast<uint64_t>(value.int_value()), out);
      return;
    case ValueKind::kJson:
      AppendTagged(kJsonTag, CanonicalJson(value.text()), out);
      return;
    case ValueKind::kBits:
      AppendTaggedFixed(kBitsTag, value.uint_value(), out);
      return;
  }
}

}  // namespace tandem::checksum
