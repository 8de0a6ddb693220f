#include "gateway/gateway.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "data/image.h"
#include "gateway/dashboard_assets.h"
#include "registry/records.h"
#include "report/prometheus.h"

namespace trainbus::gateway {
namespace {

using Json = nlohmann::json;
using serving::HttpRequest;
using serving::HttpResponse;

constexpr absl::string_view kResourcesPrefix = "/v1/resources/";
constexpr absl::string_view kPredictionsPrefix = "/v1/predictions/";
constexpr absl::Duration kStreamTurn = absl::Milliseconds(250);
constexpr int kKeepAliveTurns = 8;  // a comment line every ~2 s when idle

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
}

HttpResponse Error(int status, absl::string_view message) {
  return serving::ErrorResponse(status, message);
}

HttpResponse Error(const absl::Status& s) { return serving::ErrorResponse(s); }

Json MetricJson(const bus::Metric& m, size_t index) {
  return {{"index", index},        {"model", m.model}, {"split", m.split},
          {"step", m.step},        {"time_ns", m.time_ns},
          {"values", m.values}};
}

const bus::SubscriptionMetrics* FindSub(const bus::ResourceMetrics* r,
                                        const std::string& name) {
  if (r == nullptr) return nullptr;
  for (const auto& s : r->subscriptions) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const bus::ResourceMetrics* FindResource(
    const std::vector<bus::ResourceMetrics>& all, const std::string& name) {
  for (const auto& r : all) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// Messages per second between two snapshots (0 without an earlier one).
double Rate(uint64_t now, uint64_t before, absl::Duration dt) {
  const double seconds = absl::ToDoubleSeconds(dt);
  if (seconds <= 0 || now < before) return 0;
  return static_cast<double>(now - before) / seconds;
}

Json ResourcesJson(const std::vector<bus::ResourceMetrics>& now,
                   const std::vector<bus::ResourceMetrics>& before,
                   absl::Duration dt) {
  Json out = Json::array();
  for (const bus::ResourceMetrics& r : now) {
    const bus::ResourceMetrics* prev = FindResource(before, r.name);
    Json subs = Json::array();
    uint64_t depth = 0, dropped = 0;
    for (const bus::SubscriptionMetrics& s : r.subscriptions) {
      const bus::SubscriptionMetrics* p = FindSub(prev, s.name);
      depth += s.queue_depth;
      dropped += s.dropped;
      subs.push_back({{"name", s.name},
                      {"policy", s.policy},
                      {"filter", s.filter},
                      {"delivered", s.delivered},
                      {"filtered", s.filtered},
                      {"dropped", s.dropped},
                      {"detached", s.detached},
                      {"replayed", s.replayed},
                      {"queue_depth", s.queue_depth},
                      {"credit", s.credit},
                      {"rate", Rate(s.delivered, p ? p->delivered : 0,
                                    p ? dt : absl::ZeroDuration())}});
    }
    out.push_back(
        {{"name", r.name},
         {"durable", r.durable},
         {"published", r.published},
         {"blocked", r.blocked},
         {"log_next_offset", r.log_next_offset},
         {"queue_depth", depth},
         {"dropped", dropped},
         {"rate", Rate(r.published, prev ? prev->published : 0,
                       prev ? dt : absl::ZeroDuration())},
         {"subscriptions", subs}});
  }
  return out;
}

Json KeyValuesJson(const registry::KeyValues& kv) {
  Json out = Json::object();
  for (const auto& [k, v] : kv) {
    if (auto n = registry::ParseNumber(v)) {
      out[k] = *n;
    } else {
      out[k] = v;
    }
  }
  return out;
}

size_t LimitOf(const HttpRequest& request, size_t fallback, size_t most) {
  size_t limit = fallback;
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    if (!absl::SimpleAtoi(it->second, &limit)) limit = fallback;
  }
  return std::min(limit, most);
}

// A 28x28 (or any HxW) gray thumbnail as a base64 PNG.
std::string PngBase64(const RecentPrediction& p) {
  if (p.shape.size() != 2 ||
      size_t{p.shape[0]} * p.shape[1] != p.pixels.size()) {
    return "";
  }
  auto png = data::EncodePng(p.shape[1], p.shape[0], 1, p.pixels);
  if (!png.ok()) return "";
  return absl::Base64Escape(absl::string_view(
      reinterpret_cast<const char*>(png->data()), png->size()));
}

bool Authorized(const HttpRequest& request, const std::string& token) {
  if (token.empty()) return true;
  if (request.authorization == absl::StrCat("Bearer ", token)) return true;
  auto it = request.query.find("token");
  return it != request.query.end() && it->second == token;
}

}  // namespace

Gateway::Gateway(GatewayOptions options)
    : options_(std::move(options)),
      predictions_(options_.recent_predictions) {
  run_ = Json::object();
  graph_ = Json{{"nodes", Json::array()},
                {"edges", Json::array()},
                {"groups", Json::array()}};
}

Gateway::~Gateway() { Close(); }

void Gateway::Close() { history_.Close(); }

void Gateway::SetRun(Json run) {
  absl::MutexLock lock(&mu_);
  run_ = std::move(run);
}

void Gateway::SetState(std::string state) {
  absl::MutexLock lock(&mu_);
  state_ = std::move(state);
}

void Gateway::SetTopology(Json graph) {
  absl::MutexLock lock(&mu_);
  graph_ = std::move(graph);
}

void Gateway::UpdateBus(std::vector<bus::ResourceMetrics> snapshot) {
  absl::MutexLock lock(&mu_);
  previous_ = std::move(current_);
  current_ = {absl::Now(), std::move(snapshot)};
}

void Gateway::SetFeedback(FeedbackView view, std::string resource) {
  absl::MutexLock lock(&mu_);
  feedback_ = std::move(view);
  feedback_resource_ = std::move(resource);
}

void Gateway::SetServingView(std::function<Json()> view) {
  absl::MutexLock lock(&mu_);
  serving_ = std::move(view);
}

void Gateway::SetAdapter(std::shared_ptr<ResourceAdapter> adapter) {
  absl::MutexLock lock(&mu_);
  adapter_ = std::move(adapter);
}

void Gateway::SetNodes(NodeCounts nodes) {
  absl::MutexLock lock(&mu_);
  nodes_ = std::move(nodes);
}

void Gateway::AddMetricsCollector(MetricsCollector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

void Gateway::AddMetricsText(std::function<std::string()> text) {
  absl::MutexLock lock(&mu_);
  texts_.push_back(std::move(text));
}

std::pair<Gateway::Snapshot, Gateway::Snapshot> Gateway::Snapshots() const {
  absl::MutexLock lock(&mu_);
  return {current_, previous_};
}

serving::HttpHandler Gateway::Handler(serving::HttpHandler fallback) const {
  return [this, fallback = std::move(fallback)](const HttpRequest& request) {
    if (!Authorized(request, options_.auth_token)) {
      HttpResponse r = Error(
          401,
          "this gateway needs its token: send the header 'Authorization: "
          "Bearer TOKEN' (or add ?token=TOKEN, e.g. for EventSource or the "
          "dashboard's address); TOKEN is the one given to --auth_token or "
          "the spec's auth:");
      r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"trainbus\""});
      return r;
    }
    if (std::optional<HttpResponse> r = Route(request)) return *std::move(r);
    if (fallback) return fallback(request);
    return Error(404, absl::StrCat("no route for ", request.path,
                                   "; see GET /v1/run, /v1/topology, "
                                   "/metrics or the dashboard at /"));
  };
}

