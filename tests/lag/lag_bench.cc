// tandem-lag-bench: what `tandem lag` measures for native replication under a steady write load,
// beside pt-heartbeat (MariaDB), and the load the heartbeat itself adds. Run by bench/lag_bench.sh;
// prints one Markdown section per engine for BENCHMARKS.md.
//
//   tandem-lag-bench [--seconds 60] [--engines mariadb,postgres,redis] [--rate 200]
// It runs the `tandem` binary of its build tree (TANDEM_BINARY_PATH).
//
// Per engine, on private servers (tests/harness) joined by native replication:
//   1. overhead: the source's and target's server CPU over 10 s idle, then over 10 s with only
//      `tandem lag` running (server processes and their children, from /proc), plus tandem's own
//      CPU and its queries per second (heartbeat writes on the source, reads on the target);
//   2. under load: the load generator at a fixed rate (sysbench oltp_write_only --rate,
//      pgbench -R; redis-benchmark has no rate limit, so one closed-loop client), with
//      `tandem lag --duration SECONDS` and, for MariaDB, pt-heartbeat --update on the source and
//      --monitor on the replica at --interval 0.01 (its smallest useful interval), side by side.
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lag/latency_histogram.h"
#include "tests/harness/local_servers.h"
#include "tests/harness/subprocess.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

struct Options {
  int seconds = 60;
  int rate = 200;
  std::vector<std::string> engines = {"mariadb", "postgres", "redis"};
};

double ClockTicksToSeconds(unsigned long long ticks) {
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// utime + stime of `pid` and of its direct children (a postmaster's backends), in seconds.
double ProcessTreeCpuSeconds(pid_t pid) {
  double total = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) {
      continue;
    }
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) {
      continue;
    }
    const size_t close = line.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream fields(line.substr(close + 2));
    std::string state;
    long long parent = 0;
    fields >> state >> parent;
    const long long self = std::stoll(name);
    if (self != pid && parent != pid) {
      continue;
    }
    std::string skip;
    for (int i = 0; i < 9; ++i) {
      fields >> skip;  // pgrp .. cmajflt
    }
    unsigned long long user = 0;
    unsigned long long system = 0;
    fields >> user >> system;
    total += ClockTicksToSeconds(user + system);
  }
  return total;
}

double ChildrenCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string Fixed(double value, int digits = 2) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

struct Pair {
  std::string name;
  std::string source_uri;
  std::string target_uri;
  pid_t source_pid = 0;
  pid_t target_pid = 0;
};

// Runs `tandem lag` for `seconds` in a thread; returns its JSON report.
json RunTandemLag(const Pair& pair, int seconds, const std::function<void()>& meanwhile = {}) {
  CommandOutcome outcome;
  std::thread command([&] {
    outcome = RunTandem({"lag", "--source", pair.source_uri, "--target", pair.target_uri,
                         "--duration", std::to_string(seconds), "--format", "json"},
                        {}, std::chrono::seconds(seconds + 120));
  });
  if (meanwhile) {
    meanwhile();
  }
  command.join();
  json report = json::parse(outcome.out, nullptr, false);
  if (!report.is_object() || outcome.exit_code != 0) {
    throw std::runtime_error("tandem lag failed (exit " + std::to_string(outcome.exit_code) +
                             "): " + outcome.err + outcome.out);
  }
  return report;
}

