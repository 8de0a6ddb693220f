// TF Serving's REST API (and KServe V2 health) over a ModelSet, as a pure
// function from request to response; serving/http_server.h puts it on a
// socket. The routes:
//
//   GET  /v2/health/live | /v2/health/ready
//   GET  /metrics                                             Prometheus text
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]            status
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata   spec, shape
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:classify
//        {"examples":[{"image":{"b64":"..."}}, ...]}, or a raw image/png or
//        image/jpeg body -> {"result":[[["0",0.01],["1",0.93],...], ...]}
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict
//        {"instances":[{"b64":"..."} | [784 floats] | [[28 x 28]], ...]}
//        -> {"predictions":[{"label":1,"scores":[...]}, ...]}; the columnar
//        {"inputs":[...]} -> {"outputs":{"label":[...],"scores":[[...]]}}
//   POST /v1/models/{m}:feedback   (only with RestApiParts::feedback,
//        serving/feedback.h)
//        {"image":{"b64":"..."},"label":7} | {"prediction_id":N,"label":7}
//        -> {"offset":K}; :classify and :predict answers then carry
//        "prediction_ids":[...]
//
// Errors are {"error":"..."}: 400 for bad JSON, base64, images or float
// counts, 404 for unknown models, versions, labels and paths (listing the
// known ones), 405 for the wrong method, 503 with Retry-After when the batch
// queue is full. Without a version or label a request goes to the highest
// loaded version. Answers to :classify and :predict carry the version that
// computed them in the header X-Trainbus-Model-Version.
//
// Each request takes the watcher's current snapshot once and holds it to
// the end, so it finishes on the version it started with during a swap.
//
// To add a route: a Verb (and its name in kVerbs) for /v1/models/...:verb,
// or a path test at the top of Handler::Handle for anything else, then its
// case in the switch.
#ifndef TRAINBUS_SERVING_REST_API_H_
#define TRAINBUS_SERVING_REST_API_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serving/batcher.h"
#include "serving/feedback.h"
#include "serving/http_message.h"
#include "serving/metrics.h"
#include "serving/model_set.h"
#include "serving/watcher.h"

namespace trainbus::serving {

inline constexpr char kModelVersionHeader[] = "X-Trainbus-Model-Version";

// Errors: ErrorResponse and HttpStatusFor (serving/http_message.h).

// What the API serves from; none owned, all must outlive the RestApi.
struct RestApiParts {
  const ModelWatcher* models = nullptr;  // required
  Batcher* batcher = nullptr;            // null: predict in the request thread
  ServingMetrics* metrics = nullptr;     // null: no /metrics (404)
  const Feedback* feedback = nullptr;    // null: :feedback is 404
};

class RestApi {
 public:
  explicit RestApi(RestApiParts parts) : parts_(parts) {}

  // Thread-safe; never throws.
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  const RestApiParts parts_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_REST_API_H_
