// File: tools/inspect_command.h
//
// `tandem inspect --source U [--target U] [--format text|json]`: the phase 1 assessment.
// Exit 0 when ready, 1 when blockers exist, 2 when it could not answer.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

int RunInspectCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
