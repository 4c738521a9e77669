#include "connectors/mysql/binlog/temporal_value.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Value;

namespace {

constexpr int64_t kMicrosPerSecond = 1000000;

// The fraction of TIMESTAMP2 / DATETIME2 in microseconds.
Result<int64_t> ReadFraction(ByteReader& reader, int fsp) {
  const size_t width = static_cast<size_t>((fsp + 1) / 2);
  if (width == 0) {
    return int64_t{0};
  }
  TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntBE(width, "fractional seconds"));
  const int64_t scale = width == 1 ? 10000 : width == 2 ? 100 : 1;
  const int64_t micros = static_cast<int64_t>(raw) * scale;
  if (micros >= kMicrosPerSecond) {
    return reader.Error("fractional seconds " + std::to_string(raw) + " out of range");
  }
  return micros;
}

int64_t MicrosOfDay(int64_t hour, int64_t minute, int64_t second) {
  return ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond;
}

}  // namespace

Result<Value> ReadDate(ByteReader& reader) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntLE(3, "date"));
  const int day = static_cast<int>(raw & 31);
  const int month = static_cast<int>((raw >> 5) & 15);
  const int year = static_cast<int>(raw >> 9);
  if (month > 12) {
    return reader.Error("date with month " + std::to_string(month));
  }
  return Value::Date(year, month, day);
}

Result<Value> ReadTimeOld(ByteReader& reader) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntLE(3, "time"));
  int64_t value = static_cast<int64_t>(raw);
  if (value & 0x800000) {
    value -= 0x1000000;  // sign-extend the 24-bit integer
  }
  const bool negative = value < 0;
  const int64_t magnitude = negative ? -value : value;
  const int64_t micros = MicrosOfDay(magnitude / 10000, (magnitude / 100) % 100, magnitude % 100);
  return Value::Time(negative ? -micros : micros);
}

Result<Value> ReadDateTimeOld(ByteReader& reader) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.U64("datetime"));
  const uint64_t date = raw / 1000000;
  const uint64_t time = raw % 1000000;
  return Value::DateTime(static_cast<int>(date / 10000), static_cast<int>((date / 100) % 100),
                         static_cast<int>(date % 100),
                         static_cast<uint64_t>(MicrosOfDay(static_cast<int64_t>(time / 10000),
                                                           static_cast<int64_t>(time / 100 % 100),
                                                           static_cast<int64_t>(time % 100))));
}

Result<Value> ReadTimestampOld(ByteReader& reader) {
  TANDEM_ASSIGN_OR_RETURN(uint32_t seconds, reader.U32("timestamp"));
  return Value::Timestamp(static_cast<int64_t>(seconds) * kMicrosPerSecond);
}

Result<Value> ReadTimestamp2(ByteReader& reader, int fsp) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t seconds, reader.UIntBE(4, "timestamp"));
  TANDEM_ASSIGN_OR_RETURN(int64_t micros, ReadFraction(reader, fsp));
  return Value::Timestamp(static_cast<int64_t>(seconds) * kMicrosPerSecond + micros);
}

Result<Value> ReadDateTime2(ByteReader& reader, int fsp) {
  TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntBE(5, "datetime"));
  TANDEM_ASSIGN_OR_RETURN(int64_t micros, ReadFraction(reader, fsp));
  constexpr uint64_t kOffset = 0x8000000000ull;
  if (raw < kOffset) {
    return reader.Error("negative DATETIME value");
  }
  const uint64_t packed = raw - kOffset;
  const uint64_t ymd = packed >> 17;
  const uint64_t year_month = ymd >> 5;
  const uint64_t hms = packed & ((1u << 17) - 1);
  const int day = static_cast<int>(ymd & 31);
  const int year = static_cast<int>(year_month / 13);
  const int month = static_cast<int>(year_month % 13);
  const int64_t hour = static_cast<int64_t>(hms >> 12);
  const int64_t minute = static_cast<int64_t>((hms >> 6) & 63);
  const int64_t second = static_cast<int64_t>(hms & 63);
  if (hour > 23 || minute > 59 || second > 59) {
    return reader.Error("DATETIME time of day out of range");
  }
  return Value::DateTime(year, month, day,
                         static_cast<uint64_t>(MicrosOfDay(hour, minute, second) + micros));
}

Result<Value> ReadTime2(ByteReader& reader, int fsp) {
  // MySQL's packed form: (hms << 24) + microseconds, signed, as my_time_packed_from_binary makes.
  constexpr int64_t kIntOffset = 0x800000;
  constexpr int64_t kOffset = 0x800000000000;
  int64_t packed = 0;
  switch (fsp) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntBE(3, "time"));
      int64_t integer = static_cast<int64_t>(raw) - kIntOffset;
      int64_t fraction = 0;
      if (fsp == 1 || fsp == 2) {
        TANDEM_ASSIGN_OR_RETURN(uint64_t frac, reader.UIntBE(1, "fractional seconds"));
        fraction = static_cast<int64_t>(frac);
        if (integer < 0 && fraction != 0) {
          ++integer;
          fraction -= 0x100;
        }
        fraction *= 10000;
      } else if (fsp == 3 || fsp == 4) {
        TANDEM_ASSIGN_OR_RETURN(uint64_t frac, reader.UIntBE(2, "fractional seconds"));
        fraction = static_cast<int64_t>(frac);
        if (integer < 0 && fraction != 0) {
          ++integer;
          fraction -= 0x10000;
        }
        fraction *= 100;
      }
      packed = integer * (int64_t{1} << 24) + fraction;
      break;
    }
    default: {
      TANDEM_ASSIGN_OR_RETURN(uint64_t raw, reader.UIntBE(6, "time"));
      packed = static_cast<int64_t>(raw) - kOffset;
      break;
    }
  }
  const bool negative = packed < 0;
  const uint64_t magnitude = static_cast<uint64_t>(negative ? -packed : packed);
  const uint64_t hms = magnitude >> 24;
  const int64_t micros = static_cast<int64_t>(magnitude % (1u << 24));
  const int64_t hour = static_cast<int64_t>((hms >> 12) % (1u << 10));
  const int64_t minute = static_cast<int64_t>((hms >> 6) % (1u << 6));
  const int64_t second = static_cast<int64_t>(hms % (1u << 6));
  if (minute > 59 || second > 59 || micros >= kMicrosPerSecond) {
    return reader.Error("TIME value out of range");
  }
  const int64_t total = MicrosOfDay(hour, minute, second) + micros;
  return Value::Time(negative ? -total : total);
}

}  // namespace tandem::connectors::mysql::binlog
