// tandem-binlog-decode-bench: decode throughput of the binlog reader (connectors/mysql/binlog/)
// on a binlog holding about a million row changes, against `mariadb-binlog` reading the same
// files to /dev/null. Run through bench/binlog_decode_bench.sh; prints Markdown.
//
//   tandem-binlog-decode-bench [--rows N]   (N inserted rows; N/3 updated, N/3 deleted)
//
// Measured: (1) decode alone: files in memory, every event decoded and every row image turned
// into engine::Values; (2) the whole stream: MySqlChangeStream reading the binlog from the server
// as a replica, to ChangeEvents; (3) mariadb-binlog to /dev/null, raw (base64 BINLOG statements)
// and with -v (rows decoded to pseudo-SQL). Best of three runs each. Peak RSS of this process.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "connectors/mysql/binlog/event_decoder.h"
#include "connectors/mysql/mysql_change_stream.h"
#include "connectors/mysql/mysql_database.h"
#include "tests/harness/local_servers.h"

namespace {

using namespace tandem;
using connectors::mysql::binlog::BinlogEventDecoder;
using connectors::mysql::binlog::BinlogFileReader;
using connectors::mysql::binlog::ColumnPlan;
using connectors::mysql::binlog::DecodedEvent;
using connectors::mysql::binlog::RowImage;
using connectors::mysql::binlog::RowsEvent;
using connectors::mysql::binlog::TableMapEvent;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct DecodeResult {
  uint64_t rows = 0;
  uint64_t events = 0;
};

DecodeResult DecodeFiles(const std::vector<std::string>& files,
                         const std::map<std::string, engine::TableSchema>& schemas) {
  DecodeResult result;
  std::vector<RowImage> images;
  for (const std::string& file : files) {
    BinlogEventDecoder decoder;
    std::vector<ColumnPlan> plans;
    std::string table;
    auto reader = BinlogFileReader::Open(file);
    if (!reader.ok()) throw std::runtime_error(reader.status().ToString());
    while (true) {
      auto next = reader->Next();
      if (!next.ok()) throw std::runtime_error(next.status().ToString());
      if (!next->has_value()) break;
      auto event = decoder.Decode(**next);
      if (!event.ok()) throw std::runtime_error(event.status().ToString());
      ++result.events;
      if (auto* map = std::get_if<TableMapEvent>(&event->body)) {
        table = map->schema + "." + map->table;
        plans.clear();
        auto found = schemas.find(table);
        if (found == schemas.end()) continue;
        for (size_t i = 0; i < map->columns.size(); ++i) {
          auto plan =
              connectors::mysql::binlog::PlanColumn(map->columns[i], found->second.columns[i]);
          if (!plan.ok()) throw std::runtime_error(plan.status().ToString());
          plans.push_back(std::move(plan).value());
        }
      } else if (auto* rows = std::get_if<RowsEvent>(&event->body)) {
        if (plans.empty()) continue;
        auto status = connectors::mysql::binlog::DecodeRows(*rows, plans, table, &images);
        if (!status.ok()) throw std::runtime_error(status.ToString());
        result.rows += images.size();
      }
    }
  }
  return result;
}

double TimeCommand(const std::string& command) {
  const auto start = Clock::now();
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  return Seconds(Clock::now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 600000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--rows") rows = std::stoll(argv[i + 1]);
  }
  try {
    testing::TempDir dir;
    auto server = testing::MariaDbServer::Start(dir.path());
    server->Execute(
        "CREATE DATABASE bench; CREATE TABLE bench.t (id BIGINT PRIMARY KEY, qty INT, "
        "price DECIMAL(12,2), ratio DOUBLE, name VARCHAR(64), created DATETIME(6), "
        "status ENUM('new','paid','shipped'), note TEXT NULL) ENGINE=InnoDB");
    const auto start_rows = server->Query("SHOW MASTER STATUS");
    engine::BinlogPosition start{*start_rows[0][0], std::stoull(*start_rows[0][1]), ""};
    const int64_t chunk = 10000;
    for (int64_t first = 1; first <= rows; first += chunk) {
      const int64_t last = std::min(rows, first + chunk - 1);
      server->Execute(
          "INSERT INTO bench.t SELECT seq, seq % 1000, seq / 7, seq / 3.0, "
          "CONCAT('customer-', seq), TIMESTAMP('2024-01-01') + INTERVAL seq "
          "SECOND, 1 + seq % 3, IF(seq % 4 = 0, NULL, REPEAT('n', seq % 50)) FROM "
          "bench.seq_" +
          std::to_string(first) + "_to_" + std::to_string(last));
    }
    for (int64_t first = 1; first <= rows / 3; first += chunk) {
      server->Execute("UPDATE bench.t SET qty = qty + 1, status = 'paid' WHERE id BETWEEN " +
                      std::to_string(first) + " AND " + std::to_string(first + chunk - 1));
    }
    for (int64_t first = rows - rows / 3 + 1; first <= rows; first += chunk) {
      server->Execute("DELETE FROM bench.t WHERE id BETWEEN " + std::to_string(first) + " AND " +
                      std::to_string(first + chunk - 1));
    }
    server->Execute("FLUSH BINARY LOGS");
    const auto end_rows = server->Query("SHOW MASTER STATUS");
    engine::BinlogPosition end{*end_rows[0][0], std::stoull(*end_rows[0][1]), ""};

    std::vector<std::string> paths;
    for (const auto& row : server->Query("SHOW BINARY LOGS")) {
      if (*row[0] != end.file) paths.push_back(server->data_dir() + "/" + *row[0]);
    }
    std::vector<std::string> files;
    uint64_t bytes = 0;
    for (const std::string& path : paths) {
      files.push_back(ReadFile(path));
      bytes += files.back().size();
    }
    auto config = engine::ParseConnectionUri(server->Uri(), "--source", "");
    auto database = connectors::mysql::OpenMySqlDatabase(*config);
    if (!database.ok()) throw std::runtime_error(database.status().ToString());
    std::map<std::string, engine::TableSchema> schemas;
    schemas["bench.t"] = *(*database)->DescribeTable({"bench", "t"});

    double decode_best = 1e9;
    DecodeResult decoded;
    for (int run = 0; run < 3; ++run) {
      const auto t0 = Clock::now();
      decoded = DecodeFiles(files, schemas);
      decode_best = std::min(decode_best, Seconds(Clock::now() - t0));
    }

    double stream_best = 1e9;
    uint64_t streamed = 0;
    for (int run = 0; run < 3; ++run) {
      connectors::mysql::MySqlChangeStreamOptions options;
      options.tables = {{"bench", "t"}};
      const auto t0 = Clock::now();
      auto stream = connectors::mysql::OpenMySqlChangeStream(*config, start, options);
      if (!stream.ok()) throw std::runtime_error(stream.status().ToString());
      streamed = 0;
      while (true) {
        auto next = (*stream)->Next(std::chrono::seconds(5));
        if (!next.ok()) throw std::runtime_error(next.status().ToString());
        if (!next->has_value()) throw std::runtime_error("stream stalled");
        if ((*next)->IsRowChange()) ++streamed;
        if ((*next)->kind == engine::ChangeKind::kCommit && streamed == decoded.rows) {
          break;  // the last transaction of the binlog
        }
      }
      stream_best = std::min(stream_best, Seconds(Clock::now() - t0));
    }

    std::string file_list;
    for (const std::string& path : paths) file_list += " '" + path + "'";
    double raw_best = 1e9;
    double verbose_best = 1e9;
    for (int run = 0; run < 3; ++run) {
      raw_best = std::min(raw_best, TimeCommand("mariadb-binlog" + file_list + " > /dev/null"));
      verbose_best =
          std::min(verbose_best, TimeCommand("mariadb-binlog -v --base64-output=decode-rows" +
                                             file_list + " > /dev/null"));
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double mb = static_cast<double>(bytes) / 1e6;
    const double row_count = static_cast<double>(decoded.rows);
    std::printf(
        "Binlog: %zu files, %.1f MB, %llu events, %llu row images (%lld inserts, %lld "
        "updates, %lld deletes)\n\n",
        paths.size(), mb, static_cast<unsigned long long>(decoded.events),
        static_cast<unsigned long long>(decoded.rows), static_cast<long long>(rows),
        static_cast<long long>(rows / 3), static_cast<long long>(rows / 3));
    std::printf("| reader | seconds | row changes/s | MB/s |\n|---|---|---|---|\n");
    std::printf("| tandem decoder (in memory, rows to engine::Value) | %.3f | %.0f | %.1f |\n",
                decode_best, row_count / decode_best, mb / decode_best);
    std::printf(
        "| tandem MySqlChangeStream (replica dump over TCP, to ChangeEvents) | %.3f | %.0f "
        "| %.1f |\n",
        stream_best, static_cast<double>(streamed) / stream_best, mb / stream_best);
    std::printf(
        "| mariadb-binlog > /dev/null (base64 row events, not decoded) | %.3f | %.0f | "
        "%.1f |\n",
        raw_best, row_count / raw_best, mb / raw_best);
    std::printf(
        "| mariadb-binlog -v --base64-output=decode-rows > /dev/null | %.3f | %.0f | "
        "%.1f |\n",
        verbose_best, row_count / verbose_best, mb / verbose_best);
    std::printf(
        "\nPeak RSS of the bench process: %.0f MB (binlog files held in memory: %.0f "
        "MB)\n",
        static_cast<double>(usage.ru_maxrss) / 1024.0, mb);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "tandem-binlog-decode-bench: " << error.what() << "\n";
    return 2;
  }
}
