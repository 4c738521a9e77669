// File: tools/lag_command.h
//
// `tandem lag --source U --target U [--interval MS] [--duration S] [--max-lag MS [--for S]]
//             [--window S] [--poll-interval MS] [--first-heartbeat-timeout S]
//             [--metrics-port P [--metrics-address A]] [--format text|json]`
// End-to-end replication lag by heartbeat (lag/lag_monitor.h), optionally as a gate
// (lag/lag_gate.h). Exit 0: within the gate (or, without one, heartbeats kept arriving);
// 1: the gate failed (or the heartbeat stopped arriving); 2: could not measure.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

int RunLagCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
