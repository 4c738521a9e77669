// File: connectors/mysql/binlog/binlog_transport.h
//
// BinlogTransport: where raw binlog events come from. The stream (mysql_change_stream.h) decodes
// what a transport hands it and does not care how the bytes travelled: MariaDB Connector/C's
// replication API (mariadb_rpl_transport.h), MySQL's mysql_binlog_* API, or a test's fake.
//
// Ownership and threading: one owner thread calls Next(); implementations may read on a thread
// of their own. Destruction stops the transport and releases its connection.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

class BinlogTransport {
 public:
  virtual ~BinlogTransport() = default;
  BinlogTransport(const BinlogTransport&) = delete;
  BinlogTransport& operator=(const BinlogTransport&) = delete;

  // The next whole event (header, body and checksum, exactly as the server sent it), waiting at
  // most `timeout`; nullopt when none arrived in time. After an error every later call returns
  // the same error. Errors: kConnectionFailed (retryable: the connection broke or timed out),
  // kFailedPrecondition (the server no longer has the requested position), and the server's
  // other refusals as mysql_error.h maps them.
  virtual engine::Result<std::optional<std::string>> Next(std::chrono::milliseconds timeout) = 0;

  // Whether events before the first format description carry a CRC32 trailer (the checksum the
  // dump negotiated).
  virtual bool checksum_negotiated() const = 0;

 protected:
  BinlogTransport() = default;
};

}  // namespace tandem::connectors::mysql::binlog
