#include "tests/tools/postgres_sync_support.h"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "tests/harness/sample_data.h"
#include "tests/tools/sync_cli_support.h"

namespace tandem::testing {
namespace {

using nlohmann::json;

// The extra tables, created on the source before the target's schema is dumped from it.
constexpr char kExtraTablesSql[] = R"sql(
CREATE DOMAIN shop.positive_amount AS numeric(12,2) CHECK (VALUE > 0);
CREATE TABLE shop.wide (
  id bigint PRIMARY KEY,
  amount shop.positive_amount NOT NULL,
  counter integer NOT NULL DEFAULT 0,
  tags text[],
  doc jsonb,
  big text
);
INSERT INTO shop.wide
  SELECT g, g + 0.5, 0, ARRAY['a' || g, 'b'], jsonb_build_object('g', g),
         repeat(md5(g::text), 400)
  FROM generate_series(1, 200) g;
CREATE TABLE shop.scratch (id integer PRIMARY KEY, note text);
INSERT INTO shop.scratch SELECT g, 'n' || g FROM generate_series(1, 50) g;
CREATE TABLE shop.big (id bigserial PRIMARY KEY, batch integer NOT NULL, payload text);
)sql";

std::vector<std::string> ClientConnection(const PostgresServer& server) {
  return {"-h", "127.0.0.1", "-p", std::to_string(server.port()), "-U", "tandem"};
}

std::vector<std::string> PgEnvironment() { return {std::string("PGPASSWORD=") + kTestPassword}; }

void RunPgTool(const PostgresServer& server, const std::string& tool, std::vector<std::string> args,
               const std::string& log_path) {
  std::vector<std::string> argv = {PostgresBinDir() + "/" + tool};
  const std::vector<std::string> connection = ClientConnection(server);
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.insert(argv.end(), args.begin(), args.end());
  RunCommand(
      {.argv = argv, .env = PgEnvironment(), .drop_env_prefixes = {"PG"}, .log_path = log_path});
}

}  // namespace

const std::vector<std::string> kPostgresSyncTables = {"shop.all_types",
                                                      "shop.order_lines",
                                                      "shop.customers",
                                                      "shop.wide",
                                                      "shop.scratch",
                                                      "shop.big",
                                                      "public.pgbench_accounts",
                                                      "public.pgbench_branches",
                                                      "public.pgbench_tellers",
                                                      "public.pgbench_history"};

PostgresSyncServers StartPostgresSyncServers(PostgresOptions source_options) {
  PostgresSyncServers servers;
  servers.dir = std::make_unique<TempDir>("tandem-pg-sync");
  source_options.extra_settings.push_back("logical_decoding_work_mem = '64kB'");
  servers.source = PostgresServer::Start(servers.dir->path(), source_options);
  servers.target = PostgresServer::Start(servers.dir->path());
  return servers;
}

std::string PostgresUriWithoutPassword(const PostgresServer& server) {
  return "postgres://tandem@127.0.0.1:" + std::to_string(server.port()) + "/tandem";
}

void PreparePostgresSyncData(const PostgresSyncServers& servers, int rows) {
  LoadPostgresSampleData(*servers.source, rows);
  servers.source->Execute(kExtraTablesSql);
  RunPgTool(*servers.source, "pgbench", {"-i", "-s", "1", "-q", "tandem"},
            servers.dir->path() + "/pgbench-init.log");
  // pgbench_history has no key; tandem sync needs one.
  servers.source->Execute(
      "ALTER TABLE public.pgbench_history ADD COLUMN hid bigserial PRIMARY KEY");
  const std::string schema_file = servers.dir->path() + "/schema.sql";
  RunPgTool(*servers.source, "pg_dump",
            {"--schema-only", "--no-owner", "--file", schema_file, "tandem"},
            servers.dir->path() + "/pg_dump.log");
  RunPgTool(*servers.target, "psql", {"-v", "ON_ERROR_STOP=1", "-q", "-f", schema_file, "tandem"},
            servers.dir->path() + "/psql.log");
}