std::optional<HttpResponse> Gateway::Route(const HttpRequest& request) const {
  const std::string& path = request.path;
  if (absl::StartsWith(path, kResourcesPrefix)) return Resource(request);
  if (absl::StartsWith(path, kPredictionsPrefix) &&
      absl::EndsWith(path, ":feedback")) {
    absl::string_view id = path;
    id.remove_prefix(kPredictionsPrefix.size());
    id.remove_suffix(std::string(":feedback").size());
    if (request.method != "POST") {
      return Error(405, absl::StrCat(path, " takes POST {\"label\": L}"));
    }
    return Feedback(request, id);
  }
  // Everything else is read-only.
  std::optional<HttpResponse> response;
  if (path == "/v1/run") response = Run();
  if (path == "/v1/topology") response = Topology();
  if (path == "/v1/metrics/history") response = History();
  if (path == "/v1/metrics/stream") response = Stream(request);
  if (path == "/v1/leaderboard") response = Leaderboard(request);
  if (path == "/v1/tasks") response = Tasks();
  if (path == "/v1/serving") response = Serving();
  if (path == "/v1/predictions/recent") response = Recent(request);
  if (path == "/metrics") response = Metrics();
  if (!response && !absl::StartsWith(path, "/v1/")) {
    HttpResponse asset = Asset(path);
    if (asset.status != 404) response = std::move(asset);
  }
  if (response && request.method != "GET") {
    return Error(405, absl::StrCat(path, " takes GET, not ", request.method));
  }
  return response;
}

