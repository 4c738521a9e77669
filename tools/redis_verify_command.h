// File: tools/redis_verify_command.h
//
// `tandem verify` for Redis (checksum/redis_verifier.h): its options and output. RunVerifyCommand
// hands the arguments over when a --source or --target URI is redis:// or rediss://.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

// True when `args` give a redis:// or rediss:// URI to --source or --target.
bool NamesRedisServer(const std::vector<std::string>& args);

// Runs `tandem verify` for Redis with the words after the subcommand; returns the exit code.
int RunRedisVerifyCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
