#include "orchestration/plan.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "orchestration/run_steps.h"

namespace tandem::orchestration {
namespace {

using engine::StatusCode;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// DESIGN.md's sample plan, verbatim ("BASE64SECRET" happens to be valid base64).
constexpr std::string_view kDesignSample =
    R"(name = "shop"                        # journal: shop.journal.db beside the plan, unless --journal
rollback_budget = "5m"               # every step must be reversible within this (the playbook: 5 minutes)
approve = ["cutover"]                # optional: wait for `tandem approve` before these phases

[[datastore]]                        # one per database pair: streamed, lag-gated and verified
name = "orders"
source = "mysql://tandem@10.0.0.5:3306/shop"
target = "mysql://tandem@10.0.1.5:3306/shop"
max_lag = "100ms"                    # lag p99 must stay under this ...
lag_for = "60s"                      # ... for this long before phase 4 starts
writer = { haproxy_backend = "orders_db", old = "old", new = "new" }   # optional: where apps write; switched at cutover

[traffic]                            # phase 4: HAProxy runtime API
haproxy = "/run/haproxy/admin.sock"  # unix socket path, or "host:port"
backend = "app"
old = ["app-old-1", "app-old-2"]     # server names in that backend
new = ["app-new-1"]
steps = [5, 25, 50, 75, 100]         # percent of requests to the new servers
baseline = "10m"                     # old servers measured before the first step
dwell = "30m"                        # time at each step, gates evaluated throughout
min_requests = 500                   # requests at the new servers before a step's gate may pass
max_error_rate_increase = 0.001      # new's 5xx rate may exceed old's (same window) and baseline's by this much
max_latency_increase = 0.10          # new's response time may exceed the baseline by this fraction ...
latency_slack = "5ms"                # ... plus this absolute allowance
probes = ["http://10.0.1.7/health"]  # optional: must answer 2xx throughout
log = "127.0.0.1:5140"               # optional: UDP address where HAProxy sends httplog lines for per-request timings

[dns]                                # phase 5: RFC 2136 updates signed with TSIG
server = "10.0.0.53:53"              # primary that accepts updates
zone = "example.com."
tsig = "hmac-sha256:keyname:BASE64SECRET"   # or tsig_file = "path"
ttl = 60                             # records are lowered to this TTL before the switch
records = [
  { name = "www.example.com.", type = "A", old = "192.0.2.10", new = "198.51.100.10" },
  { name = "api.example.com.", type = "CNAME", old = "old-lb.example.com.", new = "new-lb.example.com." },
]
resolvers = ["10.0.0.53:53", "10.0.0.54:53"]   # propagation is done when every one answers the new values
propagation_timeout = "30m"
tls = { host = "www.example.com", address = "198.51.100.10:443", ca = "/etc/ssl/certs/ca-certificates.crt" }

[monitor]                            # phase 6
window = "72h"
)";

constexpr std::string_view kPassword = "Sup3rSecretPw";

std::string Sample() { return std::string(kDesignSample); }

// `text` with its one occurrence of `from` replaced by `to`.
std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from << " is not unique";
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The 1-based line of the only occurrence of `needle` in `text`.
int LineOf(std::string_view text, std::string_view needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  EXPECT_EQ(text.find(needle, at + 1), std::string::npos) << needle << " is not unique";
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

std::string RefusalMessage(std::string_view text) {
  auto plan = ParsePlan(text, "shop.toml");
  EXPECT_FALSE(plan.ok()) << "the plan was accepted";
  if (plan.ok()) {
    return "";
  }
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument) << plan.status().ToString();
  const std::string& message = plan.status().message();
  EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
  EXPECT_NE(message.find("; "), std::string::npos) << "no fix in: " << message;
  return message;
}

// Expects `text` to be refused at the line holding `needle`, about `key`, with `detail` in the
// message.
void ExpectRefusedAt(std::string_view text, std::string_view needle, std::string_view key,
                     std::string_view detail) {
  const std::string message = RefusalMessage(text);
  const std::string prefix =
      "shop.toml:" + std::to_string(LineOf(text, needle)) + ": " + std::string(key) + ": ";
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  EXPECT_NE(message.find(detail), std::string::npos) << message;
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tandem_plan_test_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Write(const std::string& name, std::string_view text) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Plan, DesignSampleParsesWithEveryValue) {
  auto plan = ParsePlan(kDesignSample, "/etc/tandem/shop.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->path, "/etc/tandem/shop.toml");
  EXPECT_EQ(plan->name, "shop");
  EXPECT_EQ(plan->journal_path, "/etc/tandem/shop.journal.db");
  EXPECT_EQ(plan->rollback_budget, minutes(5));
  ASSERT_EQ(plan->approve.size(), 1u);
  EXPECT_EQ(plan->approve[0], Phase::kCutover);

  ASSERT_EQ(plan->datastores.size(), 1u);
  const DatastorePlan& orders = plan->datastores[0];
  EXPECT_EQ(orders.name, "orders");
  EXPECT_EQ(orders.line, 5);
  EXPECT_EQ(orders.source.engine, engine::EngineKind::kMySql);
  EXPECT_EQ(orders.source.user, "tandem");
  EXPECT_EQ(orders.source.host, "10.0.0.5");
  EXPECT_EQ(orders.source.port, 3306);
  EXPECT_EQ(orders.source.database, "shop");
  EXPECT_EQ(orders.target.host, "10.0.1.5");
  EXPECT_EQ(orders.source_uri_redacted, "mysql://tandem@10.0.0.5:3306/shop");
  EXPECT_EQ(orders.target_uri_redacted, "mysql://tandem@10.0.1.5:3306/shop");
  EXPECT_EQ(orders.max_lag, Milliseconds(100));
  EXPECT_EQ(orders.lag_for, seconds(60));
  ASSERT_TRUE(orders.writer.has_value());
  EXPECT_EQ(orders.writer->haproxy_backend, "orders_db");
  EXPECT_EQ(orders.writer->old_server, "old");
  EXPECT_EQ(orders.writer->new_server, "new");

  ASSERT_TRUE(plan->traffic.has_value());
  const TrafficPlan& traffic = *plan->traffic;
  EXPECT_EQ(traffic.haproxy, "/run/haproxy/admin.sock");
  EXPECT_EQ(traffic.backend, "app");
  EXPECT_EQ(traffic.old_servers, (std::vector<std::string>{"app-old-1", "app-old-2"}));
  EXPECT_EQ(traffic.new_servers, (std::vector<std::string>{"app-new-1"}));
  EXPECT_EQ(traffic.steps, (std::vector<int>{5, 25, 50, 75, 100}));
  EXPECT_EQ(traffic.baseline, minutes(10));
  EXPECT_EQ(traffic.dwell, minutes(30));
  EXPECT_EQ(traffic.min_requests, 500);
  EXPECT_DOUBLE_EQ(traffic.max_error_rate_increase, 0.001);
  EXPECT_DOUBLE_EQ(traffic.max_latency_increase, 0.10);
  EXPECT_EQ(traffic.latency_slack, Milliseconds(5));
  EXPECT_EQ(traffic.probes, (std::vector<std::string>{"http://10.0.1.7/health"}));
  EXPECT_EQ(traffic.log, std::optional<std::string>("127.0.0.1:5140"));

  ASSERT_TRUE(plan->dns.has_value());
  const DnsPlan& dns = *plan->dns;
  EXPECT_EQ(dns.server, "10.0.0.53:53");
  EXPECT_EQ(dns.zone, "example.com.");
  EXPECT_EQ(dns.tsig_algorithm, "hmac-sha256");
  EXPECT_EQ(dns.tsig_key_name, "keyname");
  EXPECT_EQ(dns.tsig_secret_base64, "BASE64SECRET");
  EXPECT_EQ(dns.ttl, 60);
  ASSERT_EQ(dns.records.size(), 2u);
  EXPECT_EQ(dns.records[0].name, "www.example.com.");
  EXPECT_EQ(dns.records[0].type, "A");
  EXPECT_EQ(dns.records[0].old_value, "192.0.2.10");
  EXPECT_EQ(dns.records[0].new_value, "198.51.100.10");
  EXPECT_EQ(dns.records[1].name, "api.example.com.");
  EXPECT_EQ(dns.records[1].type, "CNAME");
  EXPECT_EQ(dns.records[1].old_value, "old-lb.example.com.");
  EXPECT_EQ(dns.records[1].new_value, "new-lb.example.com.");
  EXPECT_EQ(dns.resolvers, (std::vector<std::string>{"10.0.0.53:53", "10.0.0.54:53"}));
  EXPECT_EQ(dns.propagation_timeout, minutes(30));
  EXPECT_EQ(dns.tls_host, std::optional<std::string>("www.example.com"));
  EXPECT_EQ(dns.tls_address, std::optional<std::string>("198.51.100.10:443"));
  EXPECT_EQ(dns.tls_ca, std::optional<std::string>("/etc/ssl/certs/ca-certificates.crt"));

  EXPECT_EQ(plan->monitor.window, hours(72));
  EXPECT_TRUE(plan->monitor.enabled);
  EXPECT_EQ(plan->monitor.verify_every, hours(1));
  EXPECT_FALSE(plan->monitor.rollback_on_breach);
  EXPECT_EQ(plan->monitor.slot_advance_every, minutes(1));
}

TEST(Plan, MonitorKeys) {
  auto plan = ParsePlan(Replace(Sample(), "window = \"72h\"",
                                "window = \"30s\"\nverify_every = \"5s\"\nrollback_on_breach = "
                                "true\nslot_advance_every = \"10s\""),
                        "shop.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->monitor.window, seconds(30));
  EXPECT_EQ(plan->monitor.verify_every, seconds(5));
  EXPECT_TRUE(plan->monitor.rollback_on_breach);
  EXPECT_EQ(plan->monitor.slot_advance_every, seconds(10));
  std::string text = Replace(Sample(), "window = \"72h\"", "rollback_on_breach = \"yes\"");
  ExpectRefusedAt(text, "rollback_on_breach", "monitor.rollback_on_breach",
                  "expected true or false, found a string");
  text = Replace(Sample(), "window = \"72h\"", "verify_every = \"0s\"");
  ExpectRefusedAt(text, "verify_every", "monitor.verify_every", "must be longer than 0s");
  text = Replace(Sample(), "window = \"72h\"", "slot_advance_every = \"0s\"");
  ExpectRefusedAt(text, "slot_advance_every", "monitor.slot_advance_every",
                  "must be longer than 0s");
}

TEST(Plan, MinimalDatastorePlanGetsTheDefaults) {
  auto plan = ParsePlan(R"(name = "m"
[[datastore]]
name = "kv"
source = "redis://10.0.0.5:6379/0"
target = "redis://10.0.1.5:6379/0"
)",
                        "m.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->journal_path, "./m.journal.db");
  EXPECT_EQ(plan->rollback_budget, minutes(5));
  EXPECT_TRUE(plan->approve.empty());
  ASSERT_EQ(plan->datastores.size(), 1u);
  EXPECT_EQ(plan->datastores[0].source.engine, engine::EngineKind::kRedis);
  EXPECT_EQ(plan->datastores[0].max_lag, Milliseconds(100));
  EXPECT_EQ(plan->datastores[0].lag_for, seconds(60));
  EXPECT_FALSE(plan->datastores[0].writer.has_value());
  EXPECT_FALSE(plan->traffic.has_value());
  EXPECT_FALSE(plan->dns.has_value());
  EXPECT_EQ(plan->monitor.window, hours(72));
  EXPECT_FALSE(plan->monitor.enabled);
}

// The writer backend is switched through the HAProxy of [traffic]: a writer without it is refused
// at the datastore's line.
TEST(Plan, WriterWithoutTrafficIsRefusedAtTheDatastore) {
  auto plan = ParsePlan(R"(name = "m"
[[datastore]]
name = "kv"
source = "redis://10.0.0.5:6379/0"
target = "redis://10.0.1.5:6379/0"
writer = { haproxy_backend = "kv_db", old = "old", new = "new" }
)",
                        "m.toml");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message().rfind("m.toml:2: datastore.writer: the writer backend lives in "
                                          "the HAProxy of [traffic]",
                                          0),
            0u)
      << plan.status().message();
}

// A writer backend that is the traffic backend (phase 4 would weight the new database in) or
// another datastore's is refused.
TEST(Plan, WriterBackendMustBeItsOwn) {
  auto same_as_traffic =
      ParsePlan(Replace(Sample(), "haproxy_backend = \"orders_db\"", "haproxy_backend = \"app\""),
                "shop.toml");
  ASSERT_FALSE(same_as_traffic.ok());
  EXPECT_NE(same_as_traffic.status().message().find(
                "datastore.writer: haproxy_backend app is the [traffic] backend"),
            std::string::npos)
      << same_as_traffic.status().message();

  const std::string second =
      "[[datastore]]\nname = \"more\"\nsource = \"mysql://tandem@10.0.0.6:3306/shop\"\n"
      "target = \"mysql://tandem@10.0.1.6:3306/shop\"\n"
      "writer = { haproxy_backend = \"orders_db\", old = \"old2\", new = \"new2\" }\n\n";
  auto shared = ParsePlan(Replace(Sample(), "[traffic]", second + "[traffic]"), "shop.toml");
  ASSERT_FALSE(shared.ok());
  EXPECT_NE(shared.status().message().find(
                "haproxy_backend orders_db is the writer backend of another datastore"),
            std::string::npos)
      << shared.status().message();
}

TEST(Plan, MinimalTrafficPlanGetsTheDefaults) {
  auto plan = ParsePlan(R"(name = "web"
[traffic]
haproxy = "127.0.0.1:9999"
backend = "app"
old = ["a"]
new = ["b"]
)",
                        "plans/web.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->journal_path, "plans/web.journal.db");
  EXPECT_TRUE(plan->datastores.empty());
  ASSERT_TRUE(plan->traffic.has_value());
  const TrafficPlan& traffic = *plan->traffic;
  EXPECT_EQ(traffic.haproxy, "127.0.0.1:9999");
  EXPECT_EQ(traffic.steps, (std::vector<int>{5, 25, 50, 75, 100}));
  EXPECT_EQ(traffic.baseline, minutes(10));
  EXPECT_EQ(traffic.dwell, minutes(30));
  EXPECT_EQ(traffic.min_requests, 500);
  EXPECT_DOUBLE_EQ(traffic.max_error_rate_increase, 0.001);
  EXPECT_DOUBLE_EQ(traffic.max_latency_increase, 0.10);
  EXPECT_EQ(traffic.latency_slack, Milliseconds(5));
  EXPECT_TRUE(traffic.probes.empty());
  EXPECT_FALSE(traffic.log.has_value());
}

TEST(Plan, MinimalDnsSectionGetsTheDefaults) {
  auto plan = ParsePlan(
      Replace(
          Sample(),
          R"(resolvers = ["10.0.0.53:53", "10.0.0.54:53"]   # propagation is done when every one answers the new values
propagation_timeout = "30m"
tls = { host = "www.example.com", address = "198.51.100.10:443", ca = "/etc/ssl/certs/ca-certificates.crt" }
)",
          ""),
      "shop.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->dns->resolvers.empty());
  EXPECT_EQ(plan->dns->propagation_timeout, minutes(30));
  EXPECT_FALSE(plan->dns->tls_host.has_value());
  EXPECT_FALSE(plan->dns->tls_address.has_value());
  EXPECT_FALSE(plan->dns->tls_ca.has_value());
}

TEST(Plan, JournalSitsBesideThePlan) {
  const std::string text =
      "name = \"x\"\n[[datastore]]\nname = \"d\"\n"
      "source = \"mysql://u@h/d\"\ntarget = \"mysql://u@h2/d\"\n";
  EXPECT_EQ(ParsePlan(text, "x.toml")->journal_path, "./x.journal.db");
  EXPECT_EQ(ParsePlan(text, "/x.toml")->journal_path, "/x.journal.db");
  EXPECT_EQ(ParsePlan(text, "/srv/plans/x.toml")->journal_path, "/srv/plans/x.journal.db");
  EXPECT_EQ(ParsePlan(text, "../p/other-name.toml")->journal_path, "../p/x.journal.db");
}

TEST(Plan, DigestFollowsTheBytes) {
  auto a = ParsePlan(kDesignSample, "shop.toml");
  auto same = ParsePlan(kDesignSample, "elsewhere/shop.toml");
  auto changed = ParsePlan(Replace(Sample(), "dwell = \"30m\"", "dwell = \"31m\""), "shop.toml");
  ASSERT_TRUE(a.ok() && same.ok() && changed.ok());
  EXPECT_NE(a->digest, 0u);
  EXPECT_EQ(a->digest, same->digest);
  EXPECT_NE(a->digest, changed->digest);
}

TEST(Plan, PhaseNamesRoundTrip) {
  const char* expected[] = {"assessment", "provisioning", "sync", "traffic", "cutover", "monitor"};
  int index = 0;
  for (Phase phase : kAllPhases) {
    EXPECT_EQ(static_cast<int>(phase), index + 1);
    EXPECT_STREQ(PhaseName(phase), expected[index]);
    EXPECT_EQ(PhaseFromName(expected[index]), phase);
    ++index;
  }
  EXPECT_FALSE(PhaseFromName("Cutover").has_value());
  EXPECT_FALSE(PhaseFromName("").has_value());
}

TEST(Plan, LoadPlanReadsTheFile) {
  TempDir dir;
  const std::string path = dir.Write("shop.toml", kDesignSample);
  auto plan = LoadPlan(path);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->path, path);
  EXPECT_EQ(plan->journal_path, dir.path() + "/shop.journal.db");
  EXPECT_EQ(plan->digest, ParsePlan(kDesignSample, "any")->digest);
}

