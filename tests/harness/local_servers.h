// File: tests/harness/local_servers.h
//
// The real-server test harness in one include. Tests start private servers when they need a
// particular configuration (a misconfigured binlog, a replica pair, a standby) and use the shared
// servers of the ctest fixture otherwise:
//
//   tandem::testing::TempDir dir;
//   auto source = MariaDbServer::Start(dir.path(), {.binlog_format = "STATEMENT"});
//   auto replica = MariaDbServer::Start(dir.path());
//   replica->StartReplicaOf(*source);
//   source->Execute("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t
//   VALUES (1)"); replica->WaitForReplicaCatchUp(*source);
//
//   MariaDbServer        mariadb_server.h   private mariadbd (GTID, binlog options, replicas)
//   PostgresServer       postgres_server.h  private PostgreSQL (wal_level, physical standbys)
//   RedisServer          redis_server.h     private redis-server (replicas)
//   SharedServers        shared_servers.h   the ctest fixture's source/target servers
//   Load*SampleData      sample_data.h      deterministic data sets for every engine
//   TempDir              files.h            a parent directory that removes itself
//   MySqlClient, PostgresClient, RedisClient: RAII test-side connections (C client libraries)
//
// The harness uses the C client libraries directly and none of tandem's own code, so a bug in
// the code under test cannot hide itself in the fixture. Errors are std::runtime_error.
//
// Thread safety: see each header.
#pragma once

#include "tests/harness/accounts.h"
#include "tests/harness/files.h"
#include "tests/harness/mariadb_server.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/sample_data.h"
#include "tests/harness/shared_servers.h"
