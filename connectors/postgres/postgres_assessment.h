// File: connectors/postgres/postgres_assessment.h
//
// Phase 1 assessment of one PostgreSQL server (Database::Assess). Codes are part of the public
// JSON contract; each finding names its object and gives the statement that fixes it.
//
//   code                                 role    kind     when
//   postgres_version_unsupported         both    blocker  server older than PostgreSQL 12
//   postgres_wal_level                   source  blocker  wal_level is not logical
//   postgres_max_replication_slots       source  blocker  max_replication_slots is 0 or every
//                                                         slot is taken
//   postgres_max_wal_senders             source  blocker  max_wal_senders is 0 or every sender
//                                                         is busy
//   postgres_missing_replication         source  blocker  the user is neither REPLICATION nor
//                                                         superuser
//   postgres_source_in_recovery          source  blocker  a standby before PostgreSQL 16 (no
//                                                         logical decoding there)
//   postgres_missing_select              source  blocker  no USAGE on the schema or SELECT on a
//                                                         table
//   postgres_table_without_key           source  blocker  no primary key and REPLICA IDENTITY
//                                                         DEFAULT: updates/deletes cannot stream
//   postgres_replica_identity_nothing    source  blocker  REPLICA IDENTITY NOTHING
//   postgres_replica_identity_full       source  warning  no primary key, REPLICA IDENTITY FULL:
//                                                         whole old rows logged, slow apply
//   postgres_inactive_slot               source  warning  an inactive slot holds back WAL
//   postgres_cannot_create_publication   source  warning  no CREATE on the database, or tables
//                                                         the user does not own
//   postgres_target_in_recovery          target  blocker  a standby cannot be written
//   postgres_target_read_only            target  blocker  default_transaction_read_only is on
//   postgres_target_missing_create       target  blocker  cannot create tandem's tables (no
//                                                         CREATE on the database or on public)
//   postgres_target_missing_write        target  blocker  no SELECT/INSERT/UPDATE/DELETE on an
//                                                         existing table
//   postgres_target_wal_level            target  warning  wal_level is not logical: the reverse
//                                                         stream kept for rollback cannot start
//
// Facts (both roles): product, version, version_number, user, superuser, replication, database,
// database_bytes, encoding, in_recovery, settings {wal_level, max_replication_slots,
// max_wal_senders, max_slot_wal_keep_size, wal_keep_size, wal_sender_timeout, max_connections,
// default_transaction_read_only}, table_count. Source adds tables_without_primary_key,
// replication_slots_in_use, wal_senders_in_use and replication_slots [{name, plugin, type,
// database, active, wal_status, retained_wal_bytes}].
//
// Thread safety: a function on a connection owned by the calling thread.
#pragma once

#include "connectors/postgres/postgres_connection.h"
#include "engine/assessment.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

// Checks the server behind `connection` for `role`. Errors: connection failures only; a missing
// privilege is reported as a finding, not an error.
engine::Result<engine::Assessment> AssessPostgres(PostgresConnection& connection,
                                                  engine::Role role);

}  // namespace tandem::connectors::postgres
