#include "connectors/mysql/mysql_write_freeze.h"

#include <mysqld_error.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

namespace tandem::connectors::mysql {
namespace {

using engine::BinlogPosition;
using engine::FreezeOptions;
using engine::FreezeReport;
using engine::Position;
using engine::Result;
using engine::Status;
using engine::WriteFreezeState;

// Observed on MariaDB 10.11 (tests/connectors/mysql/mysql_write_freeze_test.cc):
// - SET GLOBAL read_only = ON does NOT wait for a transaction that wrote and has not committed
//   (ServerRefusesTheCommitOfAWriteBegunBeforeReadOnly): it succeeds at once, and that
//   transaction's COMMIT then fails with ER_OPTION_PREVENTS_STATEMENT (1290) for an account
//   without READ ONLY ADMIN, so its write never becomes visible. The server alone already keeps
//   the guarantee there; the connections of the transactions open before the freeze are killed
//   all the same, as the contract says, so none lingers (and rolls back now, not at its COMMIT).
// - It does wait for statements in flight and for commits in progress (the backup/global read
//   lock): a long UPDATE makes it time out after lock_wait_timeout
//   (StatementHoldingTheLockPastLockWaitIsKilled). Such a statement is not in INNODB_TRX before it
//   has written a row, so the lock-timeout path also kills connections whose COMMAND is 'Query'.
// - An ordinary account's write inside a transaction begun before the freeze fails with 1290.
// Freeze on a server already frozen changes nothing and kills nobody (contract: idempotent).

bool AllDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string Cell(const TextRow& row, size_t i) {
  return i < row.size() && row[i].has_value() ? *row[i] : std::string();
}

// Every privilege the freeze needs on this server, spelled for GRANT.
std::vector<std::string> AllFreezePrivileges(bool is_mariadb, int version_number) {
  if (!is_mariadb) {
    return {"SYSTEM_VARIABLES_ADMIN", "CONNECTION_ADMIN", "PROCESS"};
  }
  if (version_number >= 100502) {
    return {"READ ONLY ADMIN", "CONNECTION ADMIN", "PROCESS"};
  }
  return {"SUPER", "PROCESS"};
}

struct ReadOnlyFlags {
  bool read_only = false;
  std::optional<bool> super_read_only;  // nullopt: the server has no such variable (MariaDB)

  bool frozen() const { return read_only || super_read_only.value_or(false); }
  std::string Describe() const {
    return std::string("read_only=") + (read_only ? "ON" : "OFF") +
           " super_read_only=" + (super_read_only ? (*super_read_only ? "ON" : "OFF") : "n/a");
  }
};

bool IsOn(const std::string& value) { return value == "ON" || value == "1"; }

// A client connection with an open InnoDB transaction.
struct TransactionHolder {
  std::string id;  // PROCESSLIST.ID, digits only
  std::string user;
  std::string host;
  std::string trx_id;
};

class MySqlWriteFreeze final : public engine::WriteFreeze {
 public:
  explicit MySqlWriteFreeze(MySqlConnection& connection) : connection_(connection) {}

  Result<FreezeReport> Freeze(const FreezeOptions& options) override {
    const auto start = std::chrono::steady_clock::now();
    FreezeReport report;
    TANDEM_RETURN_IF_ERROR(CheckFreezePrivileges());
    TANDEM_ASSIGN_OR_RETURN(ReadOnlyFlags before, ReadFlags());
    if (before.frozen() && (!before.super_read_only || *before.super_read_only)) {
      report.detail = before.Describe() + "; already frozen, nothing changed";
      report.elapsed = Elapsed(start);
      return report;
    }

    // The transactions open before the freeze, to end once read_only is ON.
    TANDEM_ASSIGN_OR_RETURN(std::vector<TransactionHolder> open_before, TransactionHolders(false));

    TANDEM_ASSIGN_OR_RETURN(TextRows saved,
                            connection_.QueryText("SELECT @@SESSION.lock_wait_timeout",
                                                  "reading the session lock_wait_timeout"));
    const std::string saved_timeout = Cell(saved.empty() ? TextRow() : saved[0], 0);
    if (!AllDigits(saved_timeout)) {
      return engine::Corruption("lock_wait_timeout '" + saved_timeout + "' on " +
                                connection_.config().Redacted() + " is not a number");
    }
    TANDEM_RETURN_IF_ERROR(
        Run("SET SESSION lock_wait_timeout = " + std::to_string(LockWaitSeconds(options.lock_wait)),
            "bounding the wait for the global read lock"));

    std::vector<std::string> killed;
    Status frozen = SetFrozenFlags(before, options, &killed);
    if (frozen.ok()) {
      frozen = EndTransactionsOpenBefore(open_before, &killed);
    }
    // Restored on every path: the session outlives this call.
    const Status restored = Run("SET SESSION lock_wait_timeout = " + saved_timeout,
                                "restoring the session lock_wait_timeout");
    TANDEM_RETURN_IF_ERROR(frozen);
    TANDEM_RETURN_IF_ERROR(restored);

    TANDEM_ASSIGN_OR_RETURN(ReadOnlyFlags after, ReadFlags());
    if (!after.frozen()) {
      return engine::FailedPrecondition("read_only is still OFF on " +
                                        connection_.config().Redacted() +
                                        " after SET GLOBAL read_only = ON (" + after.Describe() +
                                        "): another session turned it off; freeze again");
    }
    report.sessions_ended = static_cast<int>(killed.size());
    report.detail = after.Describe();
    if (!killed.empty()) {
      report.detail += "; killed " + std::to_string(killed.size()) + " connection" +
                       (killed.size() == 1 ? "" : "s") +
                       " holding transactions: " + Joined(killed, ", ");
    }
    report.elapsed = Elapsed(start);
    return report;
  }

