// File: connectors/mysql/mysql_grants.h
//
// What the logged-in user may do, parsed from the lines of `SHOW GRANTS` (which on MariaDB also
// lists the privileges of the user's active role and of PUBLIC):
//
//   GRANT <privilege list> ON <object> TO <grantee> [IDENTIFIED BY PASSWORD '...'] [WITH ...]
//
//   <object>     level      meaning
//   *.*          global     every database
//   `db`.*       database   databases matching the LIKE pattern `db` (% and _ wildcards, \ escapes)
//   `db`.`t`     table      one table
//   FUNCTION / PROCEDURE / PACKAGE objects, PROXY grants and role grants (no ON) are ignored, and
//   so are column privileges ("SELECT (`a`)"), which never cover a whole table.
//
// Privilege names are canonicalised: upper case, single spaces, and the synonyms MariaDB 10.5+
// introduced folded into the historical names (REPLICATION REPLICA -> REPLICATION SLAVE,
// BINLOG MONITOR -> REPLICATION CLIENT, REPLICA MONITOR -> SLAVE MONITOR,
// READ ONLY ADMIN -> READ_ONLY ADMIN). ALL [PRIVILEGES] covers every privilege of its level.
//
// The lines may contain password hashes; nothing here copies a line into a message.
//
// Thread safety: value types and pure functions, but for ReadGrants, which runs on the thread that
// owns its connection.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "engine/status.h"

namespace tandem::connectors::mysql {

struct Grant {
  enum class Level { kGlobal, kDatabase, kTable };
  Level level = Level::kGlobal;
  std::string database;  // kDatabase: a LIKE pattern as SHOW GRANTS prints it; kTable: the name
  std::string table;     // kTable only
  std::set<std::string> privileges;  // canonical names
  bool all = false;                  // ALL [PRIVILEGES]
};

class GrantSet {
 public:
  // Parses SHOW GRANTS output, one line per element. Lines it does not understand are skipped.
  static GrantSet Parse(const std::vector<std::string>& lines);

  // `privilege` (any spelling) granted on *.*.
  bool HasGlobal(std::string_view privilege) const;
  // Granted on *.* or on a database pattern matching `database`.
  bool HasOnDatabase(std::string_view privilege, std::string_view database) const;
  // Granted on *.*, on `database`, or on exactly `database`.`table`.
  bool HasOnTable(std::string_view privilege, std::string_view database,
                  std::string_view table) const;

  const std::vector<Grant>& grants() const { return grants_; }

 private:
  static bool Covers(const Grant& grant, const std::string& canonical);
  std::vector<Grant> grants_;
};

// What the user of `connection` may do: its SHOW GRANTS, parsed. `action` names the read in errors.
// Errors: those of the query (QueryErrorStatus).
engine::Result<GrantSet> ReadGrants(MySqlConnection& connection, const std::string& action);

// "replication  replica" -> "REPLICATION SLAVE"; see the header comment.
std::string CanonicalPrivilege(std::string_view name);

// How to spell a canonical privilege in a GRANT statement for this server: MariaDB 10.5.2 and
// later call REPLICATION CLIENT "BINLOG MONITOR".
std::string PrivilegeForServer(std::string_view canonical, bool is_mariadb, int version_number);

// Whether the database-level grant pattern `pattern` (LIKE syntax, backslash escapes) covers
// `database`. Case-sensitive, as database names are on Linux.
bool MatchesDatabasePattern(std::string_view pattern, std::string_view database);

// The account of CURRENT_USER() ("tandem@%") split into user and host at the last '@'.
struct Account {
  std::string user;
  std::string host;
  // "'tandem'@'%'", quoted for SQL.
  std::string Quoted() const;
};
Account ParseAccount(std::string_view current_user);

// "GRANT SELECT, INSERT ON `shop`.* TO 'tandem'@'%';". `on` is "*.*" or a quoted object.
std::string GrantStatement(const std::vector<std::string>& privileges, std::string_view on,
                           const Account& account);

}  // namespace tandem::connectors::mysql
