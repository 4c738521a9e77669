#include "connectors/postgres/postgres_replication_probe.h"

#include <gtest/gtest.h>

namespace tandem::connectors::postgres {
namespace {

TEST(ParsePostgresLsn, ReadsBothHalves) {
  EXPECT_EQ(ParsePostgresLsn("0/0"), 0u);
  EXPECT_EQ(ParsePostgresLsn("0/3000060"), 0x3000060u);
  EXPECT_EQ(ParsePostgresLsn("16/B374D848"), 0x16B374D848u);
  EXPECT_EQ(ParsePostgresLsn("FFFFFFFF/FFFFFFFF"), UINT64_MAX);
}

TEST(ParsePostgresLsn, RefusesAnythingElse) {
  EXPECT_EQ(ParsePostgresLsn(""), std::nullopt);
  EXPECT_EQ(ParsePostgresLsn("3000060"), std::nullopt);
  EXPECT_EQ(ParsePostgresLsn("/1"), std::nullopt);
  EXPECT_EQ(ParsePostgresLsn("1/"), std::nullopt);
  EXPECT_EQ(ParsePostgresLsn("1/G"), std::nullopt);
  EXPECT_EQ(ParsePostgresLsn("100000000/0"), std::nullopt);
}

}  // namespace
}  // namespace tandem::connectors::postgres
