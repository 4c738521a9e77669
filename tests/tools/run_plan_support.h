// File: tests/tools/run_plan_support.h
//
// What the `tandem run` tests share: a traffic rig (old and new test HTTP backends behind a real
// HAProxy with an admin socket and UDP httplog lines, and a load generator through it), plan
// files written from parts, and a `tandem run` child process that can be waited for or killed
// with SIGKILL at any moment.
//
// Threading: a rig and a run process belong to the test thread; the load generator and the
// backends run their own threads (see tests/harness/http_load.h, test_http_backend.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/files.h"
#include "tests/harness/haproxy_server.h"
#include "tests/harness/http_load.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/test_http_backend.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {

struct TrafficRigOptions {
  int old_servers = 2;
  int new_servers = 1;
  double requests_per_second = 400;
  int load_threads = 8;
  std::string balance = "roundrobin";  // the backend's `balance` algorithm
  // TCP backends beside the HTTP one (the writer routes of datastores), as given.
  std::vector<HaproxyBackendSpec> tcp_backends;
};

class TrafficRig {
 public:
  explicit TrafficRig(const TrafficRigOptions& options = {});
  ~TrafficRig();

  const std::string& dir() const { return dir_->path(); }
  HaproxyServer& haproxy() { return *haproxy_; }
  HttpLoad& load() { return *load_; }
  TestHttpBackend& new_backend(size_t i = 0) { return *new_backends_.at(i); }
  std::vector<std::string> old_names() const;
  std::vector<std::string> new_names() const;
  uint16_t log_port() const { return log_port_; }

  // The [traffic] section for this rig; `overrides` replace or add keys (values as TOML text).
  std::string TrafficToml(const std::map<std::string, std::string>& overrides = {}) const;

  // The share (0..100) the live HAProxy weights give the new servers.
  double WeightShareOfNew();
  // The weight of every server, "name=weight" joined by spaces (for messages).
  std::string WeightsText();

 private:
  std::unique_ptr<TempDir> dir_;
  std::vector<std::unique_ptr<TestHttpBackend>> old_backends_, new_backends_;
  std::unique_ptr<HaproxyServer> haproxy_;
  std::unique_ptr<HttpLoad> load_;
  uint16_t log_port_ = 0;
};

// Writes `text` to <dir>/<name> and returns the path.
std::string WritePlan(const std::string& dir, const std::string& name, const std::string& text);

// `tandem run` (or any tandem command) as a child process, stdout and stderr to a log file.
class TandemProcess {
 public:
  TandemProcess(const std::vector<std::string>& args, const std::string& log_path,
                const std::vector<std::string>& env = {});
  ~TandemProcess();
  TandemProcess(const TandemProcess&) = delete;
  TandemProcess& operator=(const TandemProcess&) = delete;

  pid_t pid() const { return process_.pid(); }
  bool Running() { return process_.Running(); }
  // The exit code, -1 when killed by a signal, nullopt when it still runs after `timeout`.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);
  // SIGKILL; returns whether it was still running.
  bool KillNine();
  void Interrupt();  // SIGINT
  std::string Log() const;

 private:
  ChildProcess process_;
  std::string log_path_;
};

// The JSON of `tandem status PLAN --format json` (fails the test when it is not JSON).
std::string StatusJson(const std::string& plan_path);

}  // namespace tandem::testing
