// An HTTP request and response as plain values, so that APIs are pure
// functions from one to the other (serving/rest_api.h, gateway/gateway.h)
// and serving/http_server.h alone knows the socket library.
//
//   HttpResponse Handle(const HttpRequest& request);  // an HttpHandler
//
// A streamed response (Server-Sent Events, JSON lines) sets `stream`: the
// server calls it again and again on the connection's thread, each call
// writing what is new through `write` and returning within a fraction of a
// second (so that a stopping server is not kept waiting), until it returns
// false or a write fails (the client went away).
#ifndef TRAINBUS_SERVING_HTTP_MESSAGE_H_
#define TRAINBUS_SERVING_HTTP_MESSAGE_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace trainbus::serving {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> query;  // ?a=1&b=2, decoded
  std::string authorization;                 // the Authorization header
};

// Writes one chunk of a streamed body; false when the client is gone.
using StreamWrite = std::function<bool(absl::string_view chunk)>;
// One turn of a streamed body; false ends the response.
using StreamTurn = std::function<bool(const StreamWrite& write)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  StreamTurn stream;  // set: `body` is ignored and the body is streamed
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The one mapping of a status to an HTTP status, for every API:
// InvalidArgument 400, NotFound 404, Unimplemented 405,
// ResourceExhausted 413, Unavailable 503, anything else 500.
int HttpStatusFor(absl::StatusCode code);
// {"error": message} with `status`.
HttpResponse ErrorResponse(int status, absl::string_view message);
// ErrorResponse(HttpStatusFor(status.code()), status.message()).
HttpResponse ErrorResponse(const absl::Status& status);

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_HTTP_MESSAGE_H_
