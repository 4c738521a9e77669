#include "tests/tools/run_plan_support.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/harness/free_port.h"

namespace tandem::testing {
namespace {

std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "\"" : ", \"") + items[i] + "\"";
  }
  return out + "]";
}

int64_t WeightOf(HaproxyServer& haproxy, const std::string& server) {
  const std::string reply = haproxy.AdminCommand("get weight app/" + server);
  try {
    return std::stoll(reply);
  } catch (const std::exception&) {
    throw std::runtime_error("get weight app/" + server + " answered: " + reply);
  }
}

}  // namespace

TrafficRig::TrafficRig(const TrafficRigOptions& options)
    : dir_(std::make_unique<TempDir>("tandem-run")) {
  HaproxyBackendSpec backend;
  backend.name = "app";
  backend.balance = options.balance;
  for (int i = 1; i <= options.old_servers; ++i) {
    old_backends_.push_back(std::make_unique<TestHttpBackend>("app-old-" + std::to_string(i)));
    old_backends_.back()->Start();
    // Weights as an operator would leave them before a migration: everything on old.
    backend.servers.push_back({old_backends_.back()->name(), old_backends_.back()->address(), 100});
  }
  for (int i = 1; i <= options.new_servers; ++i) {
    new_backends_.push_back(std::make_unique<TestHttpBackend>("app-new-" + std::to_string(i)));
    new_backends_.back()->Start();
    backend.servers.push_back({new_backends_.back()->name(), new_backends_.back()->address(), 0});
  }
  HaproxyOptions haproxy_options;
  haproxy_options.http_backends.push_back(backend);
  haproxy_options.tcp_backends = options.tcp_backends;
  log_port_ = PickFreePort();
  haproxy_options.log_udp_port = log_port_;
  haproxy_ = HaproxyServer::Start(dir_->path(), haproxy_options);
  HttpLoadOptions load_options;
  load_options.port = haproxy_->frontend_port("app");
  load_options.threads = options.load_threads;
  load_options.requests_per_second = options.requests_per_second;
  load_ = std::make_unique<HttpLoad>(load_options);
  load_->Start();
}

TrafficRig::~TrafficRig() {
  if (load_) load_->Stop();
  if (haproxy_) haproxy_->Stop();
  for (auto& backend : new_backends_) backend->Stop();
  for (auto& backend : old_backends_) backend->Stop();
}

std::vector<std::string> TrafficRig::old_names() const {
  std::vector<std::string> names;
  for (const auto& backend : old_backends_) names.push_back(backend->name());
  return names;
}

std::vector<std::string> TrafficRig::new_names() const {
  std::vector<std::string> names;
  for (const auto& backend : new_backends_) names.push_back(backend->name());
  return names;
}

std::string TrafficRig::TrafficToml(const std::map<std::string, std::string>& overrides) const {
  // Short windows for tests; thresholds that a healthy run on a busy 2-core machine keeps.
  std::map<std::string, std::string> keys = {
      {"haproxy", "\"" + haproxy_->admin_socket_path() + "\""},
      {"backend", "\"app\""},
      {"old", QuotedList(old_names())},
      {"new", QuotedList(new_names())},
      {"steps", "[5, 25, 50, 75, 100]"},
      {"baseline", "\"2s\""},
      {"dwell", "\"3s\""},
      {"min_requests", "40"},
      {"max_error_rate_increase", "0.01"},
      {"max_latency_increase", "0.5"},
      {"latency_slack", "\"40ms\""},
      {"log", "\"127.0.0.1:" + std::to_string(log_port_) + "\""},
  };
  for (const auto& [key, value] : overrides) {
    if (value.empty()) {
      keys.erase(key);
    } else {
      keys[key] = value;
    }
  }
  std::string out = "[traffic]\n";
  for (const auto& [key, value] : keys) {
    out += key + " = " + value + "\n";
  }
  return out;
}

double TrafficRig::WeightShareOfNew() {
  int64_t old_total = 0;
  int64_t new_total = 0;
  for (const std::string& name : old_names()) old_total += WeightOf(*haproxy_, name);
  for (const std::string& name : new_names()) new_total += WeightOf(*haproxy_, name);
  if (old_total + new_total == 0) return 0;
  return 100.0 * static_cast<double>(new_total) / static_cast<double>(old_total + new_total);
}

std::string TrafficRig::WeightsText() {
  std::string out;
  for (const std::string& name : old_names()) {
    out += name + "=" + std::to_string(WeightOf(*haproxy_, name)) + " ";
  }
  for (const std::string& name : new_names()) {
    out += name + "=" + std::to_string(WeightOf(*haproxy_, name)) + " ";
  }
  return out;
}

std::string WritePlan(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

TandemProcess::TandemProcess(const std::vector<std::string>& args, const std::string& log_path,
                             const std::vector<std::string>& env)
    : log_path_(log_path) {
  SpawnOptions spawn;
  spawn.argv = {TANDEM_BINARY_PATH};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.env = env;
  spawn.log_path = log_path;
  process_ = ChildProcess::Spawn(spawn);
}

TandemProcess::~TandemProcess() {
  if (process_.pid() != 0) process_.Stop(SIGKILL, std::chrono::seconds(5));
}

std::optional<int> TandemProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (!process_.WaitForExit(timeout)) return std::nullopt;
  const int status = *process_.wait_status();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool TandemProcess::KillNine() {
  if (!process_.Running()) return false;
  process_.Stop(SIGKILL, std::chrono::seconds(5));
  // It may have exited by itself between the check and the signal.
  const std::optional<int> status = process_.wait_status();
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
}

void TandemProcess::Interrupt() {
  if (process_.pid() != 0) kill(process_.pid(), SIGINT);
}

std::string TandemProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string StatusJson(const std::string& plan_path) {
  CommandOutcome outcome = RunTandem({"status", plan_path, "--format", "json"});
  return outcome.out;
}

}  // namespace tandem::testing
