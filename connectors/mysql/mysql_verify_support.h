// File: connectors/mysql/mysql_verify_support.h
//
// engine::VerificationSupport for MariaDB/MySQL over one MySqlConnection (see engine/verification.h
// for the statements used). MySqlDatabase hands it out through SqlDatabase::verification().
//
// Thread safety: owned by the thread that owns the connection.
#pragma once

#include <memory>

#include "connectors/mysql/mysql_connection.h"
#include "engine/verification.h"

namespace tandem::connectors::mysql {

// REQUIRES: `connection` outlives the returned object.
std::unique_ptr<engine::VerificationSupport> NewMySqlVerificationSupport(
    MySqlConnection& connection);

}  // namespace tandem::connectors::mysql
