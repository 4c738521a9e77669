#include "connectors/mysql/binlog/mariadb_rpl_transport.h"

// mariadb_rpl.h needs mysql.h's declarations first.
// clang-format off
#include <mysql.h>
#include <mariadb_rpl.h>
// clang-format on

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_error.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Status;

namespace {

// ER_MASTER_FATAL_ERROR_READING_BINLOG: the server cannot send from the requested position.
constexpr unsigned int kFatalErrorReadingBinlog = 1236;

std::string SqlQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

class MariaDbRplTransport final : public BinlogTransport {
 public:
  MariaDbRplTransport(std::unique_ptr<MySqlConnection> connection, MARIADB_RPL* rpl, bool checksum,
                      size_t max_queued_bytes)
      : connection_(std::move(connection)),
        rpl_(rpl),
        checksum_(checksum),
        max_queued_bytes_(max_queued_bytes) {
    thread_ = std::thread([this] { Run(); });
  }

  ~MariaDbRplTransport() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    space_.notify_all();
    // Unblocks a read in progress: the socket is shut down and mariadb_rpl_fetch returns an error.
    mariadb_cancel(connection_->handle());
    thread_.join();
    mariadb_rpl_close(rpl_);
  }

  Result<std::optional<std::string>> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    available_.wait_for(lock, timeout, [&] { return !queue_.empty() || !error_.ok(); });
    if (!queue_.empty()) {
      std::string event = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= event.size();
      lock.unlock();
      space_.notify_one();
      return std::optional<std::string>(std::move(event));
    }
    if (!error_.ok()) {
      return error_;
    }
    return std::optional<std::string>();
  }

  bool checksum_negotiated() const override { return checksum_; }

 private:
  // Reader thread: fetches events until an error or stop.
  void Run() {
    MARIADB_RPL_EVENT* event = nullptr;
    while (true) {
      event = mariadb_rpl_fetch(rpl_, event);
      if (event == nullptr) {
        Fail(FetchError());
        return;
      }
      if (event->raw_data == nullptr || event->event_length > event->raw_data_size ||
          event->event_length < 19) {
        Fail(engine::Corruption("the binlog dump from " + connection_->config().Redacted() +
                                " delivered a packet of " + std::to_string(event->raw_data_size) +
                                " bytes for an event of " + std::to_string(event->event_length)));
        break;
      }
      std::string bytes(reinterpret_cast<const char*>(event->raw_data) +
                            (event->raw_data_size - event->event_length),
                        event->event_length);
      std::unique_lock<std::mutex> lock(mu_);
      space_.wait(lock, [&] {
        return stop_ || queue_.empty() || queued_bytes_ + bytes.size() <= max_queued_bytes_;
      });
      if (stop_) {
        break;
      }
      queued_bytes_ += bytes.size();
      queue_.push_back(std::move(bytes));
      lock.unlock();
      available_.notify_one();
    }
    mariadb_free_rpl_event(event);
  }

  Status FetchError() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) {
        return engine::Cancelled("binlog transport stopped");
      }
    }
    MYSQL* handle = connection_->handle();
    const unsigned int number = mysql_errno(handle);
    const std::string message =
        OneLineWithoutSecret(number != 0 ? mysql_error(handle) : mariadb_rpl_error(rpl_),
                             connection_->config().password);
    const std::string where = connection_->config().Redacted();
    if (number == kFatalErrorReadingBinlog) {
      if (message.find("purged") != std::string::npos ||
          message.find("Could not find") != std::string::npos ||
          message.find("could not find") != std::string::npos) {
        return engine::FailedPrecondition(
            "binlogs purged past the checkpoint on " + where + ": " + message +
            " (the source no longer has the position to resume from; start again from a new "
            "snapshot, and keep binlogs longer with expire_logs_days / "
            "binlog_expire_logs_seconds)");
      }
      return engine::FailedPrecondition("the binlog dump from " + where + " failed: " + message);
    }
    if (number == 0) {
      return engine::ConnectionFailed("the binlog dump from " + where + " ended: " + message);
    }
    MySqlError error{number, mysql_sqlstate(handle), message};
    Status status = QueryErrorStatus(error, connection_->config(), "streaming the binlog");
    if (status.code() == engine::StatusCode::kTimeout ||
        status.code() == engine::StatusCode::kUnavailable) {
      return engine::ConnectionFailed(status.message());
    }
    return status;
  }

  void Fail(Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::move(status);
    }
    available_.notify_all();
  }

  // Constant after construction; the handle is used by the reader thread only (and by
  // mariadb_cancel from the destructor, which is made for that).
  const std::unique_ptr<MySqlConnection> connection_;
  MARIADB_RPL* const rpl_;
  const bool checksum_;
  const size_t max_queued_bytes_;

  std::mutex mu_;
  std::condition_variable available_;  // queue_ gained an event or error_ was set
  std::condition_variable space_;      // queue_ lost an event or stop_ was set
  std::deque<std::string> queue_;      // guarded by mu_
  size_t queued_bytes_ = 0;            // guarded by mu_
  Status error_;                       // guarded by mu_
  bool stop_ = false;                  // guarded by mu_

  std::thread thread_;  // started last, in the constructor
};

}  // namespace

