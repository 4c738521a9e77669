#include "checksum/redis_repair.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace tandem::checksum {

std::string QuoteRedisArgument(std::string_view bytes) {
  std::string out = "\"";
  for (char c : bytes) {
    const unsigned char byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte >= 0x7f) {
          char escaped[5];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

engine::Result<int64_t> WriteRedisRepairScript(const RedisVerifyReport& report,
                                               const engine::ConnectionConfig& source_config,
                                               const engine::DatabaseOpener& open,
                                               std::ostream& out, size_t batch) {
  std::unique_ptr<engine::Database> owner;
  engine::KeyValueDatabase* source = nullptr;
  int64_t written = 0;
  batch = std::max<size_t>(1, batch);
  for (size_t t = 0; t < report.report.tables.size() && t < report.databases.size(); ++t) {
    const TableReport& table = report.report.tables[t];
    if (table.differences.empty()) {
      continue;
    }
    if (source == nullptr) {
      auto opened = open(source_config);
      if (!opened.ok()) {
        return opened.status().WithContext("source");
      }
      owner = std::move(*opened);
      source = dynamic_cast<engine::KeyValueDatabase*>(owner.get());
      if (source == nullptr || source->keyspace_verification() == nullptr) {
        return engine::Unsupported("source " + source_config.Redacted() + " is not Redis");
      }
    }
    engine::KeyspaceVerification& port = *source->keyspace_verification();
    TANDEM_RETURN_IF_ERROR(port.SelectDatabase(report.databases[t]));
    out << "SELECT " << report.databases[t] << "\n";
    for (size_t start = 0; start < table.differences.size(); start += batch) {
      const size_t end = std::min(table.differences.size(), start + batch);
      std::vector<std::string> restore;
      for (size_t i = start; i < end; ++i) {
        const Difference& difference = table.differences[i];
        const std::string& key = difference.key.at(0).text();
        if (difference.kind == DifferenceKind::kExtra) {
          out << "DEL " << QuoteRedisArgument(key) << "\n";
          ++written;
        } else {
          restore.push_back(key);
        }
      }
      if (restore.empty()) {
        continue;
      }
      TANDEM_ASSIGN_OR_RETURN(int64_t now_us, source->ServerTimeMicros());
      TANDEM_ASSIGN_OR_RETURN(std::vector<engine::DumpedKey> dumped, port.DumpKeys(restore));
      for (size_t i = 0; i < restore.size(); ++i) {
        const std::string quoted_key = QuoteRedisArgument(restore[i]);
        if (!dumped[i].payload.has_value()) {
          out << "DEL " << quoted_key << "\n";
        } else if (dumped[i].ttl_ms >= 0) {
          out << "RESTORE " << quoted_key << " " << now_us / 1000 + dumped[i].ttl_ms << " "
              << QuoteRedisArgument(*dumped[i].payload) << " REPLACE ABSTTL\n";
        } else {
          out << "RESTORE " << quoted_key << " 0 " << QuoteRedisArgument(*dumped[i].payload)
              << " REPLACE\n";
        }
        ++written;
      }
    }
  }
  out.flush();
  if (!out) {
    return engine::Internal("could not write the repair script");
  }
  return written;
}

}  // namespace tandem::checksum
