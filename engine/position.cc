#include "engine/position.h"

#include <charconv>
#include <cstdio>
#include <optional>
#include <system_error>

namespace tandem::engine {
namespace {

constexpr std::string_view kMysqlPrefix = "mysql:";
constexpr std::string_view kPostgresPrefix = "pg:";
constexpr std::string_view kRedisPrefix = "redis:";
constexpr std::string_view kDatabaseMarker = ";db=";
constexpr std::string_view kGtidMarker = ";gtid=";

// Parses all of `text` as a number in `base`; nullopt when it is empty, has other characters or
// overflows.
template <typename Int>
std::optional<Int> ParseNumber(std::string_view text, int base = 10) {
  if (text.empty()) {
    return std::nullopt;
  }
  Int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// "mariadb-bin.000003" -> base "mariadb-bin", number 3. nullopt when the name has no numeric
// extension.
struct BinlogFileName {
  std::string_view base;
  uint64_t number = 0;
};
std::optional<BinlogFileName> SplitBinlogFileName(std::string_view file) {
  size_t dot = file.rfind('.');
  if (dot == std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<uint64_t> number = ParseNumber<uint64_t>(file.substr(dot + 1));
  if (!number) {
    return std::nullopt;
  }
  return BinlogFileName{file.substr(0, dot), *number};
}

Result<std::strong_ordering> CompareBinlog(const BinlogPosition& a, const BinlogPosition& b) {
  if (a.file == b.file) {
    return a.offset <=> b.offset;
  }
  std::optional<BinlogFileName> name_a = SplitBinlogFileName(a.file);
  std::optional<BinlogFileName> name_b = SplitBinlogFileName(b.file);
  if (!name_a || !name_b || name_a->base != name_b->base) {
    return InvalidArgument("binlog positions in files " + a.file + " and " + b.file +
                           " cannot be ordered: not one numbered binlog sequence");
  }
  if (name_a->number != name_b->number) {
    return name_a->number <=> name_b->number;
  }
  // Same number spelt with different zero padding ("bin.9" vs "bin.000009"): one file.
  return a.offset <=> b.offset;
}

const char* EngineName(const Position& position) {
  switch (position.index()) {
    case 1:
      return "MySQL binlog";
    case 2:
      return "PostgreSQL LSN";
    case 3:
      return "Redis replication offset";
    default:
      return "no position";
  }
}

}  // namespace

std::string Serialize(const Position& position) {
  if (const auto* binlog = std::get_if<BinlogPosition>(&position)) {
    std::string text =
        std::string(kMysqlPrefix) + binlog->file + ":" + std::to_string(binlog->offset);
    if (!binlog->gtid_set.empty()) {
      text += std::string(kGtidMarker) + binlog->gtid_set;
    }
    return text;
  }
  if (const auto* lsn = std::get_if<Lsn>(&position)) {
    return std::string(kPostgresPrefix) + FormatLsn(*lsn);
  }
  if (const auto* offset = std::get_if<ReplicationOffset>(&position)) {
    std::string text =
        std::string(kRedisPrefix) + offset->replication_id + ":" + std::to_string(offset->offset);
    if (offset->database != 0) {
      text += std::string(kDatabaseMarker) + std::to_string(offset->database);
    }
    return text;
  }
  return "";
}

Result<Position> ParsePosition(std::string_view text) {
  if (text.empty()) {
    return Position{};
  }
  if (text.starts_with(kMysqlPrefix)) {
    std::string_view rest = text.substr(kMysqlPrefix.size());
    BinlogPosition binlog;
    size_t gtid = rest.find(kGtidMarker);
    if (gtid != std::string_view::npos) {
      binlog.gtid_set = std::string(rest.substr(gtid + kGtidMarker.size()));
      rest = rest.substr(0, gtid);
      if (binlog.gtid_set.empty()) {
        return InvalidArgument("position \"" + std::string(text) +
                               "\": empty GTID set after ;gtid=");
      }
    }
    size_t colon = rest.rfind(':');
    std::optional<uint64_t> offset;
    if (colon != std::string_view::npos && colon > 0) {
      offset = ParseNumber<uint64_t>(rest.substr(colon + 1));
    }
    if (!offset) {
      return InvalidArgument("position \"" + std::string(text) +
                             "\" is not mysql:<binlog file>:<offset>[;gtid=<set>]");
    }
    binlog.file = std::string(rest.substr(0, colon));
    binlog.offset = *offset;
    return Position{std::move(binlog)};
  }
  if (text.starts_with(kPostgresPrefix)) {
    Result<Lsn> lsn = ParseLsn(text.substr(kPostgresPrefix.size()));
    if (!lsn.ok()) {
      return InvalidArgument("position \"" + std::string(text) + "\" is not pg:<hex>/<hex>");
    }
    return Position{*lsn};
  }
  if (text.starts_with(kRedisPrefix)) {
    std::string_view rest = text.substr(kRedisPrefix.size());
    int database = 0;
    if (size_t marker = rest.find(kDatabaseMarker); marker != std::string_view::npos) {
      std::optional<int> parsed = ParseNumber<int>(rest.substr(marker + kDatabaseMarker.size()));
      if (!parsed || *parsed < 0) {
        return InvalidArgument("position \"" + std::string(text) +
                               "\": ;db= needs a database number");
      }
      database = *parsed;
      rest = rest.substr(0, marker);
    }
    size_t colon = rest.rfind(':');
    std::optional<int64_t> offset;
    if (colon != std::string_view::npos && colon > 0) {
      offset = ParseNumber<int64_t>(rest.substr(colon + 1));
    }
    if (!offset) {
      return InvalidArgument("position \"" + std::string(text) +
                             "\" is not redis:<replication id>:<offset>[;db=<n>]");
    }
    return Position{ReplicationOffset{std::string(rest.substr(0, colon)), *offset, database}};
  }
  return InvalidArgument("position \"" + std::string(text) +
                         "\" names no known engine (expected mysql:, pg: or redis:)");
}

Result<std::strong_ordering> Compare(const Position& a, const Position& b) {
  // No position orders before every position: a stream that has not started is behind all.
  if (std::holds_alternative<std::monostate>(a) || std::holds_alternative<std::monostate>(b)) {
    if (a.index() == b.index()) {
      return std::strong_ordering::equal;
    }
    return std::holds_alternative<std::monostate>(a) ? std::strong_ordering::less
                                                     : std::strong_ordering::greater;
  }
  if (a.index() != b.index()) {
    return InvalidArgument(std::string("cannot order a ") + EngineName(a) + " position against a " +
                           EngineName(b) + " position");
  }
  if (const auto* binlog_a = std::get_if<BinlogPosition>(&a)) {
    return CompareBinlog(*binlog_a, std::get<BinlogPosition>(b));
  }
  if (const auto* lsn_a = std::get_if<Lsn>(&a)) {
    return *lsn_a <=> std::get<Lsn>(b);
  }
  const auto& offset_a = std::get<ReplicationOffset>(a);
  const auto& offset_b = std::get<ReplicationOffset>(b);
  if (offset_a.replication_id != offset_b.replication_id) {
    return InvalidArgument("Redis offsets of replication ids " + offset_a.replication_id + " and " +
                           offset_b.replication_id + " cannot be ordered: different histories");
  }
  return offset_a.offset <=> offset_b.offset;
}

std::string FormatLsn(Lsn lsn) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%X/%X", static_cast<unsigned>(lsn.value >> 32),
                static_cast<unsigned>(lsn.value & 0xFFFFFFFFu));
  return buffer;
}

Result<Lsn> ParseLsn(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash > 8 || text.size() - slash - 1 > 8) {
    return InvalidArgument("LSN \"" + std::string(text) + "\" is not <hex>/<hex> (e.g. 0/16B3748)");
  }
  std::optional<uint32_t> high = ParseNumber<uint32_t>(text.substr(0, slash), 16);
  std::optional<uint32_t> low = ParseNumber<uint32_t>(text.substr(slash + 1), 16);
  if (!high || !low) {
    return InvalidArgument("LSN \"" + std::string(text) + "\" is not <hex>/<hex> (e.g. 0/16B3748)");
  }
  return Lsn{(static_cast<uint64_t>(*high) << 32) | *low};
}

}  // namespace tandem::engine