Result<std::unique_ptr<BinlogTransport>> OpenMariaDbRplTransport(
    const engine::ConnectionConfig& config, const engine::BinlogPosition& start,
    const RplTransportOptions& options) {
  if (options.server_id == 0) {
    return engine::InvalidArgument("a binlog dump needs a non-zero replica server id");
  }
  TANDEM_ASSIGN_OR_RETURN(auto connection, MySqlConnection::Open(config));
  const std::string action = "preparing the binlog dump";
  TANDEM_ASSIGN_OR_RETURN(TextRows checksum_rows,
                          connection->QueryText("SELECT @@global.binlog_checksum", action));
  const bool checksum =
      !checksum_rows.empty() && checksum_rows[0][0].has_value() && *checksum_rows[0][0] == "CRC32";
  TANDEM_RETURN_IF_ERROR(
      connection->Execute("SET @master_binlog_checksum = @@global.binlog_checksum", action));
  const auto heartbeat_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.heartbeat).count();
  TANDEM_RETURN_IF_ERROR(connection->Execute(
      "SET @master_heartbeat_period = " + std::to_string(heartbeat_ns), action));
  if (connection->is_mariadb()) {
    TANDEM_RETURN_IF_ERROR(connection->Execute("SET @mariadb_slave_capability = 4", action));
    if (options.use_gtid) {
      TANDEM_RETURN_IF_ERROR(
          connection->Execute("SET @slave_connect_state = " + SqlQuote(start.gtid_set), action));
      TANDEM_RETURN_IF_ERROR(connection->Execute("SET @slave_gtid_strict_mode = 1", action));
    }
  } else if (options.use_gtid) {
    return engine::Unsupported(
        "starting a MySQL binlog dump from a GTID set is not supported; "
        "start from a binlog file and offset");
  }
  MARIADB_RPL* rpl = mariadb_rpl_init(connection->handle());
  if (rpl == nullptr) {
    return connection->LastError("starting the binlog dump");
  }
  const std::string file = options.use_gtid ? std::string() : start.file;
  const unsigned long offset = options.use_gtid ? 4ul : static_cast<unsigned long>(start.offset);
  const unsigned int flags = 0;
  if (mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID,
                           static_cast<unsigned int>(options.server_id)) != 0 ||
      mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, file.c_str(), file.size()) != 0 ||
      mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, offset) != 0 ||
      mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, flags) != 0) {
    const std::string message = mariadb_rpl_error(rpl);
    mariadb_rpl_close(rpl);
    return engine::Internal("configuring the binlog dump: " + message);
  }
  if (mariadb_rpl_open(rpl) != 0) {
    const unsigned int number = mysql_errno(connection->handle());
    const std::string message = OneLineWithoutSecret(
        number != 0 ? mysql_error(connection->handle()) : mariadb_rpl_error(rpl), config.password);
    mariadb_rpl_close(rpl);
    if (number == kFatalErrorReadingBinlog) {
      return engine::FailedPrecondition("binlogs purged past the checkpoint on " +
                                        config.Redacted() + ": " + message);
    }
    return engine::ConnectionFailed("cannot start the binlog dump from " + config.Redacted() +
                                    ": " + message);
  }
  return std::unique_ptr<BinlogTransport>(std::make_unique<MariaDbRplTransport>(
      std::move(connection), rpl, checksum, options.max_queued_bytes));
}

}  // namespace tandem::connectors::mysql::binlog
