// File: tools/report_command.h
//
// `tandem report PLAN [--journal PATH] [--output PATH] [--format html|json]`: the migration report
// (orchestration/migration_report.h) of the newest run in PLAN's journal, at any time: while the
// run goes on, after it ended, or after a crash. It only reads the journal.
//   html (the default): writes the page to --output (default: <plan name>.report.html in the
//        journal's directory) and its data beside it (.json), prints one line naming both; exit 0.
//   json: prints the data to stdout and writes nothing; exit 0.
// Exit 2 with one line on stderr: bad arguments, a plan that does not load, no journal, a journal
// without a run, a path that cannot be written.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

int RunReportCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
