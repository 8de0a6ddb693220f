// A TCP relay on loopback, for fault injection: every connection made to
// port() is relayed to 127.0.0.1:target, and DropAll() cuts them all (each
// side sees its connection close) while the processes on both ends stay up.
//
//   auto proxy = testing::TcpProxy::Start(node_port);  // listens on :0
//   ... the hub connects to 127.0.0.1:(*proxy)->port() ...
//   (*proxy)->DropAll();  // the link is gone; later connects are refused
#ifndef TRAINBUS_TESTS_TCP_PROXY_H_
#define TRAINBUS_TESTS_TCP_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace trainbus::testing {

class TcpProxy {
 public:
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(uint16_t target);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  // Connections relayed so far.
  int accepted() const { return accepted_.load(); }
  // Closes every relayed connection; from now on new ones are closed at once.
  void DropAll();

 private:
  TcpProxy(int listen_fd, uint16_t port, uint16_t target, int wake_read,
           int wake_write);
  void Loop();
  void Relay(size_t pair, bool from_first);
  void CloseAll();

  int listen_fd_;
  uint16_t port_;
  uint16_t target_;
  int wake_read_, wake_write_;  // a pipe that interrupts poll()
  std::atomic<bool> stop_{false}, drop_{false};
  std::atomic<int> accepted_{0};
  std::vector<std::pair<int, int>> pairs_;  // (accepted, to target); -1: gone
  std::thread thread_;
};

}  // namespace trainbus::testing

#endif  // TRAINBUS_TESTS_TCP_PROXY_H_