TEST(Plan, MissingFileIsNotFound) {
  TempDir dir;
  const std::string path = dir.path() + "/nope.toml";
  auto plan = LoadPlan(path);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(plan.status().message(),
            path +
                ": no such plan file; give the path of a TOML plan (see DESIGN.md, \"The plan "
                "file\")");
}

TEST(Plan, UnreadableFileIsInvalidArgumentWithTheReason) {
  TempDir dir;
  auto plan = LoadPlan(dir.path());  // a directory opens but does not read
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message().rfind(dir.path() + ": cannot read the plan file: ", 0), 0u)
      << plan.status().message();
  EXPECT_NE(plan.status().message().find(std::strerror(EISDIR)), std::string::npos)
      << plan.status().message();
}

TEST(Plan, SyntaxErrorNamesTheLine) {
  const std::string text = Replace(Sample(), "backend = \"app\"", "backend = \"app");
  const std::string message = RefusalMessage(text);
  const std::string prefix = "shop.toml:" + std::to_string(LineOf(text, "backend = \"app")) + ": ";
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  EXPECT_NE(message.find("fix the TOML syntax"), std::string::npos) << message;
}

TEST(Plan, UnknownKeysAreRefusedAtEveryLevel) {
  struct Case {
    std::string_view from, to, key;
  };
  const Case cases[] = {
      {"approve = [\"cutover\"]", "approve = [\"cutover\"]\nrollback = \"5m\"", "rollback"},
      {"max_lag = \"100ms\"", "maxlag = \"100ms\"", "datastore.maxlag"},
      {"old = \"old\", new", "olde = \"old\", new", "datastore.writer.olde"},
      {"min_requests = 500", "min_request = 500", "traffic.min_request"},
      {"ttl = 60", "tll = 60", "dns.tll"},
      {"type = \"CNAME\"", "kind = \"CNAME\"", "dns.records.kind"},
      {"ca = \"/etc", "cafile = \"/etc", "dns.tls.cafile"},
      {"window = \"72h\"", "windows = \"72h\"", "monitor.windows"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    const std::string text = Replace(Sample(), c.from, c.to);
    const std::string needle = std::string(c.to.substr(c.to.rfind('\n') + 1));
    ExpectRefusedAt(text, needle, c.key, "unknown key; the known keys here are ");
  }
  ExpectRefusedAt(Replace(Sample(), "window = \"72h\"", "windwo = \"72h\""), "windwo",
                  "monitor.windwo",
                  "unknown key; the known keys here are window, verify_every, rollback_on_breach, "
                  "slot_advance_every");
}

TEST(Plan, WrongTypesAreRefused) {
  std::string text = Replace(Sample(), "min_requests = 500", "min_requests = \"500\"");
  ExpectRefusedAt(text, "min_requests", "traffic.min_requests",
                  "expected an integer, found a string; write e.g. min_requests = 500");
  text = Replace(Sample(), "name = \"orders\"", "name = 7");
  ExpectRefusedAt(text, "name = 7", "datastore.name", "expected a string, found an integer");
  text = Replace(Sample(), "dwell = \"30m\"", "dwell = 30");
  ExpectRefusedAt(text, "dwell = 30", "traffic.dwell",
                  "expected a duration string, found an integer");
  text = Replace(Sample(), "old = [\"app-old-1\", \"app-old-2\"]", "old = [\"app-old-1\", 2]");
  ExpectRefusedAt(text, "app-old-1", "traffic.old", "found an integer in it");
  text = Replace(Sample(), "approve = [\"cutover\"]", "approve = \"cutover\"");
  ExpectRefusedAt(text, "approve = ", "approve", "expected an array of strings, found a string");
  text = Replace(Sample(), "[monitor]  ", "[monitor.x]");
  ExpectRefusedAt(text, "[monitor.x]", "monitor.x", "unknown key");
  text = Replace(Sample(), "ttl = 60", "ttl = 60.5");
  ExpectRefusedAt(text, "ttl = 60.5", "dns.ttl", "expected an integer, found a floating-point");
}

TEST(Plan, BadDurationsUseTheDurationMessage) {
  std::string text = Replace(Sample(), "baseline = \"10m\"", "baseline = \"10\"");
  ExpectRefusedAt(text, "baseline = ", "traffic.baseline",
                  "\"10\" has no unit after 10; write a duration");
  text = Replace(Sample(), "lag_for = \"60s\"", "lag_for = \"-60s\"");
  ExpectRefusedAt(text, "lag_for", "datastore.lag_for", "is negative");
  text = Replace(Sample(), "rollback_budget = \"5m\"", "rollback_budget = \"0s\"");
  ExpectRefusedAt(text, "rollback_budget", "rollback_budget", "must be longer than 0s");
  text = Replace(Sample(), "latency_slack = \"5ms\"", "latency_slack = \"0.5ms\"");
  ExpectRefusedAt(text, "latency_slack", "traffic.latency_slack", "whole number of milliseconds");
}

TEST(Plan, StepsMustIncreaseWithinOneToHundred) {
  std::string text = Replace(Sample(), "steps = [5, 25, 50, 75, 100]", "steps = [5, 50, 25, 100]");
  EXPECT_EQ(RefusalMessage(text),
            "shop.toml:" + std::to_string(LineOf(text, "steps")) +
                ": traffic.steps: the steps must increase (25 follows 50); write e.g. [5, 25, 50, "
                "75, 100]");
  text = Replace(Sample(), "steps = [5, 25, 50, 75, 100]", "steps = [5, 5, 100]");
  ExpectRefusedAt(text, "steps", "traffic.steps", "(5 follows 5)");
  text = Replace(Sample(), "steps = [5, 25, 50, 75, 100]", "steps = [0, 100]");
  ExpectRefusedAt(text, "steps", "traffic.steps", "from 1 to 100 (0 is not)");
  text = Replace(Sample(), "steps = [5, 25, 50, 75, 100]", "steps = [50, 101]");
  ExpectRefusedAt(text, "steps", "traffic.steps", "from 1 to 100 (101 is not)");
  text = Replace(Sample(), "steps = [5, 25, 50, 75, 100]", "steps = []");
  ExpectRefusedAt(text, "steps", "traffic.steps", "is empty");
}

TEST(Plan, ServerListsMustBeNonEmptyDistinctAndDisjoint) {
  std::string text = Replace(Sample(), "new = [\"app-new-1\"]", "new = []");
  ExpectRefusedAt(text, "new = []", "traffic.new", "is empty");
  text = Replace(Sample(), "old = [\"app-old-1\", \"app-old-2\"]",
                 "old = [\"app-old-1\", \"app-old-1\"]");
  ExpectRefusedAt(text, "app-old-1\", \"app-old-1", "traffic.old", "\"app-old-1\" is listed twice");
  text = Replace(Sample(), "new = [\"app-new-1\"]", "new = [\"app-new-1\", \"app-old-2\"]");
  ExpectRefusedAt(text, "app-new-1\", \"app-old-2", "traffic.new",
                  "\"app-old-2\" is also in traffic.old");
  text = Replace(Sample(), "backend = \"app\"\n", "");
  ExpectRefusedAt(text, "[traffic]", "traffic.backend", "missing; add backend = \"app\"");
}

TEST(Plan, DuplicateDatastoreNamesAreRefused) {
  const std::string second = R"(
[[datastore]]
name = "orders"
source = "postgres://tandem@10.0.0.6/shop"
target = "postgres://tandem@10.0.1.6/shop"
)";
  const std::string text = Replace(Sample(), "\n[traffic]", second + "\n[traffic]");
  const std::string message = RefusalMessage(text);
  const int first_line = LineOf(text, "[[datastore]]                        #");
  const int second_line = LineOf(text, "10.0.0.6") - 1;  // the second [[datastore]]'s name
  EXPECT_EQ(message.rfind("shop.toml:" + std::to_string(second_line) + ": datastore.name: ", 0), 0u)
      << message;
  EXPECT_NE(message.find("already the name of the datastore at line " + std::to_string(first_line)),
            std::string::npos)
      << message;
}