  Status Thaw() override {
    TANDEM_ASSIGN_OR_RETURN(ReadOnlyFlags flags, ReadFlags());
    if (flags.super_read_only && *flags.super_read_only) {
      TANDEM_RETURN_IF_ERROR(
          RunPrivileged("SET GLOBAL super_read_only = OFF", "turning super_read_only off"));
    }
    if (flags.read_only) {
      TANDEM_RETURN_IF_ERROR(RunPrivileged("SET GLOBAL read_only = OFF", "turning read_only off"));
    }
    return Status::Ok();
  }

  Status AdmitPrivilegedWriters() override {
    TANDEM_ASSIGN_OR_RETURN(ReadOnlyFlags flags, ReadFlags());
    if (!flags.read_only) {
      return engine::FailedPrecondition("read_only is OFF on " + connection_.config().Redacted() +
                                        ": the server is not frozen; freeze it first");
    }
    if (flags.super_read_only && *flags.super_read_only) {
      return RunPrivileged("SET GLOBAL super_read_only = OFF", "turning super_read_only off");
    }
    return Status::Ok();
  }

  Result<WriteFreezeState> State() override {
    TANDEM_ASSIGN_OR_RETURN(ReadOnlyFlags flags, ReadFlags());
    return WriteFreezeState{flags.frozen(), flags.Describe()};
  }

  Result<Position> CurrentPosition() override {
    const std::string action = "reading the binary log position";
    Result<TextRows> status = connection_.QueryText("SHOW MASTER STATUS", action);
    if (!status.ok() && !connection_.is_mariadb() &&
        connection_.LastMySqlError().number == ER_PARSE_ERROR) {
      status = connection_.QueryText("SHOW BINARY LOG STATUS", action);  // MySQL 8.4+
    }
    if (!status.ok()) {
      return WithGrantFix(status.status(),
                          {PrivilegeForServer("REPLICATION CLIENT", connection_.is_mariadb(),
                                              connection_.version_number())});
    }
    if (status->empty()) {
      return engine::FailedPrecondition(
          "SHOW MASTER STATUS is empty on " + connection_.config().Redacted() +
          ": the binary log is off, so no stream can drain it (start the server with log_bin)");
    }
    const TextRow& row = (*status)[0];
    TANDEM_ASSIGN_OR_RETURN(
        TextRows gtid,
        connection_.QueryText(connection_.is_mariadb() ? "SELECT @@GLOBAL.gtid_binlog_pos"
                                                       : "SELECT @@GLOBAL.gtid_executed",
                              action));
    TANDEM_ASSIGN_OR_RETURN(BinlogPosition position,
                            BinlogPositionFrom(Cell(row, 0), Cell(row, 1),
                                               Cell(gtid.empty() ? TextRow() : gtid[0], 0)));
    return Position(std::move(position));
  }

