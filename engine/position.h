// File: engine/position.h
//
// Position: where a change stream stands in its source's log, as a type per engine:
//
//   engine       type               text form (Serialize / ParsePosition)
//   MySQL        BinlogPosition     "mysql:<file>:<offset>", plus ";gtid=<set>" with GTIDs,
//                                   e.g. "mysql:mariadb-bin.000003:1234;gtid=0-1-42,1-2-7"
//   PostgreSQL   Lsn                "pg:<hi>/<lo>" in hex, e.g. "pg:0/16B3748"
//   Redis        ReplicationOffset  "redis:<replication id>:<offset>", plus ";db=<n>" when the
//                                   stream's selected database there is not 0
//
// A position names the point *after* a change: a stream restarted from it delivers the next change.
// Positions of one engine are totally ordered within one source history (binlog file numbers then
// offsets; LSNs; offsets within one replication id); Compare refuses what cannot be ordered.
//
// Thread safety: value types.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "engine/status.h"

namespace tandem::engine {

struct BinlogPosition {
  std::string file;     // "mariadb-bin.000003"
  uint64_t offset = 0;  // byte offset of the next event in `file`
  // The GTID set executed up to here ("0-1-42,1-2-7", MariaDB form; MySQL "uuid:1-42"); empty when
  // the source has no GTIDs.
  std::string gtid_set;

  friend bool operator==(const BinlogPosition&, const BinlogPosition&) = default;
};

struct Lsn {
  uint64_t value = 0;
  friend auto operator<=>(const Lsn&, const Lsn&) = default;
};

struct ReplicationOffset {
  std::string replication_id;  // 40 hex characters
  int64_t offset = 0;
  // The database the stream's commands apply to at `offset` (its last SELECT): a stream resumed
  // there (PSYNC continues mid-stream, without a new SELECT) needs it. Not part of the order.
  int database = 0;
  friend bool operator==(const ReplicationOffset&, const ReplicationOffset&) = default;
};

// std::monostate = no position yet (a stream that has not started).
using Position = std::variant<std::monostate, BinlogPosition, Lsn, ReplicationOffset>;

// The text form in the table above; std::monostate is "".
std::string Serialize(const Position& position);
// The inverse of Serialize ("" is std::monostate). Errors: kInvalidArgument naming what does not
// parse.
Result<Position> ParsePosition(std::string_view text);

// Orders two positions of the same engine and history. std::monostate (no position) orders before
// every position. Binlog files compare by the number after their last '.' ("bin.000010" after
// "bin.000009"), then by offset; the GTID set (and a Redis offset's database) is not consulted.
// Errors: kInvalidArgument when they are of different engines, different Redis replication ids, or
// binlog files of different base names.
Result<std::strong_ordering> Compare(const Position& a, const Position& b);

// "0/16B3748" <-> Lsn, as PostgreSQL prints them. Errors: kInvalidArgument.
std::string FormatLsn(Lsn lsn);
Result<Lsn> ParseLsn(std::string_view text);

}  // namespace tandem::engine
