// The `tandem` command line: dispatches to one subcommand per file (tools/*_command.cc).
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tools/command.h"
#include "tools/inspect_command.h"
#include "tools/lag_command.h"
#include "tools/report_command.h"
#include "tools/run_command.h"
#include "tools/sync_command.h"
#include "tools/verify_command.h"

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"inspect", "phase 1 assessment: is each side ready for replication and cutover",
     tandem::tools::RunInspectCommand},
    {"verify", "chunked consistency check: every differing row named, repair statements",
     tandem::tools::RunVerifyCommand},
    {"sync", "initial copy + continuous change streaming, resumable after any stop",
     tandem::tools::RunSyncCommand},
    {"lag", "end-to-end replication lag by heartbeat, optionally as a gate",
     tandem::tools::RunLagCommand},
    {"run", "orchestrated migration: phases gated on lag, consistency and HTTP health",
     tandem::tools::RunRunCommand},
    {"status", "where a run of a plan stands, read from its journal",
     tandem::tools::RunStatusCommand},
    {"approve", "let a run waiting at an approval point go on", tandem::tools::RunApproveCommand},
    {"report", "the migration report of a plan's run: one HTML page and its JSON",
     tandem::tools::RunReportCommand},
};

void PrintUsage(std::ostream& out) {
  out << "Usage: tandem <command> [options]\n"
         "\n"
         "tandem keeps an old and a new database in tandem during a zero-downtime migration:\n"
         "it assesses them, proves they hold the same data, measures how far the new one\n"
         "trails and walks the migration through its phases.\n"
         "\n"
         "Commands:\n";
  for (const Subcommand& command : kSubcommands) {
    out << "  " << command.name << std::string(10 - std::strlen(command.name), ' ')
        << command.summary << "\n";
  }
  out << "\n"
         "Run 'tandem <command> --help' for a command's options.\n"
         "Exit status: 0 yes (ready / consistent / within the gate), 1 no, 2 could not answer.\n";
}

}  // namespace

int main(int argc, char** argv) {
  // A peer closing a socket must surface as an error from the call, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    PrintUsage(std::cerr);
    return tandem::tools::kExitCannotAnswer;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(std::cout);
    return tandem::tools::kExitYes;
  }
  if (name == "--version") {
    std::cout << "tandem 0.1.0" << std::endl;
    return tandem::tools::kExitYes;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Subcommand& command : kSubcommands) {
    if (name == command.name) {
      return command.run(args);
    }
  }
  std::cerr << "tandem: unknown command '" << name << "' (run 'tandem --help' for the list)"
            << std::endl;
  return tandem::tools::kExitCannotAnswer;
}