TEST(Plan, BadUrisAndMixedEnginesAreRefused) {
  std::string text =
      Replace(Sample(), "mysql://tandem@10.0.0.5:3306/shop", "oracle://tandem@10.0.0.5:1521/shop");
  ExpectRefusedAt(text, "oracle://", "datastore.source", "unknown scheme 'oracle'");
  text = Replace(Sample(), "mysql://tandem@10.0.1.5:3306/shop", "mysql://tandem@10.0.1.5:0/shop");
  ExpectRefusedAt(text, "10.0.1.5:0", "datastore.target", "port '0'");
  text = Replace(Sample(), "mysql://tandem@10.0.1.5:3306/shop",
                 "postgres://tandem@10.0.1.5:5432/shop");
  ExpectRefusedAt(text, "postgres://", "datastore.target",
                  "the target is a postgres server but the source is mysql");
  text = Replace(Sample(), "source = \"mysql://tandem@10.0.0.5:3306/shop\"\n", "");
  ExpectRefusedAt(text, "[[datastore]]", "datastore.source", "missing; add source = ");
}

TEST(Plan, ApproveMustNamePhases) {
  const std::string text =
      Replace(Sample(), "approve = [\"cutover\"]", "approve = [\"cutover\", \"cutovr\"]");
  ExpectRefusedAt(text, "cutovr", "approve",
                  "\"cutovr\" is not a phase; the phases are assessment, provisioning, sync, "
                  "traffic, cutover, monitor");
}

