// The HAProxy runtime API client and the traffic-weight arithmetic against a real HAProxy in
// front of three test backends (2 old, 1 new), with a paced load generator measuring who serves.

#include "orchestration/haproxy_runtime.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "orchestration/traffic_weights.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/haproxy_server.h"
#include "tests/harness/http_load.h"
#include "tests/harness/test_http_backend.h"
#include "tests/harness/wait.h"

namespace tandem::orchestration {
namespace {

using engine::StatusCode;
using testing::HaproxyServer;
using testing::HttpLoad;
using testing::HttpLoadCounts;
using testing::HttpLoadOptions;
using testing::TestHttpBackend;

const std::vector<std::string> kOldServers = {"app-old-1", "app-old-2"};
const std::vector<std::string> kNewServers = {"app-new-1"};

// One HAProxy and its three backends for the whole suite (starting them costs ~0.5 s); every test
// sets the weights it needs first.
class HaproxyRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("haproxy-runtime");
    testing::HaproxyBackendSpec app{"app", {}};
    for (const auto* names : {&kOldServers, &kNewServers}) {
      for (const std::string& name : *names) {
        auto backend = std::make_unique<TestHttpBackend>(name);
        backend->Start();
        app.servers.push_back({name, backend->address(), 1});
        backends_.push_back(std::move(backend));
      }
    }
    testing::HaproxyOptions options;
    options.http_backends = {app};
    options.user_socket = true;
    options.admin_tcp_socket = true;
    haproxy_ = HaproxyServer::Start(dir_->path(), options).release();
  }

  static void TearDownTestSuite() {
    // HAProxy first, so the backends' keep-alive connections close at once.
    delete haproxy_;
    haproxy_ = nullptr;
    backends_.clear();
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(haproxy_, nullptr);
    SetAllWeights(1);
  }

  static HaproxyRuntime Admin() { return HaproxyRuntime(haproxy_->admin_socket_path()); }

  static void SetAllWeights(int64_t weight) {
    for (const auto* names : {&kOldServers, &kNewServers}) {
      for (const std::string& name : *names) {
        ASSERT_TRUE(Admin().SetWeight("app", name, weight).ok());
      }
    }
  }

  static HttpLoadOptions LoadOptions(double requests_per_second, int threads = 8) {
    HttpLoadOptions options;
    options.port = haproxy_->frontend_port("app");
    options.threads = threads;
    options.requests_per_second = requests_per_second;
    return options;
  }

  static int64_t TotalResponses(const std::vector<HaproxyServerStats>& servers) {
    int64_t total = 0;
    for (const HaproxyServerStats& server : servers) {
      total += server.responses();
    }
    return total;
  }

  // A field of the FRONTEND line of fe_<backend> in `show stat`, by column name.
  static int64_t FrontendCounter(const std::string& backend, const std::string& column) {
    std::istringstream csv(haproxy_->AdminCommand("show stat -1 1 -1"));
    std::string line;
    std::getline(csv, line);
    auto split = [](const std::string& text) {
      std::vector<std::string> fields;
      std::stringstream stream(text);
      std::string field;
      while (std::getline(stream, field, ',')) {
        fields.push_back(field);
      }
      return fields;
    };
    const std::vector<std::string> header = split(line.substr(2));  // "# pxname,..."
    const size_t column_index = std::find(header.begin(), header.end(), column) - header.begin();
    EXPECT_LT(column_index, header.size()) << "no column " << column;
    while (std::getline(csv, line)) {
      const std::vector<std::string> fields = split(line);
      if (fields.size() > column_index && fields[0] == "fe_" + backend && fields[1] == "FRONTEND") {
        return std::stoll(fields[column_index]);
      }
    }
    ADD_FAILURE() << "no FRONTEND line for fe_" << backend;
    return -1;
  }

  static testing::TempDir* dir_;
  static std::vector<std::unique_ptr<TestHttpBackend>> backends_;
  static HaproxyServer* haproxy_;
};