serving::HttpResponse Gateway::Run() const {
  Json run;
  {
    absl::MutexLock lock(&mu_);
    run = run_;
    run["state"] = state_;
  }
  const auto latest = history_.Latest();
  if (run.contains("models") && run["models"].is_array()) {
    for (Json& m : run["models"]) {
      auto it = latest.find(m.value("name", ""));
      if (it == latest.end()) continue;
      m["step"] = it->second.step;
      m["latest"] = it->second.values;
    }
  }
  run["metric_points"] = history_.size();
  run["predictions"] = predictions_.added();
  return JsonResponse(200, run);
}

serving::HttpResponse Gateway::Topology() const {
  auto [now, before] = Snapshots();
  Json out;
  {
    absl::MutexLock lock(&mu_);
    out["graph"] = graph_;
  }
  out["resources"] = ResourcesJson(now.resources, before.resources,
                                   now.at - before.at);
  out["nodes"] = NodesJson();
  out["sampled_ns"] =
      now.at == absl::InfinitePast() ? 0 : absl::ToUnixNanos(now.at);
  return JsonResponse(200, out);
}

Json Gateway::NodesJson() const {
  absl::MutexLock lock(&mu_);
  Json nodes = Json::array();
  for (const NodeState& n : nodes_.nodes) {
    nodes.push_back(
        {{"name", n.name}, {"address", n.address}, {"state", n.state}});
  }
  return nodes;
}

serving::HttpResponse Gateway::History() const {
  size_t next = 0;
  const std::vector<bus::Metric> points =
      history_.Since(&next, absl::ZeroDuration());
  Json list = Json::array();
  for (size_t i = 0; i < points.size(); ++i) {
    list.push_back(MetricJson(points[i], i));
  }
  return JsonResponse(200, Json{{"points", list}, {"next", next}});
}

// Server-Sent Events: "id: N" and "data: {point}" per metric point, from
// ?from=N (default 0: the whole history first), and a comment line when
// idle so a client that went away is noticed.
serving::HttpResponse Gateway::Stream(const HttpRequest& request) const {
  auto next = std::make_shared<size_t>(0);
  if (auto it = request.query.find("from"); it != request.query.end()) {
    if (!absl::SimpleAtoi(it->second, next.get())) {
      return Error(400, absl::StrCat("?from=", it->second,
                                     " is not a point index"));
    }
  }
  auto idle = std::make_shared<int>(0);
  HttpResponse response;
  response.content_type = "text/event-stream";
  response.headers.push_back({"Cache-Control", "no-cache"});
  response.stream = [this, next, idle](const serving::StreamWrite& write) {
    const size_t first = *next;
    const std::vector<bus::Metric> points = history_.Since(next.get(), kStreamTurn);
    std::string chunk;
    for (size_t i = 0; i < points.size(); ++i) {
      absl::StrAppend(&chunk, "id: ", first + i, "\ndata: ",
                      MetricJson(points[i], first + i)
                          .dump(-1, ' ', false, Json::error_handler_t::replace),
                      "\n\n");
    }
    if (chunk.empty() && ++*idle >= kKeepAliveTurns) chunk = ": idle\n\n";
    if (!chunk.empty()) *idle = 0;
    if (!write(chunk)) return false;
    // A closed history (the gateway stopping) ends the stream once drained.
    return !(points.empty() && history_.closed());
  };
  return response;
}

