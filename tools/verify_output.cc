#include "tools/verify_output.h"

#include <fstream>
#include <iostream>

namespace tandem::tools {

int WriteJsonReportFile(const nlohmann::json& json, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  out << json.dump(2) << "\n";
  out.flush();
  if (!out) {
    return ReportError("verify", "cannot write --report file " + path);
  }
  return kExitYes;
}

int FinishVerify(const checksum::VerifyReport& report, const nlohmann::json& json,
                 const std::string& text, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    std::cout << json.dump(2) << std::endl;
  } else {
    std::cout << text << std::flush;
  }
  if (report.Consistent()) {
    return kExitYes;
  }
  if (report.HasDifferences()) {
    return kExitNo;
  }
  for (const checksum::TableReport& table : report.tables) {
    if (!table.skipped.empty()) {
      return ReportError("verify", "could not compare all of " + table.table.ToString() + ": " +
                                       table.skipped.front().range + ": " +
                                       table.skipped.front().reason);
    }
    if (!table.skipped_columns.empty()) {
      return ReportError(
          "verify", "column " + table.table.ToString() + "." + table.skipped_columns.front().name +
                        " was not compared: " + table.skipped_columns.front().reason);
    }
  }
  return kExitCannotAnswer;
}

}  // namespace tandem::tools
