// The migration report's page as a real browser shows it: Debian's chromium, headless, renders
// the page WriteReport wrote to a PNG, and logs every console message of the page to stderr
// (--enable-logging=stderr), one line each with ":CONSOLE" in its prefix, whatever the message's
// level. A script error ("Uncaught ..."), a console.error and a fetch the page's
// Content-Security-Policy blocks all appear there, so the page passes only with no such line. A
// control page with a script error and a blocked image proves the check sees them here.
//
// Skipped (GTEST_SKIP) only when chromium is not installed; scripts/install-deps.sh installs it.
// TANDEM_REPORT_SCREENSHOT=PATH keeps a copy of the report's screenshot at PATH.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "orchestration/migration_report.h"
#include "tests/orchestration/report_journal_fixture.h"

namespace tandem::orchestration {
namespace {

constexpr char kPlanText[] = R"(name = "shop"
[[datastore]]
name = "orders"
source = "redis://127.0.0.1:1/0"
target = "redis://127.0.0.1:2/0"
)";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The chromium executable on PATH, or "".
std::string FindChromium() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/chromium";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct Rendering {
  int exit_code = -1;
  bool timed_out = false;
  std::string log;                   // chromium's stderr
  std::vector<std::string> console;  // the lines of `log` that carry a console message
  std::string png;                   // the screenshot's bytes ("" when none was written)
};

// Renders `html_path` with a fresh profile under `work_dir`, in its own process group, killed
// (the whole group, by its id) when it passes `timeout` and cleaned up after it exits.
Rendering Render(const std::string& chromium, const std::string& html_path,
                 const std::string& work_dir, const std::string& name,
                 std::chrono::seconds timeout = std::chrono::seconds(90)) {
  const std::string png_path = work_dir + "/" + name + ".png";
  const std::string log_path = work_dir + "/" + name + ".log";
  const std::vector<std::string> args = {chromium,
                                         "--headless=new",
                                         "--no-sandbox",  // as root, and in containers
                                         "--disable-gpu",
                                         "--no-first-run",
                                         "--no-default-browser-check",
                                         "--disable-extensions",
                                         "--hide-scrollbars",
                                         "--user-data-dir=" + work_dir + "/profile-" + name,
                                         "--window-size=1280,2000",
                                         "--screenshot=" + png_path,
                                         "--enable-logging=stderr",
                                         "--v=0",
                                         "file://" + html_path};
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = open("/dev/null", O_RDWR);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(chromium.c_str(), argv.data());
    _exit(127);
  }
  Rendering rendering;
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return rendering;
  }
  setpgid(pid, pid);  // also here: no race with the child's own call
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      rendering.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid, SIGKILL);  // any helper process of chromium's still in its group
  if (!rendering.timed_out && WIFEXITED(status)) rendering.exit_code = WEXITSTATUS(status);
  rendering.log = ReadFile(log_path);
  std::istringstream lines(rendering.log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":CONSOLE") != std::string::npos) rendering.console.push_back(line);
  }
  if (std::filesystem::exists(png_path)) rendering.png = ReadFile(png_path);
  return rendering;
}

// Width and height from a PNG's IHDR chunk; {0, 0} when `png` is not a PNG.
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  static const std::string kSignature = "\x89PNG\r\n\x1a\n";
  if (png.size() < 24 || png.compare(0, 8, kSignature) != 0 || png.compare(12, 4, "IHDR") != 0) {
    return {0, 0};
  }
  auto big_endian = [&png](size_t at) {
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(png[at + i]);
    return value;
  };
  return {big_endian(16), big_endian(20)};
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

class MigrationReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    if (chromium_.empty()) {
      GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs Debian's "
                      "chromium): the report's page is not rendered";
    }
    char pattern[] = "/tmp/tandem-report-browser-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string WritePage(const std::string& name, const std::string& html) {
    const std::string path = dir_ + "/" + name + ".html";
    std::ofstream(path) << html;
    return path;
  }

  std::string chromium_;
  std::string dir_;
};

// Without this, a clean console below could mean the log does not carry console messages here.
TEST_F(MigrationReportBrowserTest, ConsoleCheckSeesScriptErrorsAndBlockedFetches) {
  const std::string page =
      WritePage("control",
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta "
                "http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src "
                "'unsafe-inline'\"></head><body><img src=\"https://example.invalid/x.png\"><script>"
                "notDefinedAnywhere();</script></body></html>");
  const Rendering rendering = Render(chromium_, page, dir_, "control");
  ASSERT_FALSE(rendering.timed_out) << rendering.log;
  const std::string console = Joined(rendering.console);
  EXPECT_NE(console.find("Uncaught ReferenceError: notDefinedAnywhere is not defined"),
            std::string::npos)
      << rendering.log;
  EXPECT_NE(console.find("violates the following Content Security Policy directive"),
            std::string::npos)
      << rendering.log;
}

TEST_F(MigrationReportBrowserTest, ReportRendersWithoutConsoleMessages) {
  auto plan = ParsePlan(kPlanText, dir_ + "/shop.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  {
    auto journal = Journal::Open(plan->journal_path, /*create=*/true);
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    // The outcome carries markup: escaped, it is text; if it were not, the browser would run it
    // (or the page's policy would block it), and either logs a console line.
    testing::WriteExampleMigration(
        **journal, "rolled back on request <script>console.error('injected')</script>");
    ASSERT_TRUE(WriteReport(*plan, **journal, dir_ + "/shop.report.html").ok());
  }
  const Rendering blank = Render(
      chromium_, WritePage("blank", "<!DOCTYPE html><html><body></body></html>"), dir_, "blank");
  const Rendering report = Render(chromium_, dir_ + "/shop.report.html", dir_, "report");

  ASSERT_FALSE(report.timed_out) << report.log;
  EXPECT_EQ(report.exit_code, 0) << report.log;
  EXPECT_TRUE(report.console.empty()) << "console messages of the report page:\n"
                                      << Joined(report.console);
  ASSERT_FALSE(report.png.empty()) << "no screenshot; chromium said:\n" << report.log;
  EXPECT_EQ(PngSize(report.png), (std::pair<uint32_t, uint32_t>(1280, 2000)));
  // A page of plots and tables compresses far worse than an empty one of the same size.
  ASSERT_FALSE(blank.png.empty()) << blank.log;
  EXPECT_GT(report.png.size(), 3 * blank.png.size())
      << "report " << report.png.size() << " bytes, blank page " << blank.png.size() << " bytes";
  std::cout << "report screenshot: " << report.png.size()
            << " bytes, 1280x2000 (blank page: " << blank.png.size() << " bytes)" << std::endl;

  if (const char* keep = std::getenv("TANDEM_REPORT_SCREENSHOT"); keep != nullptr && *keep) {
    std::ofstream(keep, std::ios::binary) << report.png;
    std::filesystem::copy_file(dir_ + "/shop.report.html",
                               std::filesystem::path(keep).replace_extension(".html"),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace tandem::orchestration
