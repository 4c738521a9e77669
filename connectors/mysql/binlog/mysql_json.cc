#include "connectors/mysql/binlog/mysql_json.h"

#include <bit>
#include <charconv>
#include <cstdio>

#include "connectors/mysql/binlog/byte_reader.h"
#include "connectors/mysql/binlog/decimal_value.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Status;

namespace {

constexpr int kMaxDepth = 100;
constexpr char kWhat[] = "MySQL binary JSON";

Status Bad(std::string message) { return engine::Corruption(std::string(kWhat) + ": " + message); }

void AppendEscaped(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", static_cast<unsigned char>(c));
          *out += buffer;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendDouble(double value, std::string* out) {
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, error == std::errc() ? end : buffer);
  const size_t plus = text.find("e+");
  if (plus != std::string::npos) {
    text.erase(plus + 1, 1);
  }
  if (text.find_first_of(".eEn") == std::string::npos) {
    text += ".0";  // MySQL prints integral doubles with a fraction
  }
  *out += text;
}

// A variable-length length: 7 bits per byte, at most 5 bytes.
Result<uint64_t> ReadVarLength(ByteReader& reader) {
  uint64_t length = 0;
  for (int i = 0; i < 5; ++i) {
    TANDEM_ASSIGN_OR_RETURN(uint8_t byte, reader.U8("length"));
    length |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      return length;
    }
  }
  return reader.Error("variable-length length longer than 5 bytes");
}

void AppendTemporal(uint8_t field_type, int64_t packed, std::string* out) {
  const bool negative = packed < 0;
  const uint64_t magnitude = static_cast<uint64_t>(negative ? -packed : packed);
  const uint64_t micros = magnitude % (1u << 24);
  const uint64_t integer = magnitude >> 24;
  char buffer[64];
  if (field_type == 11) {  // TIME
    const uint64_t hms = integer;
    std::snprintf(buffer, sizeof(buffer), "\"%s%02u:%02u:%02u.%06u\"", negative ? "-" : "",
                  static_cast<unsigned>((hms >> 12) % (1u << 10)),
                  static_cast<unsigned>((hms >> 6) % 64), static_cast<unsigned>(hms % 64),
                  static_cast<unsigned>(micros));
  } else {
    const uint64_t ymd = integer >> 17;
    const uint64_t ym = ymd >> 5;
    const uint64_t hms = integer % (1u << 17);
    if (field_type == 10) {  // DATE
      std::snprintf(buffer, sizeof(buffer), "\"%04u-%02u-%02u\"", static_cast<unsigned>(ym / 13),
                    static_cast<unsigned>(ym % 13), static_cast<unsigned>(ymd % 32));
    } else {
      std::snprintf(buffer, sizeof(buffer), "\"%04u-%02u-%02u %02u:%02u:%02u.%06u\"",
                    static_cast<unsigned>(ym / 13), static_cast<unsigned>(ym % 13),
                    static_cast<unsigned>(ymd % 32), static_cast<unsigned>(hms >> 12),
                    static_cast<unsigned>((hms >> 6) % 64), static_cast<unsigned>(hms % 64),
                    static_cast<unsigned>(micros));
    }
  }
  *out += buffer;
}

Status AppendValue(uint8_t type, std::string_view data, int depth, std::string* out);

Status AppendOpaque(std::string_view data, std::string* out) {
  ByteReader reader(data, kWhat);
  TANDEM_ASSIGN_OR_RETURN(uint8_t field_type, reader.U8("opaque type"));
  TANDEM_ASSIGN_OR_RETURN(uint64_t length, ReadVarLength(reader));
  TANDEM_ASSIGN_OR_RETURN(std::string_view bytes, reader.Bytes(length, "opaque value"));
  ByteReader value(bytes, kWhat);
  switch (field_type) {
    case 246: {  // NEWDECIMAL
      TANDEM_ASSIGN_OR_RETURN(uint8_t precision, value.U8("decimal precision"));
      TANDEM_ASSIGN_OR_RETURN(uint8_t scale, value.U8("decimal scale"));
      if (precision == 0 || precision > 65 || scale > precision) {
        return Bad("opaque DECIMAL with precision " + std::to_string(precision));
      }
      TANDEM_ASSIGN_OR_RETURN(std::string text, ReadDecimal(value, precision, scale));
      *out += text;
      return Status::Ok();
    }
    case 10:
    case 11:
    case 12:
    case 7:
    case 18:
    case 17:
    case 19: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t packed, value.U64("packed temporal"));
      const uint8_t kind = field_type == 19 ? 11 : field_type == 10 ? 10 : 12;
      AppendTemporal(kind, static_cast<int64_t>(packed), out);
      return Status::Ok();
    }
    default: {
      // MySQL prints other opaque values as base64 with their type.
      static constexpr char kBase64[] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string encoded;
      for (size_t i = 0; i < bytes.size(); i += 3) {
        uint32_t chunk = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (i + 1 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
        encoded.push_back(kBase64[(chunk >> 18) & 63]);
        encoded.push_back(kBase64[(chunk >> 12) & 63]);
        encoded.push_back(i + 1 < bytes.size() ? kBase64[(chunk >> 6) & 63] : '=');
        encoded.push_back(i + 2 < bytes.size() ? kBase64[chunk & 63] : '=');
      }
      *out += "\"base64:type" + std::to_string(field_type) + ":" + encoded + "\"";
      return Status::Ok();
    }
  }
}