testing::TempDir* HaproxyRuntimeTest::dir_ = nullptr;
std::vector<std::unique_ptr<TestHttpBackend>> HaproxyRuntimeTest::backends_;
HaproxyServer* HaproxyRuntimeTest::haproxy_ = nullptr;

TEST_F(HaproxyRuntimeTest, ShowStatListsTheServersWithCountersThatGrowUnderLoad) {
  auto before = Admin().ShowStat("app");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  std::set<std::string> names;
  for (const HaproxyServerStats& server : *before) {
    EXPECT_EQ(server.backend, "app");
    EXPECT_EQ(server.weight, 1);
    EXPECT_EQ(server.status, "no check");
    names.insert(server.server);
  }
  EXPECT_EQ(names, (std::set<std::string>{"app-old-1", "app-old-2", "app-new-1"}));

  HttpLoad load(LoadOptions(300));
  load.Start();
  ASSERT_TRUE(load.WaitForResponses(300, std::chrono::seconds(10))) << load.Snapshot().ToString();
  load.Stop();
  const HttpLoadCounts counts = load.Snapshot();
  EXPECT_EQ(counts.errors, 0) << counts.ToString();
  EXPECT_EQ(counts.status_2xx, counts.responses) << counts.ToString();

  // HAProxy counts a response before the client reads it, so once the load has stopped the
  // counters have grown by exactly the responses the load received.
  std::vector<HaproxyServerStats> after;
  ASSERT_TRUE(testing::PollUntil(std::chrono::seconds(5), [&] {
    auto stats = Admin().ShowStat("app");
    if (!stats.ok()) {
      return false;
    }
    after = *stats;
    return TotalResponses(after) - TotalResponses(*before) >= counts.responses;
  }));
  EXPECT_EQ(TotalResponses(after) - TotalResponses(*before), counts.responses);
  for (const HaproxyServerStats& server : after) {
    auto previous = std::find_if(before->begin(), before->end(),
                                 [&](const auto& s) { return s.server == server.server; });
    ASSERT_NE(previous, before->end());
    EXPECT_GT(server.http_2xx, previous->http_2xx) << server.server;
    EXPECT_EQ(server.http_5xx, previous->http_5xx) << server.server;
    // Equal weights, round robin: each server took about a third.
    EXPECT_NEAR(static_cast<double>(server.http_2xx - previous->http_2xx), counts.responses / 3.0,
                counts.responses * 0.05 + 2)
        << server.server;
    EXPECT_EQ(server.http_2xx - previous->http_2xx, counts.by_backend.at(server.server))
        << server.server;
  }
}

TEST_F(HaproxyRuntimeTest, ShowStatWorksOverTheTcpAdminSocket) {
  HaproxyRuntime tcp(haproxy_->admin_tcp_address());
  auto stats = tcp.ShowStat("app");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->size(), 3u);
  auto weight = tcp.GetWeight("app", "app-new-1");
  ASSERT_TRUE(weight.ok()) << weight.status().ToString();
  EXPECT_EQ(*weight, 1);
}

TEST_F(HaproxyRuntimeTest, SetWeightThenGetWeightRoundTrips) {
  const HaproxyRuntime admin = Admin();
  for (int64_t weight : {7, 0, 256, 1}) {
    ASSERT_TRUE(admin.SetWeight("app", "app-new-1", weight).ok());
    auto read = admin.GetWeight("app", "app-new-1");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, weight);
  }
  ASSERT_TRUE(admin.SetWeight("app", "app-old-2", 42).ok());
  auto stats = admin.ShowStat("app");
  ASSERT_TRUE(stats.ok());
  for (const HaproxyServerStats& server : *stats) {
    EXPECT_EQ(server.weight, server.server == "app-old-2" ? 42 : 1) << server.server;
  }
}

TEST_F(HaproxyRuntimeTest, WeightOutsideHaproxysRangeIsInvalidArgument) {
  engine::Status status = Admin().SetWeight("app", "app-new-1", 257);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("0..256"), std::string::npos) << status.message();
  status = Admin().SetWeight("app", "app-new-1", -1);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
}

