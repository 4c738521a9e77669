// File: tools/verify_command.h
//
// `tandem verify`: chunked consistency check of a source and a target (checksum/verifier.h).
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

// Runs `tandem verify` with the words after the subcommand; returns the exit code.
int RunVerifyCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
