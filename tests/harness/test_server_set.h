// File: tests/harness/test_server_set.h
//
// The logic behind `tandem-test-servers start|stop` (test_servers_main.cc holds only option
// parsing): a source and a target of MariaDB, PostgreSQL and Redis — six independent servers, no
// replication between them — started in parallel under one directory, described in
// DIR/servers.env (keys in shared_servers.h) and recorded in DIR/pids, then left running detached
// (new session, no parent death signal) for the test processes that follow.
//
// DIR layout:
//   servers.env                      KEY=VALUE lines for SharedServers / scripts
//   pids                             "<pid> <start time> <stop signal> <server name>" lines,
//                                    written as each server comes up
//   mysql-source/, mysql-target/     each: data/ (socket, pid file), server.log
//   postgres-source/, postgres-target/
//   redis-source/, redis-target/
//
// Thread safety: not for concurrent use on the same directory (the commands are run one at a
// time by ctest fixtures or by hand).
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace tandem::testing {

struct TestServerSetOptions {
  std::string dir;           // REQUIRED; created if missing
  bool sample_data = false;  // load the sample data sets into sources and targets
  int rows = 1000;           // sample rows per table / keys per Redis database
};

// Stops servers a previous start left in `dir`, starts the six servers, optionally loads the
// sample data (identical on both sides, same Redis expiry), writes servers.env, releases the
// servers and returns the servers.env entries in file order. Progress and timings go to `log`.
// On failure every server this call started is stopped, and std::runtime_error says which server
// failed and why (with its log tail).
std::vector<std::pair<std::string, std::string>> StartTestServerSet(
    const TestServerSetOptions& options, std::ostream& log);

// Stops every server recorded in dir/pids or found through the pid files in the server
// directories (each verified to be the recorded process, or to run in that directory, before it
// is signalled): MariaDB and Redis get SIGTERM, PostgreSQL SIGINT (fast shutdown); whatever is
// still running after 30 s gets SIGKILL. Then removes the server directories, servers.env and
// pids (and `dir` if that leaves it empty). Succeeds when nothing was running. Returns the number
// of processes that could not be stopped (0 = success).
int StopTestServerSet(const std::string& dir, std::ostream& log);

}  // namespace tandem::testing
