#include "connectors/mysql/mysql_grants.h"

#include <gtest/gtest.h>

namespace tandem::connectors::mysql {
namespace {

TEST(MySqlCanonicalPrivilege, FoldsSynonymsAndSpacing) {
  EXPECT_EQ(CanonicalPrivilege("replication  replica"), "REPLICATION SLAVE");
  EXPECT_EQ(CanonicalPrivilege("REPLICATION SLAVE"), "REPLICATION SLAVE");
  EXPECT_EQ(CanonicalPrivilege("BINLOG MONITOR"), "REPLICATION CLIENT");
  EXPECT_EQ(CanonicalPrivilege(" replication client "), "REPLICATION CLIENT");
  EXPECT_EQ(CanonicalPrivilege("READ ONLY ADMIN"), "READ_ONLY ADMIN");
  EXPECT_EQ(CanonicalPrivilege("select"), "SELECT");
}

TEST(MySqlPrivilegeForServer, MariaDbSpellsReplicationClientAsBinlogMonitor) {
  EXPECT_EQ(PrivilegeForServer("REPLICATION CLIENT", true, 101106), "BINLOG MONITOR");
  EXPECT_EQ(PrivilegeForServer("REPLICATION CLIENT", true, 100411), "REPLICATION CLIENT");
  EXPECT_EQ(PrivilegeForServer("REPLICATION CLIENT", false, 80036), "REPLICATION CLIENT");
  EXPECT_EQ(PrivilegeForServer("SELECT", true, 101106), "SELECT");
}

TEST(MySqlGrantSet, MariaDbShowGrantsWithRoleAndPublic) {
  const GrantSet grants = GrantSet::Parse({
      "GRANT `r1` TO `u1`@`%`",
      "GRANT READ_ONLY ADMIN ON *.* TO `u1`@`%` IDENTIFIED BY PASSWORD "
      "'*D821809F681A40A6E379B50D0463EFAE20BDD122'",
      "GRANT SELECT ON `shop`.* TO `u1`@`%`",
      "GRANT REPLICATION SLAVE ON *.* TO `r1`",
      "GRANT SELECT, INSERT ON `shop`.* TO `r1`",
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON `test\\_%`.* TO PUBLIC",
      "SET DEFAULT ROLE `r1` FOR `u1`@`%`",
  });
  EXPECT_TRUE(grants.HasGlobal("REPLICATION SLAVE"));
  EXPECT_TRUE(grants.HasGlobal("replication replica"));
  EXPECT_TRUE(grants.HasGlobal("READ_ONLY ADMIN"));
  EXPECT_FALSE(grants.HasGlobal("REPLICATION CLIENT"));
  EXPECT_FALSE(grants.HasGlobal("SELECT"));
  EXPECT_TRUE(grants.HasOnDatabase("SELECT", "shop"));
  EXPECT_TRUE(grants.HasOnDatabase("INSERT", "shop"));
  EXPECT_FALSE(grants.HasOnDatabase("UPDATE", "shop"));
  EXPECT_FALSE(grants.HasOnDatabase("SELECT", "shop2"));
  EXPECT_TRUE(grants.HasOnDatabase("DROP", "test_1"));
  EXPECT_FALSE(grants.HasOnDatabase("DROP", "testx1"));  // '\_' is a literal underscore
}

TEST(MySqlGrantSet, AllPrivilegesCoversItsLevelOnly) {
  const GrantSet grants = GrantSet::Parse({
      "GRANT USAGE ON *.* TO `u`@`%`",
      "GRANT ALL PRIVILEGES ON `shop`.* TO `u`@`%`",
  });
  EXPECT_TRUE(grants.HasOnDatabase("ALTER", "shop"));
  EXPECT_TRUE(grants.HasOnTable("SELECT", "shop", "orders"));
  EXPECT_FALSE(grants.HasGlobal("REPLICATION SLAVE"));
  EXPECT_FALSE(grants.HasGlobal("SELECT"));

  const GrantSet everything =
      GrantSet::Parse({"GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT "
                       "OPTION"});
  EXPECT_TRUE(everything.HasGlobal("REPLICATION CLIENT"));
  EXPECT_TRUE(everything.HasOnDatabase("SELECT", "anything"));
}

TEST(MySqlGrantSet, ColumnPrivilegesDoNotCoverTheTable) {
  const GrantSet grants = GrantSet::Parse({
      "GRANT SELECT (`a`, `b`), INSERT ON `shop`.`t` TO `u2`@`%`",
  });
  ASSERT_EQ(grants.grants().size(), 1u);
  EXPECT_EQ(grants.grants()[0].level, Grant::Level::kTable);
  EXPECT_FALSE(grants.HasOnTable("SELECT", "shop", "t"));
  EXPECT_TRUE(grants.HasOnTable("INSERT", "shop", "t"));
  EXPECT_FALSE(grants.HasOnTable("INSERT", "shop", "u"));
}

TEST(MySqlGrantSet, MySqlDynamicPrivilegesAndQuotedNames) {
  const GrantSet grants = GrantSet::Parse({
      "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`",
      "GRANT BACKUP_ADMIN,CONNECTION_ADMIN ON *.* TO `repl`@`%`",
      "GRANT SELECT ON `we``ird`.`ta ble` TO `repl`@`%`",
      "GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `repl`@`%`",
      "GRANT PROXY ON ''@'' TO 'repl'@'%'",
  });
  EXPECT_TRUE(grants.HasGlobal("CONNECTION_ADMIN"));
  EXPECT_TRUE(grants.HasGlobal("BACKUP_ADMIN"));
  EXPECT_TRUE(grants.HasGlobal("binlog monitor"));
  EXPECT_TRUE(grants.HasOnTable("SELECT", "we`ird", "ta ble"));
  EXPECT_FALSE(grants.HasGlobal("EXECUTE"));
  EXPECT_FALSE(grants.HasGlobal("PROXY"));
}

TEST(MySqlGrantSet, GarbageLinesAreSkipped) {
  const GrantSet grants = GrantSet::Parse({"", "REVOKE x", "GRANT", "GRANT SELECT ON",
                                           "GRANT "
                                           "SELECT ON `unterminated"});
  EXPECT_TRUE(grants.grants().empty());
}

TEST(MySqlMatchesDatabasePattern, LikeSemantics) {
  EXPECT_TRUE(MatchesDatabasePattern("shop", "shop"));
  EXPECT_FALSE(MatchesDatabasePattern("shop", "Shop"));
  EXPECT_TRUE(MatchesDatabasePattern("shop%", "shop_eu"));
  EXPECT_TRUE(MatchesDatabasePattern("%", "anything"));
  EXPECT_TRUE(MatchesDatabasePattern("s_op", "shop"));
  EXPECT_FALSE(MatchesDatabasePattern("s\\_op", "shop"));
  EXPECT_TRUE(MatchesDatabasePattern("s\\_op", "s_op"));
  EXPECT_FALSE(MatchesDatabasePattern("shop", "shop2"));
}

TEST(MySqlAccount, ParsesAndQuotes) {
  const Account account = ParseAccount("tandem@%");
  EXPECT_EQ(account.user, "tandem");
  EXPECT_EQ(account.host, "%");
  EXPECT_EQ(account.Quoted(), "'tandem'@'%'");
  EXPECT_EQ(ParseAccount("we@ird@10.0.0.%").user, "we@ird");
  EXPECT_EQ(ParseAccount("o'neil@localhost").Quoted(), "'o''neil'@'localhost'");
  EXPECT_EQ(GrantStatement({"REPLICATION SLAVE", "BINLOG MONITOR"}, "*.*", account),
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'tandem'@'%';");
}

}  // namespace
}  // namespace tandem::connectors::mysql
