// File: tools/verify_output.h
//
// The end of every `tandem verify` run, SQL or Redis: the --report file, the report on stdout in
// the chosen format, and the exit code the contract gives the verdict (0 consistent, 1
// differences, 2 could not answer, with the first thing left uncompared as the one stderr line).
//
// Thread safety: called from the command's thread only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "checksum/verify_report.h"
#include "tools/command.h"

namespace tandem::tools {

// Writes `json` to `path` (replacing it). Returns kExitYes, or the exit code of the one error line
// it printed.
int WriteJsonReportFile(const nlohmann::json& json, const std::string& path);

// Prints the report (`json` or `text`, as `format` says) and returns the verdict's exit code.
int FinishVerify(const checksum::VerifyReport& report, const nlohmann::json& json,
                 const std::string& text, OutputFormat format);

}  // namespace tandem::tools
