#include "tests/connectors/redis/redis_test_support.h"

#include <gtest/gtest.h>

namespace tandem::connectors::redis::testing {

namespace {
engine::Result<engine::ConnectionConfig> Parse(const std::string& uri) {
  auto config = engine::ParseConnectionUri(uri, "--source", "");
  if (!config.ok()) {
    ADD_FAILURE() << "test URI does not parse: " << config.status().ToString();
  }
  return config;
}
}  // namespace

engine::Result<std::unique_ptr<engine::KeyValueDatabase>> OpenUri(const std::string& uri) {
  TANDEM_ASSIGN_OR_RETURN(engine::ConnectionConfig config, Parse(uri));
  return OpenRedisDatabase(config);
}

engine::Result<std::unique_ptr<Connection>> ConnectUri(const std::string& uri) {
  TANDEM_ASSIGN_OR_RETURN(engine::ConnectionConfig config, Parse(uri));
  return Connection::Open(config);
}

std::vector<std::string> Codes(const std::vector<engine::Finding>& findings) {
  std::vector<std::string> codes;
  for (const engine::Finding& finding : findings) {
    codes.push_back(finding.code);
  }
  return codes;
}

const engine::Finding* FindCode(const std::vector<engine::Finding>& findings,
                                const std::string& code) {
  for (const engine::Finding& finding : findings) {
    if (finding.code == code) {
      return &finding;
    }
  }
  return nullptr;
}

}  // namespace tandem::connectors::redis::testing
