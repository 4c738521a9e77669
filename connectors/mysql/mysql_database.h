// File: connectors/mysql/mysql_database.h
//
// The MySQL/MariaDB connector's entry point: OpenMySqlDatabase returns an engine::SqlDatabase over
// one connection (see mysql_connection.h for what the session is set to).
//
//   engine::SqlDatabase call   how
//   DescribeServer             the handshake's version string; product "MariaDB" or "MySQL"
//   Ping                       COM_PING round trip
//   ServerTimeMicros           SELECT UNIX_TIMESTAMP(NOW(6)), parsed exactly (µs)
//   Assess                     mysql_assessment.h (codes listed there)
//   ListTables, DescribeTable  mysql_catalog.h
//   ReadRange                  mysql_range_query.h's SELECT as a prepared statement, fetched
//                              unbuffered row by row (mysql_statement.h), values decoded per the
//                              table's column kinds (mysql_value_codec.h)
//
// Thread safety: the returned object owns one connection and belongs to one thread at a time.
#pragma once

#include <memory>

#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::connectors::mysql {

// Connects to the server `config` names. REQUIRES: config.engine == EngineKind::kMySql.
// Errors: as MySqlConnection::Open (kConnectionFailed, kAuthenticationFailed, kNotFound,
// kPermissionDenied, kInvalidArgument), each one line naming config.Redacted().
engine::Result<std::unique_ptr<engine::SqlDatabase>> OpenMySqlDatabase(
    const engine::ConnectionConfig& config);

}  // namespace tandem::connectors::mysql
