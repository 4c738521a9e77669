// The migration report (orchestration/migration_report.h) built from real journals written through
// the Journal API (report_journal_fixture.h), and `tandem report` on the command line.
#include "orchestration/migration_report.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/orchestration/report_journal_fixture.h"
#include "tests/tools/run_tandem.h"

namespace tandem::orchestration {
namespace {

using engine::StatusCode;
using nlohmann::json;
using testing::kCutoverPauseMs;
using testing::kErrorRates;
using testing::kLatenciesMs;
using testing::kRevertPauseMs;
using testing::kRollbackMs;
using testing::kTrafficGateSamples;
using testing::TimedJournalWriter;
using testing::WriteExampleMigration;

constexpr char kPlanText[] = R"(name = "shop"
[[datastore]]
name = "orders"
source = "redis://127.0.0.1:1/0"
target = "redis://127.0.0.1:2/0"
)";

constexpr char kInjectedOutcome[] =
    "rolled back on request <script>console.error('injected')</script> & \"quoted\"";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

// The text of <figure id="plot-<id>"> ... </figure>, or "" when the page has no such plot.
std::string PlotSection(const std::string& html, const std::string& id) {
  const size_t start = html.find("<figure class=\"plot\" id=\"plot-" + id + "\">");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</figure>", start) - start);
}

struct Marker {
  int64_t at_ms;
  double value;
  double cx, cy;
};

// The point markers of one series of a plot, in document order.
std::vector<Marker> Markers(const std::string& plot, const std::string& series) {
  const std::regex circle("<circle class=\"point\" data-series=\"" + series +
                          "\" data-at-ms=\"([0-9]+)\" data-value=\"([^\"]+)\" cx=\"([0-9.]+)\" "
                          "cy=\"([0-9.]+)\"");
  std::vector<Marker> markers;
  for (auto it = std::sregex_iterator(plot.begin(), plot.end(), circle);
       it != std::sregex_iterator(); ++it) {
    markers.push_back(
        {std::stoll((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  return markers;
}

json EmbeddedData(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"tandem-report-data\">";
  const size_t start = html.find(open);
  if (start == std::string::npos) return json();
  const size_t end = html.find("</script>", start);
  return json::parse(html.substr(start + open.size(), end - start - open.size()), nullptr,
                     /*allow_exceptions=*/false);
}

class MigrationReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-report-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto plan = ParsePlan(kPlanText, dir_ + "/shop.toml");
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    plan_ = *plan;
    auto journal = Journal::Open(plan_.journal_path, /*create=*/true);
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    journal_ = std::move(*journal);
  }
  void TearDown() override {
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }

  json Build() {
    auto data = BuildReportData(plan_, *journal_);
    EXPECT_TRUE(data.ok()) << data.status().ToString();
    return data.ok() ? *data : json();
  }

  std::string dir_;
  Plan plan_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(MigrationReportTest, DataHoldsTheRunTimelineAndVerdict) {
  const int64_t base_ms = WriteExampleMigration(*journal_, "rolled back on request");
  const json data = Build();
  EXPECT_EQ(data["report_version"], 1);
  EXPECT_EQ(data["plan"]["name"], "shop");
  EXPECT_EQ(data["plan"]["journal"], plan_.journal_path);
  EXPECT_EQ(data["run"]["id"], 1);
  EXPECT_EQ(data["run"]["state"], "rolled_back");
  EXPECT_EQ(data["run"]["started_at_ms"], base_ms);
  EXPECT_EQ(data["run"]["finished_at_ms"], base_ms + 541'000);
  EXPECT_EQ(data["run"]["duration_ms"], 541'000);
  EXPECT_EQ(data["verdict"]["result"], "rolled back");
  EXPECT_EQ(data["verdict"]["line"], "Rolled back: rolled back on request");

  const json& steps = data["steps"];
  ASSERT_EQ(steps.size(), 12u);
  EXPECT_EQ(steps[0]["name"], "assessment");
  EXPECT_EQ(steps[0]["phase_name"], "assessment");
  EXPECT_EQ(steps[3]["name"], "sync orders");
  EXPECT_EQ(steps[3]["phase"], 3);
  EXPECT_EQ(steps[3]["duration_ms"], 63'000);
  EXPECT_EQ(steps[3]["gates"][0]["name"], "lag orders");
  EXPECT_EQ(steps[7]["name"], "writes orders");
  EXPECT_EQ(steps[7]["state"], "undone");
  EXPECT_EQ(steps[7]["phase_name"], "cutover");
  EXPECT_EQ(steps[11]["name"], "undo traffic");

  const json& traffic = data["traffic"];
  ASSERT_EQ(traffic.size(), 3u);
  EXPECT_EQ(traffic[0]["percent"], 25);
  EXPECT_EQ(traffic[0]["at_ms"], base_ms + 136'000);
  EXPECT_EQ(traffic[0]["event"], "weights set");
  EXPECT_EQ(traffic[1]["percent"], 100);
  EXPECT_EQ(traffic[1]["step"], "traffic 100%");
  EXPECT_EQ(traffic[2]["percent"], 0) << "the rollback's undo traffic";
  EXPECT_EQ(traffic[2]["at_ms"], base_ms + 541'000);
  EXPECT_EQ(traffic[2]["event"], "undone");

  const json& dns = data["dns"];
  EXPECT_EQ(dns["ttl"]["ttl"], 60);
  ASSERT_EQ(dns["changes"].size(), 2u);
  EXPECT_EQ(dns["changes"][0]["direction"], "switch");
  EXPECT_EQ(dns["changes"][0]["serial_after"], 2026112602);
  ASSERT_EQ(dns["changes"][0]["resolvers"].size(), 2u);
  EXPECT_EQ(dns["changes"][0]["resolvers"][1]["resolver"], "127.0.0.1:5302");
  EXPECT_EQ(dns["changes"][0]["resolvers"][1]["elapsed_ms"], 3200);
  EXPECT_EQ(dns["changes"][1]["step"], "undo dns switch");
  EXPECT_EQ(dns["changes"][1]["direction"], "revert");

  const json& rollback = data["rollback"];
  ASSERT_EQ(rollback["events"].size(), 2u);
  EXPECT_EQ(rollback["events"][0]["event"], "begun");
  EXPECT_EQ(rollback["events"][1]["at_ms"], base_ms + 541'000);
  EXPECT_EQ(rollback["ms"], kRollbackMs);
  EXPECT_EQ(rollback["budget_ms"], 300000);
  EXPECT_EQ(rollback["within_budget"], true);
  ASSERT_EQ(rollback["undo_steps"].size(), 3u);
  EXPECT_EQ(rollback["undo_steps"][1]["name"], "undo writes orders");
  EXPECT_EQ(rollback["undo_steps"][1]["duration_ms"], 4000);
}

TEST_F(MigrationReportTest, GateSeriesComeFromTheSamplesAndEachStepsFinalReadings) {
  const int64_t base_ms = WriteExampleMigration(*journal_, "rolled back on request");
  const json data = Build();
  const json& error_rate = data["gate_series"]["error_rate"];
  // Six samples per traffic step, plus each traffic step's final readings.
  ASSERT_EQ(error_rate.size(), 2u * kTrafficGateSamples + 2);
  for (int i = 0; i < kTrafficGateSamples; ++i) {
    EXPECT_EQ(error_rate[i]["at_ms"], base_ms + (140 + 30 * i) * 1000) << i;
    EXPECT_DOUBLE_EQ(error_rate[i]["value"].get<double>(), kErrorRates[i]) << i;
    EXPECT_EQ(error_rate[i]["threshold"], 0.005);
    EXPECT_EQ(error_rate[i]["source"], "sample");
    EXPECT_EQ(error_rate[i]["step"], "traffic 25%");
  }
  EXPECT_EQ(error_rate[kTrafficGateSamples]["source"], "step end");
  EXPECT_EQ(error_rate[kTrafficGateSamples]["at_ms"], base_ms + 315'000);
  // Lag is measured from phase 3 on: the sync step's final reading opens its series.
  const json& lag = data["gate_series"]["lag orders"];
  ASSERT_FALSE(lag.empty());
  EXPECT_EQ(lag[0]["at_ms"], base_ms + 75'000);
  EXPECT_EQ(lag[0]["value"], 35);
  EXPECT_EQ(lag[0]["unit"], "ms");
  EXPECT_EQ(data["gate_series"]["latency_p95"][3]["value"], kLatenciesMs[3]);
}

TEST_F(MigrationReportTest, WritePauseOfCutoverAndRevertFromTheSteps) {
  WriteExampleMigration(*journal_, "rolled back on request");
  const json data = Build();
  ASSERT_EQ(data["write_pause"].size(), 1u);
  const json& orders = data["write_pause"][0];
  EXPECT_EQ(orders["datastore"], "orders");
  EXPECT_EQ(orders["cutover"]["write_pause_ms"], kCutoverPauseMs);
  EXPECT_EQ(orders["cutover"]["pause_source"], "step detail");
  EXPECT_EQ(orders["cutover"]["drain_ms"], 300);
  EXPECT_EQ(orders["cutover"]["verify"]["consistent"], true);
  ASSERT_EQ(orders["cutover"]["sub_steps"].size(), 6u);
  EXPECT_EQ(orders["cutover"]["sub_steps"][0]["name"], "freeze");
  EXPECT_EQ(orders["revert"]["write_pause_ms"], kRevertPauseMs);
  EXPECT_EQ(orders["revert"]["step_state"], "done");
}

// A run killed during a rollback: no step says the pause, the journaled sub-steps do.
TEST_F(MigrationReportTest, WritePauseFromTheJournaledSubStepsWhenNoStepSaysIt) {
  TimedJournalWriter w(*journal_, 1'795'000'000'000);
  w.BeginRun("shop", 0);
  w.Sample("write_cutover",
           {{"datastore", "orders"}, {"direction", "cutover"}, {"sub_step", "freeze"}, {"ms", 100}},
           10.0);
  w.Sample("write_cutover",
           {{"datastore", "orders"},
            {"direction", "cutover"},
            {"sub_step", "switch"},
            {"ms", 40},
            {"write_pause_ms", 777}},
           10.8);
  w.Sample(
      "write_cutover",
      {{"datastore", "orders"}, {"direction", "revert"}, {"sub_step", "freeze new"}, {"ms", 300}},
      20.3);
  w.Sample(
      "write_cutover",
      {{"datastore", "orders"}, {"direction", "revert"}, {"sub_step", "switch to old"}, {"ms", 20}},
      21.5);
  const json orders = Build()["write_pause"][0];
  EXPECT_EQ(orders["cutover"]["write_pause_ms"], 777);
  EXPECT_EQ(orders["cutover"]["pause_source"], "journaled switch");
  EXPECT_TRUE(orders["cutover"]["step_state"].is_null());
  // From the beginning of "freeze new" (20.3 s - 300 ms) to "switch to old" (21.5 s).
  EXPECT_EQ(orders["revert"]["write_pause_ms"], 1500);
  EXPECT_EQ(orders["revert"]["pause_source"], "sub-step times");
}

// A cutover that stopped at its drain and was reverted inside its step: clients waited from the
// cutover's freeze to the revert's switch back.
TEST_F(MigrationReportTest, WritePauseOfAStoppedCutoverRunsToTheRevertsSwitch) {
  TimedJournalWriter w(*journal_, 1'795'000'000'000);
  w.BeginRun("shop", 0);
  w.Sample("write_cutover",
           {{"datastore", "orders"}, {"direction", "cutover"}, {"sub_step", "freeze"}, {"ms", 100}},
           10.0);
  w.Sample("write_cutover",
           {{"datastore", "orders"}, {"direction", "revert"}, {"sub_step", "begun"}, {"ms", 0}},
           11.0);
  w.Sample(
      "write_cutover",
      {{"datastore", "orders"}, {"direction", "revert"}, {"sub_step", "switch to old"}, {"ms", 20}},
      12.0);
  w.Step(5, "writes orders", 9.8, 12.5, StepState::kFailed, json::array(),
         {{"datastore", "orders"}, {"direction", "cutover"}, {"error", "drain timed out"}});
  const json orders = Build()["write_pause"][0];
  EXPECT_TRUE(orders["cutover"]["write_pause_ms"].is_null());
  EXPECT_EQ(orders["cutover"]["step_state"], "failed");
  EXPECT_EQ(orders["revert"]["write_pause_ms"], 2100);
  EXPECT_EQ(orders["revert"]["pause_source"], "cutover freeze to revert switch");
}

TEST_F(MigrationReportTest, JournalWithoutARunIsNotFound) {
  auto data = BuildReportData(plan_, *journal_);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), StatusCode::kNotFound);
  EXPECT_NE(data.status().message().find("has no run yet"), std::string::npos);
  EXPECT_NE(data.status().message().find(plan_.journal_path), std::string::npos);
}

TEST_F(MigrationReportTest, RunWhoseControllerIsGoneIsInterruptedAndOneHeldIsRunning) {
  TimedJournalWriter w(*journal_, 1'795'000'000'000);
  w.BeginRun("shop", 0);
  w.Step(1, "assessment", 0, -1, StepState::kStarted);
  json data = Build();
  EXPECT_EQ(data["run"]["state"], "interrupted");
  EXPECT_EQ(data["verdict"]["result"], "interrupted");
  EXPECT_TRUE(data["run"]["finished_at"].is_null());
  EXPECT_TRUE(data["steps"][0]["duration_ms"].is_null());
  ASSERT_TRUE(journal_->AcquireController().ok());
  data = Build();
  EXPECT_EQ(data["verdict"]["result"], "running");
  journal_->ReleaseController();
}

TEST_F(MigrationReportTest, PlotsDrawOnePointPerSampleHigherValuesHigher) {
  const int64_t base_ms = WriteExampleMigration(*journal_, "rolled back on request");
  const json data = Build();
  const std::string html = RenderReportHtml(data);

  const std::string error_plot = PlotSection(html, "error-rate");
  ASSERT_NE(error_plot, "");
  EXPECT_NE(error_plot.find("<svg"), std::string::npos);
  EXPECT_NE(error_plot.find("<polyline class=\"series\" data-series=\"error_rate\""),
            std::string::npos);
  EXPECT_NE(error_plot.find("data-series=\"error_rate threshold\""), std::string::npos);
  const std::vector<Marker> markers = Markers(error_plot, "error_rate");
  ASSERT_EQ(markers.size(), data["gate_series"]["error_rate"].size());
  for (int i = 0; i < kTrafficGateSamples; ++i) {
    EXPECT_EQ(markers[i].at_ms, base_ms + (140 + 30 * i) * 1000);
    EXPECT_DOUBLE_EQ(markers[i].value, kErrorRates[i]);
  }
  for (size_t i = 1; i < markers.size(); ++i) {
    EXPECT_GE(markers[i].cx, markers[i - 1].cx) << "time runs left to right";
    if (markers[i].value > markers[i - 1].value) {
      EXPECT_LT(markers[i].cy, markers[i - 1].cy);
    }
    if (markers[i].value < markers[i - 1].value) {
      EXPECT_GT(markers[i].cy, markers[i - 1].cy);
    }
  }

  const std::string traffic_plot = PlotSection(html, "traffic");
  const std::vector<Marker> shares = Markers(traffic_plot, "share of requests on the new servers");
  ASSERT_EQ(shares.size(), 4u);  // 0 % at the start, 25 %, 100 %, 0 % after the rollback
  EXPECT_EQ(shares[1].at_ms, base_ms + 136'000);
  EXPECT_EQ(shares[1].value, 25);
  EXPECT_EQ(shares[2].value, 100);
  EXPECT_LT(shares[2].cy, shares[1].cy);
  EXPECT_LT(shares[1].cy, shares[0].cy);
  EXPECT_EQ(shares[3].value, 0);
  EXPECT_EQ(shares[3].cy, shares[0].cy);

  for (const char* plot : {"response-time", "lag"}) {
    EXPECT_NE(PlotSection(html, plot).find("<circle class=\"point\""), std::string::npos) << plot;
    EXPECT_EQ(PlotSection(html, plot).find("no-data"), std::string::npos) << plot;
  }
  EXPECT_EQ(Markers(PlotSection(html, "lag"), "lag orders").size(),
            data["gate_series"]["lag orders"].size());
}

TEST_F(MigrationReportTest, TablesShowTheTimelineGatesPauseResolversAndRollback) {
  WriteExampleMigration(*journal_, "rolled back on request");
  const std::string html = RenderReportHtml(Build());
  EXPECT_NE(html.find("<table class=\"timeline\">"), std::string::npos);
  EXPECT_EQ(Count(html, "<tr class=\"step "), 12u);
  EXPECT_NE(html.find("lag orders 35 ms / limit 100 (60 samples) <b>passing</b>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"number\">1.68 s</td>"), std::string::npos) << "cutover pause";
  EXPECT_NE(html.find("<td class=\"number\">950 ms</td>"), std::string::npos) << "revert pause";
  EXPECT_NE(html.find("<td>127.0.0.1:5302</td><td>yes</td><td class=\"number\">3.20 s</td>"),
            std::string::npos);
  EXPECT_NE(html.find("Rollback took 11.00 s of a budget of 5.0 min: within the budget"),
            std::string::npos);
  EXPECT_NE(html.find("undone: dns switch, writes orders, traffic"), std::string::npos);
  EXPECT_NE(html.find("class=\"verdict rolled-back\""), std::string::npos);
}

TEST_F(MigrationReportTest, PlotWithoutSamplesSaysSo) {
  TimedJournalWriter w(*journal_, 1'795'000'000'000);
  w.BeginRun("shop", 0);
  w.Step(1, "assessment", 0, 3, StepState::kFailed);
  w.FinishRun(RunState::kFailed, "blocker: orders has no primary key", 3);
  const std::string html = RenderReportHtml(Build());
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  for (const char* plot : {"traffic", "error-rate", "response-time", "lag"}) {
    EXPECT_NE(PlotSection(html, plot).find("<p class=\"no-data\">No "), std::string::npos) << plot;
  }
  EXPECT_NE(html.find("No traffic shift in this run"), std::string::npos);
  EXPECT_NE(html.find("No write cutover in this run"), std::string::npos);
  EXPECT_NE(html.find("No rollback in this run"), std::string::npos);
  EXPECT_NE(html.find("Failed: blocker: orders has no primary key"), std::string::npos);
}

// The page of an empty or older document (missing sections, wrong types) is still a page.
TEST(MigrationReportPage, PartialDataRendersAsNoData) {
  for (const json& data :
       {json::object(), json{{"run", {{"id", "x"}, {"started_at_ms", "soon"}}},
                             {"steps", 3},
                             {"gate_series", {{"error_rate", {{{"at_ms", "later"}}}}}},
                             {"traffic", {{{"percent", "all"}}}},
                             {"write_pause", {{{"cutover", {{"sub_steps", 7}}}}}},
                             {"dns", {{"changes", {{{"resolvers", "none"}}}}}},
                             {"rollback", {{"events", {1, 2}}}}}}) {
    const std::string html = RenderReportHtml(data);
    EXPECT_NE(html.find("</html>"), std::string::npos) << data.dump();
    EXPECT_NE(html.find("No traffic shift in this run"), std::string::npos) << data.dump();
    EXPECT_NE(html.find("No error rate samples in this run"), std::string::npos) << data.dump();
  }
}

TEST_F(MigrationReportTest, JournalTextIsEscapedInThePageAndInTheEmbeddedData) {
  TimedJournalWriter w(*journal_, 1'795'000'000'000);
  w.BeginRun("shop", 0);
  w.Step(1, "<script>alert('step')</script>", 0, 2, StepState::kDone,
         json::array({testing::GateJson("<img src=x onerror=alert(1)>", 1, 2, 30, "ms")}),
         {{"note", "</script><script>alert('detail')</script>"}});
  w.FinishRun(RunState::kFailed, kInjectedOutcome, 2);
  const json data = Build();
  const std::string html = RenderReportHtml(data);
  EXPECT_EQ(Count(html, "<script"), 1u) << "only the data block is a script element";
  EXPECT_EQ(Count(html, "</script>"), 1u);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  const std::string page = html.substr(0, html.find("<script type=\"application/json\""));
  EXPECT_EQ(page.find("alert('"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;step&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;console.error(&#39;injected&#39;)&lt;/script&gt; &amp; "
                      "&quot;quoted&quot;"),
            std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  // The embedded data reads back exactly, escapes and all.
  const json embedded = EmbeddedData(html);
  ASSERT_FALSE(embedded.is_discarded());
  EXPECT_EQ(embedded, data);
  EXPECT_EQ(embedded["run"]["outcome"], kInjectedOutcome);
}

TEST_F(MigrationReportTest, PageFetchesNothing) {
  WriteExampleMigration(*journal_, kInjectedOutcome);
  const std::string html = RenderReportHtml(Build());
  EXPECT_FALSE(std::regex_search(
      html, std::regex("(src|href)\\s*=\\s*[\"']?\\s*(https?:)?//", std::regex::icase)));
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  for (const char* fetching : {"<link", "@import", "url(", "<img", "<iframe", "@font-face"}) {
    EXPECT_EQ(html.find(fetching), std::string::npos) << fetching;
  }
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
}

TEST_F(MigrationReportTest, WriteReportWritesThePageAndItsDataAtomically) {
  WriteExampleMigration(*journal_, "rolled back on request");
  const std::string html_path = dir_ + "/out.report.html";
  std::ofstream(html_path) << "an older report";
  ASSERT_TRUE(WriteReport(plan_, *journal_, html_path).ok());
  const std::string html = ReadFile(html_path);
  const json written = json::parse(ReadFile(dir_ + "/out.report.json"), nullptr, false);
  ASSERT_FALSE(written.is_discarded());
  EXPECT_EQ(written["run"]["id"], 1);
  EXPECT_EQ(EmbeddedData(html), written) << "the page embeds exactly the data beside it";
  json rebuilt = Build();
  rebuilt["generated_at"] = written["generated_at"];
  EXPECT_EQ(rebuilt, written);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    names.push_back(entry.path().filename().string());
  }
  for (const std::string& name : names) {
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << "temporary file left: " << name;
  }
}

TEST_F(MigrationReportTest, WriteReportToAPathItCannotWriteSaysWhy) {
  WriteExampleMigration(*journal_, "rolled back on request");
  const std::string missing = dir_ + "/no/such/dir/report.html";
  engine::Status status = WriteReport(plan_, *journal_, missing);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "cannot write the report to " + dir_ +
                                  "/no/such/dir/report.json: No such file or directory; choose a "
                                  "writable path");
  // sysfs refuses new files even to root.
  status = WriteReport(plan_, *journal_, "/sys/tandem-report.html");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_NE(status.message().find("cannot write the report to /sys/tandem-report.json"),
            std::string::npos);
  status = WriteReport(plan_, *journal_, dir_ + "/report.json");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("choose a path ending in .html"), std::string::npos);
}

TEST(ReportJsonPath, ReplacesTheLastExtensionOfTheFileName) {
  EXPECT_EQ(ReportJsonPath("report.html"), "report.json");
  EXPECT_EQ(ReportJsonPath("out/shop.report.html"), "out/shop.report.json");
  EXPECT_EQ(ReportJsonPath("out.d/report"), "out.d/report.json");
  EXPECT_EQ(ReportJsonPath("/tmp/.hidden"), "/tmp/.hidden.json");
  EXPECT_EQ(ReportJsonPath("report.json"), "report.json");
}

// --- `tandem report` ---

class ReportCommandTest : public MigrationReportTest {
 protected:
  void SetUp() override {
    MigrationReportTest::SetUp();
    std::ofstream(dir_ + "/shop.toml") << kPlanText;
  }
};

TEST_F(ReportCommandTest, IsListedAndHasHelp) {
  testing::CommandOutcome outcome = testing::RunTandem({"--help"});
  EXPECT_NE(outcome.out.find("\n  report    the migration report"), std::string::npos)
      << outcome.out;
  outcome = testing::RunTandem({"report", "--help"});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_NE(outcome.out.find("Usage: tandem report PLAN"), std::string::npos) << outcome.out;
}

TEST_F(ReportCommandTest, WithoutAPlanIsOneLine) {
  testing::ExpectOneLineExitTwo(testing::RunTandem({"report"}),
                                "give the plan file: tandem report PLAN");
}

TEST_F(ReportCommandTest, MissingPlanFileIsOneLine) {
  testing::ExpectOneLineExitTwo(testing::RunTandem({"report", dir_ + "/nope.toml"}),
                                "no such plan file");
}

TEST_F(ReportCommandTest, PlanNeverRunIsOneLine) {
  journal_.reset();
  std::filesystem::remove(plan_.journal_path);
  testing::ExpectOneLineExitTwo(testing::RunTandem({"report", dir_ + "/shop.toml"}),
                                "no journal at");
  EXPECT_FALSE(std::filesystem::exists(plan_.journal_path)) << "report must not create it";
}

TEST_F(ReportCommandTest, JournalWithoutARunIsOneLine) {
  testing::ExpectOneLineExitTwo(testing::RunTandem({"report", dir_ + "/shop.toml"}),
                                "has no run yet");
}

TEST_F(ReportCommandTest, BadFormatIsOneLine) {
  testing::ExpectOneLineExitTwo(
      testing::RunTandem({"report", dir_ + "/shop.toml", "--format", "pdf"}),
      "--format must be 'html' or 'json', not 'pdf'");
}

TEST_F(ReportCommandTest, WritesThePageAndItsDataBesideTheJournal) {
  WriteExampleMigration(*journal_, "rolled back on request");
  const testing::CommandOutcome outcome = testing::RunTandem({"report", dir_ + "/shop.toml"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "report written to " + dir_ + "/shop.report.html (data: " + dir_ +
                             "/shop.report.json)\n");
  EXPECT_NE(ReadFile(dir_ + "/shop.report.html").find("<svg"), std::string::npos);
  EXPECT_EQ(json::parse(ReadFile(dir_ + "/shop.report.json"))["verdict"]["result"], "rolled back");
}

TEST_F(ReportCommandTest, OutputAndJournalOptionsAreHonoured) {
  WriteExampleMigration(*journal_, "rolled back on request");
  journal_.reset();
  const std::string moved = dir_ + "/elsewhere.db";
  std::filesystem::rename(plan_.journal_path, moved);
  const testing::CommandOutcome outcome = testing::RunTandem(
      {"report", dir_ + "/shop.toml", "--journal", moved, "--output", dir_ + "/r.html"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/r.html"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/r.json"));
}

TEST_F(ReportCommandTest, JsonFormatPrintsTheDataAndWritesNothing) {
  WriteExampleMigration(*journal_, "rolled back on request");
  const testing::CommandOutcome outcome =
      testing::RunTandem({"report", dir_ + "/shop.toml", "--format", "json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const json data = json::parse(outcome.out, nullptr, false);
  ASSERT_FALSE(data.is_discarded()) << outcome.out;
  EXPECT_EQ(data["run"]["state"], "rolled_back");
  EXPECT_EQ(data["write_pause"][0]["cutover"]["write_pause_ms"], kCutoverPauseMs);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/shop.report.html"));
}

TEST_F(ReportCommandTest, UnwritableOutputIsOneLine) {
  WriteExampleMigration(*journal_, "rolled back on request");
  testing::ExpectOneLineExitTwo(
      testing::RunTandem({"report", dir_ + "/shop.toml", "--output", dir_ + "/missing/r.html"}),
      "cannot write the report to " + dir_ + "/missing/r.json: No such file or directory");
}

}  // namespace
}  // namespace tandem::orchestration
