#include "tests/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace trainbus::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

absl::Status Errno(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Writes all of `n` bytes; false when the peer is gone.
bool WriteAll(int fd, const char* data, ssize_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= w;
  }
  return true;
}

void Close(int& fd) {
  if (fd < 0) return;
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(uint16_t target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return Errno("listening on 127.0.0.1:0");
  }
  int wake[2];
  if (::pipe(wake) != 0) {
    ::close(fd);
    return Errno("pipe");
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, ntohs(a.sin_port), target, wake[0], wake[1]));
}

TcpProxy::TcpProxy(int listen_fd, uint16_t port, uint16_t target,
                   int wake_read, int wake_write)
    : listen_fd_(listen_fd),
      port_(port),
      target_(target),
      wake_read_(wake_read),
      wake_write_(wake_write),
      thread_([this] { Loop(); }) {}

TcpProxy::~TcpProxy() {
  stop_ = true;
  (void)!::write(wake_write_, "x", 1);
  thread_.join();
  CloseAll();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void TcpProxy::DropAll() {
  drop_ = true;
  (void)!::write(wake_write_, "x", 1);
}

void TcpProxy::CloseAll() {
  for (auto& [a, b] : pairs_) {
    Close(a);
    Close(b);
  }
}

void TcpProxy::Relay(size_t pair, bool from_first) {
  auto& [a, b] = pairs_[pair];
  char buf[1 << 16];
  const ssize_t n = ::recv(from_first ? a : b, buf, sizeof(buf), 0);
  if (n < 0 && errno == EINTR) return;
  if (n <= 0 || !WriteAll(from_first ? b : a, buf, n)) {
    Close(a);
    Close(b);
  }
}

void TcpProxy::Loop() {
  while (!stop_) {
    if (drop_) CloseAll();
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0},
                               {wake_read_, POLLIN, 0}};
    for (const auto& [a, b] : pairs_) {
      fds.push_back({a, POLLIN, 0});
      fds.push_back({b, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[1].revents != 0) {
      char c[16];
      (void)!::read(wake_read_, c, sizeof(c));
      continue;  // stop or drop
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].fd >= 0 && fds[i].revents != 0) Relay((i - 2) / 2, i % 2 == 0);
    }
    if (fds[0].revents == 0) continue;
    int in = ::accept(listen_fd_, nullptr, nullptr);
    if (in < 0) continue;
    int out = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in t = Loopback(target_);
    if (drop_ || out < 0 ||
        ::connect(out, reinterpret_cast<sockaddr*>(&t), sizeof(t)) != 0) {
      Close(in);
      Close(out);
      continue;
    }
    ++accepted_;
    pairs_.emplace_back(in, out);
  }
}

}  // namespace trainbus::testing
