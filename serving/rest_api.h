// TF Serving's REST API (and KServe V2 health) over a ModelSet, as a pure
// function from request to response; serving/http_server.h puts it on a
// socket. The routes:
//
//   GET  /v2/health/live | /v2/health/ready
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]            status
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata   spec, shape
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:classify
//        {"examples":[{"image":{"b64":"..."}}, ...]}, or a raw image/png or
//        image/jpeg body -> {"result":[[["0",0.01],["1",0.93],...], ...]}
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict
//        {"instances":[{"b64":"..."} | [784 floats] | [[28 x 28]], ...]}
//        -> {"predictions":[{"label":1,"scores":[...]}, ...]}; the columnar
//        {"inputs":[...]} -> {"outputs":{"label":[...],"scores":[[...]]}}
//   POST /v1/models/{m}:feedback   (only with a Feedback, serving/feedback.h)
//        {"image":{"b64":"..."},"label":7} | {"prediction_id":N,"label":7}
//        -> {"offset":K}; :classify and :predict answers then carry
//        "prediction_ids":[...]
//
// Errors are {"error":"..."}: 400 for bad JSON, base64, images or float
// counts, 404 for unknown models, versions, labels and paths (listing the
// known ones), 405 for the wrong method. Without a version or label a
// request goes to the highest loaded version.
#ifndef TRAINBUS_SERVING_REST_API_H_
#define TRAINBUS_SERVING_REST_API_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serving/feedback.h"
#include "serving/model_set.h"

namespace trainbus::serving {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// {"error": message} with the status for `code` (see HttpStatusFor).
HttpResponse ErrorResponse(int status, absl::string_view message);
// InvalidArgument 400, NotFound 404, Unimplemented 405,
// ResourceExhausted 413, Unavailable 503, anything else 500.
int HttpStatusFor(absl::StatusCode code);

class RestApi {
 public:
  // `models` (and `feedback`, which may be null) must outlive the RestApi.
  explicit RestApi(const ModelSet* models, const Feedback* feedback = nullptr)
      : models_(models), feedback_(feedback) {}

  // Thread-safe; never throws.
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  const ModelSet* models_;
  const Feedback* feedback_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_REST_API_H_