TEST_F(HaproxyRuntimeTest, UnknownBackendOrServerIsNotFound) {
  const HaproxyRuntime admin = Admin();
  auto weight = admin.GetWeight("no-such-backend", "app-old-1");
  EXPECT_EQ(weight.status().code(), StatusCode::kNotFound) << weight.status().ToString();
  EXPECT_NE(weight.status().message().find("no-such-backend"), std::string::npos);

  weight = admin.GetWeight("app", "no-such-server");
  EXPECT_EQ(weight.status().code(), StatusCode::kNotFound) << weight.status().ToString();
  EXPECT_NE(weight.status().message().find("no-such-server"), std::string::npos);

  engine::Status status = admin.SetWeight("app", "no-such-server", 3);
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  status = admin.SetWeight("no-such-backend", "app-old-1", 3);
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  status = admin.SetServerState("app", "no-such-server", "drain");
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  status = admin.ShutdownSessions("app", "no-such-server");
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();

  auto stats = admin.ShowStat("no-such-backend");
  EXPECT_EQ(stats.status().code(), StatusCode::kNotFound) << stats.status().ToString();
  EXPECT_NE(stats.status().message().find("no-such-backend"), std::string::npos);

  auto algorithm = admin.BalanceAlgorithm("no-such-backend");
  EXPECT_EQ(algorithm.status().code(), StatusCode::kNotFound) << algorithm.status().ToString();
}

TEST_F(HaproxyRuntimeTest, BalanceAlgorithmIsTheBackendsBalanceLine) {
  auto algorithm = Admin().BalanceAlgorithm("app");
  ASSERT_TRUE(algorithm.ok()) << algorithm.status().ToString();
  EXPECT_EQ(*algorithm, "roundrobin");
}

TEST_F(HaproxyRuntimeTest, MissingSocketIsConnectionFailedNamingThePath) {
  const std::string path = dir_->path() + "/no-such-admin.sock";
  auto reply = HaproxyRuntime(path).Execute("show info");
  EXPECT_EQ(reply.status().code(), StatusCode::kConnectionFailed) << reply.status().ToString();
  EXPECT_NE(reply.status().message().find(path), std::string::npos) << reply.status().message();
  EXPECT_NE(reply.status().message().find("stats socket"), std::string::npos);
  EXPECT_EQ(reply.status().message().find('\n'), std::string::npos);

  // Nothing listens on a port that was just free.
  const std::string address = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  auto weight = HaproxyRuntime(address).GetWeight("app", "app-new-1");
  EXPECT_EQ(weight.status().code(), StatusCode::kConnectionFailed) << weight.status().ToString();
  EXPECT_NE(weight.status().message().find(address), std::string::npos);

  auto bad = HaproxyRuntime("localhost").Execute("show info");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
}

