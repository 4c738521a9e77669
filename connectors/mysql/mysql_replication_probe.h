// File: connectors/mysql/mysql_replication_probe.h
//
// Positional lag between a MariaDB/MySQL source and a replica of it
// (engine::ReplicationProbe), from one connection to each:
//
//   source   @@server_id, @@gtid_binlog_pos (MariaDB), SHOW MASTER STATUS
//   (File, Position),
//            SHOW BINARY LOGS (sizes, to count bytes across files)
//   target   SHOW ALL SLAVES STATUS (MariaDB) / SHOW SLAVE STATUS (MySQL): the
//   replication
//            connection whose Master_Server_Id is the source's @@server_id (or,
//            before the I/O thread has connected, whose Master_Host:Master_Port
//            is the source's address);
//            @@gtid_slave_pos (MariaDB)
//
//   measure    unit           how far the replica is behind
//   executed   transactions   MariaDB GTID: sum over the source's domains of
//   source seq_no minus
//                             the replica's executed (gtid_slave_pos) seq_no
//   received   transactions   the same against the I/O thread's Gtid_IO_Pos
//   executed   bytes          source binlog File:Position minus
//   Relay_Master_Log_File:
//                             Exec_Master_Log_Pos, summed over the binlog files
//                             between them
//   read       bytes          the same against
//   Master_Log_File:Read_Master_Log_Pos
// Notes report stopped replication threads with their last errors and
// Seconds_Behind_Master.
//
// Errors: kFailedPrecondition when the target has no replication connection to
// the source; kPermissionDenied when a privilege is missing (REPLICATION CLIENT
// / BINLOG MONITOR on the source, REPLICATION CLIENT / SLAVE MONITOR on the
// target), with the GRANT that fixes it.
//
// Thread safety: owns two connections; belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/heartbeat.h"

namespace tandem::connectors::mysql {

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenMySqlReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target);

// MariaDB GTID positions: domain id -> sequence number of the newest GTID of
// that domain. "0-1-42,1-2-7" -> {0: 42, 1: 7}. kInvalidArgument for text that
// is not a GTID list.
engine::Result<std::map<uint32_t, uint64_t>> ParseMariaDbGtidList(std::string_view text);

// Transactions `target` is behind `source`: the sum over source domains of the
// difference (a domain missing on the target counts whole).
int64_t GtidTransactionsBehind(const std::map<uint32_t, uint64_t>& source,
                               const std::map<uint32_t, uint64_t>& target);

// Bytes of binary log from (from_file, from_position) to (to_file,
// to_position), given the source's binlog files in order with their sizes.
// nullopt when a file is not in the list (purged or from another server); 0
// when `from` is at or after `to`.
struct BinlogFile {
  std::string name;
  uint64_t size = 0;
};
std::optional<int64_t> BinlogBytesBetween(const std::vector<BinlogFile>& files,
                                          const std::string& from_file, uint64_t from_position,
                                          const std::string& to_file, uint64_t to_position);

}  // namespace tandem::connectors::mysql
