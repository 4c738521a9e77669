#include "tools/command.h"

#include <algorithm>
#include <iostream>

namespace tandem::tools {

namespace po = boost::program_options;

int ReportError(const std::string& command, const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  std::cerr << "tandem " << command << ": " << line << std::endl;
  return kExitCannotAnswer;
}

int ReportError(const std::string& command, const engine::Status& status) {
  return ReportError(command, status.message());
}

bool ParseCommandLine(const std::string& command, const std::string& usage,
                      const po::options_description& options, const std::vector<std::string>& args,
                      po::variables_map* values, int* exit_code) {
  try {
    po::store(po::command_line_parser(args).options(options).run(), *values);
    if (values->count("help")) {
      std::cout << usage << "\n\n" << options << std::endl;
      *exit_code = kExitYes;
      return false;
    }
    po::notify(*values);
  } catch (const po::error& error) {
    *exit_code =
        ReportError(command, std::string(error.what()) + " (see 'tandem " + command + " --help')");
    return false;
  }
  return true;
}

engine::Result<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "text") {
    return OutputFormat::kText;
  }
  if (text == "json") {
    return OutputFormat::kJson;
  }
  return engine::InvalidArgument("--format must be 'text' or 'json', not '" + text + "'");
}

engine::Result<engine::ConnectionConfig> ParseSourceUri(const std::string& uri) {
  return engine::ParseConnectionUri(uri, "--source", "TANDEM_SOURCE_PASSWORD");
}

engine::Result<engine::ConnectionConfig> ParseTargetUri(const std::string& uri) {
  return engine::ParseConnectionUri(uri, "--target", "TANDEM_TARGET_PASSWORD");
}

engine::Result<engine::TableId> ParseTableOption(const std::string& text) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) {
    return engine::InvalidArgument("--table '" + text +
                                   "' must be schema.table (MySQL: database.table)");
  }
  return engine::TableId{text.substr(0, dot), text.substr(dot + 1)};
}

void AddMetricsOptions(boost::program_options::options_description& options) {
  namespace po = boost::program_options;
  options.add_options()("metrics-port", po::value<int>(),
                        "serve Prometheus metrics on this port at /metrics")(
      "metrics-address", po::value<std::string>()->default_value("127.0.0.1"),
      "address the metrics endpoint listens on");
}

engine::Result<std::optional<uint16_t>> ParseMetricsPort(
    const boost::program_options::variables_map& values) {
  if (!values.count("metrics-port")) {
    return std::optional<uint16_t>();
  }
  const int port = values["metrics-port"].as<int>();
  if (port < 0 || port > 65535) {
    return engine::InvalidArgument("--metrics-port must be between 0 and 65535");
  }
  return std::optional<uint16_t>(static_cast<uint16_t>(port));
}

bool SplitPlanArgument(const std::string& command, const std::vector<std::string>& args,
                       const std::set<std::string>& value_options, std::string* plan,
                       std::vector<std::string>* rest, int* exit_code) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() > 1 && arg[0] == '-') {
      rest->push_back(arg);
      if (value_options.count(arg) != 0 && i + 1 < args.size()) {
        rest->push_back(args[++i]);
      }
      continue;
    }
    positional.push_back(arg);
  }
  const bool help = std::find(rest->begin(), rest->end(), "--help") != rest->end() ||
                    std::find(rest->begin(), rest->end(), "-h") != rest->end();
  if (help) {
    return true;
  }
  if (positional.size() != 1) {
    *exit_code =
        ReportError(command, positional.empty()
                                 ? "give the plan file: tandem " + command + " PLAN"
                                 : "give one plan file, not " + std::to_string(positional.size()) +
                                       " (tandem " + command + " PLAN)");
    return false;
  }
  *plan = positional.front();
  return true;
}

}  // namespace tandem::tools
