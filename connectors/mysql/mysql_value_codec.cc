#include "connectors/mysql/mysql_value_codec.h"

#include <cstring>
#include <limits>

#include "engine/civil_time.h"

namespace tandem::connectors::mysql {

using engine::CivilFromDays;
using engine::DaysFromCivil;
using engine::Result;
using engine::Value;
using engine::ValueKind;

namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

bool IsIntegerWire(enum_field_types type) {
  switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
      return true;
    default:
      return false;
  }
}

bool IsStringWire(enum_field_types type) {
  switch (type) {
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
    case MYSQL_TYPE_JSON:
      return true;
    default:
      return false;
  }
}

std::string WireName(enum_field_types type) {
  switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
      return "an integer";
    case MYSQL_TYPE_YEAR:
      return "a year";
    case MYSQL_TYPE_FLOAT:
      return "a float";
    case MYSQL_TYPE_DOUBLE:
      return "a double";
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
      return "a decimal";
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return "a date";
    case MYSQL_TYPE_TIME:
      return "a time";
    case MYSQL_TYPE_DATETIME:
      return "a datetime";
    case MYSQL_TYPE_TIMESTAMP:
      return "a timestamp";
    case MYSQL_TYPE_BIT:
      return "a bit string";
    case MYSQL_TYPE_GEOMETRY:
      return "a geometry";
    default:
      return IsStringWire(type) ? "a string" : "wire type " + std::to_string(type);
  }
}

uint64_t MicrosOfDay(const MYSQL_TIME& time) {
  return ((static_cast<uint64_t>(time.hour) * 60 + time.minute) * 60 + time.second) *
             static_cast<uint64_t>(kMicrosPerSecond) +
         time.second_part;
}

}  // namespace

