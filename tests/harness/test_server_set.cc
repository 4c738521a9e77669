#include "tests/harness/test_server_set.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/harness/files.h"
#include "tests/harness/mariadb_server.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/sample_data.h"
#include "tests/harness/shared_servers.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wait.h"

namespace tandem::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* const kServerNames[] = {"mysql-source",    "mysql-target", "postgres-source",
                                    "postgres-target", "redis-source", "redis-target"};

std::string Seconds(Clock::duration elapsed) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f s", std::chrono::duration<double>(elapsed).count());
  return buffer;
}

// Serialises progress lines from the start threads.
class Log {
 public:
  explicit Log(std::ostream& out) : out_(out) {}
  void Line(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    out_ << text << std::endl;
  }

 private:
  std::mutex mu_;
  std::ostream& out_;  // guarded by mu_
};

struct PidRecord {
  pid_t pid = 0;
  std::optional<unsigned long long> start_time;  // nullopt: found via a pid file
  int stop_signal = SIGTERM;
  std::string name;  // server directory name under the set's directory
};

int StopSignalFor(const std::string& name) {
  return name.rfind("postgres", 0) == 0 ? SIGINT : SIGTERM;
}

// DIR/pids, rewritten atomically each time a server comes up, so a start that is killed midway
// still leaves a record of what it started.
class PidsFile {
 public:
  explicit PidsFile(std::string path) : path_(std::move(path)) { Write(); }

  void Add(pid_t pid, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back({pid, ProcessStartTime(pid), StopSignalFor(name), name});
    Write();
  }

 private:
  void Write() {
    std::string contents = "# pid start_time stop_signal name (tandem-test-servers)\n";
    for (const PidRecord& record : records_) {
      contents += std::to_string(record.pid) + " " +
                  (record.start_time ? std::to_string(*record.start_time) : "-") + " " +
                  std::to_string(record.stop_signal) + " " + record.name + "\n";
    }
    WriteFileAtomically(path_, contents);
  }

  const std::string path_;
  std::mutex mu_;
  std::vector<PidRecord> records_;  // guarded by mu_
};

std::vector<PidRecord> ReadPidsFile(const std::string& path) {
  std::vector<PidRecord> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    PidRecord record;
    std::string start_time;
    if (!(fields >> record.pid >> start_time >> record.stop_signal >> record.name)) {
      continue;
    }
    if (start_time != "-") {
      record.start_time = std::stoull(start_time);
    }
    records.push_back(record);
  }
  return records;
}

std::optional<pid_t> ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && pid > 0) {
    return static_cast<pid_t>(pid);
  }
  return std::nullopt;
}

// True if process `pid` has its working directory in `dir` (servers chdir to their data
// directory): evidence that a PID from a pid file still belongs to that server.
bool RunsIn(pid_t pid, const std::string& dir) {
  std::error_code error;
  fs::path cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", error);
  if (error) {
    return false;
  }
  const std::string text = cwd.string();
  return text == dir || text.rfind(dir + "/", 0) == 0;
}

std::string PidFileFor(const std::string& server_dir, const std::string& name) {
  if (name.rfind("mysql", 0) == 0) {
    return server_dir + "/data/mariadbd.pid";
  }
  if (name.rfind("postgres", 0) == 0) {
    return server_dir + "/data/postmaster.pid";
  }
  return server_dir + "/redis.pid";
}

bool StillThere(const std::string& dir, const PidRecord& record) {
  std::optional<unsigned long long> start = ProcessStartTime(record.pid);
  if (!start) {
    return false;
  }
  if (record.start_time) {
    return *start == *record.start_time;
  }
  return RunsIn(record.pid, dir + "/" + record.name);
}

std::string NormalisedDir(const std::string& dir) {
  if (dir.empty()) {
    throw std::runtime_error("--dir is required");
  }
  return fs::absolute(dir).lexically_normal().string();
}

