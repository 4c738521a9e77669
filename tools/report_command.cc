#include "tools/report_command.h"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "orchestration/journal.h"
#include "orchestration/migration_report.h"
#include "orchestration/plan.h"
#include "tools/command.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;

constexpr char kReportUsage[] =
    "Usage: tandem report PLAN [--journal PATH] [--output PATH] [--format html|json]\n"
    "\n"
    "The migration report of the newest run of PLAN, read from its journal at any time (while\n"
    "the run goes on, after it ended, after a crash): one self-contained HTML page that fetches\n"
    "nothing (inline SVG plots of traffic share, error rate, response time and lag over time;\n"
    "the phase timeline with every gate's values; the write pause; DNS propagation per\n"
    "resolver; rollback timings; the verdict) and the same data as JSON beside it.\n"
    "  --output PATH  the page (default: <plan name>.report.html in the journal's directory);\n"
    "                 the data goes to PATH with its extension replaced by .json\n"
    "  --format json  print the data to stdout instead, writing no file\n"
    "Exit status: 0 report written (or printed), 2 bad input, no journal or no run yet.\n";

// <plan name>.report.html in the directory of `journal_path`.
std::string DefaultOutput(const orchestration::Plan& plan, const std::string& journal_path) {
  const size_t slash = journal_path.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : journal_path.substr(0, slash + 1);
  return directory + plan.name + ".report.html";
}

}  // namespace

int RunReportCommand(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("journal", po::value<std::string>(),
                                                    "journal path (default: beside the plan)")(
      "output", po::value<std::string>(),
      "the HTML page (default: <plan name>.report.html beside the journal)")(
      "format", po::value<std::string>()->default_value("html"), "html or json");
  std::string plan_path;
  std::vector<std::string> rest;
  int exit_code = kExitCannotAnswer;
  if (!SplitPlanArgument("report", args, {"--journal", "--output", "--format"}, &plan_path, &rest,
                         &exit_code)) {
    return exit_code;
  }
  po::variables_map values;
  if (!ParseCommandLine("report", kReportUsage, options, rest, &values, &exit_code)) {
    return exit_code;
  }
  const std::string format = values["format"].as<std::string>();
  if (format != "html" && format != "json") {
    return ReportError("report", "--format must be 'html' or 'json', not '" + format + "'");
  }
  if (format == "json" && values.count("output") != 0) {
    return ReportError("report",
                       "--format json prints the data to stdout; --output names the HTML page: "
                       "give one of them");
  }
  auto plan = orchestration::LoadPlan(plan_path);
  if (!plan.ok()) return ReportError("report", plan.status());
  if (values.count("journal") != 0) plan->journal_path = values["journal"].as<std::string>();
  auto journal = orchestration::Journal::Open(plan->journal_path, /*create=*/false);
  if (!journal.ok()) return ReportError("report", journal.status());

  if (format == "json") {
    auto data = orchestration::BuildReportData(*plan, **journal);
    if (!data.ok()) return ReportError("report", data.status());
    std::cout << data->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    return kExitYes;
  }
  const std::string output = values.count("output") != 0 ? values["output"].as<std::string>()
                                                         : DefaultOutput(*plan, plan->journal_path);
  if (engine::Status written = orchestration::WriteReport(*plan, **journal, output);
      !written.ok()) {
    return ReportError("report", written);
  }
  std::cout << "report written to " << output << " (data: " << orchestration::ReportJsonPath(output)
            << ")" << std::endl;
  return kExitYes;
}

}  // namespace tandem::tools
