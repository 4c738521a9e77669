// The command line's contract for bad input, with no server involved: one clear line on stderr,
// exit code 2, never a crash or a hang, never a password.
#include <gtest/gtest.h>

#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

void ExpectOneLineError(const CommandOutcome& outcome, const std::string& fragment) {
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find(fragment), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST(CommandLine, HelpListsCommandsAndExitsZero) {
  CommandOutcome outcome = RunTandem({"--help"});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_NE(outcome.out.find("inspect"), std::string::npos);
}

TEST(CommandLine, NoCommandIsUsageErrorExitTwo) {
  CommandOutcome outcome = RunTandem({});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.err.find("Usage"), std::string::npos);
}

TEST(CommandLine, UnknownCommandIsOneLine) {
  ExpectOneLineError(RunTandem({"frobnicate"}), "unknown command 'frobnicate'");
}

TEST(InspectCommand, HelpDescribesOptionsAndPrivileges) {
  CommandOutcome outcome = RunTandem({"inspect", "--help"});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_NE(outcome.out.find("--source"), std::string::npos);
  EXPECT_NE(outcome.out.find("Privileges"), std::string::npos);
}

TEST(InspectCommand, MissingSourceIsOneLine) {
  ExpectOneLineError(RunTandem({"inspect"}), "--source");
}

TEST(InspectCommand, UnknownOptionIsOneLine) {
  ExpectOneLineError(RunTandem({"inspect", "--source", "mysql://u@h/d", "--colour", "red"}),
                     "colour");
}

TEST(InspectCommand, BadFormatIsOneLine) {
  ExpectOneLineError(RunTandem({"inspect", "--source", "mysql://u@h/d", "--format", "xml"}),
                     "--format");
}

TEST(InspectCommand, MalformedUrisAreOneLineWithoutPassword) {
  for (const char* uri : {"nonsense", "oracle://u:topsecret@h/d", "mysql://u:topsecret@h:70000/d",
                          "mysql://u:topsecret@h/d?sslmode=maybe"}) {
    CommandOutcome outcome = RunTandem({"inspect", "--source", uri});
    ExpectOneLineError(outcome, "--source URI is invalid");
    EXPECT_EQ(outcome.err.find("topsecret"), std::string::npos) << outcome.err;
  }
  ExpectOneLineError(RunTandem({"inspect", "--source", "mysql://u@h/d", "--target", "x"}),
                     "--target URI is invalid");
}

TEST(InspectCommand, UnreachableServersAreOneLineExitTwo) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  for (const char* uri :
       {"mysql://u:topsecret@127.0.0.1:1/d", "postgres://u:topsecret@127.0.0.1:1/d",
        "redis://:topsecret@127.0.0.1:1/0"}) {
    CommandOutcome outcome = RunTandem({"inspect", "--source", uri}, {}, std::chrono::seconds(30));
    ExpectOneLineError(outcome, "127.0.0.1:1");
    EXPECT_EQ(outcome.err.find("topsecret"), std::string::npos) << outcome.err;
  }
}

TEST(InspectCommand, UnresolvableHostIsOneLineExitTwo) {
  CommandOutcome outcome =
      RunTandem({"inspect", "--source", "postgres://u:topsecret@no-such-host.invalid:5432/d"}, {},
                std::chrono::seconds(30));
  ExpectOneLineError(outcome, "no-such-host.invalid");
}

}  // namespace
}  // namespace tandem::testing