std::vector<std::string> PostgresSyncArgs(const PostgresSyncServers& servers,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--source", PostgresUriWithoutPassword(*servers.source),
                                   "--target", PostgresUriWithoutPassword(*servers.target)};
  for (const std::string& table : kPostgresSyncTables) {
    args.push_back("--table");
    args.push_back(table);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

CommandOutcome RunPostgresSync(const PostgresSyncServers& servers,
                               const std::vector<std::string>& extra,
                               std::chrono::seconds timeout) {
  std::vector<std::string> args = {"sync"};
  const std::vector<std::string> rest = PostgresSyncArgs(servers, extra);
  args.insert(args.end(), rest.begin(), rest.end());
  return RunTandem(args, PasswordEnvironment(), timeout);
}

bool PostgresTablesConsistent(const PostgresSyncServers& servers, std::string* why) {
  std::vector<std::string> args = {"verify",
                                   "--source",
                                   PostgresUriWithoutPassword(*servers.source),
                                   "--target",
                                   PostgresUriWithoutPassword(*servers.target),
                                   "--format",
                                   "json"};
  for (const std::string& table : kPostgresSyncTables) {
    args.push_back("--table");
    args.push_back(table);
  }
  CommandOutcome verified = RunTandem(args, PasswordEnvironment(), std::chrono::seconds(180));
  json report = json::parse(verified.out, nullptr, false);
  if (verified.timed_out || report.is_discarded()) {
    *why = "verify did not report: " + verified.err;
    return false;
  }
  const bool consistent = verified.exit_code == 0 && report.value("consistent", false) &&
                          report.at("tables").size() == kPostgresSyncTables.size();
  for (const json& table : report.at("tables")) {
    const json& differences = table.at("differences");
    *why += table.at("table").get<std::string>() + ": source " + table.at("source_rows").dump() +
            " rows, target " + table.at("target_rows").dump() + ", " +
            std::to_string(differences.size()) + " differences";
    for (size_t i = 0; i < differences.size() && i < 5; ++i) {
      *why += " " + differences[i].dump();
    }
    *why += "\n";
  }
  if (!consistent) {
    *why += verified.err;
  }
  return consistent;
}

std::optional<SlotState> ReadSlotState(const PostgresServer& source) {
  ResultRows rows = source.Query(
      "SELECT slot_name, confirmed_flush_lsn::text, (pg_current_wal_lsn() - restart_lsn)::bigint, "
      "active FROM pg_replication_slots WHERE slot_name LIKE 'tandem\\_sync\\_%'");
  if (rows.empty()) {
    return std::nullopt;
  }
  if (rows.size() > 1) {
    throw std::runtime_error("more than one slot of stream sync on the source");
  }
  SlotState state;
  state.name = rows[0][0].value_or("");
  state.confirmed_flush_lsn = rows[0][1].value_or("");
  state.retained_bytes = std::stoll(rows[0][2].value_or("0"));
  state.active = rows[0][3].value_or("f") == "t";
  return state;
}

PostgresWriteLoad::PostgresWriteLoad(const PostgresSyncServers& servers, int pgbench_rate)
    : servers_(servers) {
  std::vector<std::string> argv = {PostgresBinDir() + "/pgbench",
                                   "-n",
                                   "-R",
                                   std::to_string(pgbench_rate),
                                   "-T",
                                   "3600",
                                   "-c",
                                   "2",
                                   "-j",
                                   "1"};
  const std::vector<std::string> connection = ClientConnection(*servers.source);
  argv.insert(argv.end(), connection.begin(), connection.end());
  argv.push_back("tandem");
  pgbench_ = ChildProcess::Spawn({.argv = argv,
                                  .env = PgEnvironment(),
                                  .drop_env_prefixes = {"PG"},
                                  .log_path = servers.dir->path() + "/pgbench.log"});
  for (int worker = 0; worker < 2; ++worker) {
    threads_.emplace_back([this, worker] { Generate(worker); });
  }
}

PostgresWriteLoad::~PostgresWriteLoad() { Stop(); }

void PostgresWriteLoad::Stop() {
  stop_.store(true);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  pgbench_.Stop(SIGINT, std::chrono::seconds(10));
}

void PostgresWriteLoad::Generate(int worker) {
  std::mt19937_64 random(1000 + worker);
  auto pick = [&](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random);
  };
  std::optional<PostgresClient> client;
  auto last_big = std::chrono::steady_clock::now();
  int batch = 0;
  while (!stop_.load()) {
    std::string sql;
    const int64_t id = pick(1, 400);
    switch (pick(0, 9)) {
      case 0:  // every column type; the TOASTed c_large_text is left alone
        sql =
            "UPDATE shop.all_types SET c_int = coalesce(c_int, 0) % 1000000 + 1, c_numeric = "
            "coalesce(c_numeric, 0) + 0.000001, c_real = -0.0, c_double = 'NaN', c_text = "
            "md5(random()::text) || '😀', c_bytea = decode(md5(random()::text), 'hex'), "
            "c_timestamptz = clock_timestamp(), c_date = current_date, c_jsonb = "
            "jsonb_build_object('n', random()), c_uuid = gen_random_uuid(), c_bool = NOT "
            "coalesce(c_bool, false), c_int_array = ARRAY[1, 2, " +
            std::to_string(id) + "], c_mood = 'happy' WHERE id = " + std::to_string(id);
        break;
      case 1:  // insert a copy of a row under a new key, then delete another
        sql =
            "BEGIN; INSERT INTO shop.all_types (c_smallint, c_int, c_bigint, c_numeric, "
            "c_real, c_double, c_text, c_varchar, c_char, c_bytea, c_date, c_time, "
            "c_timestamp, c_timestamptz, c_interval, c_bool, c_json, c_jsonb, c_uuid, "
            "c_int_array, c_text_array, c_mood, c_large_text) SELECT c_smallint, c_int, "
            "c_bigint, c_numeric, c_real, c_double, c_text, c_varchar, c_char, c_bytea, "
            "c_date, c_time, c_timestamp, c_timestamptz, c_interval, c_bool, c_json, c_jsonb, "
            "c_uuid, c_int_array, c_text_array, c_mood, c_large_text FROM shop.all_types "
            "WHERE id = " +
            std::to_string(id) +
            "; DELETE FROM shop.all_types WHERE id = " + std::to_string(pick(1, 2000)) + "; COMMIT";
        break;
      case 2:  // primary-key change
        sql = "UPDATE shop.customers SET email = 'w" + std::to_string(worker) + "-" +
              std::to_string(pick(0, 1'000'000'000)) +
              "@' || email WHERE email = (SELECT email FROM shop.customers ORDER BY email "
              "OFFSET " +
              std::to_string(pick(0, 100)) + " LIMIT 1)";
        break;
      case 3:  // composite key: update, delete, reinsert
        sql = "BEGIN; UPDATE shop.order_lines SET quantity = quantity + 1 WHERE order_id = " +
              std::to_string(pick(1, 300)) +
              "; DELETE FROM shop.order_lines WHERE (order_id, line_no) IN (SELECT order_id, "
              "line_no FROM shop.order_lines ORDER BY order_id OFFSET " +
              std::to_string(pick(0, 200)) + " LIMIT 1); INSERT INTO shop.order_lines VALUES (" +
              std::to_string(100000 + pick(0, 1'000'000)) +
              ", 1, 'SKU', 1, 9.99, NULL) ON CONFLICT DO NOTHING; COMMIT";
        break;
      case 4:  // TOASTed rows: update beside the large value, or the large value itself
        sql = pick(0, 3) == 0
                  ? "UPDATE shop.wide SET big = repeat(md5(random()::text), 500) WHERE id = " +
                        std::to_string(pick(1, 200))
                  : "UPDATE shop.wide SET counter = counter + 1, amount = amount + 1, tags = "
                    "tags || 'x'::text WHERE id = " +
                        std::to_string(pick(1, 200));
        break;
      case 5:  // TRUNCATE between inserts of one transaction (worker 0 only: it locks the table)
        if (worker == 0) {
          sql = "BEGIN; INSERT INTO shop.scratch VALUES (" + std::to_string(1000 + pick(0, 1000)) +
                ", 'before') ON CONFLICT DO NOTHING; TRUNCATE shop.scratch; INSERT INTO "
                "shop.scratch SELECT g, 'after' || g FROM generate_series(1, " +
                std::to_string(pick(1, 40)) + ") g; COMMIT";
        }
        break;
      default:
        sql =
            "UPDATE shop.customers SET balance = coalesce(balance, 0) + 1, notes = 'n' || "
            "random() WHERE email = (SELECT email FROM shop.customers ORDER BY email OFFSET " +
            std::to_string(pick(0, 200)) + " LIMIT 1)";
        break;
    }
    // A transaction far larger than logical_decoding_work_mem (64kB) every few seconds.
    if (worker == 1 && std::chrono::steady_clock::now() - last_big > std::chrono::seconds(4)) {
      last_big = std::chrono::steady_clock::now();
      sql = "INSERT INTO shop.big (batch, payload) SELECT " + std::to_string(++batch) +
            ", repeat('x', 100) FROM generate_series(1, 20000)";
    }
    if (sql.empty()) {
      continue;
    }
    try {
      if (!client) {
        client.emplace(PostgresClient::ConnectUri(servers_.source->Uri()));
      }
      client->Execute(sql);
      transactions_.fetch_add(1);
    } catch (const std::exception& error) {
      // Deadlocks between the two generators and pgbench are expected now and then.
      errors_.fetch_add(1);
      client.reset();
      std::lock_guard<std::mutex> lock(error_mu_);
      if (first_error_.empty()) {
        first_error_ = error.what();
      }
    }
  }
}

}  // namespace tandem::testing
