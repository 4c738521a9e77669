#include "tests/harness/app_clients.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "tests/harness/mysql_client.h"
#include "tests/harness/postgres_client.h"
#include "tests/harness/redis_client.h"

namespace tandem::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

AppClient MariaDbAppClient(const std::string& database, InsertStatement insert) {
  AppClient app;
  app.connect = [database, insert](uint16_t port) -> std::function<void(int)> {
    MySqlConnectOptions options;
    options.port = port;
    options.user = "app";
    options.password = kAppPassword;
    options.database = database;
    options.connect_timeout = seconds(2);
    auto client = std::make_shared<MySqlClient>(MySqlClient::Connect(options));
    return [client, insert](int id) { client->Execute(insert(id)); };
  };
  app.refused = [](const std::string& error) {
    return Contains(error, "read-only") || Contains(error, "read_only");
  };
  return app;
}

AppClient PostgresAppClient(const std::string& database, InsertStatement insert) {
  AppClient app;
  app.connect = [database, insert](uint16_t port) -> std::function<void(int)> {
    PostgresConnectOptions options;
    options.port = port;  // HAProxy; scram-sha-256 from 127.0.0.1
    options.user = "app";
    options.password = kAppPassword;
    options.database = database;
    options.connect_timeout = seconds(2);
    auto client = std::make_shared<PostgresClient>(PostgresClient::Connect(options));
    // A statement never waits long (HAProxy's 5 s timeouts bound a dead connection too).
    client->Execute("SET statement_timeout = 3000");
    return [client, insert](int id) { client->Execute(insert(id)); };
  };
  app.refused = [](const std::string& error) { return Contains(error, "read-only transaction"); };
  return app;
}

void CreatePostgresAppDatabase(const PostgresServer& server, const std::string& database,
                               const std::string& create_table, const std::string& table) {
  server.Execute("CREATE DATABASE " + database + " OWNER tandem");
  server.Execute(create_table, database);
  server.Execute("ALTER TABLE " + table + " OWNER TO tandem", database);
  server.Execute(std::string("CREATE ROLE app LOGIN PASSWORD '") + kAppPassword + "'");
  server.Execute("GRANT SELECT, INSERT ON " + table + " TO app", database);
}

std::string PostgresDefaultReadOnly(const PostgresServer& server, const std::string& database) {
  return server.QueryScalar("SHOW default_transaction_read_only", database).value_or("");
}

AppClient RedisAppClient(const std::string& password, const std::string& key_prefix) {
  AppClient app;
  app.connect = [password, key_prefix](uint16_t port) -> std::function<void(int)> {
    RedisConnectOptions options;
    options.port = port;
    options.password = password;
    options.timeout = milliseconds(2000);
    auto client = std::make_shared<RedisClient>(RedisClient::Connect(options));
    return [client, key_prefix](int id) {
      const std::string reply = client->Command({"SET", key_prefix + std::to_string(id), "w"});
      if (reply != "OK") throw std::runtime_error("SET answered " + reply);
    };
  };
  app.refused = [](const std::string&) { return false; };
  return app;
}

std::set<int> RedisIds(const RedisServer& server, const std::string& key_prefix) {
  std::set<int> ids;
  const RedisValue keys = server.CommandValue({"KEYS", key_prefix + "*"});
  for (const RedisValue& key : keys.elements) {
    ids.insert(std::stoi(key.text.substr(key_prefix.size())));
  }
  return ids;
}

bool RedisWritesAtOnce(const RedisServer& server, milliseconds bound) {
  RedisConnectOptions options = server.ConnectOptions(0);
  options.timeout = std::max(bound, milliseconds(2000));
  RedisClient client = RedisClient::Connect(options);
  const auto started = std::chrono::steady_clock::now();
  std::string reply;
  try {
    reply = client.Command({"SET", "probe:writable", "1"});
  } catch (const std::exception& error) {
    reply = error.what();
  }
  return reply == "OK" && std::chrono::steady_clock::now() - started < bound;
}

}  // namespace tandem::testing