Status AppendContainer(bool object, bool large, std::string_view data, int depth,
                       std::string* out) {
  if (depth > kMaxDepth) {
    return Bad("nesting deeper than " + std::to_string(kMaxDepth));
  }
  const size_t width = large ? 4 : 2;
  ByteReader reader(data, kWhat);
  TANDEM_ASSIGN_OR_RETURN(uint64_t count, reader.UIntLE(width, "element count"));
  TANDEM_ASSIGN_OR_RETURN(uint64_t size, reader.UIntLE(width, "size"));
  if (size > data.size()) {
    return Bad("container of " + std::to_string(size) + " bytes in " + std::to_string(data.size()));
  }
  const std::string_view body = data.substr(0, static_cast<size_t>(size));
  const uint64_t entry_bytes = 2 * width + (object ? count * (width + 2) : 0) + count * (1 + width);
  if (count > size || entry_bytes > size) {
    return Bad("container of " + std::to_string(count) + " elements in " + std::to_string(size) +
               " bytes");
  }
  ByteReader keys(body.substr(2 * width), kWhat);
  ByteReader values(body.substr(2 * width + (object ? count * (width + 2) : 0)), kWhat);
  out->push_back(object ? '{' : '[');
  for (uint64_t i = 0; i < count; ++i) {
    if (i > 0) {
      *out += ", ";
    }
    if (object) {
      TANDEM_ASSIGN_OR_RETURN(uint64_t key_offset, keys.UIntLE(width, "key offset"));
      TANDEM_ASSIGN_OR_RETURN(uint16_t key_length, keys.U16("key length"));
      if (key_offset + key_length > body.size()) {
        return Bad("key beyond its object");
      }
      AppendEscaped(body.substr(static_cast<size_t>(key_offset), key_length), out);
      *out += ": ";
    }
    TANDEM_ASSIGN_OR_RETURN(uint8_t type, values.U8("value type"));
    const bool inlined =
        type == 0x04 || type == 0x05 || type == 0x06 || (large && (type == 0x07 || type == 0x08));
    if (inlined) {
      TANDEM_ASSIGN_OR_RETURN(std::string_view inline_value, values.Bytes(width, "value"));
      TANDEM_RETURN_IF_ERROR(AppendValue(type, inline_value, depth + 1, out));
    } else {
      TANDEM_ASSIGN_OR_RETURN(uint64_t offset, values.UIntLE(width, "value offset"));
      if (offset >= body.size()) {
        return Bad("value offset " + std::to_string(offset) + " beyond its container");
      }
      TANDEM_RETURN_IF_ERROR(
          AppendValue(type, body.substr(static_cast<size_t>(offset)), depth + 1, out));
    }
  }
  out->push_back(object ? '}' : ']');
  return Status::Ok();
}

Status AppendValue(uint8_t type, std::string_view data, int depth, std::string* out) {
  ByteReader reader(data, kWhat);
  switch (type) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x03:
      return AppendContainer(type <= 0x01, type == 0x01 || type == 0x03, data, depth, out);
    case 0x04: {
      TANDEM_ASSIGN_OR_RETURN(uint8_t literal, reader.U8("literal"));
      if (literal > 2) {
        return Bad("literal " + std::to_string(literal));
      }
      *out += literal == 0 ? "null" : literal == 1 ? "true" : "false";
      return Status::Ok();
    }
    case 0x05: {
      TANDEM_ASSIGN_OR_RETURN(uint16_t raw, reader.U16("int16"));
      *out += std::to_string(static_cast<int16_t>(raw));
      return Status::Ok();
    }
    case 0x06: {
      TANDEM_ASSIGN_OR_RETURN(uint16_t raw, reader.U16("uint16"));
      *out += std::to_string(raw);
      return Status::Ok();
    }
    case 0x07: {
      TANDEM_ASSIGN_OR_RETURN(uint32_t raw, reader.U32("int32"));
      *out += std::to_string(static_cast<int32_t>(raw));
      return Status::Ok();
    }
    case 0x08: {
      TANDEM_ASSIGN_OR_RETURN(uint32_t raw, reader.U32("uint32"));
      *out += std::to_string(raw);
      return Status::Ok();
    }
    case 0x09: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.U64("int64"));
      *out += std::to_string(static_cast<int64_t>(raw));
      return Status::Ok();
    }
    case 0x0a: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.U64("uint64"));
      *out += std::to_string(raw);
      return Status::Ok();
    }
    case 0x0b: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.U64("double"));
      AppendDouble(std::bit_cast<double>(raw), out);
      return Status::Ok();
    }
    case 0x0c: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t length, ReadVarLength(reader));
      TANDEM_ASSIGN_OR_RETURN(std::string_view text, reader.Bytes(length, "string"));
      AppendEscaped(text, out);
      return Status::Ok();
    }
    case 0x0f:
      return AppendOpaque(data, out);
    default:
      return Bad("unknown value type " + std::to_string(type));
  }
}

}  // namespace

Result<std::string> MySqlJsonToText(std::string_view binary) {
  if (binary.empty()) {
    return std::string("null");  // MySQL logs an empty value for a JSON null in some paths
  }
  std::string out;
  TANDEM_RETURN_IF_ERROR(AppendValue(static_cast<uint8_t>(binary[0]), binary.substr(1), 0, &out));
  return out;
}

}  // namespace tandem::connectors::mysql::binlog
