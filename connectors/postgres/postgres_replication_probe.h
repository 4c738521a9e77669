// File: connectors/postgres/postgres_replication_probe.h
//
// Positional lag between a PostgreSQL primary and a server that replicates from
// it (engine::ReplicationProbe), in bytes of WAL, from one connection to each.
// The target is read first and the source after, so the figures err towards
// "more behind", never less.
//
// Physical standby (the target is in recovery and has the source's system
// identifier):
//   sent     pg_current_wal_lsn() on the source minus sent_lsn of the standby's
//   WAL sender flush    ... minus flush_lsn of that WAL sender (else the
//   standby's pg_last_wal_receive_lsn()) replay   ... minus the standby's
//   pg_last_wal_replay_lsn()
// The standby's WAL sender on the source is the one using the standby's
// replication slot, or the only physical one; without either, "sent" is left
// out.
//
// Logical subscription (the target is not in recovery and has a subscription
// whose slot is a logical slot of the source's database):
//   sent             pg_current_wal_lsn() minus sent_lsn of the slot's WAL
//   sender received         ... minus pg_stat_subscription.received_lsn of the
//   apply worker confirmed_flush  ... minus the slot's confirmed_flush_lsn
//   (what the subscriber reported done)
// Logical positions advance over WAL that the publication does not carry as
// well, so a quiet publication on a busy server may show bytes behind that are
// not data. A note says when the subscription does not include
// _tandem.heartbeat (the heartbeat then cannot arrive).
//
// Errors: kFailedPrecondition when the target is neither a standby of the
// source nor subscribed to it; kPermissionDenied when the source user may not
// see WAL sender positions (grant pg_monitor).
//
// Thread safety: owns two connections; belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "engine/heartbeat.h"

namespace tandem::connectors::postgres {

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenPostgresReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target);

// "16/B374D848" -> 0x16B374D848 (engine::ParseLsn). nullopt for anything else.
std::optional<uint64_t> ParsePostgresLsn(std::string_view text);

}  // namespace tandem::connectors::postgres