// Section 1: the heartbeat's own load.
void ReportOverhead(const Pair& pair) {
  const int window = 10;
  const double source_idle_start = ProcessTreeCpuSeconds(pair.source_pid);
  const double target_idle_start = ProcessTreeCpuSeconds(pair.target_pid);
  std::this_thread::sleep_for(seconds(window));
  const double source_idle = ProcessTreeCpuSeconds(pair.source_pid) - source_idle_start;
  const double target_idle = ProcessTreeCpuSeconds(pair.target_pid) - target_idle_start;

  double source_busy = 0;
  double target_busy = 0;
  const double tandem_cpu_start = ChildrenCpuSeconds();
  json report = RunTandemLag(pair, window + 2, [&] {
    std::this_thread::sleep_for(seconds(1));
    const double source_start = ProcessTreeCpuSeconds(pair.source_pid);
    const double target_start = ProcessTreeCpuSeconds(pair.target_pid);
    std::this_thread::sleep_for(seconds(window));
    source_busy = ProcessTreeCpuSeconds(pair.source_pid) - source_start;
    target_busy = ProcessTreeCpuSeconds(pair.target_pid) - target_start;
  });
  const double tandem_cpu = ChildrenCpuSeconds() - tandem_cpu_start;
  const double elapsed = report["elapsed_s"].get<double>();
  std::cout << "\nHeartbeat overhead (no other load, " << window << " s windows):\n\n"
            << "| | queries/s | server CPU idle | server CPU with tandem lag | added |\n"
            << "|---|---|---|---|---|\n"
            << "| source (heartbeat writes) | "
            << Fixed(report["heartbeats_written"].get<double>() / elapsed, 0) << " | "
            << Fixed(100 * source_idle / window, 1) << " % | "
            << Fixed(100 * source_busy / window, 1) << " % | "
            << Fixed(100 * (source_busy - source_idle) / window, 1) << " % of a core |\n"
            << "| target (heartbeat reads) | " << Fixed(report["polls"].get<double>() / elapsed, 0)
            << " | " << Fixed(100 * target_idle / window, 1) << " % | "
            << Fixed(100 * target_busy / window, 1) << " % | "
            << Fixed(100 * (target_busy - target_idle) / window, 1) << " % of a core |\n"
            << "\n`tandem lag` itself used " << Fixed(100 * tandem_cpu / elapsed, 1)
            << " % of a core (user + system, " << Fixed(elapsed, 1) << " s).\n";
}

void PrintLagRow(const std::string& tool, double samples, double p50, double p99, double max,
                 const std::string& resolution) {
  std::cout << "| " << tool << " | " << Fixed(samples, 0) << " | " << Fixed(p50, 3) << " | "
            << Fixed(p99, 3) << " | " << Fixed(max, 3) << " | " << resolution << " |\n";
}

void PrintTandemRow(const json& report) {
  PrintLagRow("tandem lag --interval 10", report["samples"].get<double>(),
              report["p50_ms"].get<double>(), report["p99_ms"].get<double>(),
              report["max_ms"].get<double>(),
              "+/- " + Fixed(report["measurement_error_p50_ms"].get<double>(), 3) + " ms p50, " +
                  Fixed(report["measurement_error_ms"].get<double>(), 3) + " ms p99");
}

// pt-heartbeat --monitor lines: "0.00s [  0.00s,  0.00s,  0.00s ]".
lag::LatencyHistogram ParsePtHeartbeat(const std::string& path) {
  lag::LatencyHistogram histogram;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    double seconds_value = 0;
    if (std::sscanf(line.c_str(), " %lfs [", &seconds_value) == 1) {
      histogram.RecordMicros(static_cast<uint64_t>(seconds_value * 1e6 + 0.5));
    }
  }
  return histogram;
}

