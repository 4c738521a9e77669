// File: connectors/mysql/mysql_write_freeze.h
//
// engine::WriteFreeze for MariaDB / MySQL over one MySqlConnection (see engine/write_freeze.h for
// the contract). MySqlDatabase hands it out through Database::write_freeze().
//
//   call             statements (in order)
//   Freeze           SHOW GRANTS (privilege check); SHOW GLOBAL VARIABLES (read_only,
//                    super_read_only); SELECT @@SESSION.lock_wait_timeout, NOW(6);
//                    SET SESSION lock_wait_timeout = <ceil(lock_wait s), min 1>;
//                    SET GLOBAL read_only = ON (and super_read_only = ON where it exists);
//                    on ER_LOCK_WAIT_TIMEOUT: KILL CONNECTION of every client connection holding an
//                    open InnoDB transaction (information_schema.INNODB_TRX joined to PROCESSLIST)
//                    or running a statement (COMMAND 'Query': a statement in flight holds the lock
//                    read_only waits for before InnoDB lists it), then SET GLOBAL once more; once
//                    read_only is ON: KILL CONNECTION of the client connections whose InnoDB
//                    transaction began before the freeze; SET SESSION lock_wait_timeout = <as
//                    before>
//   Thaw             SET GLOBAL super_read_only = OFF (where it exists); SET GLOBAL read_only = OFF
//   State            SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only','super_read_only')
//   CurrentPosition  SHOW MASTER STATUS; SELECT @@GLOBAL.gtid_binlog_pos (MySQL: gtid_executed)
//
// InnoDB refreshes what INNODB_TRX shows at most every 0.1 s: a transaction begun less than that
// before the freeze may be missed by the kill. That does not weaken the freeze: MariaDB refuses
// the COMMIT of a transaction that wrote, once read_only is ON, for every account without READ
// ONLY ADMIN (mysql_write_freeze_test shows it); the kill only makes such clients reconnect.
//
// Never killed: this connection, threads without a client (system, event scheduler), replication
// threads (a replica's SQL/IO threads and, on the source, `Binlog Dump` threads: a change stream
// such as tandem's is one).
//
// Privileges (checked from SHOW GRANTS before anything changes, and mapped from the server's
// error as a second line): MariaDB 10.5.2+: READ ONLY ADMIN (SUPER too before 10.11), CONNECTION
// ADMIN (or SUPER) and PROCESS (INNODB_TRX and other accounts' PROCESSLIST rows need it); older
// MariaDB: SUPER, PROCESS. MySQL: SYSTEM_VARIABLES_ADMIN and CONNECTION_ADMIN (or SUPER), PROCESS.
// CurrentPosition needs BINLOG MONITOR / REPLICATION CLIENT.
//
// Thread safety: owned by the thread that owns the connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_grants.h"
#include "engine/position.h"
#include "engine/status.h"
#include "engine/write_freeze.h"

namespace tandem::connectors::mysql {

// REQUIRES: `connection` outlives the returned object.
std::unique_ptr<engine::WriteFreeze> NewMySqlWriteFreeze(MySqlConnection& connection);

// Pure helpers, exposed for tests.

// The session lock_wait_timeout, in whole seconds, that bounds one SET GLOBAL read_only by
// `lock_wait`: rounded up, at least 1.
int LockWaitSeconds(std::chrono::milliseconds lock_wait);

// Whether a PROCESSLIST row (its USER and COMMAND) is a thread the freeze must never kill: no
// client behind it ("system user", "event_scheduler", COMMAND "Daemon") or replication ("Binlog
// Dump", "Binlog Dump GTID", "Slave_IO", "Slave_SQL", "Slave_worker", ...).
bool IsProtectedThread(std::string_view user, std::string_view command);

// The privileges the freeze needs that `grants` lacks, spelled for a GRANT statement on this
// server (empty when nothing is missing).
std::vector<std::string> MissingFreezePrivileges(const GrantSet& grants, bool is_mariadb,
                                                 int version_number);

// The BinlogPosition of a SHOW MASTER STATUS row (File, Position) and the GTID set.
// Errors: kCorruption when the offset is not a number.
engine::Result<engine::BinlogPosition> BinlogPositionFrom(std::string_view file,
                                                          std::string_view offset,
                                                          std::string_view gtid_set);

}  // namespace tandem::connectors::mysql
