// File: connectors/postgres/postgres_database.h
//
// The PostgreSQL connector's entry point: OpenPostgresDatabase returns an engine::SqlDatabase
// backed by one libpq connection (see postgres_connection.h for the session settings and
// timeouts, postgres_catalog.h for what the catalog reports, postgres_value_decoder.h for how
// values are typed and postgres_assessment.h for the phase 1 checks).
//
// Thread safety: the returned object owns one connection and belongs to one thread at a time.
#pragma once

#include <memory>

#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

// Connects to the PostgreSQL server `config` names (config.engine must be kPostgres).
// Errors: kConnectionFailed (refused, unreachable, timeout, TLS), kAuthenticationFailed,
// kNotFound (no such database), kPermissionDenied (no CONNECT privilege), kUnavailable (too many
// clients, starting up), kInvalidArgument (not a PostgreSQL config). Messages are one line, name
// config.Redacted() and never contain the password.
engine::Result<std::unique_ptr<engine::SqlDatabase>> OpenPostgresDatabase(
    const engine::ConnectionConfig& config);

}  // namespace tandem::connectors::postgres
