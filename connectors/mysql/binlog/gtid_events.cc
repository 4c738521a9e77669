#include "connectors/mysql/binlog/gtid_events.h"

#include <charconv>

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;

namespace {

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  if (text.empty()) {
    return false;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

std::string Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

std::string MariaDbGtid::ToString() const {
  return std::to_string(domain_id) + "-" + std::to_string(server_id) + "-" +
         std::to_string(sequence);
}

Result<MariaDbGtidEvent> ParseMariaDbGtidEvent(std::string_view body, uint32_t server_id) {
  ByteReader reader(body, "GTID_EVENT");
  MariaDbGtidEvent event;
  event.gtid.server_id = server_id;
  TANDEM_ASSIGN_OR_RETURN(event.gtid.sequence, reader.U64("sequence number"));
  TANDEM_ASSIGN_OR_RETURN(event.gtid.domain_id, reader.U32("domain id"));
  TANDEM_ASSIGN_OR_RETURN(event.flags, reader.U8("flags"));
  if ((event.flags & kGtidGroupCommitId) != 0) {
    TANDEM_RETURN_IF_ERROR(reader.Skip(8, "commit id"));
  }
  return event;
}

Result<GtidListEvent> ParseGtidListEvent(std::string_view body) {
  ByteReader reader(body, "GTID_LIST_EVENT");
  TANDEM_ASSIGN_OR_RETURN(uint32_t count_and_flags, reader.U32("count"));
  const uint32_t count = count_and_flags & 0x0fffffff;
  if (static_cast<uint64_t>(count) * 16 > reader.remaining()) {
    return reader.Error("lists " + std::to_string(count) + " GTIDs but holds only " +
                        std::to_string(reader.remaining()) + " bytes");
  }
  GtidListEvent event;
  event.gtids.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    MariaDbGtid gtid;
    TANDEM_ASSIGN_OR_RETURN(gtid.domain_id, reader.U32("domain id"));
    TANDEM_ASSIGN_OR_RETURN(gtid.server_id, reader.U32("server id"));
    TANDEM_ASSIGN_OR_RETURN(gtid.sequence, reader.U64("sequence number"));
    event.gtids.push_back(gtid);
  }
  return event;
}

Result<MySqlGtidEvent> ParseMySqlGtidEvent(std::string_view body) {
  ByteReader reader(body, "GTID_LOG_EVENT");
  TANDEM_RETURN_IF_ERROR(reader.Skip(1, "flags"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view uuid, reader.Bytes(16, "source uuid"));
  MySqlGtidEvent event;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      event.source_uuid.push_back('-');
    }
    const auto byte = static_cast<unsigned char>(uuid[i]);
    event.source_uuid.push_back(kHex[byte >> 4]);
    event.source_uuid.push_back(kHex[byte & 0x0f]);
  }
  TANDEM_ASSIGN_OR_RETURN(event.gno, reader.U64("gno"));
  return event;
}

Result<XidEvent> ParseXidEvent(std::string_view body) {
  ByteReader reader(body, "XID_EVENT");
  XidEvent event;
  TANDEM_ASSIGN_OR_RETURN(event.xid, reader.U64("xid"));
  return event;
}

Result<GtidState> GtidState::Parse(std::string_view text) {
  GtidState state;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string item = Trim(text.substr(start, end - start));
    start = end + 1;
    if (item.empty()) {
      if (end == text.size()) break;
      continue;
    }
    const size_t colon = item.find(':');
    if (colon != std::string::npos) {
      // MySQL: uuid:1-42 (or uuid:42); the last number is the executed high-water mark.
      const std::string uuid = item.substr(0, colon);
      std::string_view interval = std::string_view(item).substr(colon + 1);
      const size_t dash = interval.rfind('-');
      uint64_t last = 0;
      if (!ParseNumber(dash == std::string_view::npos ? interval : interval.substr(dash + 1),
                       &last)) {
        return engine::InvalidArgument("GTID '" + item + "' is not uuid:first-last");
      }
      state.mysql_[uuid] = last;
    } else {
      const size_t dash1 = item.find('-');
      const size_t dash2 = dash1 == std::string::npos ? dash1 : item.find('-', dash1 + 1);
      MariaDbGtid gtid;
      if (dash2 == std::string::npos ||
          !ParseNumber(std::string_view(item).substr(0, dash1), &gtid.domain_id) ||
          !ParseNumber(std::string_view(item).substr(dash1 + 1, dash2 - dash1 - 1),
                       &gtid.server_id) ||
          !ParseNumber(std::string_view(item).substr(dash2 + 1), &gtid.sequence)) {
        return engine::InvalidArgument("GTID '" + item + "' is not domain-server-sequence");
      }
      state.mariadb_[gtid.domain_id] = gtid;
    }
    if (end == text.size()) break;
  }
  return state;
}

void GtidState::Apply(const MariaDbGtid& gtid) { mariadb_[gtid.domain_id] = gtid; }

void GtidState::Apply(const MySqlGtidEvent& gtid) { mysql_[gtid.source_uuid] = gtid.gno; }

void GtidState::Reset(const GtidListEvent& list) {
  mariadb_.clear();
  for (const MariaDbGtid& gtid : list.gtids) {
    auto found = mariadb_.find(gtid.domain_id);
    if (found == mariadb_.end() || found->second.sequence < gtid.sequence) {
      mariadb_[gtid.domain_id] = gtid;
    }
  }
}

std::string GtidState::ToString() const {
  std::string out;
  for (const auto& [domain, gtid] : mariadb_) {
    out += (out.empty() ? "" : ",") + gtid.ToString();
  }
  for (const auto& [uuid, gno] : mysql_) {
    out += (out.empty() ? "" : ",") + uuid + ":1-" + std::to_string(gno);
  }
  return out;
}

}  // namespace tandem::connectors::mysql::binlog
