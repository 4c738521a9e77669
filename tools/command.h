// File: tools/command.h
//
// What every `tandem` subcommand shares: the exit codes of the command-line contract, the one-line
// error report, and option parsing with Boost.Program_options that turns every parse problem into
// exit code 2 with a hint. Used only by the tools/ executables; not a library API.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/connection_config.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::tools {

// Exit codes for every command (DESIGN.md): yes / no / could not answer.
constexpr int kExitYes = 0;
constexpr int kExitNo = 1;
constexpr int kExitCannotAnswer = 2;

enum class OutputFormat { kText, kJson };

// Prints "tandem <command>: <message>" as one line on stderr and returns kExitCannotAnswer.
int ReportError(const std::string& command, const std::string& message);
int ReportError(const std::string& command, const engine::Status& status);

// Parses `args` (the words after the subcommand) against `options` (which must include --help).
// Returns true and fills `values` on success. On a parse error prints one line and sets
// `*exit_code` to 2; on --help prints `usage` and `options` to stdout and sets it to 0; returns
// false in both cases.
bool ParseCommandLine(const std::string& command, const std::string& usage,
                      const boost::program_options::options_description& options,
                      const std::vector<std::string>& args,
                      boost::program_options::variables_map* values, int* exit_code);

// For the commands that take one PLAN (run, status, approve, report): splits `args` into the one
// positional PLAN and the options; the options named in `value_options` take the next word as
// their value (never taken for the plan). With --help / -h it returns true and leaves `plan`
// empty. Returns false when there is not exactly one plan, with the error reported (one line) and
// `*exit_code` set to 2.
bool SplitPlanArgument(const std::string& command, const std::vector<std::string>& args,
                       const std::set<std::string>& value_options, std::string* plan,
                       std::vector<std::string>* rest, int* exit_code);

// Parses a --format value. Errors: kInvalidArgument naming the accepted values.
engine::Result<OutputFormat> ParseOutputFormat(const std::string& text);

// Adds --metrics-port P and --metrics-address A (default 127.0.0.1) to `options`.
void AddMetricsOptions(boost::program_options::options_description& options);

// The --metrics-port value, if given. Errors: kInvalidArgument when it is outside 0..65535.
engine::Result<std::optional<uint16_t>> ParseMetricsPort(
    const boost::program_options::variables_map& values);

// Parses a --table value: "schema.table" (MySQL: "database.table"). Errors: kInvalidArgument.
engine::Result<engine::TableId> ParseTableOption(const std::string& text);

// Parses a --source / --target URI; the password falls back to TANDEM_SOURCE_PASSWORD /
// TANDEM_TARGET_PASSWORD.
engine::Result<engine::ConnectionConfig> ParseSourceUri(const std::string& uri);
engine::Result<engine::ConnectionConfig> ParseTargetUri(const std::string& uri);

}  // namespace tandem::tools