serving::HttpResponse Gateway::Leaderboard(const HttpRequest& request) const {
  std::string sort = "test_accuracy";
  if (auto it = request.query.find("sort"); it != request.query.end()) {
    sort = it->second;
  }
  std::string order = "desc";
  if (auto it = request.query.find("order"); it != request.query.end()) {
    order = it->second;
  }
  if (order != "asc" && order != "desc") {
    return Error(400, "?order= is asc or desc");
  }
  Json out = {{"sort", sort}, {"order", order}};
  // This run's models, from their latest figures.
  Json live = Json::array();
  for (const auto& [model, m] : history_.Latest()) {
    live.push_back({{"name", model}, {"step", m.step}, {"values", m.values}});
  }
  out["live"] = live;
  Json models = Json::array();
  if (options_.registry != nullptr) {
    registry::Query query;
    query.sort = absl::StrCat(sort, " ", order);
    query.limit = static_cast<int64_t>(LimitOf(request, 100, 1000));
    if (auto it = request.query.find("project"); it != request.query.end()) {
      query.filter = absl::StrCat("project=", it->second);
    }
    absl::StatusOr<std::vector<registry::ModelRecord>> found =
        options_.registry->FindModels(query);
    if (!found.ok()) return Error(found.status());
    for (const registry::ModelRecord& m : *found) {
      models.push_back({{"project", m.project},
                        {"name", m.name},
                        {"version", m.version},
                        {"arch", m.arch},
                        {"aliases", m.aliases},
                        {"time_ns", m.time_ns},
                        {"values", KeyValuesJson(m.kv)}});
    }
  } else {
    out["note"] = "no registry: start with --registry_dir (or a spec "
                  "registry:) to rank saved models";
  }
  out["models"] = models;
  return JsonResponse(200, out);
}

serving::HttpResponse Gateway::Tasks() const {
  Json counts = Json::object();
  for (registry::TaskState s :
       {registry::TaskState::kPending, registry::TaskState::kRunning,
        registry::TaskState::kDone, registry::TaskState::kFailed}) {
    counts[std::string(registry::TaskStateName(s))] = 0;
  }
  Json tasks = Json::array();
  if (options_.registry != nullptr) {
    absl::StatusOr<std::vector<registry::Task>> all =
        options_.registry->ListTasks(registry::Query{});
    if (!all.ok()) return Error(all.status());
    for (const registry::Task& t : *all) {
      const std::string state(registry::TaskStateName(t.state));
      counts[state] = counts[state].get<int64_t>() + 1;
      tasks.push_back({{"id", t.id},
                       {"project", t.project},
                       {"name", t.name},
                       {"state", state},
                       {"attempts", t.attempts},
                       {"runner", t.runner},
                       {"error", t.error},
                       {"results", KeyValuesJson(t.results)}});
    }
  }
  return JsonResponse(200, Json{{"counts", counts}, {"tasks", tasks}});
}

serving::HttpResponse Gateway::Serving() const {
  std::function<Json()> view;
  {
    absl::MutexLock lock(&mu_);
    view = serving_;
  }
  if (!view) {
    return JsonResponse(
        200, Json{{"models", Json::array()},
                  {"note", "nothing is served here; trainbus serve has "
                           "these endpoints on its port"}});
  }
  return JsonResponse(200, view());
}