TEST(Plan, NameMustBeGivenAndSafe) {
  std::string text = Replace(Sample(), "name = \"shop\"", "name = \"my shop\"");
  ExpectRefusedAt(text, "my shop", "name", "must be letters, digits");
  text = Replace(Sample(), "name = \"shop\"", "name = \"../shop\"");
  ExpectRefusedAt(text, "../shop", "name", "must be letters, digits");
  text = Replace(Sample(), "name = \"shop\"", "");
  EXPECT_EQ(RefusalMessage(text).rfind("shop.toml: name: missing; add name = \"shop\"", 0), 0u)
      << RefusalMessage(text);
  text = Replace(Sample(), "name = \"orders\"", "name = \"or/ders\"");
  ExpectRefusedAt(text, "or/ders", "datastore.name", "must be letters, digits");
}

TEST(Plan, PlanThatDoesNothingIsRefused) {
  auto plan = ParsePlan("name = \"idle\"\n[monitor]\nwindow = \"1h\"\n", "shop.toml");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message(),
            "shop.toml: datastore: the plan does nothing: add a [[datastore]] or a [traffic] "
            "section (see DESIGN.md, \"The plan file\")");
}

TEST(Plan, ProbesMustBeHttpUrls) {
  std::string text = Replace(Sample(), "http://10.0.1.7/health", "https://10.0.1.7/health");
  ExpectRefusedAt(text, "https://", "traffic.probes", "is not an http:// URL");
  text = Replace(Sample(), "http://10.0.1.7/health", "http:///health");
  ExpectRefusedAt(text, "http:///", "traffic.probes", "is not an http:// URL");
}

