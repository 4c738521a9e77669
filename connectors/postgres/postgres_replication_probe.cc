#include "connectors/postgres/postgres_replication_probe.h"

#include <string>
#include <utility>
#include <vector>

#include "connectors/postgres/postgres_connection.h"
#include "engine/position.h"

namespace tandem::connectors::postgres {
namespace {

constexpr char kTargetState[] =
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()::text END, "
    "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END, "
    "(SELECT slot_name FROM pg_stat_wal_receiver LIMIT 1), "
    "(SELECT status FROM pg_stat_wal_receiver LIMIT 1)";
constexpr char kSystemIdentifier[] = "SELECT system_identifier::text FROM pg_control_system()";
constexpr char kSourceState[] = "SELECT pg_is_in_recovery(), pg_current_wal_lsn()::text";
constexpr char kWalSenders[] =
    "SELECT r.pid, r.sent_lsn::text, "
    "r.flush_lsn::text, s.slot_name, s.slot_type "
    "FROM pg_stat_replication r LEFT JOIN "
    "pg_replication_slots s ON s.active_pid = r.pid";
constexpr char kSubscriptions[] =
    "SELECT s.oid, s.subname, s.subslotname, s.subenabled, "
    "(SELECT st.received_lsn::text FROM pg_stat_subscription st "
    "  WHERE st.subid = s.oid AND st.relid IS NULL LIMIT 1), "
    "EXISTS (SELECT 1 FROM pg_subscription_rel sr WHERE sr.srsubid = s.oid "
    "  AND sr.srrelid = to_regclass('_tandem.heartbeat')) "
    "FROM pg_subscription s "
    "WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = "
    "current_database())";
constexpr char kLogicalSlots[] =
    "SELECT s.slot_name, s.confirmed_flush_lsn::text, r.sent_lsn::text "
    "FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = "
    "s.active_pid "
    "WHERE s.slot_type = 'logical' AND s.database = current_database()";

int64_t Behind(uint64_t source, std::optional<uint64_t> target) {
  return target && source > *target ? static_cast<int64_t>(source - *target) : 0;
}

std::optional<uint64_t> LsnAt(const PgResult& result, int row, int column) {
  if (result.IsNull(row, column)) {
    return std::nullopt;
  }
  return ParsePostgresLsn(result.View(row, column));
}

class PostgresReplicationProbe : public engine::ReplicationProbe {
 public:
  PostgresReplicationProbe(std::unique_ptr<PostgresConnection> source,
                           std::unique_ptr<PostgresConnection> target)
      : source_(std::move(source)), target_(std::move(target)) {}

  engine::Result<engine::PositionalLag> Read() override {
    TANDEM_ASSIGN_OR_RETURN(PgResult target_state,
                            target_->Query("reading the target's recovery state", kTargetState));
    if (target_state.Bool(0, 0)) {
      return ReadPhysical(target_state);
    }
    return ReadLogical();
  }

 private:
  engine::Result<engine::PositionalLag> ReadPhysical(const PgResult& target_state) {
    if (!identity_checked_) {
      // A physical standby is a copy of its primary's cluster, system
      // identifier included.
      auto source_id = source_->Query("reading the source's system identifier", kSystemIdentifier);
      auto target_id = target_->Query("reading the target's system identifier", kSystemIdentifier);
      if (source_id.ok() && target_id.ok() && source_id->String(0, 0) != target_id->String(0, 0)) {
        return engine::FailedPrecondition("the target " + target_->config().Redacted() +
                                          " is a standby of another cluster (system identifier " +
                                          target_id->String(0, 0) + ", the source's is " +
                                          source_id->String(0, 0) + ")");
      }
      identity_checked_ = true;
    }
    const std::optional<uint64_t> received = LsnAt(target_state, 0, 1);
    const std::optional<uint64_t> replayed = LsnAt(target_state, 0, 2);
    const std::string slot = target_state.IsNull(0, 3) ? "" : target_state.String(0, 3);
    const std::string receiver = target_state.IsNull(0, 4) ? "" : target_state.String(0, 4);

    TANDEM_ASSIGN_OR_RETURN(PgResult source_state,
                            source_->Query("reading the source's WAL position", kSourceState));
    if (source_state.Bool(0, 0)) {
      return engine::FailedPrecondition("the source " + source_->config().Redacted() +
                                        " is itself in recovery; measure against its primary");
    }
    const uint64_t current = LsnAt(source_state, 0, 1).value_or(0);
    auto senders = source_->Query("reading the source's WAL senders", kWalSenders);
    if (!senders.ok()) {
      return senders.status();
    }
    // The standby's WAL sender: the one on its slot, else the only physical
    // one.
    int sender = -1;
    std::vector<int> physical;
    for (int row = 0; row < senders->rows(); ++row) {
      const std::string row_slot = senders->IsNull(row, 3) ? "" : senders->String(row, 3);
      if (!slot.empty() && row_slot == slot) {
        sender = row;
      }
      if (senders->IsNull(row, 4) || senders->String(row, 4) != "logical") {
        physical.push_back(row);
      }
    }
    if (slot.empty() && physical.size() == 1) {
      sender = physical.front();
    }

    engine::PositionalLag lag;
    lag.kind = "postgres_physical";
    lag.source_position = source_state.String(0, 1);
    lag.target_position = target_state.IsNull(0, 2) ? "" : target_state.String(0, 2);
    if (sender >= 0 && !senders->IsNull(sender, 1)) {
      lag.measures.push_back({"sent", Behind(current, LsnAt(*senders, sender, 1)), "bytes"});
    }
    const std::optional<uint64_t> flushed =
        sender >= 0 && !senders->IsNull(sender, 2) ? LsnAt(*senders, sender, 2) : received;
    lag.measures.push_back({"flush", Behind(current, flushed), "bytes"});
    lag.measures.push_back({"replay", Behind(current, replayed), "bytes"});
    if (receiver != "streaming") {
      lag.notes.push_back("the standby's WAL receiver is " +
                          (receiver.empty() ? std::string("not running") : receiver));
    }
    if (sender < 0) {
      lag.notes.push_back(
          "the standby's WAL sender on the source could not be "
          "told apart from others (no "
          "replication slot): 'sent' is not shown and 'flush' "
          "is the standby's own");
    }
    return lag;
  }