TEST_F(HaproxyRuntimeTest, SocketThatNeverAnswersIsTimeout) {
  // A listening unix socket nobody accepts on: the connect succeeds (backlog), the reply never
  // comes.
  const std::string path = dir_->path() + "/silent.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  const auto start = std::chrono::steady_clock::now();
  auto reply = HaproxyRuntime(path, std::chrono::milliseconds(300)).Execute("show info");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(reply.status().code(), StatusCode::kTimeout) << reply.status().ToString();
  EXPECT_NE(reply.status().message().find(path), std::string::npos);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(HaproxyRuntimeTest, UserLevelSocketRefusesSetWeightAsPermissionDenied) {
  const HaproxyRuntime user(haproxy_->user_socket_path());
  engine::Status status = user.SetWeight("app", "app-new-1", 5);
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_NE(status.message().find("level admin"), std::string::npos) << status.message();
  // Reading is allowed at level user, and the refused write changed nothing.
  auto weight = user.GetWeight("app", "app-new-1");
  ASSERT_TRUE(weight.ok()) << weight.status().ToString();
  EXPECT_EQ(*weight, 1);
}

TEST_F(HaproxyRuntimeTest, UnknownCommandIsFailedPrecondition) {
  auto reply = Admin().Execute("frobnicate everything");
  EXPECT_EQ(reply.status().code(), StatusCode::kFailedPrecondition) << reply.status().ToString();
  EXPECT_EQ(reply.status().message().find('\n'), std::string::npos);
  auto multi = Admin().Execute("show info\nshow stat");
  EXPECT_EQ(multi.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(HaproxyRuntimeTest, ServerStatesAndSessionShutdown) {
  const HaproxyRuntime admin = Admin();
  auto status_of = [&](const std::string& server) -> std::string {
    auto stats = admin.ShowStat("app");
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    for (const HaproxyServerStats& s : stats.ok() ? *stats : std::vector<HaproxyServerStats>{}) {
      if (s.server == server) {
        return s.status;
      }
    }
    return "(absent)";
  };
  ASSERT_TRUE(admin.SetServerState("app", "app-old-2", "maint").ok());
  EXPECT_EQ(status_of("app-old-2"), "MAINT");
  ASSERT_TRUE(admin.SetServerState("app", "app-old-2", "drain").ok());
  EXPECT_EQ(status_of("app-old-2"), "DRAIN");
  ASSERT_TRUE(admin.SetServerState("app", "app-old-2", "ready").ok());
  EXPECT_EQ(status_of("app-old-2"), "no check");
  engine::Status bad = admin.SetServerState("app", "app-old-2", "sleeping");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.ToString();
  EXPECT_TRUE(admin.ShutdownSessions("app", "app-old-2").ok());
}

// The must-show: the weights WeightsForShare computes steer the measured share of real
// requests within 3 percentage points.
TEST_F(HaproxyRuntimeTest, WeightsForShareSteersTheMeasuredShare) {
  const HaproxyRuntime admin = Admin();
  HttpLoad load(LoadOptions(400));
  load.Start();
  for (int share : {5, 25, 50, 75, 100}) {
    SCOPED_TRACE("share " + std::to_string(share) + "%");
    const TrafficWeights weights = WeightsForShare(share, kOldServers, kNewServers);
    EXPECT_DOUBLE_EQ(weights.achieved_percent, share);
    for (const auto* side : {&weights.old_servers, &weights.new_servers}) {
      for (const ServerWeight& server : *side) {
        ASSERT_TRUE(admin.SetWeight("app", server.server, server.weight).ok());
      }
    }
    for (const auto* side : {&weights.old_servers, &weights.new_servers}) {
      for (const ServerWeight& server : *side) {
        auto read = admin.GetWeight("app", server.server);
        ASSERT_TRUE(read.ok()) << read.status().ToString();
        EXPECT_EQ(*read, server.weight) << server.server;
      }
    }
    // Let requests sent before the change (at most one per load thread) finish first.
    const int64_t settled = load.Snapshot().responses + 8;
    ASSERT_TRUE(load.WaitForResponses(settled, std::chrono::seconds(5)));
    const HttpLoadCounts start = load.Snapshot();
    // ~3 s at 400 requests/s.
    ASSERT_TRUE(load.WaitForResponses(start.responses + 1200, std::chrono::seconds(15)))
        << (load.Snapshot() - start).ToString();
    const HttpLoadCounts window = load.Snapshot() - start;
    EXPECT_EQ(window.errors, 0) << window.ToString();
    EXPECT_EQ(window.status_5xx, 0) << window.ToString();
    EXPECT_NEAR(window.PercentFrom(kNewServers), share, 3.0) << window.ToString();
    EXPECT_NEAR(window.PercentFrom(kOldServers), 100 - share, 3.0) << window.ToString();
  }
  load.Stop();
}

// HAProxy balances every request of an HTTP keep-alive connection on its own, so a weight change
// moves the traffic of connections that are already open.
TEST_F(HaproxyRuntimeTest, WeightChangesApplyToOpenKeepAliveConnections) {
  const HaproxyRuntime admin = Admin();
  const int64_t connections_before = FrontendCounter("app", "conn_tot");
  httplib::Client client("127.0.0.1", haproxy_->frontend_port("app"));
  client.set_keep_alive(true);
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::seconds(2));
  auto serve = [&](int requests) {
    std::map<std::string, int> served;
    for (int i = 0; i < requests; ++i) {
      httplib::Result result = client.Get("/");
      if (!result) {
        ADD_FAILURE() << "request " << i << " failed: " << httplib::to_string(result.error());
        break;
      }
      EXPECT_EQ(result->status, 200);
      ++served[result->get_header_value("X-Backend")];
    }
    return served;
  };

  // Equal weights: one connection's requests go round all three servers.
  const std::map<std::string, int> equal = serve(30);
  EXPECT_EQ(equal,
            (std::map<std::string, int>{{"app-new-1", 10}, {"app-old-1", 10}, {"app-old-2", 10}}));

  // Everything to the new server, on the same connection.
  ASSERT_TRUE(admin.SetWeight("app", "app-old-1", 0).ok());
  ASSERT_TRUE(admin.SetWeight("app", "app-old-2", 0).ok());
  EXPECT_EQ(serve(20), (std::map<std::string, int>{{"app-new-1", 20}}));

  // And back to the old ones.
  ASSERT_TRUE(admin.SetWeight("app", "app-old-1", 1).ok());
  ASSERT_TRUE(admin.SetWeight("app", "app-old-2", 1).ok());
  ASSERT_TRUE(admin.SetWeight("app", "app-new-1", 0).ok());
  const std::map<std::string, int> old_only = serve(20);
  EXPECT_EQ(old_only.count("app-new-1"), 0u);
  EXPECT_EQ(old_only, (std::map<std::string, int>{{"app-old-1", 10}, {"app-old-2", 10}}));

  // All of it went over one client connection.
  EXPECT_EQ(FrontendCounter("app", "conn_tot") - connections_before, 1);
}

// The harness's fault injection reaches HAProxy's counters, which the error-rate gate reads.
TEST_F(HaproxyRuntimeTest, BackendFailuresShowAsHaproxy5xxCounters) {
  const HaproxyRuntime admin = Admin();
  TestHttpBackend& new_backend = *backends_.back();
  ASSERT_EQ(new_backend.name(), "app-new-1");
  auto before = admin.ShowStat("app");
  ASSERT_TRUE(before.ok());
  const int64_t served_before = new_backend.requests_served();
  const int64_t failed_before = new_backend.failures_served();
  new_backend.SetFailureRatio(0.2);

  HttpLoad load(LoadOptions(400));
  load.Start();
  ASSERT_TRUE(load.WaitForResponses(600, std::chrono::seconds(10)));
  load.Stop();
  new_backend.SetFailureRatio(0);
  const HttpLoadCounts counts = load.Snapshot();

  const int64_t served = new_backend.requests_served() - served_before;
  const int64_t failed = new_backend.failures_served() - failed_before;
  EXPECT_EQ(counts.by_backend.at("app-new-1"), served) << counts.ToString();
  EXPECT_EQ(counts.by_backend_5xx.at("app-new-1"), failed) << counts.ToString();
  EXPECT_EQ(counts.status_5xx, failed) << counts.ToString();  // only the new server fails
  // The deterministic spread: every run of n requests holds n * 0.2 failures, rounded.
  EXPECT_NEAR(static_cast<double>(failed), served * 0.2, 1.0);

  auto after = admin.ShowStat("app");
  ASSERT_TRUE(after.ok());
  for (size_t i = 0; i < after->size(); ++i) {
    const HaproxyServerStats& server = (*after)[i];
    ASSERT_EQ(server.server, (*before)[i].server);
    const int64_t server_5xx = server.http_5xx - (*before)[i].http_5xx;
    EXPECT_EQ(server_5xx, server.server == "app-new-1" ? failed : 0) << server.server;
  }
}

TEST_F(HaproxyRuntimeTest, ExtraDelaySlowsTheBackendsAnswers) {
  TestHttpBackend& new_backend = *backends_.back();
  ASSERT_TRUE(Admin().SetWeight("app", "app-old-1", 0).ok());
  ASSERT_TRUE(Admin().SetWeight("app", "app-old-2", 0).ok());
  new_backend.SetExtraDelay(std::chrono::milliseconds(80));
  httplib::Client client("127.0.0.1", haproxy_->frontend_port("app"));
  client.set_read_timeout(std::chrono::seconds(2));
  const auto start = std::chrono::steady_clock::now();
  httplib::Result result = client.Get("/");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  new_backend.SetExtraDelay(std::chrono::milliseconds(0));
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "app-new-1");
  EXPECT_GE(elapsed, std::chrono::milliseconds(80));
}

// A second HAProxy with the harness's other options: httplog lines over UDP syslog (what the
// traffic monitor's log thread reads) and a TCP frontend (database writers).
TEST_F(HaproxyRuntimeTest, HarnessSendsHttplogOverUdpAndProxiesTcp) {
  const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(udp, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(udp, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(udp, reinterpret_cast<sockaddr*>(&address), &length), 0);
  timeval receive_timeout{0, 100'000};
  setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));

  testing::HaproxyOptions options;
  options.http_backends = {{"web", {{"web-1", backends_[0]->address(), 1}}}};
  options.tcp_backends = {{"db", {{"db-1", backends_[1]->address(), 1}}}};
  options.log_udp_port = ntohs(address.sin_port);
  auto haproxy = HaproxyServer::Start(dir_->path(), options);

  httplib::Client web("127.0.0.1", haproxy->frontend_port("web"));
  web.set_read_timeout(std::chrono::seconds(2));
  httplib::Result result = web.Get("/some/path");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->body, backends_[0]->name());

  httplib::Client db("127.0.0.1", haproxy->frontend_port("db"));
  db.set_read_timeout(std::chrono::seconds(2));
  result = db.Get("/");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->body, backends_[1]->name());

  std::string httplog_line;
  const bool received = testing::PollUntil(std::chrono::seconds(5), [&] {
    char buffer[4096];
    const ssize_t n = recv(udp, buffer, sizeof(buffer), 0);
    if (n > 0) {
      std::string line(buffer, static_cast<size_t>(n));
      if (line.find("fe_web web/web-1") != std::string::npos) {
        httplog_line = line;
        return true;
      }
    }
    return false;
  });
  close(udp);
  ASSERT_TRUE(received) << "no httplog line for fe_web arrived over UDP";
  EXPECT_NE(httplog_line.find(" 200 "), std::string::npos) << httplog_line;
  EXPECT_NE(httplog_line.find("\"GET /some/path HTTP/1.1\""), std::string::npos) << httplog_line;
  EXPECT_THROW(haproxy->frontend_port("nope"), std::out_of_range);
  EXPECT_THROW(haproxy->user_socket_path(), std::logic_error);
}

TEST(HaproxyServerHarness, RejectsInvalidOptions) {
  testing::TempDir dir("haproxy-options");
  testing::HaproxyOptions duplicate;
  duplicate.http_backends = {{"app", {{"a", "127.0.0.1:1", 1}}},
                             {"app", {{"b", "127.0.0.1:2", 1}}}};
  EXPECT_THROW(HaproxyServer::Start(dir.path(), duplicate), std::invalid_argument);
  testing::HaproxyOptions heavy;
  heavy.http_backends = {{"app", {{"a", "127.0.0.1:1", 300}}}};
  EXPECT_THROW(HaproxyServer::Start(dir.path(), heavy), std::invalid_argument);
  testing::HaproxyOptions spaced;
  spaced.http_backends = {{"my app", {{"a", "127.0.0.1:1", 1}}}};
  EXPECT_THROW(HaproxyServer::Start(dir.path(), spaced), std::invalid_argument);
}

}  // namespace
}  // namespace tandem::orchestration
