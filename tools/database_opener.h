// File: tools/database_opener.h
//
// The one place that maps an engine to its connector: tools/ links every connector and hands this
// function (as engine::DatabaseOpener) to libraries that must open connections.
#pragma once

#include <memory>

#include "engine/database.h"

namespace tandem::tools {

// Opens a connection to the server `config` describes, with the connector of its engine.
// Errors: as the connector's Open function (kConnectionFailed, kAuthenticationFailed, ...).
engine::Result<std::unique_ptr<engine::Database>> OpenDatabase(
    const engine::ConnectionConfig& config);

}  // namespace tandem::tools
