// An HttpHandler (serving/http_message.h; a RestApi, the gateway) on a TCP
// socket (cpp-httplib), with its own accept thread and a pool of `threads`
// connection threads (keep-alive connections stay open until idle; the
// listen backlog is SOMAXCONN, not httplib's 5). A streamed response holds
// its connection's thread until it ends.
//
//   auto server = serving::HttpServer::Start(&api, {.host = "127.0.0.1",
//                                                   .port = 0});
//   int port = (*server)->port();  // the bound port (0 picks a free one)
//   ...
//   (*server)->Stop();             // also done by the destructor
//
// Bodies above max_body_bytes get 413 before they are read; every error,
// including httplib's own (an unknown path, a malformed request), has a
// {"error": ...} body.
#ifndef TRAINBUS_SERVING_HTTP_SERVER_H_
#define TRAINBUS_SERVING_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "serving/http_message.h"
#include "serving/rest_api.h"

namespace httplib {
class Server;
}

namespace trainbus::serving {

inline constexpr int kDefaultPort = 8501;  // TF Serving's REST port
inline constexpr size_t kDefaultMaxBodyBytes = size_t{8} << 20;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = kDefaultPort;  // 0: any free port
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Connections served at once (--http_threads); more wait for a thread.
  int threads = 128;
};

class HttpServer {
 public:
  // Binds and starts serving; returns once requests are being accepted.
  // `api` must outlive the server. Unavailable when the address cannot be
  // bound (in use, or not an address of this machine).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const RestApi* api, const ServerOptions& options);
  // Any handler; it is called from the connection threads at once.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpHandler handler, const ServerOptions& options);
  ~HttpServer();

  int port() const { return port_; }
  // Stops accepting, finishes the requests in progress and joins the
  // threads. Idempotent.
  void Stop();

 private:
  HttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> finished_{false};  // the accept loop returned
  int port_ = 0;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_HTTP_SERVER_H_
