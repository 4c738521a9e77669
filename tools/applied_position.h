// File: tools/applied_position.h
//
// What a `tandem sync` stream has durably applied on its target, read from the target's checkpoint
// rows with the connector's change applier: for the cutover's drain, which waits until the stream
// has applied everything up to the old primary's position at the freeze
// (orchestration::DatastoreLinkPorts::read_applied).
//
// Thread safety: opens and closes its own connection per call; safe from any thread.
#pragma once

#include <string>

#include "engine/connection_config.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::tools {

// The greatest position among the checkpoint rows of `stream` on `target`
// (engine::ReadResumePosition); std::monostate when it never committed one.
// Errors: the applier's (connection, privileges); kFailedPrecondition for rows that cannot be
// ordered.
engine::Result<engine::Position> ReadAppliedPosition(const engine::ConnectionConfig& target,
                                                     const std::string& stream);

}  // namespace tandem::tools
