#include "tools/stop_signals.h"

namespace tandem::tools {
namespace {

std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");

extern "C" void OnStopSignal(int) { stop_flag.store(true); }

}  // namespace

StopSignals::StopSignals() {
  stop_flag.store(false);
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
}

bool StopSignals::stop_requested() { return stop_flag.load(); }

const std::atomic<bool>* StopSignals::flag() { return &stop_flag; }

void StopSignals::RequestStop() { stop_flag.store(true); }

}  // namespace tandem::tools