serving::HttpResponse Gateway::Recent(const HttpRequest& request) const {
  const size_t limit = LimitOf(request, 32, 256);
  std::string format = "png";
  if (auto it = request.query.find("format"); it != request.query.end()) {
    format = it->second;
  }
  if (format != "png" && format != "raw") {
    return Error(400, "?format= is png (base64 thumbnails) or raw (pixels)");
  }
  Json list = Json::array();
  for (const RecentPrediction& p : predictions_.Last(limit)) {
    Json j = {{"id", p.id},
              {"model", p.model},
              {"version", p.model_version},
              {"label", p.label},
              {"scores", p.scores},
              {"source", p.source},
              {"sample_seq", p.sample_seq},
              {"origin", p.origin},
              {"shape", p.shape},
              {"time_ns", p.time_ns}};
    if (format == "png") {
      j["png_b64"] = PngBase64(p);
    } else {
      j["pixels"] = p.pixels;
    }
    list.push_back(std::move(j));
  }
  std::string resource;
  {
    absl::MutexLock lock(&mu_);
    resource = feedback_ ? feedback_resource_ : "";
  }
  return JsonResponse(
      200, Json{{"predictions", list}, {"feedback_resource", resource}});
}

serving::HttpResponse Gateway::Feedback(const HttpRequest& request,
                                        absl::string_view id_text) const {
  FeedbackView view;
  std::string resource;
  {
    absl::MutexLock lock(&mu_);
    view = feedback_;
    resource = feedback_resource_;
  }
  if (!view) {
    return Error(404, "this gateway takes no feedback (no run with "
                      "predictions is attached)");
  }
  uint64_t id = 0;
  if (!absl::SimpleAtoi(id_text, &id)) {
    return Error(404, absl::StrCat("'", id_text,
                                   "' is not a prediction id; take one from "
                                   "GET /v1/predictions/recent"));
  }
  const Json body = Json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("label") ||
      !body["label"].is_number_integer() || body["label"].get<int64_t>() < 0) {
    return Error(400, "the body must be {\"label\": L}, the right class");
  }
  absl::StatusOr<RecentPrediction> p = predictions_.Find(id);
  if (!p.ok()) return Error(p.status());
  if (p->pixels.empty()) {
    return Error(409, absl::StrCat("prediction ", id,
                                   " has no pixels to label (its sample was "
                                   "not seen by the gateway)"));
  }
  absl::StatusOr<uint64_t> offset =
      view(*p, static_cast<int32_t>(body["label"].get<int64_t>()));
  if (!offset.ok()) return Error(offset.status());
  return JsonResponse(200, Json{{"resource", resource},
                                {"offset", *offset},
                                {"prediction", id}});
}

absl::StatusOr<std::string> Gateway::RenderMetrics() const {
  auto [now, before] = Snapshots();
  std::vector<MetricsCollector> collectors;
  std::vector<std::function<std::string()>> texts;
  NodeCounts nodes;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
    texts = texts_;
    nodes = nodes_;
  }
  report::MetricRegistry registry;
  // The bus's, the models' and the nodes' families once there is a run
  // (a placed run's nodes connect before it starts).
  const bool run = now.at != absl::InfinitePast() || history_.size() > 0;
  if (run) {
    TB_RETURN_IF_ERROR(AddBusMetrics(now.resources, &registry));
    TB_RETURN_IF_ERROR(AddModelMetrics(history_.Latest(), &registry));
  }
  if (run || !nodes.nodes.empty()) {
    TB_RETURN_IF_ERROR(AddNodeMetrics(nodes, &registry));
  }
  if (options_.registry != nullptr) {
    TB_RETURN_IF_ERROR(AddRegistryMetrics(*options_.registry, &registry));
  }
  for (const MetricsCollector& c : collectors) {
    TB_RETURN_IF_ERROR(c(&registry));
  }
  std::string out = registry.Render();
  for (const auto& text : texts) out += text();
  return out;
}

