#include "connectors/mysql/binlog/column_value.h"

#include <bit>
#include <cstring>

#include "connectors/mysql/binlog/decimal_value.h"
#include "connectors/mysql/binlog/mysql_json.h"
#include "connectors/mysql/binlog/temporal_value.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Value;
using engine::ValueKind;

namespace {

size_t IntegerWidth(ColumnType type) {
  switch (type) {
    case ColumnType::kTiny:
      return 1;
    case ColumnType::kShort:
      return 2;
    case ColumnType::kInt24:
      return 3;
    case ColumnType::kLong:
      return 4;
    default:
      return 8;
  }
}

// Whether values of binlog `type` can be read as catalog `kind`.
bool Compatible(ColumnType type, ValueKind kind) {
  switch (type) {
    case ColumnType::kTiny:
    case ColumnType::kShort:
    case ColumnType::kInt24:
    case ColumnType::kLong:
    case ColumnType::kLongLong:
      return kind == ValueKind::kInt || kind == ValueKind::kUInt;
    case ColumnType::kYear:
      return kind == ValueKind::kInt;
    case ColumnType::kFloat:
      return kind == ValueKind::kFloat;
    case ColumnType::kDouble:
      return kind == ValueKind::kDouble;
    case ColumnType::kNewDecimal:
      return kind == ValueKind::kDecimal;
    case ColumnType::kDate:
    case ColumnType::kNewDate:
      return kind == ValueKind::kDate;
    case ColumnType::kTime:
    case ColumnType::kTime2:
      return kind == ValueKind::kTime;
    case ColumnType::kDateTime:
    case ColumnType::kDateTime2:
      return kind == ValueKind::kDateTime;
    case ColumnType::kTimestamp:
    case ColumnType::kTimestamp2:
      return kind == ValueKind::kTimestamp;
    case ColumnType::kBit:
      return kind == ValueKind::kBits;
    case ColumnType::kEnum:
    case ColumnType::kSet:
      return kind == ValueKind::kText;
    case ColumnType::kVarchar:
    case ColumnType::kVarString:
    case ColumnType::kString:
      return kind == ValueKind::kText || kind == ValueKind::kBytes || kind == ValueKind::kJson ||
             kind == ValueKind::kUuid || kind == ValueKind::kOther;
    case ColumnType::kBlob:
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
      return kind == ValueKind::kText || kind == ValueKind::kBytes || kind == ValueKind::kJson;
    case ColumnType::kJson:
      return kind == ValueKind::kJson;
    case ColumnType::kGeometry:
      return kind == ValueKind::kBytes;
    case ColumnType::kDecimal:
    case ColumnType::kNull:
      return false;
  }
  return false;
}

std::string ColumnWhat(const ColumnPlan& plan) { return "column `" + plan.name + "`"; }

void AppendUtf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

Result<Value> TextValue(std::string_view bytes, const ColumnPlan& plan) {
  switch (plan.kind) {
    case ValueKind::kBytes: {
      std::string out(bytes);
      if (out.size() < plan.binary_pad_length) {
        out.resize(plan.binary_pad_length, '\0');
      }
      return Value::Bytes(std::move(out));
    }
    case ValueKind::kJson:
      return Value::Json(plan.latin1 ? Latin1ToUtf8(bytes) : std::string(bytes));
    case ValueKind::kText:
      return Value::Text(plan.latin1 ? Latin1ToUtf8(bytes) : std::string(bytes));
    default:
      return engine::Unsupported(ColumnWhat(plan) + " of kind " +
                                 std::string(engine::ValueKindName(plan.kind)) +
                                 " cannot be decoded from the binlog");
  }
}

}  // namespace

std::string Latin1ToUtf8(std::string_view text) {
  static constexpr uint16_t kCp1252High[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 && byte < 0xA0) {
      AppendUtf8(kCp1252High[byte - 0x80], &out);
    } else {
      AppendUtf8(byte, &out);
    }
  }
  return out;
}

