// File: connectors/mysql/binlog/gtid_events.h
//
// Transaction identity and end events:
//
// GTID_EVENT (MariaDB, 162): starts an event group (replaces BEGIN).
//   8  seq_no    1 byte  flags2 (0x01 STANDALONE: a DDL or other statement without
//   4  domain_id          BEGIN/COMMIT; 0x02 GROUP_COMMIT_ID: 8 more bytes follow; 0x20 DDL)
//   The GTID is domain_id-server_id(header)-seq_no.
// GTID_LIST_EVENT (MariaDB, 163): the binlog state at the start of a file (and, artificial, at the
// start of a GTID dump).
//   4  count (low 28 bits; the top 4 are flags), then count x (4 domain, 4 server, 8 seq_no)
// GTID_LOG_EVENT (MySQL, 33): 1 flags, 16 source uuid, 8 gno (then logical clocks, ignored).
// XID_EVENT (16): 8 xid. Commits the transaction.
//
// GtidState keeps MariaDB's per-domain position ("0-1-42,1-2-7"): for each domain the last GTID.
// MySQL GTIDs are kept as "uuid:gno" per source uuid (the last executed number; a stream that
// starts at the beginning of a MySQL history sees them all, so "uuid:1-N" is written).
//
// Thread safety: value types; GtidState is owned by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

inline constexpr uint8_t kGtidStandalone = 0x01;
inline constexpr uint8_t kGtidGroupCommitId = 0x02;

struct MariaDbGtid {
  uint32_t domain_id = 0;
  uint32_t server_id = 0;
  uint64_t sequence = 0;
  std::string ToString() const;
};

struct MariaDbGtidEvent {
  MariaDbGtid gtid;
  uint8_t flags = 0;
  bool standalone() const { return (flags & kGtidStandalone) != 0; }
};

struct GtidListEvent {
  std::vector<MariaDbGtid> gtids;
};

struct MySqlGtidEvent {
  std::string source_uuid;  // "3e11fa47-71ca-11e1-9e33-c80aa9429562"
  uint64_t gno = 0;
};

struct XidEvent {
  uint64_t xid = 0;
};

// `body` is the event without header and checksum; `server_id` from the header.
// Errors: kCorruption.
engine::Result<MariaDbGtidEvent> ParseMariaDbGtidEvent(std::string_view body, uint32_t server_id);
engine::Result<GtidListEvent> ParseGtidListEvent(std::string_view body);
engine::Result<MySqlGtidEvent> ParseMySqlGtidEvent(std::string_view body);
engine::Result<XidEvent> ParseXidEvent(std::string_view body);

// The executed GTID set as a stream advances.
class GtidState {
 public:
  // Parses "0-1-42,1-2-7" (MariaDB) or "uuid:1-42,uuid2:1-7" (MySQL); empty is the empty set.
  // Errors: kInvalidArgument.
  static engine::Result<GtidState> Parse(std::string_view text);

  void Apply(const MariaDbGtid& gtid);
  void Apply(const MySqlGtidEvent& gtid);
  // Replaces the MariaDB part with a binlog's GTID list (per domain the highest sequence).
  void Reset(const GtidListEvent& list);

  bool empty() const { return mariadb_.empty() && mysql_.empty(); }
  // MariaDB domains in ascending order, then MySQL uuids in ascending order, comma-separated.
  std::string ToString() const;

 private:
  std::map<uint32_t, MariaDbGtid> mariadb_;  // by domain
  std::map<std::string, uint64_t> mysql_;    // uuid -> last gno
};

}  // namespace tandem::connectors::mysql::binlog