TEST(Plan, AddressesMustBeHostAndPort) {
  std::string text = Replace(Sample(), "log = \"127.0.0.1:5140\"", "log = \"127.0.0.1\"");
  ExpectRefusedAt(text, "log = ", "traffic.log", "\"127.0.0.1\" has no port");
  text = Replace(Sample(), "haproxy = \"/run/haproxy/admin.sock\"", "haproxy = \"lb:99999\"");
  ExpectRefusedAt(text, "lb:99999", "traffic.haproxy", "port that is not a number");
  text = Replace(Sample(), "server = \"10.0.0.53:53\"", "server = \"10.0.0.53\"");
  ExpectRefusedAt(text, "server = ", "dns.server", "has no port");
  text = Replace(Sample(), "\"10.0.0.54:53\"", "\"10.0.0.54\"");
  ExpectRefusedAt(text, "10.0.0.54", "dns.resolvers", "has no port");
  text = Replace(Sample(), "address = \"198.51.100.10:443\"", "address = \"[::1]\"");
  ExpectRefusedAt(text, "[::1]", "dns.tls.address", "has no port");
  // DNS servers are asked by address, and the TLS check must reach the new address, not where
  // the name points before the switch.
  text = Replace(Sample(), "server = \"10.0.0.53:53\"", "server = \"ns1.example.com:53\"");
  ExpectRefusedAt(text, "server = ", "dns.server", "names the host ns1.example.com, not an IP");
  text = Replace(Sample(), "\"10.0.0.54:53\"", "\"ns2.example.com:53\"");
  ExpectRefusedAt(text, "ns2.example.com", "dns.resolvers", "not an IP address");
  text = Replace(Sample(), "address = \"198.51.100.10:443\"", "address = \"www.example.com:443\"");
  ExpectRefusedAt(text, "www.example.com:443", "dns.tls.address", "not an IP address");
  EXPECT_TRUE(ParsePlan(Replace(Sample(), "address = \"198.51.100.10:443\"",
                                "address = \"[2001:db8::1]:443\""),
                        "shop.toml")
                  .ok());
  // A socket path and a bracketed IPv6 address are fine.
  EXPECT_TRUE(
      ParsePlan(Replace(Sample(), "log = \"127.0.0.1:5140\"", "log = \"[::1]:5140\""), "shop.toml")
          .ok());
}