Result<std::vector<std::string>> ParseEnumLabels(const std::string& declared_type) {
  const size_t open = declared_type.find('(');
  if (open == std::string::npos) {
    return engine::Corruption("declared type '" + declared_type + "' has no label list");
  }
  std::vector<std::string> labels;
  size_t i = open + 1;
  while (i < declared_type.size()) {
    if (declared_type[i] != '\'') {
      return engine::Corruption("declared type '" + declared_type + "' does not parse");
    }
    ++i;
    std::string label;
    bool closed = false;
    while (i < declared_type.size()) {
      const char c = declared_type[i];
      if (c == '\'' && i + 1 < declared_type.size() && declared_type[i + 1] == '\'') {
        label.push_back('\'');
        i += 2;
      } else if (c == '\'') {
        ++i;
        closed = true;
        break;
      } else {
        label.push_back(c);
        ++i;
      }
    }
    if (!closed || i >= declared_type.size()) {
      return engine::Corruption("declared type '" + declared_type + "' does not parse");
    }
    labels.push_back(std::move(label));
    if (declared_type[i] == ')') {
      return labels;
    }
    if (declared_type[i] != ',') {
      return engine::Corruption("declared type '" + declared_type + "' does not parse");
    }
    ++i;
  }
  return engine::Corruption("declared type '" + declared_type + "' does not parse");
}

Result<ColumnPlan> PlanColumn(const BinlogColumn& binlog, const engine::Column& column) {
  ColumnPlan plan;
  plan.binlog = binlog;
  plan.kind = column.kind;
  plan.name = column.name;
  if (binlog.type == ColumnType::kDecimal) {
    return engine::Unsupported(ColumnWhat(plan) +
                               " uses the pre-MySQL-5.0 DECIMAL format; convert it with ALTER "
                               "TABLE ... MODIFY to a current DECIMAL before streaming");
  }
  if (column.kind == ValueKind::kUuid || column.kind == ValueKind::kOther) {
    return engine::Unsupported(ColumnWhat(plan) + " of type " + column.declared_type +
                               " cannot be decoded from the binlog (its binary form is "
                               "server-internal); leave the table out of the stream");
  }
  if (!Compatible(binlog.type, column.kind)) {
    return engine::FailedPrecondition(ColumnWhat(plan) + " is logged as " +
                                      ColumnTypeName(binlog.type) + " but the catalog says " +
                                      column.declared_type + " (" +
                                      std::string(engine::ValueKindName(column.kind)) +
                                      "): the table changed since its rows were logged");
  }
  if (!binlog.name.empty() && binlog.name != column.name) {
    return engine::FailedPrecondition("the binlog names column `" + binlog.name +
                                      "` where the catalog has `" + column.name +
                                      "`: the table changed since its rows were logged");
  }
  if (binlog.type == ColumnType::kEnum || binlog.type == ColumnType::kSet) {
    TANDEM_ASSIGN_OR_RETURN(plan.labels, ParseEnumLabels(column.declared_type));
  }
  const bool textual = plan.kind == ValueKind::kText || plan.kind == ValueKind::kJson;
  if (textual && binlog.type != ColumnType::kEnum && binlog.type != ColumnType::kSet &&
      binlog.type != ColumnType::kJson) {
    const std::string& charset = column.charset;
    if (charset == "latin1") {
      plan.latin1 = true;
    } else if (!charset.empty() && charset != "utf8mb4" && charset != "utf8mb3" &&
               charset != "utf8" && charset != "ascii" && charset != "binary") {
      return engine::Unsupported(ColumnWhat(plan) + " uses character set " + charset +
                                 ", which the binlog stream cannot convert to UTF-8; convert the "
                                 "column to utf8mb4");
    }
  }
  if (plan.kind == ValueKind::kBytes && binlog.type == ColumnType::kString) {
    plan.binary_pad_length = binlog.max_length;
  }
  return plan;
}

