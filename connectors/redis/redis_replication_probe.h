// File: connectors/redis/redis_replication_probe.h
//
// Positional lag between a Redis master and a replica of it
// (engine::ReplicationProbe), in bytes of the replication stream, from INFO
// replication on both (the target first):
//
//   processed     master_repl_offset of the source minus slave_repl_offset of
//   the replica acknowledged  ... minus the offset the replica last
//   acknowledged to the master (the source's
//                 slaveN line for the replica's port), when the source lists
//                 it; replicas acknowledge once a second, so this trails
//                 "processed" by up to a second of stream
// The replica belongs to the source when it is a replica (role:slave) sharing
// the source's replication id (master_replid). A note says when
// master_link_status is not up.
//
// Errors: kFailedPrecondition when the target is not a replica of the source; kUnavailable (asked
// again later) while a replica's link is down or its first sync is in progress, since until then
// it shows a replication id of its own.
//
// Thread safety: owns two connections; belongs to one thread at a time.
#pragma once

#include <memory>

#include "engine/heartbeat.h"

namespace tandem::connectors::redis {

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenRedisReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target);

}  // namespace tandem::connectors::redis
