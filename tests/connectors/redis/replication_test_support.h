// File: tests/connectors/redis/replication_test_support.h
//
// Helpers for the integration tests of tandem as a Redis replica (redis_replication_client_test,
// redis_change_stream_test): configs from a private server's URI, INFO replication fields, and
// reading a full resync's snapshot to its end.
//
// Thread safety: free functions; each call that talks to a server opens its own connection.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/redis/rdb/rdb_parser.h"
#include "connectors/redis/redis_replication_client.h"
#include "engine/connection_config.h"
#include "tests/harness/redis_server.h"

namespace tandem::connectors::redis::testing {

inline engine::ConnectionConfig ConfigOf(const std::string& uri) {
  auto config = engine::ParseConnectionUri(uri, "--source", "");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : engine::ConnectionConfig{};
}

inline engine::ConnectionConfig ConfigOf(const tandem::testing::RedisServer& server) {
  return ConfigOf(server.Uri());
}

// A field of INFO replication ("master_repl_offset", "slave0", ...); "" when absent.
inline std::string InfoReplication(const tandem::testing::RedisServer& server,
                                   const std::string& field) {
  std::string info = server.Command({"INFO", "replication"});
  std::string prefix = field + ":";
  size_t at = info.find("\n" + prefix);
  if (at == std::string::npos) {
    if (info.rfind(prefix, 0) != 0) {
      return "";
    }
    at = 0;
  } else {
    at += 1;
  }
  size_t end = info.find_first_of("\r\n", at);
  return info.substr(at + prefix.size(),
                     end == std::string::npos ? std::string::npos : end - at - prefix.size());
}

inline int64_t MasterReplOffset(const tandem::testing::RedisServer& server) {
  return std::stoll(InfoReplication(server, "master_repl_offset"));
}

// The snapshot's bytes, read one at a time until the byte source says it ended (which proves it
// hands out exactly the transfer: a read past it is kCorruption).
inline std::string DrainSnapshotBytes(ReplicationClient& client) {
  std::string bytes;
  for (;;) {
    char c = 0;
    engine::Status read = client.snapshot().Read(&c, 1);
    if (!read.ok()) {
      EXPECT_EQ(read.code(), engine::StatusCode::kCorruption) << read.ToString();
      EXPECT_NE(read.message().find("ended early"), std::string::npos) << read.message();
      return bytes;
    }
    bytes += c;
  }
}

// Counts what RdbParser delivers.
class CountingVisitor final : public RdbVisitor {
 public:
  engine::Status OnAux(std::string_view, std::string_view) override { return {}; }
  engine::Status OnSelectDatabase(int) override { return {}; }
  engine::Status OnValue(const RdbKeyHeader&, std::string_view) override {
    ++keys;
    return {};
  }
  engine::Status OnValuePiece(const RdbKeyHeader&, const RdbValuePiece& piece) override {
    keys += piece.first ? 1 : 0;
    return {};
  }
  engine::Status OnFunctionLibrary(std::string_view) override { return {}; }
  engine::Status OnEnd() override {
    ended = true;
    return {};
  }
  int64_t keys = 0;
  bool ended = false;
};

}  // namespace tandem::connectors::redis::testing
