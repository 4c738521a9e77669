// File: tools/applied_position.h
//
// What a `tandem sync` stream has durably applied on its target, read from the target's checkpoint
// rows with the connector's change applier: for the cutover's drain, which waits until the stream
// has applied everything up to the old primary's position at the freeze
// (orchestration::DatastoreLinkPorts::open_applied_reader).
//
// Thread safety: opens and closes its own connection per call; safe from any thread.
#pragma once

#include <functional>
#include <string>

#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::tools {

// Reads the greatest position among the checkpoint rows of `stream` (engine::ReadResumePosition);
// std::monostate when it never committed one. Errors: the connection's; kFailedPrecondition for
// rows that cannot be ordered.
using AppliedPositionReader = std::function<engine::Result<engine::Position>()>;

// Opens one connection to `target` (the connector's change applier, which creates tandem's
// bookkeeping objects once if missing) and returns a reader over it, for repeated reads during one
// wait. The reader owns the connection; use it from one thread at a time.
// Errors: the applier's Open (connection, privileges).
engine::Result<AppliedPositionReader> OpenAppliedPositionReader(
    const engine::ConnectionConfig& target, const std::string& stream);

}  // namespace tandem::tools
