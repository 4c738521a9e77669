// File: tests/harness/accounts.h
//
// The account every harness server gives tests: user `tandem`, password `tandem-secret`, with all
// privileges (MariaDB: ALL ON *.* WITH GRANT OPTION; PostgreSQL: SUPERUSER REPLICATION, owner of
// database `tandem`; Redis: requirepass). Test credentials only.
#pragma once

namespace tandem::testing {

inline constexpr char kTestUser[] = "tandem";
inline constexpr char kTestPassword[] = "tandem-secret";

}  // namespace tandem::testing
