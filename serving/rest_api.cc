#include "serving/rest_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "report/prometheus.h"
#include "base/status_macros.h"
#include "data/mnist28.h"
#include "nlohmann/json.hpp"

namespace trainbus::serving {
namespace {

using Json = nlohmann::json;
// Scores are float32; storing them as float makes dump() print the shortest
// text that reads back to the same float ("0.93", not "0.9300000071525574").
using OutJson = nlohmann::basic_json<std::map, std::vector, std::string, bool,
                                     std::int64_t, std::uint64_t, float>;

constexpr absl::string_view kModelsPrefix = "/v1/models/";
constexpr int kMaxNesting = 4;  // [C][H][W] plus one spare level

enum class Verb { kStatus, kMetadata, kClassify, kPredict, kFeedback };
// The verbs after ':' (status and metadata are paths).
constexpr std::pair<absl::string_view, Verb> kVerbs[] = {
    {"classify", Verb::kClassify},
    {"predict", Verb::kPredict},
    {"feedback", Verb::kFeedback},
};
enum class Selector { kLatest, kVersion, kLabel };

struct Route {
  Verb verb = Verb::kStatus;
  Selector selector = Selector::kLatest;
  std::string model;
  std::string version_or_label;
};

absl::StatusOr<Route> ParseRoute(absl::string_view path) {
  Route route;
  absl::string_view rest = path.substr(kModelsPrefix.size());
  absl::string_view target = rest;
  if (size_t colon = rest.find(':'); colon != absl::string_view::npos) {
    target = rest.substr(0, colon);
    absl::string_view verb = rest.substr(colon + 1);
    auto it = std::find_if(std::begin(kVerbs), std::end(kVerbs),
                           [&](const auto& v) { return v.first == verb; });
    if (it == std::end(kVerbs)) {
      return absl::NotFoundError(absl::StrCat(
          "unknown method ':", verb, "'; use ",
          absl::StrJoin(kVerbs, " or ", [](std::string* out, const auto& v) {
            absl::StrAppend(out, ":", v.first);
          })));
    }
    route.verb = it->second;
  } else if (absl::ConsumeSuffix(&target, "/metadata")) {
    route.verb = Verb::kMetadata;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(target, '/');
  if (parts.size() == 3 && parts[1] == "versions") {
    route.selector = Selector::kVersion;
  } else if (parts.size() == 3 && parts[1] == "labels") {
    route.selector = Selector::kLabel;
  } else if (parts.size() != 1) {
    return absl::NotFoundError(absl::StrCat(
        "no route for ", path,
        "; the paths are /v1/models/{model}[/versions/{v}|/labels/{l}] "
        "followed by nothing, /metadata, :classify, :predict or :feedback"));
  }
  route.model = std::string(parts[0]);
  if (parts.size() == 3) route.version_or_label = std::string(parts[2]);
  return route;
}

Json VersionStatus(const ServedVersion& v) {
  return {{"version", absl::StrCat(v.version())},
          {"state", v.available() ? "AVAILABLE" : "END"},
          {"status",
           {{"error_code", absl::StatusCodeToString(v.status().code())},
            {"error_message", std::string(v.status().message())}}}};
}

// What the metrics need to know of one request.
struct RequestInfo {
  bool model_api = false;  // a request to the served model's /v1/models/...
  std::string version;     // the version that answered, if any
};

// {"result":[[["0",p],["1",p],...],...]}, written directly: building the
// JSON tree of these small arrays took 3 of the handler's 18 us per PNG
// (tools/bench/serve.sh). Floats are the shortest text that reads back to
// the same float, as with OutJson.
std::string ClassifyResult(const std::vector<float>& probs, size_t batch,
                           uint32_t classes) {
  std::string out = "{\"result\":[";
  out.reserve(16 + batch * classes * 24);
  char number[32];
  for (size_t i = 0; i < batch; ++i) {
    out += i == 0 ? "[" : ",[";
    for (uint32_t c = 0; c < classes; ++c) {
      absl::StrAppend(&out, c == 0 ? "[\"" : ",[\"", c, "\",");
      const float p = probs[i * classes + c];
      if (std::isfinite(p)) {
        out.append(number,
                   std::to_chars(number, number + sizeof(number), p).ptr);
      } else {
        out += "null";  // as nlohmann writes NaN; JSON has no NaN
      }
      out += ']';
    }
    out += ']';
  }
  out += "]}";
  return out;
}

class Handler {
 public:
  Handler(const ModelSet& models, const RestApiParts& parts,
          RequestInfo& info)
      : models_(models), parts_(parts), info_(info) {}

  absl::StatusOr<HttpResponse> Handle(const HttpRequest& request) const {
    if (request.path == "/metrics" && parts_.metrics != nullptr) {
      TB_RETURN_IF_ERROR(Expect(request, "GET"));
      HttpResponse response;
      response.content_type = report::kPrometheusContentType;
      response.body = parts_.metrics->Render(models_, parts_.batcher,
                                             parts_.models->swaps());
      return response;
    }
    if (request.path == "/v2/health/live") {
      TB_RETURN_IF_ERROR(Expect(request, "GET"));
      return JsonResponse(200, Json{{"live", true}});
    }
    if (request.path == "/v2/health/ready") {
      TB_RETURN_IF_ERROR(Expect(request, "GET"));
      const bool ready = models_.Latest().ok();
      return JsonResponse(ready ? 200 : 503, Json{{"ready", ready}});
    }
    if (!absl::StartsWith(request.path, kModelsPrefix)) {
      return absl::NotFoundError(absl::StrCat(
          "no route for ", request.path, "; the API is under /v1/models/",
          models_.name(), ", /v2/health/{live,ready} and /metrics"));
    }
    TB_ASSIGN_OR_RETURN(Route route, ParseRoute(request.path));
    if (route.model != models_.name()) {
      return absl::NotFoundError(
          absl::StrCat("unknown model '", route.model,
                       "'; this server serves '", models_.name(), "'"));
    }
    info_.model_api = true;
    switch (route.verb) {
      case Verb::kStatus:
        TB_RETURN_IF_ERROR(Expect(request, "GET"));
        return Status(route);
      case Verb::kMetadata: {
        TB_RETURN_IF_ERROR(Expect(request, "GET"));
        TB_ASSIGN_OR_RETURN(const ServedVersion* v, Select(route));
        return JsonResponse(200, Metadata(*v));
      }
      case Verb::kClassify: {
        TB_RETURN_IF_ERROR(Expect(request, "POST"));
        TB_ASSIGN_OR_RETURN(const ServedVersion* v, Select(route));
        return Classify(*v, request);
      }
      case Verb::kPredict: {
        TB_RETURN_IF_ERROR(Expect(request, "POST"));
        TB_ASSIGN_OR_RETURN(const ServedVersion* v, Select(route));
        return Predict(*v, request);
      }
      case Verb::kFeedback: {
        TB_RETURN_IF_ERROR(Expect(request, "POST"));
        TB_ASSIGN_OR_RETURN(const ServedVersion* v, Select(route));
        return TakeFeedback(*v, request);
      }
    }
    return absl::InternalError("unhandled route");
  }

 private:
  template <typename J>
  static HttpResponse JsonResponse(int status, const J& body) {
    HttpResponse response;
    response.status = status;
    // Replace, not throw, on invalid UTF-8 (a path or label echoed back).
    response.body = body.dump(-1, ' ', false, J::error_handler_t::replace);
    return response;
  }

  static absl::Status Expect(const HttpRequest& request,
                             absl::string_view method) {
    if (request.method == method) return absl::OkStatus();
    return absl::UnimplementedError(absl::StrCat(
        request.path, " takes ", method, ", not ", request.method));
  }

  absl::StatusOr<int64_t> VersionNumber(const Route& route) const {
    int64_t version = 0;
    if (!absl::SimpleAtoi(route.version_or_label, &version)) {
      return absl::NotFoundError(
          absl::StrCat("version '", route.version_or_label,
                       "' is not a number; the versions of '", models_.name(),
                       "': ", models_.VersionList()));
    }
    return version;
  }

  // The version a status request names, loaded or not.
  absl::StatusOr<const ServedVersion*> Find(const Route& route) const {
    if (route.selector == Selector::kVersion) {
      TB_ASSIGN_OR_RETURN(int64_t version, VersionNumber(route));
      return models_.Find(version);
    }
    auto it = models_.labels().find(route.version_or_label);
    if (it == models_.labels().end()) {
      return models_.ByLabel(route.version_or_label).status();
    }
    return models_.Find(it->second);
  }

  // The loaded version an inference or metadata request names.
  absl::StatusOr<const ServedVersion*> Select(const Route& route) const {
    switch (route.selector) {
      case Selector::kLatest:
        return models_.Latest();
      case Selector::kVersion: {
        TB_ASSIGN_OR_RETURN(int64_t version, VersionNumber(route));
        return models_.ByVersion(version);
      }
      case Selector::kLabel:
        return models_.ByLabel(route.version_or_label);
    }
    return absl::InternalError("unhandled selector");
  }

  absl::StatusOr<HttpResponse> Status(const Route& route) const {
    Json list = Json::array();
    if (route.selector == Selector::kLatest) {
      for (const auto& v : models_.versions()) list.push_back(VersionStatus(*v));
    } else {
      TB_ASSIGN_OR_RETURN(const ServedVersion* v, Find(route));
      list.push_back(VersionStatus(*v));
    }
    return JsonResponse(200, Json{{"model_version_status", list}});
  }

  Json Metadata(const ServedVersion& v) const {
    const nn::ModelSpec& spec = v.spec();
    Json classes = Json::array();
    for (uint32_t c = 0; c < spec.classes; ++c) {
      classes.push_back(absl::StrCat(c));
    }
    Json labels = Json::object();
    for (const auto& [label, version] : models_.labels()) {
      labels[label] = absl::StrCat(version);
    }
    return {{"model_spec",
             {{"name", models_.name()},
              {"signature_name", "serving_default"},
              {"version", absl::StrCat(v.version())}}},
            {"metadata",
             {{"project", models_.project()},
              {"arch", nn::FormatModelSpec(spec)},
              {"parameters", v.parameter_count()},
              {"input_shape", {spec.channels, spec.height, spec.width}},
              {"classes", classes},
              {"labels", labels},
              {"properties", v.record().kv}}}};
  }

  static absl::Status AppendImage(absl::string_view bytes,
                                  const nn::ModelSpec& spec,
                                  absl::string_view what,
                                  std::vector<float>& x) {
    if (spec.channels != 1 || spec.height != data::kMnistSide ||
        spec.width != data::kMnistSide) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": this model takes ", spec.channels, "x", spec.height, "x",
          spec.width, " inputs, not 28x28 gray images; send floats to "
          ":predict"));
    }
    absl::StatusOr<data::Image> image = data::DecodeToMnist28(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                            bytes.size()));
    if (!image.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " is not a readable image: ", image.status().message()));
    }
    x.reserve(x.size() + image->pixels.size());  // not 11 regrowths
    for (uint8_t p : image->pixels) x.push_back(p / 255.0f);
    return absl::OkStatus();
  }

  static absl::Status AppendBase64Image(const Json& b64,
                                        const nn::ModelSpec& spec,
                                        absl::string_view what,
                                        std::vector<float>& x) {
    std::string bytes;
    if (!b64.is_string() ||
        !absl::Base64Unescape(b64.get_ref<const std::string&>(), &bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ".b64 is not a base64 string (RFC 4648, with padding)"));
    }
    return AppendImage(bytes, spec, what, x);
  }

  static absl::Status Flatten(const Json& value, int depth,
                              absl::string_view what, std::vector<float>& x) {
    if (value.is_number()) {
      x.push_back(value.get<float>());
      return absl::OkStatus();
    }
    if (!value.is_array() || depth > kMaxNesting) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " holds ", value.is_array() ? "arrays nested too deep"
                                            : value.type_name(),
          " where pixels (numbers) belong"));
    }
    for (const Json& item : value) {
      TB_RETURN_IF_ERROR(Flatten(item, depth + 1, what, x));
    }
    return absl::OkStatus();
  }

  // One instance of :predict: {"b64": ...}, flat floats or nested rows.
  static absl::Status AppendInstance(const Json& instance,
                                     const nn::ModelSpec& spec,
                                     absl::string_view what,
                                     std::vector<float>& x) {
    if (instance.is_object()) {
      auto b64 = instance.find("b64");
      if (b64 == instance.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " is an object without \"b64\" (a base64 PNG or JPEG)"));
      }
      return AppendBase64Image(*b64, spec, what, x);
    }
    if (!instance.is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is a ", instance.type_name(),
                       "; give {\"b64\": ...} or an array of pixels"));
    }
    const size_t before = x.size();
    TB_RETURN_IF_ERROR(Flatten(instance, 1, what, x));
    const size_t count = x.size() - before;
    if (count != spec.InputSize()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " has ", count, " numbers; the model takes ",
          spec.InputSize(), " (", spec.channels, "x", spec.height, "x",
          spec.width, "), flat or as nested rows"));
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<Json> ParseBody(const HttpRequest& request) {
    Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      return absl::InvalidArgumentError(
          "the body is not valid JSON (send Content-Type: application/json, "
          "or a raw image/png or image/jpeg body to :classify)");
    }
    if (!body.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the body is a JSON ", body.type_name(), ", not an object"));
    }
    return body;
  }

  // The non-empty array `key` of the body.
  static absl::StatusOr<const Json*> Rows(const Json& body,
                                          absl::string_view key) {
    auto it = body.find(key);
    if (it == body.end() || !it->is_array() || it->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the body needs a non-empty array \"", key, "\""));
    }
    return &*it;
  }

  // Through the batcher when there is one.
  absl::StatusOr<std::vector<float>> Scores(const ServedVersion& v,
                                            const std::vector<float>& x,
                                            size_t batch) const {
    std::vector<float> probs(batch * v.spec().classes);
    info_.version = absl::StrCat(v.version());
    TB_RETURN_IF_ERROR(
        parts_.batcher != nullptr
            ? parts_.batcher->Predict(&v, x.data(), batch, probs.data())
            : v.Predict(x.data(), batch, probs.data()));
    return probs;
  }

  // A 200 answer computed by version `v`.
  template <typename J>
  static HttpResponse Answer(const ServedVersion& v, const J& body) {
    HttpResponse response = JsonResponse(200, body);
    response.headers.emplace_back(kModelVersionHeader,
                                  absl::StrCat(v.version()));
    return response;
  }

  absl::StatusOr<HttpResponse> Classify(const ServedVersion& v,
                                        const HttpRequest& request) const {
    std::vector<float> x;
    size_t batch = 0;
    if (absl::StartsWith(request.content_type, "image/")) {
      TB_RETURN_IF_ERROR(AppendImage(request.body, v.spec(), "the body", x));
      batch = 1;
    } else {
      TB_ASSIGN_OR_RETURN(Json body, ParseBody(request));
      TB_ASSIGN_OR_RETURN(const Json* examples, Rows(body, "examples"));
      for (const Json& example : *examples) {
        const std::string what = absl::StrCat("examples[", batch++, "]");
        const Json* image = nullptr;
        if (example.is_object()) {
          auto it = example.find("image");
          if (it != example.end() && it->is_object()) image = &*it;
        }
        auto b64 = image == nullptr ? Json::const_iterator() : image->find("b64");
        if (image == nullptr || b64 == image->end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              what, " needs {\"image\": {\"b64\": \"...\"}}"));
        }
        TB_RETURN_IF_ERROR(
            AppendBase64Image(*b64, v.spec(), absl::StrCat(what, ".image"), x));
      }
    }
    TB_ASSIGN_OR_RETURN(std::vector<float> probs, Scores(v, x, batch));
    std::string body = ClassifyResult(probs, batch, v.spec().classes);
    if (parts_.feedback != nullptr) {
      // With feedback on, every prediction gets an id a :feedback can name.
      const std::vector<uint64_t> ids = parts_.feedback->recent()->Remember(
          v.version(), x.data(), batch, v.spec().InputSize());
      body.pop_back();  // the closing brace
      absl::StrAppend(&body, ",\"prediction_ids\":[", absl::StrJoin(ids, ","),
                      "]}");
    }
    HttpResponse response;
    response.body = std::move(body);
    response.headers.emplace_back(kModelVersionHeader,
                                  absl::StrCat(v.version()));
    return response;
  }

  absl::StatusOr<HttpResponse> Predict(const ServedVersion& v,
                                       const HttpRequest& request) const {
    TB_ASSIGN_OR_RETURN(Json body, ParseBody(request));
    const bool columnar = body.contains("inputs");
    if (columnar && body.contains("instances")) {
      return absl::InvalidArgumentError(
          "the body has both \"instances\" (row form) and \"inputs\" "
          "(columnar form); send one");
    }
    const std::string key = columnar ? "inputs" : "instances";
    TB_ASSIGN_OR_RETURN(const Json* instances, Rows(body, key));
    std::vector<float> x;
    size_t batch = 0;
    for (const Json& instance : *instances) {
      TB_RETURN_IF_ERROR(AppendInstance(
          instance, v.spec(), absl::StrCat(key, "[", batch++, "]"), x));
    }
    TB_ASSIGN_OR_RETURN(std::vector<float> probs, Scores(v, x, batch));
    const uint32_t classes = v.spec().classes;
    OutJson labels = OutJson::array(), scores = OutJson::array();
    for (size_t i = 0; i < batch; ++i) {
      absl::Span<const float> row(&probs[i * classes], classes);
      labels.push_back(static_cast<int64_t>(
          std::max_element(row.begin(), row.end()) - row.begin()));
      scores.push_back(std::vector<float>(row.begin(), row.end()));
    }
    OutJson answer;
    if (columnar) {
      answer = {{"outputs", {{"label", labels}, {"scores", scores}}}};
    } else {
      OutJson predictions = OutJson::array();
      for (size_t i = 0; i < batch; ++i) {
        predictions.push_back({{"label", labels[i]}, {"scores", scores[i]}});
      }
      answer = {{"predictions", std::move(predictions)}};
    }
    AddPredictionIds(v, x, batch, answer);
    return Answer(v, answer);
  }

  // With feedback on, every prediction gets an id a :feedback can name. The
  // ring keeps the request's own inputs, so an id works the same whether
  // the batcher or the request thread computed the answer.
  void AddPredictionIds(const ServedVersion& v, const std::vector<float>& x,
                        size_t batch, OutJson& answer) const {
    if (parts_.feedback == nullptr) return;
    answer["prediction_ids"] = parts_.feedback->recent()->Remember(
        v.version(), x.data(), batch, v.spec().InputSize());
  }

  // {"image":{"b64":...},"label":L} or {"prediction_id":N,"label":L}.
  absl::StatusOr<HttpResponse> TakeFeedback(const ServedVersion& v,
                                            const HttpRequest& request) const {
    if (parts_.feedback == nullptr) {
      return absl::NotFoundError(
          "this server takes no feedback; start it with --continual");
    }
    TB_ASSIGN_OR_RETURN(Json body, ParseBody(request));
    auto label = body.find("label");
    if (label == body.end() || !label->is_number_integer()) {
      return absl::InvalidArgumentError(
          "the body needs an integer \"label\" (the right class)");
    }
    absl::StatusOr<uint64_t> offset;
    if (auto id = body.find("prediction_id"); id != body.end()) {
      if (!id->is_number_unsigned()) {
        return absl::InvalidArgumentError(
            "\"prediction_id\" must be an id from a :classify or :predict "
            "answer's \"prediction_ids\"");
      }
      offset = parts_.feedback->FromPrediction(id->get<uint64_t>(), v.spec(),
                                         label->get<int64_t>());
    } else {
      auto image = body.find("image");
      if (image == body.end() || !image->is_object() ||
          !image->contains("b64")) {
        return absl::InvalidArgumentError(
            "the body needs {\"image\":{\"b64\":...}} or "
            "\"prediction_id\" besides \"label\"");
      }
      std::vector<float> x;
      TB_RETURN_IF_ERROR(
          AppendBase64Image(*image->find("b64"), v.spec(), "image", x));
      offset = parts_.feedback->FromPixels(x, v.spec(), label->get<int64_t>());
    }
    if (!offset.ok()) return offset.status();
    return JsonResponse(200, Json{{"offset", *offset}});
  }

  const ModelSet& models_;
  const RestApiParts& parts_;
  RequestInfo& info_;
};

