// File: tests/tools/run_tandem.h
//
// Runs the built `tandem` binary as a user would, capturing its exit code, stdout and stderr
// separately, with a deadline (the child is killed when it passes, and the test fails).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace tandem::testing {

struct CommandOutcome {
  int exit_code = -1;  // -1 when killed by a signal or the deadline
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Expects exit code 2 with exactly one line on stderr containing `expected` (the contract for
// bad input: one clear error line, exit 2).
void ExpectOneLineExitTwo(const CommandOutcome& outcome, const std::string& expected);

// Runs `TANDEM_BINARY_PATH args...` with `env` ("NAME=value") added to the environment.
CommandOutcome RunTandem(const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds(60));

// Number of lines in `text` (a final line without '\n' counts).
int LineCount(const std::string& text);

}  // namespace tandem::testing
