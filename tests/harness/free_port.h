// File: tests/harness/free_port.h
//
// Picks TCP ports for test servers: binds port 0 on 127.0.0.1, reads the port the kernel chose and
// closes the socket. Another process may take the port before the server binds it, so server
// starts detect "address in use" in the server log and retry with a new port
// (IsPortConflict()).
//
// Thread safety: safe for concurrent use; a port is never handed out twice by one process.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::testing {

// A port on 127.0.0.1 that was free a moment ago. Throws std::runtime_error if none can be found.
uint16_t PickFreePort();

// True if a server log tail says the server could not bind its port (the signal to retry with
// another one).
bool IsPortConflict(const std::string& log_tail);

}  // namespace tandem::testing
