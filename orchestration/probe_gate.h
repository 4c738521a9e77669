// File: orchestration/probe_gate.h
//
// ProbeGate: a URL (the plan's `probes`) that must answer 2xx throughout a traffic step.
//
// Its own thread sends GET <url> every `interval` (1 s; measured from one attempt's start to the
// next), each on a fresh connection, with `timeout` (2 s) for the connect and for the reply. An
// attempt either gets an answer (any HTTP status) or none (refused, timed out, reset).
//
// Reading:
//   value      consecutive failed attempts up to the latest: answered non-2xx, or no answer
//   threshold  0 when the latest attempt was answered (a single non-2xx fails at once: the
//              service said it is unhealthy), 1 when it got no answer (a single probe lost on a
//              busy machine is tolerated; two in a row fail)
//   samples    attempts completed; min_samples = 1; unit "failures"
//   verdict    insufficient before any attempt completed, and while the only attempts were
//              unanswered fewer than 2 in a row (no answer yet to judge); failing when
//              value > threshold (the latest answer was non-2xx, or 2 attempts in a row got no
//              answer); else passing
//
// Only http:// URLs: http://host[:port][/path][?query]; no user information (credentials have
// no place in a plan's probe list).
//
// Lifetime: Start() starts the thread; Stop() wakes it and joins it, which takes at most one
// in-flight attempt (bounded by 2 x timeout: connect plus reply); the destructor stops.
//
// Thread safety: Evaluate, Start and Stop may be called from any thread; the probe thread's
// results are guarded by a mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/status.h"
#include "orchestration/gate.h"

namespace tandem::orchestration {

class ProbeGate : public Gate {
 public:
  explicit ProbeGate(std::string url,
                     std::chrono::milliseconds interval = std::chrono::milliseconds(1000),
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  ~ProbeGate() override;
  ProbeGate(const ProbeGate&) = delete;
  ProbeGate& operator=(const ProbeGate&) = delete;

  // Checks the URL and starts probing.
  // Errors: kInvalidArgument naming the URL when it is not http://host[:port][/path], and for
  // interval or timeout <= 0; kFailedPrecondition when already started (a stopped gate does not
  // start again).
  engine::Status Start();
  // Idempotent.
  void Stop();

  const std::string& url() const { return url_; }
  // "probe <url>".
  std::string name() const override { return "probe " + url_; }
  GateReading Evaluate(std::chrono::steady_clock::time_point now) override;

 private:
  void Run(std::string host, int port, std::string path);
  // Records one attempt: the status when answered, else nullopt and `error`.
  void Record(std::optional<int> status, const std::string& error);

  // Constant after construction.
  const std::string url_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled when stopping_ becomes true
  // Guarded by mu_.
  bool started_ = false;
  bool stopping_ = false;
  int64_t attempts_ = 0;
  int64_t consecutive_failures_ = 0;       // non-2xx or unanswered, up to the latest attempt
  int64_t consecutive_unanswered_ = 0;     // unanswered, up to the latest attempt
  std::optional<int> last_answer_status_;  // the latest answer's status, whenever it came
  std::string last_error_;                 // the latest unanswered attempt's reason

  std::mutex stop_mu_;  // serialises Stop()
  std::thread thread_;
};

}  // namespace tandem::orchestration
