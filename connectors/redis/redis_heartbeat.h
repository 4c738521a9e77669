// File: connectors/redis/redis_heartbeat.h
//
// The heartbeat ports (engine/heartbeat.h) for Redis.
//
//   writer   Write:  SET _tandem:heartbeat:<writer_id> "<seq> <sent_ns>" PX
//   3600000, in the
//                    URI's logical database; the key expires an hour after the
//                    last beat, so a process that dies leaves nothing behind
//                    for long. Prepare checks that the source is a master (a
//                    replica refuses writes).
//            Remove: DEL of the key.
//   reader   ReadSequence: GET of the key; nil (not replicated yet) reads as
//   "nothing yet".
//
// A replica applies the master's replication stream in order, so the value it
// shows is the newest heartbeat it has processed. ACL users need +set +get +del
// +info on ~_tandem:*.
//
// Thread safety: each object owns its connection and belongs to one thread at a
// time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/heartbeat.h"

namespace tandem::connectors::redis {

// "_tandem:heartbeat:<writer_id>".
std::string HeartbeatKey(engine::HeartbeatWriterId writer_id);

// "<seq> <sent_ns>" -> seq. nullopt when the value is not in that form.
std::optional<int64_t> ParseHeartbeatValue(std::string_view value);

// REQUIRES: source.engine == EngineKind::kRedis. Errors: as Connection::Open.
engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenRedisHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id);

// REQUIRES: target.engine == EngineKind::kRedis.
engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenRedisHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id);

}  // namespace tandem::connectors::redis
