// File: connectors/redis/redis_database.h
//
// The Redis connector's entry point: OpenRedisDatabase() returns an engine::KeyValueDatabase for a
// redis:// (or rediss://) URI. What each call asks the server:
//   DescribeServer      INFO server (redis_version; product "Redis", or "Valkey")
//   Ping                PING, timed with the steady clock
//   ServerTimeMicros    TIME (seconds and microseconds, UTC)
//   DescribeKeyspaces   INFO keyspace (keys and keys with a TTL, per non-empty database)
//   Assess              see redis_assessment.h
//   keyspace_verification  see redis_keyspace_verification.h
//   write_freeze        CLIENT PAUSE WRITE / UNPAUSE, INFO replication; see redis_write_freeze.h
//
// Thread safety: the returned object owns one connection and belongs to one thread at a time.
#pragma once

#include <memory>

#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

// Connects and logs in (see Connection::Open in redis_connection.h for what that involves).
// REQUIRES: config.engine == EngineKind::kRedis (else kInvalidArgument).
// Errors: kConnectionFailed, kAuthenticationFailed, kPermissionDenied, kNotFound (database number
// beyond the server's `databases`), kInvalidArgument; one line naming config.Redacted().
engine::Result<std::unique_ptr<engine::KeyValueDatabase>> OpenRedisDatabase(
    const engine::ConnectionConfig& config);

}  // namespace tandem::connectors::redis