ResultColumn ResultColumn::FromField(const MYSQL_FIELD& field) {
  ResultColumn column;
  column.name.assign(field.name, field.name_length);
  column.type = field.type;
  column.flags = field.flags;
  column.charset = field.charsetnr;
  column.length = field.length;
  column.json = field.type == MYSQL_TYPE_JSON;
  MARIADB_CONST_STRING format{};
  if (mariadb_field_attr(&format, &field, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 &&
      format.str != nullptr && std::string_view(format.str, format.length) == "json") {
    column.json = true;
  }
  return column;
}

ValueKind NaturalKind(const ResultColumn& column) {
  switch (column.type) {
    case MYSQL_TYPE_NULL:
      return ValueKind::kNull;
    case MYSQL_TYPE_YEAR:
      return ValueKind::kInt;
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
      return column.is_unsigned() ? ValueKind::kUInt : ValueKind::kInt;
    case MYSQL_TYPE_FLOAT:
      return ValueKind::kFloat;
    case MYSQL_TYPE_DOUBLE:
      return ValueKind::kDouble;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
      return ValueKind::kDecimal;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return ValueKind::kDate;
    case MYSQL_TYPE_TIME:
      return ValueKind::kTime;
    case MYSQL_TYPE_DATETIME:
      return ValueKind::kDateTime;
    case MYSQL_TYPE_TIMESTAMP:
      return ValueKind::kTimestamp;
    case MYSQL_TYPE_BIT:
      return ValueKind::kBits;
    case MYSQL_TYPE_GEOMETRY:
      return ValueKind::kBytes;
    default:
      break;
  }
  if (column.json) {
    return ValueKind::kJson;
  }
  if (IsStringWire(column.type)) {
    return column.is_binary_charset() ? ValueKind::kBytes : ValueKind::kText;
  }
  return ValueKind::kOther;
}

Result<FetchBuffer> FetchBufferFor(const ResultColumn& column, ValueKind kind) {
  auto mismatch = [&] {
    return engine::FailedPrecondition("column `" + column.name + "` arrived as " +
                                      WireName(column.type) + ", which cannot be read as " +
                                      std::string(engine::ValueKindName(kind)) +
                                      " (the table changed since it was described; describe it "
                                      "again)");
  };
  switch (kind) {
    case ValueKind::kNull:
      if (column.type != MYSQL_TYPE_NULL) return mismatch();
      return FetchBuffer::kBytes;
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kUInt:
      if (!IsIntegerWire(column.type)) return mismatch();
      return column.is_unsigned() ? FetchBuffer::kUnsignedInteger : FetchBuffer::kSignedInteger;
    case ValueKind::kFloat:
      if (column.type != MYSQL_TYPE_FLOAT) return mismatch();
      return FetchBuffer::kFloat;
    case ValueKind::kDouble:
      if (column.type != MYSQL_TYPE_DOUBLE) return mismatch();
      return FetchBuffer::kDouble;
    case ValueKind::kDecimal:
      if (column.type != MYSQL_TYPE_NEWDECIMAL && column.type != MYSQL_TYPE_DECIMAL) {
        return mismatch();
      }
      return FetchBuffer::kBytes;
    case ValueKind::kDate:
      if (column.type != MYSQL_TYPE_DATE && column.type != MYSQL_TYPE_NEWDATE) return mismatch();
      return FetchBuffer::kTemporal;
    case ValueKind::kTime:
      if (column.type != MYSQL_TYPE_TIME) return mismatch();
      return FetchBuffer::kTemporal;
    case ValueKind::kDateTime:
      if (column.type != MYSQL_TYPE_DATETIME) return mismatch();
      return FetchBuffer::kTemporal;
    case ValueKind::kTimestamp:
      if (column.type != MYSQL_TYPE_TIMESTAMP) return mismatch();
      return FetchBuffer::kTemporal;
    case ValueKind::kBits:
      if (column.type != MYSQL_TYPE_BIT) return mismatch();
      return FetchBuffer::kBytes;
    case ValueKind::kText:
    case ValueKind::kJson:
    case ValueKind::kUuid:
      if (!IsStringWire(column.type)) return mismatch();
      return FetchBuffer::kBytes;
    case ValueKind::kBytes:
      if (!IsStringWire(column.type) && column.type != MYSQL_TYPE_GEOMETRY) return mismatch();
      return FetchBuffer::kBytes;
    case ValueKind::kInterval:
    case ValueKind::kOther:
      // The client library converts any wire type to its text form.
      return FetchBuffer::kBytes;
  }
  return mismatch();
}

Result<Value> DecodeInteger(uint64_t raw, bool is_unsigned, ValueKind kind) {
  if (kind == ValueKind::kUInt) {
    if (!is_unsigned && static_cast<int64_t>(raw) < 0) {
      return engine::Corruption("negative value " + std::to_string(static_cast<int64_t>(raw)) +
                                " in an unsigned column");
    }
    return Value::UInt(raw);
  }
  if (is_unsigned && raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return engine::Corruption("unsigned value " + std::to_string(raw) +
                              " does not fit a signed integer");
  }
  if (kind == ValueKind::kBool) {
    return Value::Bool(raw != 0);
  }
  return Value::Int(static_cast<int64_t>(raw));
}

Result<Value> DecodeTemporal(const MYSQL_TIME& time, ValueKind kind) {
  switch (kind) {
    case ValueKind::kDate:
      return Value::Date(static_cast<int>(time.year), static_cast<int>(time.month),
                         static_cast<int>(time.day));
    case ValueKind::kDateTime:
      return Value::DateTime(static_cast<int>(time.year), static_cast<int>(time.month),
                             static_cast<int>(time.day), MicrosOfDay(time));
    case ValueKind::kTime: {
      // Connector/C folds the protocol's day count into `hour`; add `day` in case it does not.
      const int64_t micros =
          static_cast<int64_t>(time.day) * kMicrosPerDay + static_cast<int64_t>(MicrosOfDay(time));
      return Value::Time(time.neg ? -micros : micros);
    }
    case ValueKind::kTimestamp: {
      if (time.year == 0 && time.month == 0 && time.day == 0) {
        return Value::Timestamp(0);  // the zero timestamp, which the server stores as 0
      }
      const int64_t days = DaysFromCivil(time.year, time.month, time.day);
      return Value::Timestamp(days * kMicrosPerDay + static_cast<int64_t>(MicrosOfDay(time)));
    }
    default:
      return engine::Internal("DecodeTemporal called for " +
                              std::string(engine::ValueKindName(kind)));
  }
}

Result<Value> DecodeBytes(std::string bytes, ValueKind kind, const ResultColumn& column) {
  switch (kind) {
    case ValueKind::kDecimal:
      return Value::Decimal(bytes);
    case ValueKind::kText:
      return Value::Text(std::move(bytes));
    case ValueKind::kBytes:
      return Value::Bytes(std::move(bytes));
    case ValueKind::kJson:
      return Value::Json(std::move(bytes));
    case ValueKind::kUuid:
      return Value::Uuid(std::move(bytes));
    case ValueKind::kInterval:
      return Value::Interval(std::move(bytes));
    case ValueKind::kOther:
      return Value::Other(std::move(bytes));
    case ValueKind::kBits: {
      if (bytes.size() > 8) {
        return engine::Corruption("BIT value of column `" + column.name + "` is " +
                                  std::to_string(bytes.size()) + " bytes long (at most 8)");
      }
      uint64_t bits = 0;
      for (unsigned char c : bytes) {
        bits = (bits << 8) | c;
      }
      const int width =
          column.length == 0 ? static_cast<int>(bytes.size() * 8) : static_cast<int>(column.length);
      return Value::Bits(bits, width);
    }
    default:
      return engine::Internal("DecodeBytes called for " + std::string(engine::ValueKindName(kind)));
  }
}

MYSQL_TIME TimeFromValue(const Value& value) {
  MYSQL_TIME time{};
  auto set_date = [&](int64_t yyyymmdd) {
    time.year = static_cast<unsigned int>(yyyymmdd / 10000);
    time.month = static_cast<unsigned int>((yyyymmdd / 100) % 100);
    time.day = static_cast<unsigned int>(yyyymmdd % 100);
  };
  auto set_time_of_day = [&](uint64_t micros) {
    time.second_part = static_cast<unsigned long>(micros % kMicrosPerSecond);
    const uint64_t seconds = micros / kMicrosPerSecond;
    time.second = static_cast<unsigned int>(seconds % 60);
    time.minute = static_cast<unsigned int>((seconds / 60) % 60);
    time.hour = static_cast<unsigned int>(seconds / 3600);
  };
  switch (value.kind()) {
    case ValueKind::kDate:
      set_date(value.int_value());
      time.time_type = MYSQL_TIMESTAMP_DATE;
      break;
    case ValueKind::kDateTime:
      set_date(value.int_value());
      set_time_of_day(value.uint_value());
      time.time_type = MYSQL_TIMESTAMP_DATETIME;
      break;
    case ValueKind::kTime: {
      const int64_t micros = value.int_value();
      time.neg = micros < 0;
      set_time_of_day(micros < 0 ? static_cast<uint64_t>(-micros) : static_cast<uint64_t>(micros));
      // The binary protocol carries hours in one byte beside a day count.
      time.day = time.hour / 24;
      time.hour %= 24;
      time.time_type = MYSQL_TIMESTAMP_TIME;
      break;
    }
    case ValueKind::kTimestamp: {
      time.time_type = MYSQL_TIMESTAMP_DATETIME;
      const int64_t micros = value.int_value();
      if (micros == 0) {
        break;  // the zero timestamp
      }
      int64_t days = micros / kMicrosPerDay;
      int64_t micros_of_day = micros % kMicrosPerDay;
      if (micros_of_day < 0) {
        micros_of_day += kMicrosPerDay;
        --days;
      }
      int64_t year = 0, month = 0, day = 0;
      CivilFromDays(days, &year, &month, &day);
      set_date(year * 10000 + month * 100 + day);
      set_time_of_day(static_cast<uint64_t>(micros_of_day));
      break;
    }
    default:
      break;
  }
  return time;
}

ParamBinder::ParamBinder(const std::vector<Value>& params)
    : storage_(params.size()), binds_(params.size()) {
  for (size_t i = 0; i < params.size(); ++i) {
    const Value& value = params[i];
    Storage& storage = storage_[i];
    MYSQL_BIND& bind = binds_[i];
    std::memset(&bind, 0, sizeof bind);
    bind.is_null = &storage.is_null;
    switch (value.kind()) {
      case ValueKind::kNull:
        bind.buffer_type = MYSQL_TYPE_NULL;
        storage.is_null = 1;
        break;
      case ValueKind::kBool:
      case ValueKind::kInt:
        bind.buffer_type = MYSQL_TYPE_LONGLONG;
        storage.integer = value.int_value();
        bind.buffer = &storage.integer;
        break;
      case ValueKind::kUInt:
      case ValueKind::kBits:
        bind.buffer_type = MYSQL_TYPE_LONGLONG;
        bind.is_unsigned = 1;
        storage.integer = static_cast<int64_t>(value.uint_value());
        bind.buffer = &storage.integer;
        break;
      case ValueKind::kFloat:
        bind.buffer_type = MYSQL_TYPE_FLOAT;
        storage.float_value = static_cast<float>(value.double_value());  // exact: widened float
        bind.buffer = &storage.float_value;
        break;
      case ValueKind::kDouble:
        bind.buffer_type = MYSQL_TYPE_DOUBLE;
        storage.double_value = value.double_value();
        bind.buffer = &storage.double_value;
        break;
      case ValueKind::kDate:
      case ValueKind::kTime:
      case ValueKind::kDateTime:
      case ValueKind::kTimestamp:
        bind.buffer_type = value.kind() == ValueKind::kDate       ? MYSQL_TYPE_DATE
                           : value.kind() == ValueKind::kTime     ? MYSQL_TYPE_TIME
                           : value.kind() == ValueKind::kDateTime ? MYSQL_TYPE_DATETIME
                                                                  : MYSQL_TYPE_TIMESTAMP;
        storage.time = TimeFromValue(value);
        bind.buffer = &storage.time;
        bind.buffer_length = sizeof(MYSQL_TIME);
        break;
      case ValueKind::kDecimal:
      case ValueKind::kText:
      case ValueKind::kBytes:
      case ValueKind::kJson:
      case ValueKind::kUuid:
      case ValueKind::kInterval:
      case ValueKind::kOther:
        bind.buffer_type = value.kind() == ValueKind::kDecimal ? MYSQL_TYPE_NEWDECIMAL
                           : value.kind() == ValueKind::kBytes ? MYSQL_TYPE_BLOB
                                                               : MYSQL_TYPE_STRING;
        storage.bytes = value.text();
        storage.length = static_cast<unsigned long>(storage.bytes.size());
        bind.buffer = storage.bytes.data();
        bind.buffer_length = storage.length;
        bind.length = &storage.length;
        break;
    }
  }
}

}  // namespace tandem::connectors::mysql