TEST(Plan, RatiosMustBeInRange) {
  std::string text =
      Replace(Sample(), "max_error_rate_increase = 0.001", "max_error_rate_increase = 1.5");
  ExpectRefusedAt(text, "max_error_rate_increase", "traffic.max_error_rate_increase",
                  "from 0 to 1");
  text = Replace(Sample(), "max_latency_increase = 0.10", "max_latency_increase = -0.1");
  ExpectRefusedAt(text, "max_latency_increase", "traffic.max_latency_increase", "0 or more");
  text = Replace(Sample(), "max_latency_increase = 0.10", "max_latency_increase = nan");
  ExpectRefusedAt(text, "max_latency_increase", "traffic.max_latency_increase", "0 or more");
  text = Replace(Sample(), "min_requests = 500", "min_requests = 0");
  ExpectRefusedAt(text, "min_requests", "traffic.min_requests", "at least 1");
  // An integer is a fine ratio.
  EXPECT_TRUE(
      ParsePlan(Replace(Sample(), "max_latency_increase = 0.10", "max_latency_increase = 1"),
                "shop.toml")
          .ok());
}

TEST(Plan, DnsNamesRecordsAndTtlAreChecked) {
  std::string text = Replace(Sample(), "zone = \"example.com.\"", "zone = \"example.com\"");
  ExpectRefusedAt(text, "zone = ", "dns.zone", "end it with '.'");
  text = Replace(Sample(), "name = \"www.example.com.\"", "name = \"www.example.com\"");
  ExpectRefusedAt(text, "name = \"www.example.com\"", "dns.records.name", "end it with '.'");
  text = Replace(Sample(), "name = \"www.example.com.\"", "name = \"www.example.org.\"");
  ExpectRefusedAt(text, "www.example.org.", "dns.records.name", "is not in the zone");
  text = Replace(Sample(), "type = \"A\"", "type = \"MX\"");
  ExpectRefusedAt(text, "\"MX\"", "dns.records.type", "write A, AAAA or CNAME");
  text = Replace(Sample(), "new = \"198.51.100.10\"", "new = \"198.51.100\"");
  ExpectRefusedAt(text, "\"198.51.100\"", "dns.records.new", "is not an IPv4 address");
  text = Replace(Sample(), "new = \"new-lb.example.com.\"", "new = \"new-lb.example.com\"");
  ExpectRefusedAt(text, "new-lb.example.com\"", "dns.records.new", "fully qualified");
  text = Replace(Sample(), "ttl = 60", "ttl = 0");
  ExpectRefusedAt(text, "ttl = 0", "dns.ttl", "from 1 to 2147483647");
  text = Replace(Sample(), "  { name = \"api.example.com.\"",
                 "  { name = \"www.example.com.\", type = \"A\", old = \"192.0.2.11\", new = "
                 "\"198.51.100.11\" },\n  { name = \"api.example.com.\"");
  ExpectRefusedAt(text, "192.0.2.11", "dns.records", "is listed twice");
  text = Replace(Sample(), "records = [", "recordz = [");
  EXPECT_NE(RefusalMessage(text).find("dns.recordz: unknown key"), std::string::npos);
}

