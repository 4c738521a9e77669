#include "lag/metrics_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace tandem::lag {
namespace {

constexpr size_t kMaxRequestBytes = 8192;

void SetTimeouts(int fd) {
  timeval timeout{};
  timeout.tv_sec = 2;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // the client went away or timed out: nothing to do about it
    }
    sent += static_cast<size_t>(n);
  }
}

std::string Response(int code, const char* reason, const std::string& content_type,
                     const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

}  // namespace

engine::Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, uint16_t port, Render render) {
  sockaddr_in socket_address{};
  socket_address.sin_family = AF_INET;
  socket_address.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &socket_address.sin_addr) != 1) {
    return engine::InvalidArgument("metrics address '" + address +
                                   "' is not an IPv4 address such as 127.0.0.1");
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return engine::Unavailable(std::string("cannot create the metrics socket: ") +
                               std::strerror(errno));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&socket_address), sizeof socket_address) != 0 ||
      listen(fd, 16) != 0) {
    const std::string reason = std::strerror(errno);
    close(fd);
    return engine::Unavailable("cannot listen for metrics on " + address + ":" +
                               std::to_string(port) + ": " + reason +
                               " (choose another --metrics-port)");
  }
  socklen_t length = sizeof socket_address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&socket_address), &length);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const std::string reason = std::strerror(errno);
    close(fd);
    return engine::Unavailable("cannot create the metrics server's wake-up pipe: " + reason);
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(
      fd, pipe_fds[0], pipe_fds[1], ntohs(socket_address.sin_port), std::move(render)));
  server->thread_ = std::thread([raw = server.get()] { raw->Serve(); });
  return server;
}

MetricsHttpServer::MetricsHttpServer(int listen_fd, int wake_read_fd, int wake_write_fd,
                                     uint16_t port, Render render)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      render_(std::move(render)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  const char byte = 0;
  while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  close(listen_fd_);
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void MetricsHttpServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    if ((fds[0].revents & POLLIN) == 0) {
      continue;
    }
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    HandleConnection(client);
    close(client);
  }
}

void MetricsHttpServer::HandleConnection(int fd) {
  SetTimeouts(fd);
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos) {
    if (request.size() > kMaxRequestBytes) {
      SendAll(fd, Response(400, "Bad Request", "text/plain", "request too large\n"));
      return;
    }
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // closed or timed out before a whole request
    }
    request.append(buffer, static_cast<size_t>(n));
  }
  requests_.fetch_add(1);
  const std::string_view line = std::string_view(request).substr(0, request.find("\r\n"));
  const size_t first_space = line.find(' ');
  const size_t second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) {
    SendAll(fd, Response(400, "Bad Request", "text/plain", "malformed request line\n"));
    return;
  }
  const std::string_view method = line.substr(0, first_space);
  std::string_view path = line.substr(first_space + 1, second_space - first_space - 1);
  path = path.substr(0, path.find('?'));
  if (method != "GET") {
    SendAll(fd, Response(405, "Method Not Allowed", "text/plain", "only GET is served\n"));
  } else if (path == "/metrics") {
    SendAll(fd, Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_()));
  } else if (path == "/") {
    SendAll(fd, Response(200, "OK", "text/plain", "tandem metrics: see /metrics\n"));
  } else {
    SendAll(fd, Response(404, "Not Found", "text/plain", "not found; see /metrics\n"));
  }
}

}  // namespace tandem::lag