 private:
  static std::chrono::microseconds Elapsed(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  Status Run(const std::string& sql, std::string_view action) {
    return connection_.Execute(sql, action);
  }

  // Runs `sql`; a missing privilege becomes kPermissionDenied with the GRANT that fixes it.
  Status RunPrivileged(const std::string& sql, std::string_view action) {
    Status status = connection_.Execute(sql, action);
    if (status.ok()) return status;
    return WithGrantFix(
        status, AllFreezePrivileges(connection_.is_mariadb(), connection_.version_number()));
  }

  // `status` as kPermissionDenied naming the GRANT when the last server error says a privilege
  // is missing; unchanged otherwise.
  Status WithGrantFix(const Status& status, const std::vector<std::string>& privileges) {
    const unsigned int number = connection_.LastMySqlError().number;
    if (number != ER_SPECIFIC_ACCESS_DENIED_ERROR && number != ER_KILL_DENIED_ERROR &&
        number != ER_DBACCESS_DENIED_ERROR && number != ER_TABLEACCESS_DENIED_ERROR) {
      return status;
    }
    return engine::PermissionDenied(status.message() + "; fix: " + GrantFix(privileges));
  }

  std::string GrantFix(const std::vector<std::string>& privileges) {
    Result<TextRows> user = connection_.QueryText("SELECT CURRENT_USER()", "reading the user");
    Account account{connection_.config().user, "%"};
    if (user.ok() && !user->empty()) {
      account = ParseAccount(Cell((*user)[0], 0));
    }
    return GrantStatement(privileges, "*.*", account);
  }

  Status CheckFreezePrivileges() {
    Result<GrantSet> grants = ReadGrants(connection_, "reading the grants for the write freeze");
    if (!grants.ok()) {
      return grants.status();
    }
    const std::vector<std::string> missing =
        MissingFreezePrivileges(*grants, connection_.is_mariadb(), connection_.version_number());
    if (missing.empty()) {
      return Status::Ok();
    }
    return engine::PermissionDenied(
        "the user of " + connection_.config().Redacted() + " lacks " + Joined(missing, ", ") +
        ", needed to freeze writes (read_only) and end the transactions in flight: " +
        GrantFix(missing));
  }

  Result<ReadOnlyFlags> ReadFlags() {
    TANDEM_ASSIGN_OR_RETURN(
        TextRows rows,
        connection_.QueryText(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only')",
            "reading read_only"));
    ReadOnlyFlags flags;
    bool seen_read_only = false;
    for (const TextRow& row : rows) {
      const std::string name = Cell(row, 0);
      if (name == "read_only") {
        seen_read_only = true;
        flags.read_only = IsOn(Cell(row, 1));
      } else if (name == "super_read_only") {
        flags.super_read_only = IsOn(Cell(row, 1));
      }
    }
    if (!seen_read_only) {
      return engine::Corruption("the server " + connection_.config().Redacted() +
                                " reports no read_only variable");
    }
    return flags;
  }

  // Client connections (not this one, not protected threads) with an open InnoDB transaction
  // and, with `running_statements`, those running a statement (a statement in flight that has not
  // yet touched InnoDB is not in INNODB_TRX, yet holds the lock SET GLOBAL read_only waits for).
  Result<std::vector<TransactionHolder>> TransactionHolders(bool running_statements) {
    TANDEM_ASSIGN_OR_RETURN(
        TextRows rows,
        connection_.QueryText(
            "SELECT p.ID, p.USER, p.HOST, p.COMMAND, t.trx_id "
            "FROM information_schema.PROCESSLIST p "
            "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
            "WHERE p.ID <> CONNECTION_ID() AND (t.trx_id IS NOT NULL" +
                std::string(running_statements ? " OR p.COMMAND = 'Query')" : ")"),
            "listing the connections holding open transactions"));
    std::vector<TransactionHolder> holders;
    std::set<std::string> seen;
    for (const TextRow& row : rows) {
      TransactionHolder holder{Cell(row, 0), Cell(row, 1), Cell(row, 2), Cell(row, 4)};
      if (!AllDigits(holder.id) || IsProtectedThread(holder.user, Cell(row, 3)) ||
          !seen.insert(holder.id).second) {
        continue;
      }
      holders.push_back(std::move(holder));
    }
    return holders;
  }

  // KILL CONNECTION; a connection gone meanwhile is not an error. Appends a description to
  // `killed` for each connection ended.
  Status Kill(const TransactionHolder& holder, std::vector<std::string>* killed) {
    // holder.id is digits only (TransactionHolders), so it is safe as a literal.
    Status status = connection_.Execute("KILL CONNECTION " + holder.id,
                                        "ending connection " + holder.id + " of " + holder.user);
    if (!status.ok()) {
      if (connection_.LastMySqlError().number == ER_NO_SUCH_THREAD) {
        return Status::Ok();
      }
      return WithGrantFix(
          status, AllFreezePrivileges(connection_.is_mariadb(), connection_.version_number()));
    }
    const std::string host = holder.host.substr(0, holder.host.rfind(':'));
    killed->push_back(holder.id + " (" + holder.user + "@" + host + ")");
    return Status::Ok();
  }

  // SET GLOBAL read_only = ON (and super_read_only); on a lock wait timeout, kills the connections
  // holding transactions and tries once more.
  Status SetFrozenFlags(const ReadOnlyFlags& flags, const FreezeOptions& options,
                        std::vector<std::string>* killed) {
    Status status = SetReadOnlyOn(flags);
    if (status.ok() || connection_.LastMySqlError().number != ER_LOCK_WAIT_TIMEOUT) {
      return status;
    }
    TANDEM_ASSIGN_OR_RETURN(std::vector<TransactionHolder> holders, TransactionHolders(true));
    for (const TransactionHolder& holder : holders) {
      TANDEM_RETURN_IF_ERROR(Kill(holder, killed));
    }
    status = SetReadOnlyOn(flags);
    if (status.ok() || connection_.LastMySqlError().number != ER_LOCK_WAIT_TIMEOUT) {
      return status;
    }
    return engine::Timeout(
        "read_only could not be turned on within " +
        std::to_string(LockWaitSeconds(options.lock_wait)) + " s on " +
        connection_.config().Redacted() + " even after ending " + std::to_string(killed->size()) +
        " connections holding transactions: a session holds a table lock (LOCK TABLES, FLUSH "
        "TABLES WITH READ LOCK) or a long statement; end it (SHOW PROCESSLIST) and freeze again");
  }

  Status SetReadOnlyOn(const ReadOnlyFlags& flags) {
    if (!flags.read_only) {
      TANDEM_RETURN_IF_ERROR(RunPrivileged("SET GLOBAL read_only = ON", "turning read_only on"));
    }
    if (flags.super_read_only && !*flags.super_read_only) {
      TANDEM_RETURN_IF_ERROR(
          RunPrivileged("SET GLOBAL super_read_only = ON", "turning super_read_only on"));
    }
    return Status::Ok();
  }

  // Kills the connections whose transaction listed in `open_before` is still open.
  Status EndTransactionsOpenBefore(const std::vector<TransactionHolder>& open_before,
                                   std::vector<std::string>* killed) {
    if (open_before.empty()) {
      return Status::Ok();
    }
    std::set<std::pair<std::string, std::string>> before;
    for (const TransactionHolder& holder : open_before) {
      before.emplace(holder.id, holder.trx_id);
    }
    TANDEM_ASSIGN_OR_RETURN(std::vector<TransactionHolder> now, TransactionHolders(false));
    for (const TransactionHolder& holder : now) {
      if (before.count({holder.id, holder.trx_id}) != 0) {
        TANDEM_RETURN_IF_ERROR(Kill(holder, killed));
      }
    }
    return Status::Ok();
  }

  MySqlConnection& connection_;  // outlives this object
};

}  // namespace

std::unique_ptr<engine::WriteFreeze> NewMySqlWriteFreeze(MySqlConnection& connection) {
  return std::make_unique<MySqlWriteFreeze>(connection);
}

int LockWaitSeconds(std::chrono::milliseconds lock_wait) {
  const int64_t ms = std::max<int64_t>(0, lock_wait.count());
  return static_cast<int>(std::max<int64_t>(1, (ms + 999) / 1000));
}

bool IsProtectedThread(std::string_view user, std::string_view command) {
  if (user.empty() || user == "system user" || user == "event_scheduler") {
    return true;
  }
  return command == "Daemon" || command.starts_with("Binlog Dump") ||
         command.starts_with("Slave_") || command.starts_with("Replica_") ||
         command == "Connect Out" || command == "Register Slave";
}

std::vector<std::string> MissingFreezePrivileges(const GrantSet& grants, bool is_mariadb,
                                                 int version_number) {
  std::vector<std::string> missing;
  const bool super = grants.HasGlobal("SUPER");
  if (!is_mariadb) {
    if (!super && !grants.HasGlobal("SYSTEM_VARIABLES_ADMIN")) {
      missing.push_back("SYSTEM_VARIABLES_ADMIN");
    }
    if (!super && !grants.HasGlobal("CONNECTION_ADMIN")) missing.push_back("CONNECTION_ADMIN");
  } else if (version_number >= 100502) {
    // 10.11 split READ ONLY ADMIN out of SUPER; 10.5.2 .. 10.10 accept either.
    if (!grants.HasGlobal("READ ONLY ADMIN") && !(super && version_number < 101100)) {
      missing.push_back("READ ONLY ADMIN");
    }
    if (!super && !grants.HasGlobal("CONNECTION ADMIN")) missing.push_back("CONNECTION ADMIN");
  } else if (!super) {
    missing.push_back("SUPER");
  }
  if (!grants.HasGlobal("PROCESS")) missing.push_back("PROCESS");
  return missing;
}

Result<BinlogPosition> BinlogPositionFrom(std::string_view file, std::string_view offset,
                                          std::string_view gtid_set) {
  if (file.empty() || !AllDigits(offset) || offset.size() > 19) {
    return engine::Corruption("SHOW MASTER STATUS gave file '" + std::string(file) +
                              "' position '" + std::string(offset) +
                              "', not a binary log position");
  }
  BinlogPosition position;
  position.file = std::string(file);
  position.offset = std::stoull(std::string(offset));
  // MySQL prints multi-source GTID sets over several lines.
  for (char c : gtid_set) {
    if (c != '\n' && c != '\r') position.gtid_set += c;
  }
  return position;
}

}  // namespace tandem::connectors::mysql