Result<Value> ReadColumnValue(ByteReader& reader, const ColumnPlan& plan) {
  const BinlogColumn& column = plan.binlog;
  switch (column.type) {
    case ColumnType::kTiny:
    case ColumnType::kShort:
    case ColumnType::kInt24:
    case ColumnType::kLong:
    case ColumnType::kLongLong: {
      const size_t width = IntegerWidth(column.type);
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntLE(width, "integer"));
      if (plan.kind == ValueKind::kUInt) {
        return Value::UInt(raw);
      }
      if (width < 8 && (raw >> (8 * width - 1)) != 0) {
        raw |= ~uint64_t{0} << (8 * width);  // sign-extend
      }
      return Value::Int(static_cast<int64_t>(raw));
    }
    case ColumnType::kYear: {
      TANDEM_ASSIGN_OR_RETURN(uint8_t raw, reader.U8("year"));
      return Value::Int(raw == 0 ? 0 : 1900 + raw);
    }
    case ColumnType::kFloat: {
      TANDEM_ASSIGN_OR_RETURN(uint32_t raw, reader.U32("float"));
      return Value::Float(std::bit_cast<float>(raw));
    }
    case ColumnType::kDouble: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.U64("double"));
      return Value::Double(std::bit_cast<double>(raw));
    }
    case ColumnType::kNewDecimal: {
      TANDEM_ASSIGN_OR_RETURN(std::string text,
                              ReadDecimal(reader, column.precision, column.scale));
      return Value::Decimal(text);
    }
    case ColumnType::kDate:
    case ColumnType::kNewDate:
      return ReadDate(reader);
    case ColumnType::kTime:
      return ReadTimeOld(reader);
    case ColumnType::kDateTime:
      return ReadDateTimeOld(reader);
    case ColumnType::kTimestamp:
      return ReadTimestampOld(reader);
    case ColumnType::kTime2:
      return ReadTime2(reader, column.scale);
    case ColumnType::kDateTime2:
      return ReadDateTime2(reader, column.scale);
    case ColumnType::kTimestamp2:
      return ReadTimestamp2(reader, column.scale);
    case ColumnType::kBit: {
      const size_t width = (column.bit_width + 7u) / 8u;
      TANDEM_ASSIGN_OR_RETURN(uint64_t bits, reader.UIntBE(width, "bit"));
      return Value::Bits(bits, column.bit_width);
    }
    case ColumnType::kVarchar:
    case ColumnType::kVarString:
    case ColumnType::kString: {
      const size_t prefix = column.max_length > 255 ? 2 : 1;
      TANDEM_ASSIGN_OR_RETURN(uint64_t length, reader.UIntLE(prefix, "string length"));
      if (length > column.max_length) {
        return reader.Error(ColumnWhat(plan) + " value of " + std::to_string(length) +
                            " bytes exceeds its maximum of " + std::to_string(column.max_length));
      }
      TANDEM_ASSIGN_OR_RETURN(std::string_view bytes, reader.Bytes(length, "string"));
      return TextValue(bytes, plan);
    }
    case ColumnType::kEnum: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t index, reader.UIntLE(column.max_length, "enum"));
      if (index == 0) {
        return Value::Text("");
      }
      if (index > plan.labels.size()) {
        return reader.Error(ColumnWhat(plan) + " holds enum index " + std::to_string(index) +
                            " of " + std::to_string(plan.labels.size()) + " labels");
      }
      return Value::Text(plan.labels[index - 1]);
    }
    case ColumnType::kSet: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t members, reader.UIntLE(column.max_length, "set"));
      std::string text;
      for (size_t i = 0; i < plan.labels.size() && i < 64; ++i) {
        if ((members >> i) & 1) {
          text += (text.empty() ? "" : ",") + plan.labels[i];
        }
      }
      if (plan.labels.size() < 64 && (members >> plan.labels.size()) != 0) {
        return reader.Error(ColumnWhat(plan) + " holds set members beyond its " +
                            std::to_string(plan.labels.size()) + " labels");
      }
      return Value::Text(std::move(text));
    }
    case ColumnType::kBlob:
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
    case ColumnType::kGeometry:
    case ColumnType::kJson: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t length, reader.UIntLE(column.max_length, "blob length"));
      TANDEM_ASSIGN_OR_RETURN(std::string_view bytes, reader.Bytes(length, "blob"));
      if (column.type == ColumnType::kGeometry) {
        return Value::Bytes(std::string(bytes));
      }
      if (column.type == ColumnType::kJson) {
        TANDEM_ASSIGN_OR_RETURN(std::string text, MySqlJsonToText(bytes));
        return Value::Json(std::move(text));
      }
      return TextValue(bytes, plan);
    }
    case ColumnType::kDecimal:
    case ColumnType::kNull:
      break;
  }
  return reader.Error(ColumnWhat(plan) + " has type " + ColumnTypeName(column.type) +
                      ", which row events cannot carry");
}

}  // namespace tandem::connectors::mysql::binlog