TEST(Plan, AaaaRecordsHoldIpv6Addresses) {
  const std::string aaaa =
      Replace(Sample(), "type = \"A\", old = \"192.0.2.10\", new = \"198.51.100.10\"",
              "type = \"AAAA\", old = \"2001:db8::10\", new = \"2001:db8:1::10\"");
  auto plan = ParsePlan(aaaa, "shop.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->dns->records[0].type, "AAAA");
  EXPECT_EQ(plan->dns->records[0].new_value, "2001:db8:1::10");
  ExpectRefusedAt(Replace(aaaa, "\"2001:db8::10\"", "\"192.0.2.10\""), "192.0.2.10",
                  "dns.records.old", "is not an IPv6 address");
}

TEST(Plan, TsigIsChecked) {
  std::string text = Replace(Sample(), "hmac-sha256:keyname:BASE64SECRET", "hmac-md5:keyname:QUJD");
  ExpectRefusedAt(text, "hmac-md5", "dns.tsig", "\"hmac-md5\", which tandem does not sign with");
  // ldns 1.8 cannot sign hmac-sha384 under its standard name: refused here, not at cutover.
  text = Replace(Sample(), "hmac-sha256:keyname:BASE64SECRET", "hmac-sha384:keyname:QUJD");
  ExpectRefusedAt(text, "hmac-sha384", "dns.tsig", "\"hmac-sha384\", which tandem does not sign");
  text = Replace(Sample(), "hmac-sha256:keyname:BASE64SECRET", "hmac-sha256:keyname:not*base64");
  ExpectRefusedAt(text, "hmac-sha256", "dns.tsig", "secret that is not base64");
  EXPECT_EQ(RefusalMessage(text).find("not*base64"), std::string::npos);
  text = Replace(Sample(), "hmac-sha256:keyname:BASE64SECRET", "keyname");
  ExpectRefusedAt(text, "tsig = ", "dns.tsig", "is not algorithm:name:secret");
  text = Replace(Sample(), "tsig = \"hmac-sha256:keyname:BASE64SECRET\"",
                 "tsig = \"hmac-sha256:keyname:BASE64SECRET\"\ntsig_file = \"key.tsig\"");
  ExpectRefusedAt(text, "tsig_file = \"key.tsig\"", "dns.tsig_file",
                  "tsig and tsig_file are both set");
  text = Replace(Sample(), "tsig = \"hmac-sha256:keyname:BASE64SECRET\"", "");
  ExpectRefusedAt(text, "[dns]", "dns.tsig", "missing; add tsig = ");
  auto sha512 = ParsePlan(
      Replace(Sample(), "hmac-sha256:keyname:BASE64SECRET", "hmac-sha512:k2.:QUJDRA=="), "s");
  ASSERT_TRUE(sha512.ok()) << sha512.status().ToString();
  EXPECT_EQ(sha512->dns->tsig_algorithm, "hmac-sha512");
  EXPECT_EQ(sha512->dns->tsig_key_name, "k2.");
  EXPECT_EQ(sha512->dns->tsig_secret_base64, "QUJDRA==");
}

TEST(Plan, TsigFileIsReadBesideThePlan) {
  TempDir dir;
  dir.Write("key.tsig", "hmac-sha256:filekey:c2VjcmV0\n");
  const std::string with_file =
      Replace(Sample(), "tsig = \"hmac-sha256:keyname:BASE64SECRET\"", "tsig_file = \"key.tsig\"");
  auto plan = LoadPlan(dir.Write("shop.toml", with_file));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->dns->tsig_algorithm, "hmac-sha256");
  EXPECT_EQ(plan->dns->tsig_key_name, "filekey");
  EXPECT_EQ(plan->dns->tsig_secret_base64, "c2VjcmV0");

  const std::string absolute = Replace(Sample(), "tsig = \"hmac-sha256:keyname:BASE64SECRET\"",
                                       "tsig_file = \"" + dir.path() + "/key.tsig\"");
  EXPECT_TRUE(ParsePlan(absolute, "elsewhere/shop.toml").ok());

  const std::string missing =
      Replace(Sample(), "tsig = \"hmac-sha256:keyname:BASE64SECRET\"", "tsig_file = \"gone.tsig\"");
  const std::string missing_path = dir.Write("missing.toml", missing);
  auto refused = LoadPlan(missing_path);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            missing_path + ":" + std::to_string(LineOf(missing, "gone.tsig")) +
                ": dns.tsig_file: cannot read \"" + dir.path() +
                "/gone.tsig\": No such file or directory; give a readable file holding one line "
                "algorithm:name:base64secret");

  dir.Write("bad.tsig", "hmac-sha256:filekey:c2VjcmV0\nsecond line\n");
  const std::string bad =
      Replace(Sample(), "tsig = \"hmac-sha256:keyname:BASE64SECRET\"", "tsig_file = \"bad.tsig\"");
  auto two_lines = LoadPlan(dir.Write("bad.toml", bad));
  ASSERT_FALSE(two_lines.ok());
  EXPECT_NE(two_lines.status().message().find("more than one line"), std::string::npos);
  EXPECT_EQ(two_lines.status().message().find("c2VjcmV0"), std::string::npos);
}

TEST(Plan, FirstProblemInFileOrderWins) {
  // [traffic] before [[datastore]] in the file: its problem is reported, though the reader looks
  // at datastores first.
  const std::string text = R"(name = "x"
[traffic]
haproxy = "/run/haproxy.sock"
backend = "app"
old = ["a"]
new = ["b"]
dwell = "forever"

[[datastore]]
name = "d"
source = "mysql://u@h/d"
target = "mysql://u@h2/d"
lag_for = "1y"
)";
  ExpectRefusedAt(text, "dwell", "traffic.dwell", "\"forever\"");
  // Two problems on one line: the leftmost.
  const std::string one_line = Replace(
      Sample(), "writer = { haproxy_backend = \"orders_db\", old = \"old\", new = \"new\" }",
      "writer = { haproxy_backend = 1, old = 2, new = \"new\" }");
  ExpectRefusedAt(one_line, "haproxy_backend = 1", "datastore.writer.haproxy_backend",
                  "expected a string");
}

TEST(Plan, MissingKeySortsAfterTheTablesContents) {
  // backend is missing from [traffic]: a problem inside the table comes first; one in a later
  // table comes after; the missing key is reported at the table's header.
  const std::string without_backend = Replace(Sample(), "backend = \"app\"\n", "");
  const std::string bad_dwell = Replace(without_backend, "dwell = \"30m\"", "dwell = \"30\"");
  ExpectRefusedAt(bad_dwell, "dwell = ", "traffic.dwell", "has no unit");
  const std::string bad_ttl = Replace(without_backend, "ttl = 60", "ttl = -1");
  ExpectRefusedAt(bad_ttl, "[traffic]", "traffic.backend", "missing; add backend = \"app\"");
}

TEST(Plan, DatastoresMustBeAnArrayOfTables) {
  const std::string traffic_only = R"(name = "web"
datastore = []
[traffic]
haproxy = "127.0.0.1:9999"
backend = "app"
old = ["a"]
new = ["b"]
)";
  auto plan = ParsePlan(traffic_only, "web.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->datastores.empty());
  ExpectRefusedAt(Replace(traffic_only, "datastore = []", "datastore = [1]"), "datastore = [1]",
                  "datastore", "expected an array of tables, found an integer in it");
  ExpectRefusedAt(Replace(Sample(), "[[datastore]]  ", "[datastore]    "), "[datastore]",
                  "datastore", "expected an array of tables, found a table");
}

