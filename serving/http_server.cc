#include "serving/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "httplib.h"

namespace trainbus::serving {
namespace {

constexpr char kAnyPath[] = ".*";
constexpr size_t kKeepAliveMaxRequests = size_t{1} << 30;

void Reply(const HttpResponse& response, httplib::Response& res) {
  res.status = response.status;
  for (const auto& [name, value] : response.headers) res.set_header(name, value);
  if (!response.stream) {
    res.set_content(response.body, response.content_type.c_str());
    return;
  }
  // httplib calls the provider until it calls done() or the server stops
  // (checked between calls, hence turns that return quickly). An empty
  // write would end the body: skip those.
  StreamTurn turn = response.stream;
  res.set_chunked_content_provider(
      response.content_type,
      [turn](size_t, httplib::DataSink& sink) {
        const bool more = turn([&sink](absl::string_view chunk) {
          return chunk.empty() || sink.write(chunk.data(), chunk.size());
        });
        if (!more) sink.done();
        return true;
      });
}

HttpRequest ToRequest(const httplib::Request& req) {
  HttpRequest request;
  request.method = req.method;
  request.path = req.path;
  request.content_type = req.get_header_value("Content-Type");
  request.authorization = req.get_header_value("Authorization");
  request.body = req.body;
  for (const auto& [name, value] : req.params) request.query[name] = value;
  return request;
}

// Messages for the statuses httplib sets itself, before any handler runs.
std::string LibraryError(const httplib::Request& req, int status,
                         size_t max_body_bytes) {
  switch (status) {
    case 413:
      return absl::StrCat("the body is larger than ", max_body_bytes,
                          " bytes (--max_body_bytes)");
    case 414:
      return "the request URI is too long";
    case 400:
      return "the request is malformed (bad request line, headers or body "
             "framing)";
    default:
      return absl::StrCat("HTTP ", status, " for ", req.method, " ",
                          req.path);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const RestApi* api, const ServerOptions& options) {
  return Start([api](const HttpRequest& request) { return api->Handle(request); },
               options);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpHandler handler, const ServerOptions& options) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *server->server_;
  svr.set_payload_max_length(options.max_body_bytes);
  // httplib serves a keep-alive connection on one pool thread until it
  // closes, so the pool bounds the connections served at once.
  const int threads = std::max(options.threads, 1);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib closes a keep-alive connection after 5 requests by default; a
  // client that sent its next request meanwhile sees a read error. Keep
  // connections open until idle instead (like TF Serving's REST server).
  svr.set_keep_alive_max_count(kKeepAliveMaxRequests);
  // httplib's default also sets SO_REUSEPORT, which lets a second server
  // bind a port in use and silently take half its connections. Keep only
  // SO_REUSEADDR (restart while old connections sit in TIME_WAIT). Only the
  // listening socket passes through here; it is kept for its backlog.
  auto listen_socket = std::make_shared<socket_t>(INVALID_SOCKET);
  svr.set_socket_options([listen_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_socket = sock;
  });
  // httplib writes the headers and the body separately; with Nagle on, the
  // body waits for the client's delayed ACK (40 ms a request on Linux).
  svr.set_tcp_nodelay(true);
  auto handle = [handler = std::move(handler)](const httplib::Request& req,
                                               httplib::Response& res) {
    Reply(handler(ToRequest(req)), res);
  };
  // One handler for every path and method: the handler does the routing, so
  // an unknown path or the wrong method gets its message from one place.
  svr.Get(kAnyPath, handle);
  svr.Post(kAnyPath, handle);
  svr.Put(kAnyPath, handle);
  svr.Patch(kAnyPath, handle);
  svr.Delete(kAnyPath, handle);
  svr.Options(kAnyPath, handle);
  const size_t max_body_bytes = options.max_body_bytes;
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [max_body_bytes](const httplib::Request& req, httplib::Response& res) {
    // RestApi's own errors already have their body.
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    Reply(ErrorResponse(res.status,
                        LibraryError(req, res.status, max_body_bytes)),
          res);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr) {
    Reply(ErrorResponse(500, "internal error"), res);
  });

  const int port = options.port == 0
                       ? svr.bind_to_any_port(options.host)
                       : (svr.bind_to_port(options.host, options.port)
                              ? options.port
                              : -1);
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.host, ":", options.port,
        " (in use, or not an address of this machine); pick another --port "
        "or --host"));
  }
  // httplib 0.11 listens with a backlog of 5: clients (re)connecting at
  // once overflow it, their SYNs are dropped and retried a second later
  // (p99 spikes of 0.2-1.6 s under wrk). listen() on a listening socket
  // only sets the new backlog.
  if (*listen_socket != INVALID_SOCKET) ::listen(*listen_socket, SOMAXCONN);
  server->port_ = port;
  std::atomic<bool>* finished = &server->finished_;
  server->thread_ = std::thread([&svr, finished] {
    svr.listen_after_bind();
    finished->store(true);
  });
  // stop() does nothing until the accept loop runs, so Stop could not end a
  // server that has not started yet: wait for the loop (it starts as soon as
  // the thread is scheduled, or fails and the thread ends).
  while (!svr.is_running() && !finished->load()) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (finished->load()) {
    server->thread_.join();
    return absl::UnavailableError(absl::StrCat(
        "the HTTP server on ", options.host, ":", port, " stopped at once"));
  }
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace trainbus::serving