// The whole answer, errors included.
HttpResponse Respond(const ModelSet& models, const RestApiParts& parts,
                     const HttpRequest& request, RequestInfo& info) {
  absl::StatusOr<HttpResponse> response =
      Handler(models, parts, info).Handle(request);
  if (response.ok()) return *std::move(response);
  HttpResponse error = ErrorResponse(response.status());
  if (error.status == 503) error.headers.emplace_back("Retry-After", "1");
  return error;
}

}  // namespace

HttpResponse RestApi::Handle(const HttpRequest& request) const {
  // The handlers avoid throwing accessors; this is the boundary that keeps
  // a surprise (say, bad_alloc) a 500 for one request, not a dead server.
  try {
    const absl::Time start = absl::Now();
    // Held to the end: a swap meanwhile does not touch this request.
    const std::shared_ptr<const ModelSet> models = parts_.models->Current();
    RequestInfo info;
    HttpResponse response = Respond(*models, parts_, request, info);
    if (info.model_api && parts_.metrics != nullptr) {
      parts_.metrics->CountRequest(models->name(), info.version,
                                   response.status,
                                   absl::ToDoubleSeconds(absl::Now() - start));
    }
    return response;
  } catch (const std::exception& e) {
    return ErrorResponse(500, absl::StrCat("internal error: ", e.what()));
  }
}

}  // namespace trainbus::serving