TEST(Plan, PasswordsNeverAppear) {
  const std::string secret(kPassword);
  const std::string source_uri = "mysql://tandem:" + secret + "@10.0.0.5:3306/shop";
  const std::string with_password =
      Replace(Sample(), "mysql://tandem@10.0.0.5:3306/shop", source_uri);

  auto plan = ParsePlan(with_password, "shop.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->datastores[0].source.password, secret);
  EXPECT_EQ(plan->datastores[0].source_uri_redacted, "mysql://tandem:***@10.0.0.5:3306/shop");
  EXPECT_EQ(plan->datastores[0].source.Redacted().find(secret), std::string::npos);

  // Each of these is refused; none may show the password or a piece of it.
  const std::vector<std::string> refused = {
      Replace(with_password, source_uri, "mysql://tandem:" + secret + "@10.0.0.5:99999/shop"),
      Replace(with_password, source_uri, "mysql://tandem:" + secret + "@10.0.0.5/shop?x=1"),
      Replace(with_password, source_uri, "mysql://tandem:Sup3r/SecretPw@10.0.0.5/shop"),
      Replace(with_password, source_uri, "mysql://tandem:" + secret),
      Replace(with_password, source_uri, "oracle://tandem:" + secret + "@h/shop"),
      Replace(with_password, "mysql://tandem@10.0.1.5:3306/shop",
              "postgres://tandem:" + secret + "@10.0.1.5/shop"),
      Replace(with_password, source_uri + "\"", source_uri),  // unterminated string
      Replace(with_password, "dwell = \"30m\"", "dwell = \"30\""),
  };
  for (const std::string& text : refused) {
    const std::string message = RefusalMessage(text);
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_EQ(message.find("Sup3r"), std::string::npos) << message;
    EXPECT_EQ(message.find("SecretPw"), std::string::npos) << message;
  }
}

TEST(Plan, PasswordFromTheEnvironmentIsUsedAndNotShown) {
  const std::string secret(kPassword);
  ASSERT_EQ(setenv("TANDEM_TARGET_PASSWORD", secret.c_str(), 1), 0);
  auto plan = ParsePlan(kDesignSample, "shop.toml");
  unsetenv("TANDEM_TARGET_PASSWORD");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->datastores[0].target.password, secret);
  EXPECT_EQ(plan->datastores[0].target_uri_redacted.find(secret), std::string::npos);
  EXPECT_EQ(plan->datastores[0].target.Redacted().find(secret), std::string::npos);
}

// The DNS switch moves clients only after the writes moved: a datastore with a `writer` gets a
// phase-5 step "writes <name>" before the "dns switch".
TEST(RunSteps, TheDnsSwitchFollowsTheWriteCutoverOfDatastoresWithAWriter) {
  auto with_writer = ParsePlan(kDesignSample, "shop.toml");
  ASSERT_TRUE(with_writer.ok()) << with_writer.status().ToString();
  const std::vector<RunStep> cutover = ExpandPlan(*with_writer);
  ASSERT_GE(cutover.size(), 3u);
  const RunStep& writes = cutover[cutover.size() - 3];
  EXPECT_EQ(writes.kind, StepKind::kWrites);
  EXPECT_EQ(writes.phase, Phase::kCutover);
  EXPECT_EQ(writes.name, "writes orders");
  EXPECT_NE(writes.action.find("take old out of HAProxy backend orders_db"), std::string::npos)
      << writes.action;
  EXPECT_EQ(cutover[cutover.size() - 2].kind, StepKind::kDnsSwitch);
  // The sample has [monitor]: phase 6 watches for 72h, with the reverse stream running.
  const RunStep& watch = cutover.back();
  EXPECT_EQ(watch.kind, StepKind::kMonitor);
  EXPECT_EQ(watch.phase, Phase::kMonitor);
  EXPECT_EQ(watch.name, "monitor");
  EXPECT_NE(watch.action.find("for 72h, keep the reverse streams (orders)"), std::string::npos)
      << watch.action;
  EXPECT_NE(watch.action.find("verify new against old every 1h"), std::string::npos)
      << watch.action;
  EXPECT_EQ(NotRunNote(*with_writer), "");
  // Without [monitor], phase 6 does not run and the dry run says what that leaves.
  auto no_monitor =
      ParsePlan(Replace(Replace(Sample(), "[monitor]", ""), "window = \"72h\"", ""), "shop.toml");
  ASSERT_TRUE(no_monitor.ok()) << no_monitor.status().ToString();
  const std::vector<RunStep> unmonitored = ExpandPlan(*no_monitor);
  EXPECT_EQ(unmonitored.back().kind, StepKind::kDnsSwitch);
  const std::string dry = DescribeSteps(*no_monitor, unmonitored);
  EXPECT_NE(dry.find("the reverse streams (orders) included"), std::string::npos) << dry;

  auto without = ParsePlan(
      Replace(Sample(),
              "writer = { haproxy_backend = \"orders_db\", old = \"old\", new = \"new\" }", ""),
      "shop.toml");
  ASSERT_TRUE(without.ok()) << without.status().ToString();
  const std::vector<RunStep> steps = ExpandPlan(*without);
  ASSERT_GE(steps.size(), 2u);
  const RunStep& dns_switch = steps[steps.size() - 2];
  EXPECT_EQ(dns_switch.kind, StepKind::kDnsSwitch);
  EXPECT_EQ(dns_switch.phase, Phase::kCutover);
  EXPECT_NE(dns_switch.action.find("www.example.com. A 192.0.2.10 -> 198.51.100.10"),
            std::string::npos)
      << dns_switch.action;
  EXPECT_NE(dns_switch.gate.find("rollback budget of 5m"), std::string::npos) << dns_switch.gate;
  EXPECT_NE(steps.back().action.find("for 72h, keep the streams running"), std::string::npos)
      << steps.back().action;
}

}  // namespace
}  // namespace tandem::orchestration
