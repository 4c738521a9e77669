// File: connectors/mysql/binlog/compressed_payload.h
//
// MariaDB's compressed binlog payloads (log_bin_compress=ON): QUERY_COMPRESSED_EVENT carries its
// statement and the *_ROWS_COMPRESSED_EVENT(_V1) events carry their row data in this form:
//
//   bytes   field
//   1       header: bit 7 set, bits 6..4 algorithm (0 = zlib), bits 2..0 = n, bytes of the length
//   n       uncompressed length, big-endian (1 <= n <= 4)
//   rest    zlib stream (RFC 1950)
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

// The decompressed bytes. `what` names the event for errors. Errors: kCorruption (bad header,
// zlib error, size other than announced), kUnsupported (an algorithm other than zlib).
engine::Result<std::string> DecompressPayload(std::string_view payload, std::string_view what);

}  // namespace tandem::connectors::mysql::binlog
