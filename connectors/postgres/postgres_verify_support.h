// File: connectors/postgres/postgres_verify_support.h
//
// engine::VerificationSupport for PostgreSQL over one PostgresConnection (see
// engine/verification.h for the statements used). PostgresDatabase hands it out through
// SqlDatabase::verification().
//
// Thread safety: owned by the thread that owns the connection.
#pragma once

#include <memory>

#include "connectors/postgres/postgres_connection.h"
#include "engine/verification.h"

namespace tandem::connectors::postgres {

// REQUIRES: `connection` outlives the returned object.
std::unique_ptr<engine::VerificationSupport> NewPostgresVerificationSupport(
    PostgresConnection& connection);

}  // namespace tandem::connectors::postgres