serving::HttpResponse Gateway::Metrics() const {
  absl::StatusOr<std::string> text = RenderMetrics();
  if (!text.ok()) return Error(text.status());
  HttpResponse response;
  response.content_type = report::kPrometheusContentType;
  response.body = *std::move(text);
  return response;
}

serving::HttpResponse Gateway::Resource(const HttpRequest& request) const {
  std::shared_ptr<ResourceAdapter> adapter;
  {
    absl::MutexLock lock(&mu_);
    adapter = adapter_;
  }
  absl::string_view rest = request.path;
  rest.remove_prefix(kResourcesPrefix.size());
  const size_t colon = rest.rfind(':');
  const std::string name(rest.substr(0, colon));
  const absl::string_view verb =
      colon == absl::string_view::npos ? "" : rest.substr(colon + 1);
  if (verb != "publish" && verb != "subscribe") {
    return Error(404, absl::StrCat(
                          "no route for ", request.path,
                          "; use /v1/resources/{name}:publish (POST) or "
                          ":subscribe (GET)"));
  }
  if (adapter == nullptr) {
    return Error(404, "this gateway has no bus (the HTTP adapter works "
                      "beside trainbus run --dashboard)");
  }
  if (verb == "publish") {
    if (request.method != "POST") {
      return Error(405, absl::StrCat(request.path, " takes POST"));
    }
    absl::StatusOr<AdapterSample> sample = ParsePublishBody(request);
    if (!sample.ok()) return Error(sample.status());
    absl::StatusOr<uint64_t> offset = adapter->Publish(name, *std::move(sample));
    if (!offset.ok()) return Error(offset.status());
    return JsonResponse(200, Json{{"resource", name}, {"offset", *offset}});
  }
  if (request.method != "GET") {
    return Error(405, absl::StrCat(request.path, " takes GET"));
  }
  auto format = request.query.find("format");
  const bool jsonl = format != request.query.end() && format->second == "jsonl";
  absl::StatusOr<std::unique_ptr<AdapterSubscription>> sub =
      adapter->Subscribe(name);
  if (!sub.ok()) return Error(sub.status());
  std::shared_ptr<AdapterSubscription> subscription = *std::move(sub);
  HttpResponse response;
  response.content_type = jsonl ? "application/x-ndjson" : "text/event-stream";
  response.headers.push_back({"Cache-Control", "no-cache"});
  response.stream = [this, subscription,
                     jsonl](const serving::StreamWrite& write) {
    absl::StatusOr<std::vector<Json>> items = subscription->Next(kStreamTurn);
    if (!items.ok()) return false;
    std::string chunk;
    for (const Json& item : *items) {
      const std::string text =
          item.dump(-1, ' ', false, Json::error_handler_t::replace);
      absl::StrAppend(&chunk, jsonl ? "" : "data: ", text,
                      jsonl ? "\n" : "\n\n");
    }
    if (!write(chunk)) return false;
    return !history_.closed();
  };
  return response;
}

serving::HttpResponse Gateway::Asset(absl::string_view path) const {
  if (path == "/js/chart.min.js") {
    const std::string file = options_.chart_js_dir + "/chart.min.js";
    absl::StatusOr<std::string> js = base::ReadFile(file);
    if (!js.ok()) {
      return Error(500, absl::StrCat("cannot read ", file,
                                     " (install Debian's libjs-chart.js: "
                                     "tools/setup.sh): ",
                                     js.status().message()));
    }
    HttpResponse response;
    response.content_type = "application/javascript; charset=utf-8";
    response.body = *std::move(js);
    return response;
  }
  const DashboardAsset* asset = FindDashboardAsset(path);
  if (asset == nullptr) return Error(404, "no such file");
  HttpResponse response;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->content);
  return response;
}

}  // namespace trainbus::gateway
