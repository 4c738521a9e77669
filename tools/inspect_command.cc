#include "tools/inspect_command.h"

#include <iostream>

#include "orchestration/inspection.h"
#include "tools/command.h"
#include "tools/database_opener.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;

constexpr char kUsage[] =
    "Usage: tandem inspect --source URI [--target URI] [--format text|json]\n"
    "\n"
    "Phase 1 assessment: is each side ready for replication and cutover? Checks the server\n"
    "version and settings, the privileges of the given user, tables that cannot be replicated,\n"
    "and, with --target, the target's schema against the source's, the clock difference between\n"
    "the hosts and the round-trip time. Every blocker and warning has a code, the object it\n"
    "concerns, what is wrong and how to fix it.\n"
    "\n"
    "URIs: mysql://user:pass@host:port/db, postgres://user:pass@host:port/db,\n"
    "redis://:pass@host:port/N. Passwords may come from TANDEM_SOURCE_PASSWORD and\n"
    "TANDEM_TARGET_PASSWORD instead. TLS: ?ssl-mode=... / ?sslmode=... / ?tls=...\n"
    "\n"
    "Privileges needed (read-only): MySQL SELECT and access to SHOW GRANTS and global variables;\n"
    "PostgreSQL CONNECT and pg_catalog; Redis INFO, CONFIG GET, MODULE LIST. What the migration\n"
    "itself will need is what inspect checks and reports.\n"
    "\n"
    "Exit status: 0 ready, 1 blockers found, 2 could not answer.";

void PrintFindings(const char* title, const std::vector<engine::Finding>& findings) {
  if (findings.empty()) {
    return;
  }
  std::cout << "\n" << title << " (" << findings.size() << "):\n";
  for (const engine::Finding& finding : findings) {
    std::cout << "  [" << finding.code << "] " << finding.object << ": " << finding.message
              << "\n      fix: " << finding.fix << "\n";
  }
}

void PrintSide(const char* title, const nlohmann::json& side) {
  std::cout << title << ": " << side.value("uri", "") << "\n"
            << "  " << side.value("product", "") << " " << side.value("version", "")
            << ", round trip " << side.value("round_trip_ms", 0.0) << " ms\n";
  if (side.contains("clock_difference_ms")) {
    std::cout << "  clock difference to source: " << side["clock_difference_ms"].get<double>()
              << " ms (+/- " << side.value("clock_difference_uncertainty_ms", 0.0) << " ms)\n";
  }
}

void PrintText(const orchestration::InspectionReport& report) {
  PrintSide("source", report.source);
  if (!report.target.is_null()) {
    PrintSide("target", report.target);
  }
  PrintFindings("blockers", report.blockers);
  PrintFindings("warnings", report.warnings);
  std::cout << "\n"
            << (report.ready ? "READY" : "NOT READY") << ": " << report.blockers.size()
            << " blocker(s), " << report.warnings.size() << " warning(s)" << std::endl;
}

}  // namespace

int RunInspectCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>()->required(),
                                                    "the old database (URI)")(
      "target", po::value<std::string>(), "the new database (URI)")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  po::variables_map values;
  int exit_code = kExitCannotAnswer;
  if (!ParseCommandLine("inspect", kUsage, options, args, &values, &exit_code)) {
    return exit_code;
  }
  auto format = ParseOutputFormat(values["format"].as<std::string>());
  if (!format.ok()) {
    return ReportError("inspect", format.status());
  }
  auto source_config = ParseSourceUri(values["source"].as<std::string>());
  if (!source_config.ok()) {
    return ReportError("inspect", source_config.status());
  }
  std::optional<engine::ConnectionConfig> target_config;
  if (values.count("target")) {
    auto parsed = ParseTargetUri(values["target"].as<std::string>());
    if (!parsed.ok()) {
      return ReportError("inspect", parsed.status());
    }
    target_config = *parsed;
  }
  auto source = OpenDatabase(*source_config);
  if (!source.ok()) {
    return ReportError("inspect", source.status().WithContext("source"));
  }
  std::unique_ptr<engine::Database> target;
  if (target_config) {
    auto opened = OpenDatabase(*target_config);
    if (!opened.ok()) {
      return ReportError("inspect", opened.status().WithContext("target"));
    }
    target = std::move(*opened);
  }
  auto report = orchestration::InspectPair(**source, target.get());
  if (!report.ok()) {
    return ReportError("inspect", report.status());
  }
  if (*format == OutputFormat::kJson) {
    std::cout << report->ToJson().dump(2) << std::endl;
  } else {
    PrintText(*report);
  }
  return report->ready ? kExitYes : kExitNo;
}

}  // namespace tandem::tools
