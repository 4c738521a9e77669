// File: tests/connectors/redis/redis_test_support.h
//
// Helpers shared by the Redis connector's integration tests: opening tandem's connection from a
// URI string (through the same parser the command line uses) and reading findings.
//
// Thread safety: free functions; each call opens its own connection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_database.h"
#include "engine/assessment.h"
#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::redis::testing {

// ParseConnectionUri(uri) then OpenRedisDatabase; a bad URI is a test bug (ADD_FAILURE + error).
engine::Result<std::unique_ptr<engine::KeyValueDatabase>> OpenUri(const std::string& uri);

// ParseConnectionUri(uri) then Connection::Open.
engine::Result<std::unique_ptr<Connection>> ConnectUri(const std::string& uri);

// The codes of `findings`, in order.
std::vector<std::string> Codes(const std::vector<engine::Finding>& findings);

// The finding with `code`, or nullptr.
const engine::Finding* FindCode(const std::vector<engine::Finding>& findings,
                                const std::string& code);

}  // namespace tandem::connectors::redis::testing
