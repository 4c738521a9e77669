// File: tests/connectors/mysql/binlog/binlog_fixture.h
//
// The captured binlog fixtures beside these tests and the table they log, for the decoder's unit
// tests. The fixtures were captured from MariaDB 10.11.19 running tests/connectors/mysql/binlog/
// fixtures/all_types.sql (see fixtures/README.md):
//   mariadb_10_11_all_types_crc32.bin                    binlog_checksum=CRC32, rows events v1
//   mariadb_10_11_all_types_compressed_nochecksum_fullmeta.bin
//                                                        binlog_checksum=NONE, log_bin_compress=ON
//                                                        (compressed rows and query events),
//                                                        binlog_row_metadata=FULL
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::connectors::mysql::binlog {

// The bytes of fixtures/<name>. Throws std::runtime_error when missing.
std::string ReadFixture(const std::string& name);

// fx.t as the catalog (mysql_catalog.h) describes it.
engine::TableSchema FixtureTableSchema();

// The rows the fixture's statements write, in the table's column order.
engine::Row FixtureRow1();
engine::Row FixtureRow2();  // id 2, every other column NULL
engine::Row FixtureRow2Updated();
engine::Row FixtureRow3();  // zero dates, empty strings

// "[1, NULL, 'x']" for failure messages.
std::string Show(const engine::Row& row);

}  // namespace tandem::connectors::mysql::binlog
