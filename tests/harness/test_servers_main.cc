// tandem-test-servers: starts and stops the shared real servers of an integration test run.
//
//   tandem-test-servers start --dir DIR [--sample-data] [--rows N]
//   tandem-test-servers stop --dir DIR
//
// `start` leaves a source and a target of MariaDB, PostgreSQL and Redis running (detached) and
// writes DIR/servers.env; it prints the six URIs as KEY=VALUE lines on stdout and progress on
// stderr. `stop` stops them by recorded PID and removes their data. Exit codes: 0 = done,
// 1 = failed (the reason on stderr), 2 = usage error. The logic lives in test_server_set.h.

#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "tests/harness/test_server_set.h"

namespace po = boost::program_options;

namespace {

constexpr char kUsage[] =
    "usage: tandem-test-servers start --dir DIR [--sample-data] [--rows N]\n"
    "       tandem-test-servers stop --dir DIR\n";

}  // namespace

int main(int argc, char** argv) {
  std::string command;
  tandem::testing::TestServerSetOptions options;
  po::options_description flags("options");
  flags.add_options()("help,h", "show this help")(
      "dir", po::value<std::string>(&options.dir),
      "directory for the servers, servers.env and pids (required)")(
      "sample-data", po::bool_switch(&options.sample_data),
      "start: load the sample data sets into sources and targets")(
      "rows", po::value<int>(&options.rows)->default_value(1000),
      "start: rows per sample table / keys per Redis database");
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>(&command));
  po::options_description all;
  all.add(flags).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tandem-test-servers: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << kUsage << flags;
    return 0;
  }
  if ((command != "start" && command != "stop") || options.dir.empty() || options.rows < 0) {
    std::cerr << "tandem-test-servers: "
              << (command.empty()                           ? "missing command"
                  : command != "start" && command != "stop" ? "unknown command '" + command + "'"
                  : options.dir.empty()                     ? "--dir is required"
                                                            : "--rows must be >= 0")
              << "\n"
              << kUsage;
    return 2;
  }
  try {
    if (command == "stop") {
      return tandem::testing::StopTestServerSet(options.dir, std::cerr) == 0 ? 0 : 1;
    }
    auto env = tandem::testing::StartTestServerSet(options, std::cerr);
    for (const auto& [key, value] : env) {
      if (key == "TANDEM_MYSQL_SOURCE" || key == "TANDEM_MYSQL_TARGET" ||
          key == "TANDEM_POSTGRES_SOURCE" || key == "TANDEM_POSTGRES_TARGET" ||
          key == "TANDEM_REDIS_SOURCE" || key == "TANDEM_REDIS_TARGET") {
        std::cout << key << "=" << value << "\n";
      }
    }
    std::cout.flush();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tandem-test-servers: " << e.what() << std::endl;
    return 1;
  }
}
