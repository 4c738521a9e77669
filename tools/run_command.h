// File: tools/run_command.h
//
// `tandem run PLAN`, `tandem status PLAN` and `tandem approve PLAN`: the orchestrated migration
// (orchestration/migration_controller.h) and the two commands that read and write its journal
// from another process.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

int RunRunCommand(const std::vector<std::string>& args);
int RunStatusCommand(const std::vector<std::string>& args);
int RunApproveCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
