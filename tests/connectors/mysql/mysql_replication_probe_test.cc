#include "connectors/mysql/mysql_replication_probe.h"

#include <gtest/gtest.h>

namespace tandem::connectors::mysql {
namespace {

TEST(ParseMariaDbGtidList, ReadsEveryDomain) {
  auto domains = ParseMariaDbGtidList("0-1-42,1-2-7");
  ASSERT_TRUE(domains.ok()) << domains.status().ToString();
  EXPECT_EQ(domains->size(), 2u);
  EXPECT_EQ(domains->at(0), 42u);
  EXPECT_EQ(domains->at(1), 7u);
}

TEST(ParseMariaDbGtidList, EmptyIsNoDomainAndSpacesAfterCommasAreAccepted) {
  auto empty = ParseMariaDbGtidList("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto spaced = ParseMariaDbGtidList("0-1-5,\n3-9-11");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(spaced->at(3), 11u);
}

TEST(ParseMariaDbGtidList, MySqlStyleGtidsAreRefused) {
  EXPECT_FALSE(ParseMariaDbGtidList("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5").ok());
  EXPECT_FALSE(ParseMariaDbGtidList("0-1").ok());
  EXPECT_FALSE(ParseMariaDbGtidList("0-1-x").ok());
}

TEST(GtidTransactionsBehind, SumsOverTheSourceDomains) {
  EXPECT_EQ(GtidTransactionsBehind({{0, 42}, {1, 7}}, {{0, 40}, {1, 7}}), 2);
  // A domain the target has never seen counts whole.
  EXPECT_EQ(GtidTransactionsBehind({{0, 42}, {1, 7}}, {{0, 42}}), 7);
  // A target ahead in a domain (its own writes) is not negative lag.
  EXPECT_EQ(GtidTransactionsBehind({{0, 5}}, {{0, 9}}), 0);
}

TEST(BinlogBytesBetween, CountsWithinAndAcrossFiles) {
  const std::vector<BinlogFile> files = {
      {"bin.000001", 1000}, {"bin.000002", 500}, {"bin.000003", 300}};
  EXPECT_EQ(BinlogBytesBetween(files, "bin.000002", 100, "bin.000002", 400), 300);
  EXPECT_EQ(BinlogBytesBetween(files, "bin.000001", 900, "bin.000003", 50), 100 + 500 + 50);
  EXPECT_EQ(BinlogBytesBetween(files, "bin.000003", 50, "bin.000001", 900), 0);
  EXPECT_EQ(BinlogBytesBetween(files, "bin.000002", 400, "bin.000002", 400), 0);
  EXPECT_EQ(BinlogBytesBetween(files, "gone.000001", 4, "bin.000002", 400), std::nullopt);
}

}  // namespace
}  // namespace tandem::connectors::mysql