void BenchMariaDb(const Options& options, const std::string& parent) {
  auto source = MariaDbServer::Start(parent);
  auto replica = MariaDbServer::Start(parent);
  replica->StartReplicaOf(*source);
  Pair pair{"MariaDB", source->Uri(), replica->Uri(), source->pid(), replica->pid()};
  std::cout << "\n## MariaDB " << source->QueryScalar("SELECT VERSION()").value_or("")
            << ": replica (GTID, ROW binlog) on loopback\n";
  ReportOverhead(pair);

  source->Execute("CREATE DATABASE sbtest; CREATE DATABASE pt_heartbeat");
  const std::vector<std::string> sysbench = {"sysbench",
                                             "oltp_write_only",
                                             "--mysql-host=127.0.0.1",
                                             "--mysql-port=" + std::to_string(source->port()),
                                             "--mysql-user=tandem",
                                             std::string("--mysql-password=") + kTestPassword,
                                             "--mysql-db=sbtest",
                                             "--tables=4",
                                             "--table-size=10000",
                                             "--threads=4"};
  std::vector<std::string> prepare = sysbench;
  prepare.push_back("prepare");
  RunCommand({.argv = prepare, .log_path = parent + "/sysbench-prepare.log"});
  replica->WaitForReplicaCatchUp(*source);

  std::vector<std::string> run = sysbench;
  run.push_back("--rate=" + std::to_string(options.rate));
  run.push_back("--time=" + std::to_string(options.seconds + 10));
  run.push_back("--report-interval=10");
  run.push_back("run");
  ChildProcess load = ChildProcess::Spawn({.argv = run, .log_path = parent + "/sysbench.log"});
  const std::string login = std::string("-utandem");
  ChildProcess pt_update = ChildProcess::Spawn(
      {.argv = {"pt-heartbeat", "--update", "--create-table", "-D", "pt_heartbeat", "-h",
                "127.0.0.1", "-P", std::to_string(source->port()), login,
                std::string("-p") + kTestPassword, "--interval", "0.01"},
       .log_path = parent + "/pt-update.log"});
  std::this_thread::sleep_for(seconds(3));  // load and pt-heartbeat's table reach the replica
  const std::string pt_monitor_log = parent + "/pt-monitor.log";
  ChildProcess pt_monitor = ChildProcess::Spawn(
      {.argv = {"pt-heartbeat", "--monitor", "-D", "pt_heartbeat", "-h", "127.0.0.1", "-P",
                std::to_string(replica->port()), login, std::string("-p") + kTestPassword,
                "--interval", "0.01", "--master-server-id", std::to_string(source->server_id()),
                "--run-time", std::to_string(options.seconds) + "s"},
       .log_path = pt_monitor_log});
  auto commits = [&] {
    return std::stod(
        source
            ->QueryScalar("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                          "WHERE VARIABLE_NAME = 'COM_COMMIT'")
            .value_or("0"));
  };
  const double commits_before = commits();
  const auto start = std::chrono::steady_clock::now();
  json report = RunTandemLag(pair, options.seconds);
  const double commits_per_second =
      (commits() - commits_before) /
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pt_monitor.WaitForExit(seconds(30));
  pt_update.Stop();
  load.Stop();
  const lag::LatencyHistogram pt = ParsePtHeartbeat(pt_monitor_log);

  std::cout << "\nUnder sysbench oltp_write_only --rate=" << options.rate
            << " --threads=4 (4 tables x 10000 rows), " << options.seconds << " s, same run:\n\n"
            << "| tool | samples | p50 ms | p99 ms | max ms | resolution |\n"
            << "|---|---|---|---|---|---|\n";
  PrintTandemRow(report);
  PrintLagRow("pt-heartbeat --interval 0.01", static_cast<double>(pt.count()),
              static_cast<double>(pt.PercentileMicros(0.5)) / 1000,
              static_cast<double>(pt.PercentileMicros(0.99)) / 1000,
              static_cast<double>(pt.max_micros()) / 1000,
              "10 ms (prints 2 decimals of a second), plus the hosts' clock difference");
  std::cout << "\nsysbench achieved " << Fixed(commits_per_second, 0)
            << " transactions/s on the source (Com_commit).\n";
}

void BenchPostgres(const Options& options, const std::string& parent) {
  auto primary = PostgresServer::Start(parent);
  auto standby = PostgresServer::StartStandbyOf(*primary, parent);
  Pair pair{"PostgreSQL", primary->Uri(), standby->Uri(), primary->pid(), standby->pid()};
  std::cout << "\n## PostgreSQL " << primary->QueryScalar("SHOW server_version").value_or("")
            << ": physical streaming standby on loopback\n";
  ReportOverhead(pair);

  const std::vector<std::string> env = {std::string("PGPASSWORD=") + kTestPassword};
  const std::vector<std::string> connection = {
      "-h", "127.0.0.1", "-p", std::to_string(primary->port()), "-U", "tandem"};
  std::vector<std::string> init = {PostgresBinDir() + "/pgbench", "-i", "-s", "5", "-q"};
  init.insert(init.end(), connection.begin(), connection.end());
  init.push_back("tandem");
  RunCommand({.argv = init,
              .env = env,
              .drop_env_prefixes = {"PG"},
              .log_path = parent + "/pgbench-init.log"});
  standby->WaitForStandbyCatchUp(*primary);
  std::vector<std::string> run = {PostgresBinDir() + "/pgbench",
                                  "-n",
                                  "-R",
                                  std::to_string(options.rate),
                                  "-T",
                                  std::to_string(options.seconds + 10),
                                  "-c",
                                  "4",
                                  "-j",
                                  "2"};
  run.insert(run.end(), connection.begin(), connection.end());
  run.push_back("tandem");
  ChildProcess load = ChildProcess::Spawn(
      {.argv = run, .env = env, .drop_env_prefixes = {"PG"}, .log_path = parent + "/pgbench.log"});
  std::this_thread::sleep_for(seconds(2));
  json report = RunTandemLag(pair, options.seconds);
  load.WaitForExit(seconds(30));
  load.Stop();
  std::cout << "\nUnder pgbench -R " << options.rate << " -c 4 -j 2 (TPC-B-like, scale 5), "
            << options.seconds << " s:\n\n"
            << "| tool | samples | p50 ms | p99 ms | max ms | resolution |\n"
            << "|---|---|---|---|---|---|\n";
  PrintTandemRow(report);
  std::ifstream pgbench_log(parent + "/pgbench.log");
  std::string line;
  while (std::getline(pgbench_log, line)) {
    if (line.rfind("tps = ", 0) == 0 || line.find("latency average") != std::string::npos) {
      std::cout << "\npgbench: " << line;
    }
  }
  std::cout << "\n";
}

void BenchRedis(const Options& options, const std::string& parent) {
  auto master = RedisServer::Start(parent);
  auto replica = RedisServer::Start(parent);
  replica->StartReplicaOf(*master);
  Pair pair{"Redis", master->Uri(), replica->Uri(), master->pid(), replica->pid()};
  std::cout << "\n## Redis: replica on loopback\n";
  ReportOverhead(pair);
  ChildProcess load = ChildProcess::Spawn(
      {.argv = {"redis-benchmark", "-h", "127.0.0.1", "-p", std::to_string(master->port()), "-a",
                kTestPassword, "-t", "set", "-n", "2000000000", "-c", "1", "-r", "100000", "-d",
                "64", "-q", "--csv"},
       .log_path = parent + "/redis-benchmark.log"});
  std::this_thread::sleep_for(seconds(2));
  const std::string before = master->Command({"INFO", "stats"});
  const auto start = std::chrono::steady_clock::now();
  json report = RunTandemLag(pair, options.seconds);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string after = master->Command({"INFO", "stats"});
  load.Stop();
  auto commands = [](const std::string& info) {
    const size_t at = info.find("total_commands_processed:");
    return at == std::string::npos ? 0.0 : std::stod(info.substr(at + 25));
  };
  std::cout << "\nUnder redis-benchmark -t set -c 1 (one closed-loop client: "
            << Fixed((commands(after) - commands(before)) / elapsed, 0) << " commands/s), "
            << options.seconds << " s:\n\n"
            << "| tool | samples | p50 ms | p99 ms | max ms | resolution |\n"
            << "|---|---|---|---|---|---|\n";
  PrintTandemRow(report);
}

}  // namespace
}  // namespace tandem::testing

int main(int argc, char** argv) {
  using tandem::testing::Options;
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--seconds") {
      options.seconds = std::stoi(value);
    } else if (flag == "--rate") {
      options.rate = std::stoi(value);
    } else if (flag == "--engines") {
      options.engines.clear();
      std::stringstream list(value);
      std::string engine;
      while (std::getline(list, engine, ',')) {
        options.engines.push_back(engine);
      }
    } else {
      std::cerr << "tandem-lag-bench: unknown flag " << flag << std::endl;
      return 2;
    }
  }
  try {
    tandem::testing::TempDir dir("lag-bench");
    for (const std::string& engine : options.engines) {
      const std::string parent = dir.path() + "/" + engine;
      tandem::testing::MakeDirectories(parent);
      if (engine == "mariadb") {
        tandem::testing::BenchMariaDb(options, parent);
      } else if (engine == "postgres") {
        tandem::testing::BenchPostgres(options, parent);
      } else if (engine == "redis") {
        tandem::testing::BenchRedis(options, parent);
      } else {
        std::cerr << "tandem-lag-bench: unknown engine " << engine << std::endl;
        return 2;
      }
    }
  } catch (const std::exception& error) {
    std::cerr << "tandem-lag-bench: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
