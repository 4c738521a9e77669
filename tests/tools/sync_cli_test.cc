// `tandem sync` end to end, as a user runs it, between private MariaDB servers:
//   - the initial copy and the stream under a concurrent write load on every column type of the
//     sample data (inserts, updates, primary-key changes, deletes, 20,000-row transactions),
//     stopped with SIGTERM, finished with --until-caught-up, then `tandem verify` is consistent;
//   - the source and then the target restarted under a running sync: it reconnects, says so, and
//     the target ends consistent;
//   - bad input (binlog_format STATEMENT / MIXED, binlog_row_image MINIMAL, binlogs purged past
//     the checkpoint, a table without a key, missing privileges on either side, non-MySQL URIs,
//     bad flags): exit 2 with one stderr line naming the problem and the fix, and nothing written
//     to the target.
// The kill -9 test lives in sync_cli_kill_test.cc (label stress).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/harness/free_port.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

json ParseJson(const CommandOutcome& outcome) {
  json document = json::parse(outcome.out, nullptr, false);
  EXPECT_FALSE(document.is_discarded()) << outcome.out << outcome.err;
  return document;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The keyed tables of the MariaDB sample data (events_log has no key and is left out).
const std::vector<std::string> kShopTables = {"shop.all_types", "shop.order_lines",
                                              "shop.customers"};

std::vector<std::string> TableFlags(const std::vector<std::string>& tables) {
  std::vector<std::string> flags;
  for (const std::string& table : tables) {
    flags.push_back("--table");
    flags.push_back(table);
  }
  return flags;
}

// Runs `tandem verify` on `tables`; true when it exits 0, consistent, with equal row counts.
// Failures name the first differences (not all: there may be thousands).
bool VerifiedConsistent(const MariaDbServer& source, const MariaDbServer& target,
                        const std::string& database, const std::vector<std::string>& tables,
                        std::string* why) {
  CommandOutcome verified = RunVerify(source, target, database, TableFlags(tables));
  json report = json::parse(verified.out, nullptr, false);
  if (verified.timed_out || report.is_discarded()) {
    *why = "verify did not report: " + verified.err;
    return false;
  }
  bool consistent = verified.exit_code == 0 && report.value("consistent", false) &&
                    report.at("tables").size() == tables.size();
  for (const json& table : report.at("tables")) {
    const json& differences = table.at("differences");
    *why += table.at("table").get<std::string>() + ": source " + table.at("source_rows").dump() +
            " rows, target " + table.at("target_rows").dump() + ", " +
            std::to_string(differences.size()) + " differences";
    for (size_t i = 0; i < differences.size() && i < 5; ++i) {
      *why += " " + differences[i].dump();
    }
    *why += "\n";
    consistent =
        consistent && differences.empty() && table.at("source_rows") == table.at("target_rows");
  }
  return consistent;
}

void ExpectVerifiedConsistent(const MariaDbServer& source, const MariaDbServer& target,
                              const std::string& database, const std::vector<std::string>& tables) {
  std::string why;
  EXPECT_TRUE(VerifiedConsistent(source, target, database, tables, &why)) << why;
  std::cout << "verify: " << why;
}

// Writes to the sample tables on the source until stopped: copies of sample rows (so every column
// type keeps flowing), updates, primary-key changes, deletes, multi-statement transactions, and
// every ~50th transaction one of 20,000 rows (insert, update, delete in turn). Every statement is
// meant to succeed; an error fails the test.
class ShopWriteLoad {
 public:
  explicit ShopWriteLoad(const MariaDbServer& source) : source_(source) {}
  ~ShopWriteLoad() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  // Stops and joins; returns the load's error ("" when none).
  std::string Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    return error_;
  }
  int64_t transactions() const { return transactions_.load(); }
  int64_t large_transactions() const { return large_.load(); }

 private:
  void Run() {
    try {
      MySqlClient client = source_.ConnectAdmin();
      client.Execute("SET time_zone = '+00:00'");
      std::mt19937_64 random(42);
      auto pick = [&](int64_t low, int64_t high) {
        return std::uniform_int_distribution<int64_t>(low, high)(random);
      };
      const std::string all_types_columns =
          "c_tinyint, c_tinyint_u, c_smallint, c_smallint_u, c_mediumint, c_mediumint_u, c_int, "
          "c_int_u, c_bigint, c_bigint_u, c_decimal, c_float, c_double, c_char, c_varchar, "
          "c_text, c_binary, c_varbinary, c_blob, c_date, c_time, c_datetime, c_timestamp, "
          "c_year, c_json, c_enum, c_set, c_bit";
      int64_t next_key = 10'000'000;  // new primary keys never collide with sample keys
      int bulk_step = 0;
      for (int64_t i = 0; !stop_; ++i) {
        const int64_t row = pick(1, 2000);
        const std::string order = std::to_string(1000 + (pick(0, 1999) / 5) * 3);
        const std::optional<std::string> email =
            client.QueryScalar("SELECT email FROM shop.customers ORDER BY email LIMIT 1 OFFSET " +
                               std::to_string(pick(0, 1500)));
        const std::string customer = email ? client.Quote(*email) : "''";
        std::string sql;
        switch (i % 10) {
          case 0:  // a copy of a sample row: every type, also extremes, NULLs, large values
          case 5:
            sql = "INSERT INTO shop.all_types (" + all_types_columns + ") SELECT " +
                  all_types_columns + " FROM shop.all_types WHERE id = " + std::to_string(row);
            break;
          case 1:
            sql =
                "UPDATE shop.all_types SET c_int = IFNULL(c_int, 0) % 1000 + 1, "
                "c_varchar = CONCAT('upd ', " +
                std::to_string(i) + ", ' 😀 '), c_datetime = NOW(6), c_json = JSON_OBJECT('i', " +
                std::to_string(i) +
                ", 'ok', true), c_double = c_double / 3, c_bit = b'1010101010', "
                "c_blob = REPEAT(X'00FF', 3000) WHERE id = " +
                std::to_string(row);
            break;
          case 2:  // primary-key change
            sql = "UPDATE shop.all_types SET id = " + std::to_string(next_key++) +
                  " WHERE id = " + std::to_string(row);
            break;
          case 3:
            sql = "DELETE FROM shop.all_types WHERE id = " + std::to_string(row);
            break;
          case 4:  // composite primary-key change, several rows in one statement
            sql = "UPDATE shop.order_lines SET order_id = " + std::to_string(next_key++) +
                  " WHERE order_id = " + order;
            break;
          case 6:  // non-integer primary-key change
            sql = "UPDATE shop.customers SET email = 'm" + std::to_string(next_key++) +
                  "@moved.example', balance = balance + 1.25 WHERE email = " + customer;
            break;
          case 7:
            sql = "BEGIN; INSERT INTO shop.order_lines VALUES (" + std::to_string(next_key++) +
                  ", 1, 'SKU-NEW', 3, 12.50, 'new 🚀'); UPDATE shop.order_lines SET quantity = "
                  "quantity + 1, note = NULL WHERE order_id = " +
                  order + "; DELETE FROM shop.customers WHERE email = " + customer +
                  "; UPDATE shop.all_types SET c_text = CONCAT(IFNULL(c_text, ''), 'é') WHERE "
                  "id = " +
                  std::to_string(row) + "; COMMIT";
            break;
          case 8:
            sql = "DELETE FROM shop.order_lines WHERE order_id = " + order;
            break;
          case 9:
            if (i % 50 == 9) {  // one transaction of 20,000 rows
              switch (bulk_step++ % 3) {
                case 0:
                  sql = "INSERT INTO shop.order_lines SELECT " + std::to_string(next_key) +
                        " + seq, 1, CONCAT('BULK-', seq), seq % 7 + 1, 9.99, IF(seq % 3 = 0, "
                        "NULL, 'bulk') FROM seq_1_to_20000";
                  next_key += 20000;
                  break;
                case 1:
                  sql =
                      "UPDATE shop.order_lines SET quantity = quantity + 1, note = 'bulk "
                      "updated' WHERE sku LIKE 'BULK-%' LIMIT 20000";
                  break;
                default:
                  sql = "DELETE FROM shop.order_lines WHERE sku LIKE 'BULK-%' LIMIT 20000";
                  break;
              }
              ++large_;
            } else {
              sql =
                  "UPDATE shop.customers SET notes = CONCAT(IFNULL(notes, ''), '!') WHERE "
                  "email = " +
                  customer;
            }
            break;
        }
        client.Execute("USE shop; " + sql);
        ++transactions_;
        std::this_thread::sleep_for(milliseconds(1));  // leave the 2 cores some air
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  const MariaDbServer& source_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> large_{0};
  std::string error_;  // written by the load thread; read after the join
};

TEST(SyncCli, SnapshotAndStreamUnderWriteLoadEndConsistent) {
  const auto started = Clock::now();
  SyncServers servers = StartSyncServers();
  MySqlSampleDataOptions sample;
  sample.rows = 2000;
  MySqlClient admin = servers.source->ConnectAdmin();
  LoadMySqlSampleData(admin, sample);

  ShopWriteLoad load(*servers.source);
  load.Start();
  ASSERT_TRUE(PollUntil(seconds(30), [&] { return load.transactions() >= 50; }));

  std::vector<std::string> args = {"--source",  UriWithoutPassword(*servers.source, "shop"),
                                   "--target",  UriWithoutPassword(*servers.target),
                                   "--threads", "2"};
  for (const std::string& flag : TableFlags(kShopTables)) {
    args.push_back(flag);
  }
  SyncProcess sync(args, servers.dir->path() + "/sync.log");
  // The copy finishes under the load, then the stream runs for a while with large transactions.
  ASSERT_TRUE(PollUntil(seconds(60), [&] {
    return TargetHasCheckpoint(*servers.target) || !sync.Running();
  })) << sync.Log();
  ASSERT_TRUE(sync.Running()) << sync.Log();
  const auto streaming = Clock::now();
  const int64_t large_before = load.large_transactions();
  ASSERT_TRUE(PollUntil(seconds(60),
                        [&] {
                          return (load.large_transactions() >= large_before + 3 &&
                                  SecondsSince(streaming) > 3) ||
                                 !sync.Running();
                        }))
      << "large transactions: " << load.large_transactions();
  ASSERT_TRUE(sync.Running()) << sync.Log();
  const std::string load_error = load.Stop();
  ASSERT_EQ(load_error, "");
  std::cout << "load: " << load.transactions() << " transactions, " << load.large_transactions()
            << " of 20,000 rows\n";

  // SIGTERM: a clean stop, exit 0.
  EXPECT_EQ(sync.StopWith(SIGTERM, seconds(60)), 0) << sync.Log();
  const std::string log = sync.Log();
  EXPECT_NE(log.find("stopped            signal"), std::string::npos) << log;
  EXPECT_NE(log.find("copied "), std::string::npos) << log;

  // The next start resumes the stream and stops once caught up.
  std::vector<std::string> resume_args = TableFlags(kShopTables);
  resume_args.insert(resume_args.end(), {"--until-caught-up", "--format", "json"});
  CommandOutcome caught_up =
      RunSync(*servers.source, "shop", *servers.target, resume_args, seconds(180));
  ASSERT_FALSE(caught_up.timed_out);
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  json report = ParseJson(caught_up);
  EXPECT_EQ(report.at("stopped"), "caught_up");
  EXPECT_TRUE(report.at("ok").get<bool>());
  EXPECT_TRUE(report.at("copy").at("already_complete").get<bool>());
  EXPECT_GT(report.at("events_applied").get<int64_t>(), 1000) << caught_up.out;
  EXPECT_TRUE(report.at("position").get<std::string>().starts_with("mysql:")) << caught_up.out;
  EXPECT_TRUE(report.at("lag_ms").is_number());
  EXPECT_TRUE(caught_up.err.empty()) << caught_up.err;  // json mode: no progress lines

  std::string why;
  const bool consistent =
      VerifiedConsistent(*servers.source, *servers.target, "shop", kShopTables, &why);
  EXPECT_TRUE(consistent) << why;
  std::cout << "verify: " << why;
  if (!consistent) {
    // Diagnosis only (the test has failed already): did the run stop before it was caught up, or
    // were changes lost for good?
    CommandOutcome again =
        RunSync(*servers.source, "shop", *servers.target, resume_args, seconds(180));
    std::string why_again;
    const bool consistent_again =
        VerifiedConsistent(*servers.source, *servers.target, "shop", kShopTables, &why_again);
    ADD_FAILURE() << "a second --until-caught-up run (exit " << again.exit_code << ", " << again.out
                  << ") left the target "
                  << (consistent_again ? "consistent: the first stopped before it was caught up"
                                       : "still inconsistent: changes were lost")
                  << "\n"
                  << why_again << "\nfirst --until-caught-up run: " << caught_up.out
                  << "\nbackground sync log:\n"
                  << log;
  }
  for (const std::string& table : kShopTables) {
    const std::string quoted = "`shop`.`" + table.substr(5) + "`";
    EXPECT_EQ(CountRows(*servers.source, quoted), CountRows(*servers.target, quoted)) << table;
  }
  // The key-less table was left out: not created on the target.
  EXPECT_EQ(servers.target->QueryScalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                                        "TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'events_log'"),
            "0");
  std::cout << "events applied " << report.at("events_applied") << ", elapsed "
            << SecondsSince(started) << " s\n";
}

// Writes to r.items until stopped, reconnecting after errors (the servers restart under it).
class ReconnectingLoad {
 public:
  explicit ReconnectingLoad(const MariaDbServer& source) : source_(source) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ReconnectingLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  int64_t transactions() const { return transactions_.load(); }
  int64_t errors() const { return errors_.load(); }

 private:
  void Run() {
    std::mt19937_64 random(7);
    std::optional<MySqlClient> client;
    for (int64_t i = 0; !stop_; ++i) {
      try {
        if (!client) {
          client.emplace(source_.ConnectAdmin());
        }
        const std::string id = std::to_string(std::uniform_int_distribution<int>(1, 6000)(random));
        switch (i % 4) {
          case 0:
            client->Execute("INSERT INTO r.items (v, note) VALUES (" + std::to_string(i) +
                            ", 'new')");
            break;
          case 1:
            client->Execute("UPDATE r.items SET v = v + 1, note = 'upd' WHERE id = " + id);
            break;
          case 2:
            client->Execute("BEGIN; UPDATE r.items SET v = v - 1 WHERE id = " + id +
                            "; DELETE FROM r.items WHERE id = " + id + " + 1; COMMIT");
            break;
          default:
            client->Execute("UPDATE r.items SET id = id + 1000000 WHERE id = " + id);
            break;
        }
        ++transactions_;
        std::this_thread::sleep_for(milliseconds(2));
      } catch (const std::exception&) {
        ++errors_;
        client.reset();
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
  }

  const MariaDbServer& source_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> errors_{0};
};

// A row written on the source after `what` reaches the target within a minute. Markers are
// negative, so they do not move the load's AUTO_INCREMENT.
void ExpectStreamFlows(const MariaDbServer& source, const MariaDbServer& target, SyncProcess& sync,
                       int64_t marker, const std::string& what) {
  source.Execute("INSERT INTO r.items (id, v, note) VALUES (" + std::to_string(marker) +
                 ", 0, 'marker')");
  const auto start = Clock::now();
  const bool arrived = PollUntil(seconds(60), [&] {
    if (!sync.Running()) {
      return true;
    }
    try {
      return target.QueryScalar("SELECT COUNT(*) FROM r.items WHERE id = " +
                                std::to_string(marker)) == "1";
    } catch (const std::exception&) {
      return false;  // the target may still be coming back
    }
  });
  ASSERT_TRUE(arrived && sync.Running()) << what << "\n" << sync.Log();
  std::cout << "after " << what << ": a new row reached the target in " << SecondsSince(start)
            << " s\n";
}

TEST(SyncCli, SourceAndTargetRestartedMidStreamAreReconnected) {
  SyncServers servers = StartSyncServers();
  servers.source->Execute(
      "CREATE DATABASE r; CREATE TABLE r.items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v "
      "INT NOT NULL, note VARCHAR(64)) ENGINE=InnoDB; INSERT INTO r.items (id, v, note) SELECT "
      "seq, seq, 'seed' FROM r.seq_1_to_5000");
  ReconnectingLoad load(*servers.source);
  SyncProcess sync({"--source", UriWithoutPassword(*servers.source, "r"), "--target",
                    UriWithoutPassword(*servers.target), "--threads", "2"},
                   servers.dir->path() + "/sync.log");
  ASSERT_TRUE(PollUntil(seconds(60), [&] {
    return TargetHasCheckpoint(*servers.target) || !sync.Running();
  })) << sync.Log();
  ExpectStreamFlows(*servers.source, *servers.target, sync, -1, "the initial copy");

  servers.source->Restart();
  ExpectStreamFlows(*servers.source, *servers.target, sync, -2, "the source restart");
  servers.target->Restart();
  ExpectStreamFlows(*servers.source, *servers.target, sync, -3, "the target restart");
  load.Stop();
  std::cout << "load: " << load.transactions() << " transactions, " << load.errors()
            << " failed while the source was down\n";

  EXPECT_EQ(sync.StopWith(SIGTERM, seconds(60)), 0) << sync.Log();
  const std::string log = sync.Log();
  EXPECT_NE(log.find("reconnecting in"), std::string::npos) << log;
  EXPECT_EQ(log.find("tandem-secret"), std::string::npos) << log;
  std::cout << "--- sync log ---\n" << log << "---\n";

  CommandOutcome caught_up = RunSync(*servers.source, "r", *servers.target,
                                     {"--until-caught-up", "--format", "json"}, seconds(120));
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.out << caught_up.err;
  EXPECT_EQ(ParseJson(caught_up).at("stopped"), "caught_up");
  ExpectVerifiedConsistent(*servers.source, *servers.target, "r", {"r.items"});
}

// GET http://127.0.0.1:port/metrics; "" when the endpoint does not answer.
std::string FetchMetrics(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return "";
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof buffer)) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

// The value of the first sample of `name` in a Prometheus exposition; -1 when absent.
double MetricValue(const std::string& text, const std::string& name) {
  for (size_t at = text.find("\n" + name + "{"); at != std::string::npos;
       at = text.find("\n" + name + "{", at + 1)) {
    const size_t space = text.find("} ", at);
    const size_t end = text.find('\n', space);
    if (space != std::string::npos) {
      return std::stod(text.substr(space + 2, end - space - 2));
    }
  }
  return -1;
}

// --metrics-port: while sync runs, /metrics shows the rows it applied and the applied position.
TEST(SyncCli, MetricsEndpointShowsTheStreamsProgress) {
  SyncServers servers = StartSyncServers();
  servers.source->Execute(
      "CREATE DATABASE m; CREATE TABLE m.items (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB;"
      " INSERT INTO m.items SELECT seq, 0 FROM m.seq_1_to_100");
  const uint16_t port = PickFreePort();
  SyncProcess sync({"--source", UriWithoutPassword(*servers.source, "m"), "--target",
                    UriWithoutPassword(*servers.target), "--metrics-port", std::to_string(port)},
                   servers.dir->path() + "/sync.log");
  ASSERT_TRUE(PollUntil(seconds(60), [&] {
    return TargetHasCheckpoint(*servers.target) || !sync.Running();
  })) << sync.Log();
  servers.source->Execute("UPDATE m.items SET v = v + 1 WHERE id <= 50");
  std::string metrics;
  EXPECT_TRUE(PollUntil(seconds(30),
                        [&] {
                          metrics = FetchMetrics(port);
                          return MetricValue(metrics, "tandem_sync_rows_applied_total") >= 50;
                        }))
      << metrics << sync.Log();
  EXPECT_NE(metrics.find("200 OK"), std::string::npos) << metrics;
  EXPECT_GE(MetricValue(metrics, "tandem_sync_transactions_applied_total"), 1);
  EXPECT_NE(metrics.find("tandem_sync_applied_position_info{position=\"mysql:"), std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("tandem-secret"), std::string::npos);
  EXPECT_EQ(sync.StopWith(SIGTERM, seconds(60)), 0) << sync.Log();
}

// Bad input: exit 2, one stderr line with every fragment, no password, and the target untouched
// (no copy in progress, no checkpoint, no user database created).
void ExpectRefused(const CommandOutcome& outcome, const std::vector<std::string>& fragments,
                   const MariaDbServer* target) {
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.out << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  for (const std::string& fragment : fragments) {
    EXPECT_NE(outcome.err.find(fragment), std::string::npos)
        << "missing '" << fragment << "' in: " << outcome.err;
  }
  EXPECT_EQ(outcome.err.find("tandem-secret"), std::string::npos) << outcome.err;
  if (target != nullptr) {
    EXPECT_FALSE(TargetHasCopyInProgress(*target));
    EXPECT_FALSE(TargetHasCheckpoint(*target));
    EXPECT_EQ(UserDatabases(*target), std::vector<std::string>()) << "created on the target";
  }
}

struct BinlogCase {
  std::string format;
  std::string row_image;
  std::vector<std::string> fragments;
};

// For test names and failure messages (not gtest's byte dump).
void PrintTo(const BinlogCase& param, std::ostream* out) {
  *out << "binlog_format=" << param.format << " binlog_row_image=" << param.row_image;
}

class SyncCliBinlogSettings : public ::testing::TestWithParam<BinlogCase> {};

TEST_P(SyncCliBinlogSettings, AreRefusedBeforeAnythingIsWritten) {
  const BinlogCase& param = GetParam();
  SyncServers servers =
      StartSyncServers({.binlog_format = param.format, .binlog_row_image = param.row_image});
  servers.source->Execute(
      "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); INSERT INTO d.t VALUES "
      "(1, 1)");
  for (const char* format : {"text", "json"}) {
    ExpectRefused(
        RunSync(*servers.source, "d", *servers.target, {"--until-caught-up", "--format", format}),
        param.fragments, servers.target.get());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sources, SyncCliBinlogSettings,
    ::testing::Values(BinlogCase{"STATEMENT", "FULL", {"binlog_format is STATEMENT", "ROW"}},
                      BinlogCase{"MIXED", "FULL", {"binlog_format is MIXED", "ROW"}},
                      BinlogCase{"ROW", "MINIMAL", {"binlog_row_image is MINIMAL", "FULL"}}),
    [](const ::testing::TestParamInfo<BinlogCase>& info) {
      return info.param.format + "_" + info.param.row_image;
    });

TEST(SyncCli, BinlogsPurgedPastTheCheckpointAreRefused) {
  SyncServers servers = StartSyncServers();
  servers.source->Execute(
      "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); INSERT INTO d.t SELECT "
      "seq, seq FROM d.seq_1_to_100");
  CommandOutcome first = RunSync(*servers.source, "d", *servers.target, {"--until-caught-up"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::string checkpoint_before =
      servers.target
          ->QueryScalar(
              "SELECT GROUP_CONCAT(position ORDER BY stream) FROM "
              "_tandem.checkpoint")
          .value_or("");
  servers.source->Execute(
      "FLUSH BINARY LOGS; INSERT INTO d.t VALUES (1000, 1); FLUSH BINARY LOGS; INSERT INTO d.t "
      "VALUES (1001, 1)");
  const std::string newest = servers.source->Query("SHOW MASTER STATUS").at(0).at(0).value_or("");
  // The first run's binlog dump thread may linger on the source until it notices its client
  // left, and PURGE keeps a binlog that a dump thread reads: end those threads first.
  for (const ResultRow& row : servers.source->Query(
           "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")) {
    servers.source->Execute("KILL CONNECTION " + row.at(0).value_or("0"));
  }
  ASSERT_TRUE(PollUntil(seconds(30), [&] {
    servers.source->Execute("PURGE BINARY LOGS TO '" + newest + "'");
    return servers.source->Query("SHOW BINARY LOGS").at(0).at(0) == newest;
  })) << "the old binlogs were not purged";
  CommandOutcome second = RunSync(*servers.source, "d", *servers.target, {"--until-caught-up"});
  ExpectRefused(second, {"purged", "new snapshot"}, nullptr);
  // Nothing after the checkpoint was applied, and the checkpoint did not move.
  EXPECT_EQ(CountRows(*servers.target, "d.t"), 100);
  EXPECT_EQ(servers.target
                ->QueryScalar("SELECT GROUP_CONCAT(position ORDER BY stream) FROM "
                              "_tandem.checkpoint")
                .value_or(""),
            checkpoint_before);
}

TEST(SyncCli, TableWithoutKeyIsRefusedAndNothingIsCreated) {
  SyncServers servers = StartSyncServers();
  servers.source->Execute(
      "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); INSERT INTO d.t VALUES "
      "(1, 1); CREATE TABLE d.nokey (a INT, b VARCHAR(10)) ENGINE=InnoDB; INSERT INTO d.nokey "
      "VALUES (1, 'x'), (1, 'x')");
  const std::vector<std::string> fragments = {"d.nokey", "no primary key", "add a primary key"};
  ExpectRefused(RunSync(*servers.source, "d", *servers.target, {"--table", "d.nokey"}), fragments,
                servers.target.get());
  // Named with a good table, or picked up with the whole database: the good one is not created
  // either.
  ExpectRefused(
      RunSync(*servers.source, "d", *servers.target, {"--table", "d.t", "--table", "d.nokey"}),
      fragments, servers.target.get());
  ExpectRefused(RunSync(*servers.source, "d", *servers.target, {"--until-caught-up"}), fragments,
                servers.target.get());
}

TEST(SyncCli, MissingPrivilegesAreRefusedAndNothingIsWritten) {
  SyncServers servers = StartSyncServers();
  servers.source->Execute(
      "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); INSERT INTO d.t VALUES "
      "(1, 1); CREATE USER 'norepl'@'%' IDENTIFIED BY 'pw1'; GRANT SELECT, RELOAD ON *.* TO "
      "'norepl'@'%'");
  servers.target->Execute(
      "CREATE USER 'notandem'@'%' IDENTIFIED BY 'pw2'; GRANT ALL ON `d`.* TO 'notandem'@'%'");
  const std::string target = UriWithoutPassword(*servers.target);
  ExpectRefused(
      RunTandem(
          {"sync", "--source",
           "mysql://norepl@127.0.0.1:" + std::to_string(servers.source->port()) + "/d", "--target",
           target},
          {"TANDEM_SOURCE_PASSWORD=pw1", std::string("TANDEM_TARGET_PASSWORD=") + kTestPassword}),
      {"lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE"}, servers.target.get());
  CommandOutcome no_tandem = RunTandem(
      {"sync", "--source", UriWithoutPassword(*servers.source, "d"), "--target",
       "mysql://notandem@127.0.0.1:" + std::to_string(servers.target->port())},
      {std::string("TANDEM_SOURCE_PASSWORD=") + kTestPassword, "TANDEM_TARGET_PASSWORD=pw2"});
  ExpectRefused(no_tandem, {"_tandem", "GRANT"}, nullptr);
  EXPECT_EQ(no_tandem.err.find("pw2"), std::string::npos) << no_tandem.err;
  EXPECT_FALSE(TargetHasCopyInProgress(*servers.target));
  EXPECT_EQ(servers.target->QueryScalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                                        "TABLE_SCHEMA IN ('d', '_tandem')"),
            "0");
}

TEST(SyncCli, NonMySqlUrisAndBadFlagsAreOneLineExitTwo) {
  const std::string mysql = "mysql://tandem@127.0.0.1:1/d";
  const std::vector<std::string> env = PasswordEnvironment();
  ExpectRefused(
      RunTandem({"sync", "--source", "postgres://tandem@127.0.0.1:1/x", "--target", mysql}, env),
      {"source is postgres", "two mysql://, two postgres:// or two redis:// URIs"}, nullptr);
  ExpectRefused(RunTandem({"sync", "--source", mysql, "--target", "redis://127.0.0.1:1/0"}, env),
                {"target redis", "two mysql://, two postgres:// or two redis:// URIs"}, nullptr);
  ExpectRefused(RunTandem({"sync", "--source", mysql, "--target", mysql, "--threads", "0"}, env),
                {"--threads must be between 1 and"}, nullptr);
  ExpectRefused(RunTandem({"sync", "--source", mysql, "--target", mysql, "--duration", "-1"}, env),
                {"--duration must be a positive number of seconds"}, nullptr);
  ExpectRefused(
      RunTandem({"sync", "--source", mysql, "--target", mysql, "--max-retries", "-1"}, env),
      {"--max-retries"}, nullptr);
  ExpectRefused(RunTandem({"sync", "--source", mysql, "--target", mysql, "--table", "nodot"}, env),
                {"nodot"}, nullptr);
  ExpectRefused(RunTandem({"sync", "--target", mysql}, env), {"--source"}, nullptr);
}

}  // namespace
}  // namespace tandem::testing