bool HasLeftovers(const std::string& dir) {
  if (fs::exists(dir + "/pids")) {
    return true;
  }
  for (const char* name : kServerNames) {
    if (fs::exists(dir + "/" + name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

int StopTestServerSet(const std::string& dir_argument, std::ostream& out) {
  const std::string dir = NormalisedDir(dir_argument);
  if (!fs::exists(dir)) {
    out << "tandem-test-servers: nothing to stop in " << dir << std::endl;
    return 0;
  }
  std::vector<PidRecord> records = ReadPidsFile(dir + "/pids");
  std::set<std::string> names(std::begin(kServerNames), std::end(kServerNames));
  for (const PidRecord& record : records) {
    if (record.name.find('/') == std::string::npos && record.name != ".." && record.name != ".") {
      names.insert(record.name);
    }
  }
  // Servers whose start was interrupted before they reached the pids file still have pid files.
  for (const std::string& name : names) {
    std::optional<pid_t> pid = ReadPidFile(PidFileFor(dir + "/" + name, name));
    if (!pid) {
      continue;
    }
    bool known = false;
    for (const PidRecord& record : records) {
      known = known || record.pid == *pid;
    }
    if (!known) {
      records.push_back({*pid, std::nullopt, StopSignalFor(name), name});
    }
  }
  std::vector<PidRecord> running;
  for (const PidRecord& record : records) {
    if (StillThere(dir, record)) {
      running.push_back(record);
      kill(record.pid, record.stop_signal);
    }
  }
  const auto started = Clock::now();
  auto remaining = [&] {
    std::vector<PidRecord> left;
    for (const PidRecord& record : running) {
      if (StillThere(dir, record)) {
        left.push_back(record);
      }
    }
    return left;
  };
  PollUntil(std::chrono::seconds(30), [&] { return remaining().empty(); });
  std::vector<PidRecord> stubborn = remaining();
  for (const PidRecord& record : stubborn) {
    out << "tandem-test-servers: " << record.name << " (pid " << record.pid
        << ") ignored its stop signal for 30 s; sending SIGKILL" << std::endl;
    kill(record.pid, SIGKILL);
  }
  if (!stubborn.empty()) {
    PollUntil(std::chrono::seconds(10), [&] { return remaining().empty(); });
  }
  const std::vector<PidRecord> failed = remaining();
  for (const PidRecord& record : failed) {
    out << "tandem-test-servers: could not stop " << record.name << " (pid " << record.pid << ")"
        << std::endl;
  }
  if (failed.empty()) {
    for (const std::string& name : names) {
      RemoveTree(dir + "/" + name);
    }
    RemoveTree(dir + "/servers.env");
    RemoveTree(dir + "/pids");
    std::error_code ignored;
    fs::remove(dir, ignored);  // only if empty
  }
  out << "tandem-test-servers: stopped " << running.size() << " server(s) in " << dir << " in "
      << Seconds(Clock::now() - started) << std::endl;
  return static_cast<int>(failed.size());
}

std::vector<std::pair<std::string, std::string>> StartTestServerSet(
    const TestServerSetOptions& options, std::ostream& out) {
  const auto started = Clock::now();
  const std::string dir = NormalisedDir(options.dir);
  Log log(out);
  if (fs::exists(dir) && HasLeftovers(dir)) {
    log.Line("tandem-test-servers: stopping the servers of a previous start in " + dir);
    if (StopTestServerSet(dir, out) != 0) {
      throw std::runtime_error("servers of a previous start in " + dir + " could not be stopped");
    }
  }
  MakeDirectories(dir, 0755);
  PidsFile pids(dir + "/pids");

  std::unique_ptr<MariaDbServer> mysql[2];
  std::unique_ptr<PostgresServer> postgres[2];
  std::unique_ptr<RedisServer> redis[2];
  const char* const sides[2] = {"source", "target"};

  std::mutex errors_mu;
  std::vector<std::string> errors;  // guarded by errors_mu
  auto run_in_parallel = [&](std::vector<std::pair<std::string, std::function<void()>>> jobs,
                             const char* verb) {
    std::vector<std::thread> threads;
    for (auto& [name, job] : jobs) {
      threads.emplace_back([&, name = name, job = job] {
        const auto job_started = Clock::now();
        try {
          job();
          log.Line("  " + name + " " + verb + " in " + Seconds(Clock::now() - job_started));
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(errors_mu);
          errors.push_back(name + ": " + e.what());
        }
      });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    if (!errors.empty()) {
      std::string message = "tandem-test-servers start failed:";
      for (const std::string& error : errors) {
        message += "\n" + error;
      }
      throw std::runtime_error(message);  // the server objects stop what did start
    }
  };

  std::vector<std::pair<std::string, std::function<void()>>> starts;
  for (int i = 0; i < 2; ++i) {
    const std::string side = sides[i];
    starts.emplace_back("mysql-" + side, [&, i, side] {
      MariaDbOptions o;
      o.name = "mysql-" + side;
      o.detach = true;
      mysql[i] = MariaDbServer::Start(dir, o);
      pids.Add(mysql[i]->pid(), o.name);
    });
    starts.emplace_back("postgres-" + side, [&, i, side] {
      PostgresOptions o;
      o.name = "postgres-" + side;
      o.detach = true;
      postgres[i] = PostgresServer::Start(dir, o);
      pids.Add(postgres[i]->pid(), o.name);
    });
    starts.emplace_back("redis-" + side, [&, i, side] {
      RedisOptions o;
      o.name = "redis-" + side;
      o.detach = true;
      redis[i] = RedisServer::Start(dir, o);
      pids.Add(redis[i]->pid(), o.name);
    });
  }
  log.Line("tandem-test-servers: starting 6 servers in " + dir);
  run_in_parallel(std::move(starts), "ready");
  log.Line("tandem-test-servers: all servers ready after " + Seconds(Clock::now() - started));

  if (options.sample_data) {
    const auto loading = Clock::now();
    const int64_t expire_at = DefaultSampleExpiryUnixMs();
    std::vector<std::pair<std::string, std::function<void()>>> loads;
    for (int i = 0; i < 2; ++i) {
      const std::string side = sides[i];
      loads.emplace_back("mysql-" + side + " sample data",
                         [&, i] { LoadMySqlSampleData(*mysql[i], options.rows); });
      loads.emplace_back("postgres-" + side + " sample data",
                         [&, i] { LoadPostgresSampleData(*postgres[i], options.rows); });
      loads.emplace_back("redis-" + side + " sample data", [&, i, expire_at] {
        RedisSampleDataOptions o;
        o.rows = options.rows;
        o.expire_at_unix_ms = expire_at;
        LoadRedisSampleData(redis[i]->ConnectOptions(), o);
      });
    }
    log.Line("tandem-test-servers: loading sample data (" + std::to_string(options.rows) +
             " rows per table / keys per Redis database)");
    run_in_parallel(std::move(loads), "loaded");
    log.Line("tandem-test-servers: sample data loaded in " + Seconds(Clock::now() - loading));
  }

  std::vector<std::pair<std::string, std::string>> env;
  env.emplace_back("TANDEM_TEST_SERVERS_DIR", dir);
  for (int i = 0; i < 2; ++i) {
    const Side side = i == 0 ? Side::kSource : Side::kTarget;
    env.emplace_back(SharedServerKey("MYSQL", side), mysql[i]->Uri());
    env.emplace_back(SharedServerKey("MYSQL", side, "PORT"), std::to_string(mysql[i]->port()));
    env.emplace_back(SharedServerKey("MYSQL", side, "SOCKET"), mysql[i]->socket_path());
    env.emplace_back(SharedServerKey("MYSQL", side, "DIR"), mysql[i]->dir());
    env.emplace_back(SharedServerKey("MYSQL", side, "PID"), std::to_string(mysql[i]->pid()));
  }
  for (int i = 0; i < 2; ++i) {
    const Side side = i == 0 ? Side::kSource : Side::kTarget;
    env.emplace_back(SharedServerKey("POSTGRES", side), postgres[i]->Uri());
    env.emplace_back(SharedServerKey("POSTGRES", side, "PORT"),
                     std::to_string(postgres[i]->port()));
    env.emplace_back(SharedServerKey("POSTGRES", side, "SOCKET_DIR"), postgres[i]->data_dir());
    env.emplace_back(SharedServerKey("POSTGRES", side, "DIR"), postgres[i]->dir());
    env.emplace_back(SharedServerKey("POSTGRES", side, "PID"), std::to_string(postgres[i]->pid()));
  }
  for (int i = 0; i < 2; ++i) {
    const Side side = i == 0 ? Side::kSource : Side::kTarget;
    env.emplace_back(SharedServerKey("REDIS", side), redis[i]->Uri());
    env.emplace_back(SharedServerKey("REDIS", side, "PORT"), std::to_string(redis[i]->port()));
    env.emplace_back(SharedServerKey("REDIS", side, "PASSWORD"), redis[i]->password());
    env.emplace_back(SharedServerKey("REDIS", side, "DIR"), redis[i]->dir());
    env.emplace_back(SharedServerKey("REDIS", side, "PID"), std::to_string(redis[i]->pid()));
  }
  std::string contents =
      "# Written by tandem-test-servers start; read by tests/harness/shared_servers.h.\n"
      "# Stop with: tandem-test-servers stop --dir " +
      dir + "\n";
  for (const auto& [key, value] : env) {
    contents += key + "=" + value + "\n";
  }
  WriteFileAtomically(dir + "/servers.env", contents);

  // From here on the servers belong to whoever runs `stop`.
  for (int i = 0; i < 2; ++i) {
    mysql[i]->Release();
    postgres[i]->Release();
    redis[i]->Release();
  }
  log.Line("tandem-test-servers: started in " + Seconds(Clock::now() - started) + "; wrote " + dir +
           "/servers.env");
  return env;
}

}  // namespace tandem::testing
