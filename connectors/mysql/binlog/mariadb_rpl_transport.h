// File: connectors/mysql/binlog/mariadb_rpl_transport.h
//
// A BinlogTransport over MariaDB Connector/C's replication API (mariadb_rpl_*, Connector/C 3.3):
// the connection asks the server to dump its binlog as a replica with a server id would.
//
// Before the dump the session sets:
//   @master_binlog_checksum = @@global.binlog_checksum   events keep their CRC32 (verified by the
//                                                        decoder, not by the client library)
//   @mariadb_slave_capability = 4                        MariaDB's GTID-aware dump (GTID_LIST,
//                                                        GTID events, annotate rows omitted)
//   @master_heartbeat_period = heartbeat (ns)            an idle server sends a heartbeat, so a
//                                                        healthy idle stream never hits the read
//                                                        timeout
//   @slave_connect_state = start GTID set                when starting from GTIDs (MariaDB only)
// then COM_BINLOG_DUMP from file:offset (or the GTID state) with the replica server id.
//
// mariadb_rpl_fetch parses each event as well; only its raw copy of the packet is used (the event
// is the last event_length bytes of it; what precedes is the protocol's OK byte).
//
// Threading: a reader thread owns the MYSQL handle after Open and blocks in mariadb_rpl_fetch;
// events cross to the caller through a bounded queue (`max_queued_bytes`, at least one event).
// Every read is bounded by the connection's read timeout (config.read_timeout), and the
// destructor stops the thread by cancelling the connection (mariadb_cancel) and joins it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "connectors/mysql/binlog/binlog_transport.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

struct RplTransportOptions {
  uint32_t server_id = 0;                     // replica server id; REQUIRES: not 0
  std::chrono::milliseconds heartbeat{1000};  // idle heartbeat period
  size_t max_queued_bytes = 64u << 20;        // read-ahead bound (64 MiB)
  bool use_gtid = false;                      // start from start.gtid_set (MariaDB)
};

// Connects and starts the dump at `start` (file and offset, or the GTID set with use_gtid).
// Errors: as MySqlConnection::Open; kFailedPrecondition when the server refuses the start
// position; kConnectionFailed when the dump cannot start.
engine::Result<std::unique_ptr<BinlogTransport>> OpenMariaDbRplTransport(
    const engine::ConnectionConfig& config, const engine::BinlogPosition& start,
    const RplTransportOptions& options);

}  // namespace tandem::connectors::mysql::binlog
