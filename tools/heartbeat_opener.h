// File: tools/heartbeat_opener.h
//
// The one place that maps an engine to its connector's heartbeat ports (engine/heartbeat.h), as
// database_opener.h does for engine::Database. Each function matches the opener type of the same
// name in engine/heartbeat.h, so it can be handed to lag/ and orchestration/.
#pragma once

#include <memory>

#include "engine/heartbeat.h"

namespace tandem::tools {

// The source's heartbeat writer, with the connector of config.engine.
engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id);

// The target's heartbeat reader, with the connector of config.engine.
engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id);

// The positional-lag probe for a pair joined by native replication. kUnsupported when the two
// engines differ (no native replication between them).
engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target);

}  // namespace tandem::tools