  engine::Result<engine::PositionalLag> ReadLogical() {
    TANDEM_ASSIGN_OR_RETURN(PgResult subscriptions,
                            target_->Query("reading the target's subscriptions", kSubscriptions));
    TANDEM_ASSIGN_OR_RETURN(PgResult slots,
                            source_->Query("reading the source's logical slots", kLogicalSlots));
    TANDEM_ASSIGN_OR_RETURN(PgResult source_state,
                            source_->Query("reading the source's WAL position", kSourceState));
    for (int sub = 0; sub < subscriptions.rows(); ++sub) {
      if (subscriptions.IsNull(sub, 2)) {
        continue;
      }
      const std::string slot_name = subscriptions.String(sub, 2);
      for (int slot = 0; slot < slots.rows(); ++slot) {
        if (slots.String(slot, 0) != slot_name) {
          continue;
        }
        const uint64_t current = LsnAt(source_state, 0, 1).value_or(0);
        engine::PositionalLag lag;
        lag.kind = "postgres_logical";
        lag.source_position = source_state.String(0, 1);
        lag.target_position = slots.IsNull(slot, 1) ? "" : slots.String(slot, 1);
        if (!slots.IsNull(slot, 2)) {
          lag.measures.push_back({"sent", Behind(current, LsnAt(slots, slot, 2)), "bytes"});
        }
        if (!subscriptions.IsNull(sub, 4)) {
          lag.measures.push_back(
              {"received", Behind(current, LsnAt(subscriptions, sub, 4)), "bytes"});
        }
        lag.measures.push_back(
            {"confirmed_flush", Behind(current, LsnAt(slots, slot, 1)), "bytes"});
        const std::string name = subscriptions.String(sub, 1);
        if (!subscriptions.Bool(sub, 3)) {
          lag.notes.push_back("subscription " + name + " is disabled");
        }
        if (!subscriptions.Bool(sub, 5)) {
          lag.notes.push_back("subscription " + name +
                              " does not include _tandem.heartbeat, so the "
                              "heartbeat cannot arrive: include "
                              "the table in the publication on the source (FOR "
                              "ALL TABLES does) and run ALTER "
                              "SUBSCRIPTION " +
                              name + " REFRESH PUBLICATION on the target");
        }
        return lag;
      }
    }
    return engine::FailedPrecondition(
        "the target " + target_->config().Redacted() +
        " is neither a standby of the source (it is not in recovery) nor "
        "subscribed to it (no "
        "subscription in database " +
        target_->config().database + " uses a logical replication slot of the source's database " +
        source_->config().database + ")");
  }

  std::unique_ptr<PostgresConnection> source_;
  std::unique_ptr<PostgresConnection> target_;
  bool identity_checked_ = false;
};

}  // namespace

std::optional<uint64_t> ParsePostgresLsn(std::string_view text) {
  engine::Result<engine::Lsn> lsn = engine::ParseLsn(text);
  if (!lsn.ok()) {
    return std::nullopt;
  }
  return (*lsn).value;
}

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenPostgresReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target) {
  TANDEM_ASSIGN_OR_RETURN(auto source_connection, PostgresConnection::Connect(source));
  TANDEM_ASSIGN_OR_RETURN(auto target_connection, PostgresConnection::Connect(target));
  return std::unique_ptr<engine::ReplicationProbe>(
      new PostgresReplicationProbe(std::move(source_connection), std::move(target_connection)));
}

}  // namespace tandem::connectors::postgres
