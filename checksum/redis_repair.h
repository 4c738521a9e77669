// File: checksum/redis_repair.h
//
// The repair script of a Redis verification: Redis commands that make the target match the
// source, one per line, for `redis-cli` to read from standard input:
//
//   SELECT <db>                                         before each database's commands
//   RESTORE <key> <expire-at-ms> <payload> REPLACE ABSTTL   missing or changed: the source's value
//   RESTORE <key> 0 <payload> REPLACE                   ... without an expiry
//   DEL <key>                                           extra, or gone from the source since
//
// Payloads come from DUMP on the source when the script is written (pipelined, `batch` keys per
// round trip); expiry times are absolute (source TIME + PTTL), so a script applied later does not
// extend them. Arguments are double-quoted with \xHH escapes for bytes outside printable ASCII
// (redis-cli's quoting), so binary keys and payloads survive. The RDB version of DUMP must be one
// the target can RESTORE (a target at the same or a newer Redis version).
//
//   redis-cli -h HOST -p PORT --no-auth-warning -a PASSWORD < repair.redis
//
// Thread safety: free functions; the opened connections belong to the calling thread.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "checksum/redis_verifier.h"
#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::checksum {

// `bytes` as one redis-cli argument: "..." with \\, \", \n, \r, \t and \xHH escapes.
std::string QuoteRedisArgument(std::string_view bytes);

// Writes the script for every difference of `report` to `out`, reading payloads from `source`
// (opened with `open`). Returns the number of commands written (SELECTs excluded).
// Errors: connection errors from the source, kUnsupported when it is not Redis.
engine::Result<int64_t> WriteRedisRepairScript(const RedisVerifyReport& report,
                                               const engine::ConnectionConfig& source,
                                               const engine::DatabaseOpener& open,
                                               std::ostream& out, size_t batch = 256);

}  // namespace tandem::checksum
