// File: tools/stop_signals.h
//
// Ctrl-C / SIGTERM as a clean stop for long-running commands (verify, lag, sync): while a
// StopSignals object lives, SIGINT and SIGTERM set a process-wide flag instead of killing the
// process; the command polls stop_requested() (or hands flag() to a library) and winds down.
//
// Thread safety: the flag is a lock-free std::atomic<bool>, set from the signal handler and read
// from any thread. One StopSignals object at a time (it restores the previous handlers when it
// goes away).
#pragma once

#include <atomic>
#include <csignal>

namespace tandem::tools {

class StopSignals {
 public:
  // Clears the flag and installs the handlers.
  StopSignals();
  // Restores the handlers that were installed before.
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // True once SIGINT or SIGTERM arrived (or RequestStop() was called).
  static bool stop_requested();
  // The flag itself, for libraries that take a `const std::atomic<bool>*` stop flag.
  static const std::atomic<bool>* flag();
  // Sets the flag as a signal would (timers such as --duration).
  static void RequestStop();

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

}  // namespace tandem::tools
