#include "gateway/gateway.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "report/prometheus_testing.h"
#include "serving/http_server.h"

namespace trainbus::gateway {
namespace {

using Json = nlohmann::json;
using serving::HttpRequest;
using serving::HttpResponse;

bus::Metric Point(const std::string& model, uint64_t step, double acc) {
  bus::Metric m;
  m.model = model;
  m.split = "test";
  m.step = step;
  m.values = {{"test_accuracy", acc},
              {"prequential_accuracy", acc - 0.1},
              {"samples", step * 10.0},
              {"samples_per_second", 1000.0}};
  return m;
}

std::vector<bus::ResourceMetrics> TwoResources() {
  bus::ResourceMetrics mnist;
  mnist.name = "mnist";
  mnist.published = 1200;
  mnist.blocked = 7;
  bus::SubscriptionMetrics sub;
  sub.name = "mnist->model1";
  sub.policy = "block";
  sub.filter = "labelled";
  sub.delivered = 1100;
  sub.filtered = 100;
  sub.queue_depth = 3;
  sub.credit = 61;
  mnist.subscriptions.push_back(sub);
  bus::ResourceMetrics model1;
  model1.name = "model1";
  model1.published = 1100;
  bus::SubscriptionMetrics in;
  in.name = "model1";
  in.policy = "drop_oldest";
  in.filter = "all";
  in.delivered = 1090;
  in.dropped = 10;
  model1.subscriptions.push_back(in);
  return {mnist, model1};
}

HttpResponse Call(const Gateway& g, std::string method, std::string path,
                  std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  const size_t q = path.find('?');
  r.path = path.substr(0, q);
  if (q != std::string::npos) {
    for (absl::string_view kv : absl::StrSplit(path.substr(q + 1), '&')) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
      r.query[p.first] = p.second;
    }
  }
  r.body = std::move(body);
  r.content_type = "application/json";
  return g.Handler()(r);
}

GatewayOptions Quiet() { return GatewayOptions(); }

void ExpectPromtoolAccepts(const std::string& text) {
  int code = -1;
  const std::string promtool = report::CheckWithPromtool(text, &code);
  EXPECT_EQ(code, 0) << promtool << "\n" << text;
}

TEST(MetricsHistoryTest, SinceAdvancesAndLatestKeepsTestPoints) {
  MetricsHistory h;
  h.Append(Point("a", 100, 0.5));
  bus::Metric warning = Point("a", 150, 0.0);
  warning.split = "warning";
  h.Append(warning);
  h.Append(Point("b", 100, 0.6));
  size_t next = 1;
  EXPECT_EQ(h.Since(&next, absl::ZeroDuration()).size(), 2u);
  EXPECT_EQ(next, 3u);
  EXPECT_TRUE(h.Since(&next, absl::ZeroDuration()).empty());
  EXPECT_EQ(h.Latest().at("a").step, 100u);
  h.Close();
  EXPECT_TRUE(h.Since(&next, absl::Hours(1)).empty());  // does not wait
}

TEST(RecentPredictionsTest, EvictsOldestAndFindsById) {
  RecentPredictions r(2);
  for (int i = 0; i < 3; ++i) r.Add(RecentPrediction{});
  EXPECT_EQ(r.Last(10).size(), 2u);
  EXPECT_EQ(r.Last(10)[0].id, 3u);
  EXPECT_FALSE(r.Find(1).ok());
  EXPECT_EQ(r.Find(2)->id, 2u);
}

TEST(GatewayTest, MetricsMatchTheBusSnapshotAndPassPromtool) {
  Gateway g(Quiet());
  g.UpdateBus(TwoResources());
  g.history().Append(Point("model1", 300, 0.8));
  HttpResponse r = Call(g, "GET", "/metrics");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string& text = r.body;
  for (const char* line : {
           "trainbus_resource_published_total{resource=\"mnist\"} 1200",
           "trainbus_resource_blocked_total{resource=\"mnist\"} 7",
           "trainbus_subscription_delivered_total{resource=\"mnist\","
           "subscription=\"mnist->model1\",policy=\"block\",filter="
           "\"labelled\"} 1100",
           "trainbus_subscription_filtered_total{resource=\"mnist\","
           "subscription=\"mnist->model1\",policy=\"block\",filter="
           "\"labelled\"} 100",
           "trainbus_subscription_dropped_total{resource=\"model1\","
           "subscription=\"model1\",policy=\"drop_oldest\",filter=\"all\"} 10",
           "trainbus_subscription_queue_depth{resource=\"mnist\","
           "subscription=\"mnist->model1\",policy=\"block\",filter="
           "\"labelled\"} 3",
           "trainbus_model_steps_total{model=\"model1\"} 300",
           "trainbus_model_samples_total{model=\"model1\"} 3000",
           "trainbus_model_test_accuracy{model=\"model1\"} 0.8",
           "trainbus_nodes_connected 0",
       }) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
  ExpectPromtoolAccepts(text);
}

TEST(GatewayTest, CollectorsAddFamilies) {
  Gateway g(Quiet());
  g.AddMetricsCollector([](report::MetricRegistry* r) -> absl::Status {
    auto c = r->AddCounter("trainbus_amqp_reconnects_total", "Reconnects.");
    if (!c.ok()) return c.status();
    (*c)->Get().Increment(2);
    return absl::OkStatus();
  });
  EXPECT_TRUE(absl::StrContains(Call(g, "GET", "/metrics").body,
                                "trainbus_amqp_reconnects_total 2"));
}

TEST(GatewayTest, AmqpCountersAreFamiliesPerBridgeAndPassPromtool) {
  // name, inbound, received, accepted, acked, redelivered, dead_lettered,
  // published, confirmed, failed, reconnects, connect_failures, connected
  const amqp::BridgeStats in{"train-in", true, 2200, 2199, 2199, 0, 1,
                             0,          0,    0,    1,    0,    true};
  const amqp::BridgeStats out{"predictions-out", false, 0, 0, 0, 0, 0,
                              200, 200, 0, 0, 0, false};
  Gateway g(Quiet());
  g.AddMetricsCollector([=](report::MetricRegistry* r) {
    return AddAmqpMetrics({in, out}, r);
  });
  const std::string text = Call(g, "GET", "/metrics").body;
  for (const char* line : {
           "trainbus_amqp_received_total{bridge=\"train-in\",direction="
           "\"in\"} 2200",
           "trainbus_amqp_acked_total{bridge=\"train-in\",direction="
           "\"in\"} 2199",
           "trainbus_amqp_dead_lettered_total{bridge=\"train-in\","
           "direction=\"in\"} 1",
           "trainbus_amqp_reconnects_total{bridge=\"train-in\",direction="
           "\"in\"} 1",
           "trainbus_amqp_connected{bridge=\"train-in\",direction=\"in\"} 1",
           "trainbus_amqp_published_total{bridge=\"predictions-out\","
           "direction=\"out\"} 200",
           "trainbus_amqp_confirmed_total{bridge=\"predictions-out\","
           "direction=\"out\"} 200",
           "trainbus_amqp_connected{bridge=\"predictions-out\","
           "direction=\"out\"} 0",
       }) {
    EXPECT_TRUE(absl::StrContains(text, line)) << line << "\n" << text;
  }
  ExpectPromtoolAccepts(text);
}

TEST(GatewayTest, NodesAreCountedAndListedBeforeTheRunStarts) {
  Gateway g(Quiet());
  NodeCounts nodes;
  nodes.connected = 1;
  nodes.lost = 1;
  nodes.nodes = {{"worker1", "127.0.0.1:4101", "connected"},
                 {"worker2", "127.0.0.1:4102", "lost"}};
  g.SetNodes(nodes);
  const std::string text = Call(g, "GET", "/metrics").body;
  EXPECT_TRUE(absl::StrContains(text, "trainbus_nodes_connected 1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "trainbus_nodes_lost_total 1")) << text;
  const Json t = Json::parse(Call(g, "GET", "/v1/topology").body);
  ASSERT_EQ(t["nodes"].size(), 2u);
  EXPECT_EQ(t["nodes"][1],
            Json({{"name", "worker2"}, {"address", "127.0.0.1:4102"},
                  {"state", "lost"}}));
}

TEST(GatewayTest, TopologyHasRatesBetweenSamples) {
  Gateway g(Quiet());
  std::vector<bus::ResourceMetrics> now = TwoResources();
  g.UpdateBus(now);
  now[0].subscriptions[0].delivered += 500;
  g.UpdateBus(now);
  const Json t = Json::parse(Call(g, "GET", "/v1/topology").body);
  ASSERT_EQ(t["resources"].size(), 2u);
  EXPECT_EQ(t["resources"][0]["name"], "mnist");
  EXPECT_GT(t["resources"][0]["subscriptions"][0]["rate"].get<double>(), 0);
  EXPECT_EQ(t["resources"][1]["dropped"], 10);
}

TEST(GatewayTest, RunHistoryAndLeaderboardWithoutRegistry) {
  Gateway g(Quiet());
  g.SetRun({{"name", "parallel_models"},
            {"models", Json::array({Json{{"name", "model1"}},
                                      Json{{"name", "model2"}}})}});
  g.SetState("running");
  g.history().Append(Point("model1", 100, 0.5));
  g.history().Append(Point("model1", 200, 0.7));
  const Json run = Json::parse(Call(g, "GET", "/v1/run").body);
  EXPECT_EQ(run["state"], "running");
  EXPECT_EQ(run["models"][0]["step"], 200);
  EXPECT_FALSE(run["models"][1].contains("step"));
  const Json h = Json::parse(Call(g, "GET", "/v1/metrics/history").body);
  EXPECT_EQ(h["points"].size(), 2u);
  EXPECT_EQ(h["next"], 2);
  const Json l = Json::parse(Call(g, "GET", "/v1/leaderboard?sort=x").body);
  EXPECT_EQ(l["live"].size(), 1u);
  EXPECT_TRUE(l["models"].empty());
  EXPECT_EQ(Call(g, "POST", "/v1/run").status, 405);
}

TEST(GatewayTest, FeedbackPublishesTheRecentPixelsWithTheLabel) {
  Gateway g(Quiet());
  EXPECT_EQ(Call(g, "POST", "/v1/predictions/1:feedback", R"({"label":3})")
                .status,
            404);
  std::vector<std::pair<size_t, int32_t>> sent;
  g.SetFeedback(
      [&sent](const RecentPrediction& p, int32_t label) -> absl::StatusOr<uint64_t> {
        sent.push_back({p.pixels.size(), label});
        return sent.size() - 1;
      },
      "feedback");
  RecentPrediction p;
  p.model = "model1";
  p.label = 2;
  p.shape = {28, 28};
  p.pixels.assign(784, 128);
  const uint64_t id = g.predictions().Add(p);
  const Json recent =
      Json::parse(Call(g, "GET", "/v1/predictions/recent?limit=5").body);
  ASSERT_EQ(recent["predictions"].size(), 1u);
  EXPECT_FALSE(recent["predictions"][0]["png_b64"].get<std::string>().empty());
  EXPECT_EQ(recent["feedback_resource"], "feedback");
  HttpResponse r = Call(g, "POST", absl::StrCat("/v1/predictions/", id,
                                                ":feedback"),
                        R"({"label": 7})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, 784u);
  EXPECT_EQ(sent[0].second, 7);
  EXPECT_EQ(Call(g, "POST", absl::StrCat("/v1/predictions/", id, ":feedback"),
                 R"({"label": "x"})")
                .status,
            400);
  EXPECT_EQ(Call(g, "POST", "/v1/predictions/999:feedback", R"({"label":1})")
                .status,
            404);
}

TEST(GatewayTest, TokenIsRequiredEverywhere) {
  GatewayOptions o = Quiet();
  o.auth_token = "s3cret";
  Gateway g(o);
  HttpRequest r;
  r.method = "GET";
  r.path = "/v1/run";
  HttpResponse denied = g.Handler()(r);
  EXPECT_EQ(denied.status, 401);
  EXPECT_TRUE(absl::StrContains(denied.body, "Authorization: Bearer"));
  r.authorization = "Bearer s3cret";
  EXPECT_EQ(g.Handler()(r).status, 200);
  r.authorization = "";
  r.query["token"] = "s3cret";
  EXPECT_EQ(g.Handler()(r).status, 200);
  // The fallback (e.g. the serving API) is behind the token too.
  r.query.clear();
  r.path = "/v1/models/x";
  HttpResponse fallback_denied = g.Handler([](const HttpRequest&) {
    return HttpResponse{};
  })(r);
  EXPECT_EQ(fallback_denied.status, 401);
}

TEST(GatewayTest, ServesThePageAndChartJs) {
  Gateway g(Quiet());
  HttpResponse page = Call(g, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(absl::StartsWith(page.content_type, "text/html"));
  EXPECT_EQ(Call(g, "GET", "/dashboard.js").status, 200);
  HttpResponse chart = Call(g, "GET", "/js/chart.min.js");
  EXPECT_EQ(chart.status, 200) << chart.body;
  EXPECT_TRUE(absl::StrContains(chart.body, "Chart"));
  EXPECT_EQ(Call(g, "GET", "/nope.js").status, 404);
}

// Over a real socket: the stream sends the history first, then new points.
TEST(GatewayTest, StreamSendsHistoryThenNewPointsOverHttp) {
  Gateway g(Quiet());
  g.history().Append(Point("model1", 100, 0.5));
  serving::ServerOptions so;
  so.port = 0;
  so.threads = 4;
  auto server = serving::HttpServer::Start(g.Handler(), so);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  std::string received;
  int events = 0;
  bool appended = false;
  auto res = client.Get(
      "/v1/metrics/stream", [&](const char* data, size_t n) {
        received.append(data, n);
        events = 0;
        for (size_t p = received.find("data: "); p != std::string::npos;
             p = received.find("data: ", p + 1)) {
          ++events;
        }
        if (events == 1 && !appended) {
          appended = true;
          g.history().Append(Point("model1", 200, 0.6));
        }
        return events < 2;  // cancel once both arrived
      });
  EXPECT_EQ(events, 2) << received;
  EXPECT_TRUE(absl::StrContains(received, "id: 1\n")) << received;
  (*server)->Stop();
}

}  // namespace
}  // namespace trainbus::gateway
