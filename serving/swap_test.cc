// Hot swap, batching, the full queue and /metrics on the real server over
// loopback: registry changes are picked up by Poll() (or the polling
// thread), and batches are held at a gate so what queues is exact.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kernels/nn/model.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"
#include "report/prometheus.h"
#include "report/prometheus_testing.h"
#include "serving/server.h"
#include "serving/serving_testing.h"

namespace trainbus::serving {
namespace {

using testing::Json;

constexpr char kModel[] = "digits";
constexpr char kProduction[] = "/v1/models/digits/labels/production:predict";

std::string PredictBody(int c) {
  return Json{{"instances", {testing::Floats(testing::Pattern(c))}}}.dump();
}

// The version a reply's header names; 0 if none.
int64_t VersionOf(const httplib::Result& result) {
  int64_t version = 0;
  if (result) {
    absl::SimpleAtoi(result->get_header_value(kModelVersionHeader), &version);
  }
  return version;
}

class SwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::NewStore("swap");
    ASSERT_NE(store_, nullptr);
    ASSERT_EQ(testing::SaveTrainedSoftmax(*store_, "", kModel, 20), 1);
    ASSERT_TRUE(store_->SetAlias("", kModel, "production", 1).ok());
  }

  void StartServer(ServeOptions options) {
    options.model = kModel;
    options.http.port = 0;
    auto server = Server::Start(store_.get(), std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(60, 0);
    return client;
  }

  // A version whose weights are finite but huge: Predict on a bright input
  // overflows to NaN, so it loads but fails its warm-up.
  int64_t SaveNaNModel() {
    auto spec = nn::ParseModelSpec("softmax:lr=1e38");
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto model = nn::MakeModel(*spec);
    EXPECT_TRUE(model.ok()) << model.status();
    std::vector<float> ones(28 * 28, 1.0f);
    const int32_t label = 0;
    EXPECT_TRUE((*model)->TrainStep(ones.data(), &label, 1).ok());
    auto version = store_->SaveModel("", kModel, nn::FormatModelSpec(*spec),
                                     (*model)->SaveCheckpoint(), {});
    EXPECT_TRUE(version.ok()) << version.status();
    return version.ok() ? *version : 0;
  }

  std::unique_ptr<registry::Store> store_;
  std::unique_ptr<Server> server_;
};

// 32 clients predict through the production label while it moves ten times:
// every request succeeds, and no client ever sees an older version than it
// saw before.
TEST_F(SwapTest, AliasMovesTenTimesUnderLoadWithoutFailuresOrGoingBack) {
  for (int v = 2; v <= 11; ++v) {
    ASSERT_EQ(testing::SaveTrainedSoftmax(*store_, "", kModel, 5 + v), v);
  }
  ServeOptions options;
  options.poll_interval = absl::ZeroDuration();
  options.replicas = 2;
  StartServer(options);
  constexpr int kClients = 32;
  std::atomic<bool> stop{false};
  std::vector<std::atomic<int64_t>> requests(kClients), failures(kClients),
      backwards(kClients), last_version(kClients);
  std::vector<std::string> first_failure(kClients);
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client client = Client();
      client.set_keep_alive(true);  // as load generators do
      const std::string body = PredictBody(t % 10);
      while (!stop.load()) {
        httplib::Result result =
            client.Post(kProduction, body, "application/json");
        const int64_t version = VersionOf(result);
        if (!result || result->status != 200 || version == 0) {
          if (failures[t]++ == 0) {
            first_failure[t] = result ? absl::StrCat(result->status, " ", result->body)
                                      : httplib::to_string(result.error());
            absl::StrAppend(&first_failure[t], " at request ", requests[t].load(),
                            " version ", last_version[t].load());
          }
        } else if (version < last_version[t].load()) {
          ++backwards[t];
        } else {
          last_version[t] = version;
        }
        ++requests[t];
      }
    });
  }
  // Each move: the registry changes, the server swaps, and every client
  // gets answers from the new version before the next move.
  for (int64_t v = 2; v <= 11; ++v) {
    ASSERT_TRUE(store_->SetAlias("", kModel, "production", v).ok());
    absl::StatusOr<bool> swapped = server_->watcher().Poll();
    ASSERT_TRUE(swapped.ok()) << swapped.status();
    EXPECT_TRUE(*swapped) << "move to " << v;
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          for (int t = 0; t < kClients; ++t) {
            if (last_version[t].load() < v) return false;
          }
          return true;
        },
        absl::StrCat("every client to see version ", v), 120));
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  int64_t total = 0;
  for (int t = 0; t < kClients; ++t) {
    EXPECT_EQ(failures[t].load(), 0) << "client " << t << ": " << first_failure[t];
    EXPECT_EQ(backwards[t].load(), 0) << "client " << t;
    EXPECT_EQ(last_version[t].load(), 11) << "client " << t;
    total += requests[t].load();
  }
  EXPECT_GE(total, 10 * kClients);
  EXPECT_EQ(server_->watcher().swaps(), 10);
}

// A request held inside version 1's replica while the alias moves to 2 and
// the snapshot is swapped: it is answered by version 1, and the requests
// after the swap by version 2.
TEST_F(SwapTest, ARequestInFlightFinishesOnTheVersionItStartedWith) {
  testing::Gate old_gate, new_gate;  // version 1's replicas, and later ones
  testing::BatchLog batches;
  std::atomic<testing::Gate*> gate_for_new_replicas{&old_gate};
  ServeOptions options;
  options.poll_interval = absl::ZeroDuration();
  options.batching.num_batch_threads = 2;
  options.replica_factory = [&](absl::string_view checkpoint, int index) {
    return testing::GatedReplicas(gate_for_new_replicas.load(), &batches)(
        checkpoint, index);
  };
  StartServer(options);
  gate_for_new_replicas = &new_gate;
  old_gate.Close();
  int64_t held_version = 0;
  std::thread held([&] {
    held_version =
        VersionOf(Client().Post(kProduction, PredictBody(4), "application/json"));
  });
  ASSERT_TRUE(testing::WaitFor([&] { return old_gate.waiting() == 1; },
                      "the request held in version 1"));
  ASSERT_EQ(testing::SaveTrainedSoftmax(*store_, "", kModel, 30), 2);
  ASSERT_TRUE(store_->SetAlias("", kModel, "production", 2).ok());
  absl::StatusOr<bool> swapped = server_->watcher().Poll();
  ASSERT_TRUE(swapped.ok() && *swapped) << swapped.status();
  EXPECT_EQ(VersionOf(Client().Post(kProduction, PredictBody(4), "application/json")), 2);
  old_gate.Open();
  held.join();
  EXPECT_EQ(held_version, 1);
}

TEST_F(SwapTest, AVersionThatFailsToWarmIsNotSwappedInAndStatusSaysWhy) {
  ServeOptions options;
  options.poll_interval = absl::ZeroDuration();
  StartServer(options);
  const int64_t broken = SaveNaNModel();
  ASSERT_EQ(broken, 2);
  ASSERT_TRUE(store_->SetAlias("", kModel, "production", broken).ok());
  absl::StatusOr<bool> swapped = server_->watcher().Poll();
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_TRUE(*swapped);  // a new snapshot, with version 2 in state END

  httplib::Client client = Client();
  testing::Reply status = testing::Parse(client.Get("/v1/models/digits/versions/2"));
  ASSERT_EQ(status.status, 200) << status.json.dump();
  const Json& v2 = status.json["model_version_status"][0];
  EXPECT_EQ(v2.at("state"), "END");
  EXPECT_EQ(v2.at("status").at("error_code"), "FAILED_PRECONDITION");
  EXPECT_NE(v2.at("status").at("error_message").get<std::string>().find(
                "not probabilities"),
            std::string::npos)
      << v2.dump();
  // Both the label and the latest still answer from version 1.
  for (const char* path : {kProduction, "/v1/models/digits:predict"}) {
    httplib::Result result = client.Post(path, PredictBody(3), "application/json");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << result->body;
    EXPECT_EQ(VersionOf(result), 1) << path;
  }
  EXPECT_EQ(server_->watcher().Current()->labels().at("production"), 1);
  // A good version after it is followed again.
  ASSERT_EQ(testing::SaveTrainedSoftmax(*store_, "", kModel, 30), 3);
  ASSERT_TRUE(store_->SetAlias("", kModel, "production", 3).ok());
  ASSERT_TRUE(server_->watcher().Poll().ok());
  EXPECT_EQ(VersionOf(client.Post(kProduction, PredictBody(3), "application/json")), 3);
}

// The same swap with replicas that are CAF actors: old actors are told to
// exit when their version goes, new ones spawned for the new version.
TEST_F(SwapTest, ActorReplicasServeAndSwap) {
  ServeOptions options;
  options.poll_interval = absl::ZeroDuration();
  options.replicas = 2;
  options.replica_kind = "actor";
  StartServer(options);
  httplib::Client client = Client();
  EXPECT_EQ(VersionOf(client.Post(kProduction, PredictBody(2), "application/json")), 1);
  ASSERT_EQ(testing::SaveTrainedSoftmax(*store_, "", kModel, 30), 2);
  ASSERT_TRUE(store_->SetAlias("", kModel, "production", 2).ok());
  ASSERT_TRUE(server_->watcher().Poll().ok());
  httplib::Result result = client.Post(kProduction, PredictBody(2), "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(VersionOf(result), 2);
  Json body = Json::parse(result->body);
  EXPECT_EQ(body["predictions"][0]["label"], 2);
}

TEST_F(SwapTest, AnUnknownReplicaKindIsAnError) {
  ServeOptions options;
  options.model = kModel;
  options.replica_kind = "gpu";
  auto server = Server::Start(store_.get(), options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("use local or actor"),
            absl::string_view::npos);
}

TEST_F(SwapTest, ThePollingThreadPicksUpANewVersion) {
  ServeOptions options;
  options.poll_interval = absl::Milliseconds(20);
  StartServer(options);
  ASSERT_EQ(testing::SaveTrainedSoftmax(*store_, "", kModel, 40), 2);
  httplib::Client client = Client();
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return VersionOf(client.Post("/v1/models/digits:predict", PredictBody(1),
                                     "application/json")) == 2;
      },
      "the latest version to become 2"));
  // An unchanged registry makes no new snapshot.
  const int64_t swaps = server_->watcher().swaps();
  absl::StatusOr<bool> again = server_->watcher().Poll();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(server_->watcher().swaps(), swaps);
}

// Requests that queue behind a held batch go as one batch, and /metrics
// (valid to promtool) shows it.
TEST_F(SwapTest, ConcurrentRequestsAreBatchedAndMetricsShowIt) {
  testing::Gate gate;
  testing::BatchLog batches;
  ServeOptions options;
  options.poll_interval = absl::ZeroDuration();
  options.batching.num_batch_threads = 1;
  options.replica_factory = testing::GatedReplicas(&gate, &batches);
  StartServer(options);
  gate.Close();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  auto send = [&](int c) {
    clients.emplace_back([&, c] {
      httplib::Result r = Client().Post(kProduction, PredictBody(c), "application/json");
      if (r && r->status == 200) ++ok;
    });
  };
  send(0);
  ASSERT_TRUE(testing::WaitFor([&] { return gate.waiting() == 1; }, "the first batch"));
  for (int c = 1; c <= 4; ++c) send(c);
  ASSERT_TRUE(testing::WaitFor([&] { return server_->batcher().queued_tasks() == 4; },
                      "four queued requests"));
  httplib::Result held = Client().Get("/metrics");
  ASSERT_TRUE(held);
  EXPECT_NE(held->body.find("\ntrainbus_serving_queue_depth 4\n"), std::string::npos)
      << held->body;
  gate.Open();
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 5);

  httplib::Result scrape = Client().Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(scrape->status, 200);
  EXPECT_EQ(scrape->get_header_value("Content-Type"), report::kPrometheusContentType);
  const std::string& text = scrape->body;
  for (const char* line : {
           "trainbus_serving_batch_size_bucket{model=\"digits\",le=\"1\"} 1\n",
           "trainbus_serving_batch_size_bucket{model=\"digits\",le=\"4\"} 2\n",
           "trainbus_serving_batch_size_count{model=\"digits\"} 2\n",
           "trainbus_serving_requests_total{model=\"digits\",version=\"1\","
           "status=\"200\"} 5\n",
           "trainbus_serving_request_duration_seconds_count{model=\"digits\"} 5\n",
           "trainbus_serving_queue_depth 0\n",
           "trainbus_serving_loaded_version{model=\"digits\",label=\"latest\"} 1\n",
           "trainbus_serving_loaded_version{model=\"digits\",label=\"production\"} 1\n",
           "trainbus_serving_swaps_total{model=\"digits\"} 0\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "in:\n" << text;
  }
  int code = -1;
  const std::string output = report::CheckWithPromtool(text, &code);
  EXPECT_EQ(code, 0) << output << text;
}

TEST_F(SwapTest, AFullQueueIs503WithRetryAfter) {
  testing::Gate gate;
  testing::BatchLog batches;
  ServeOptions options;
  options.poll_interval = absl::ZeroDuration();
  options.batching = {.max_batch_size = 1,
                      .num_batch_threads = 1,
                      .max_enqueued_batches = 1};
  options.replica_factory = testing::GatedReplicas(&gate, &batches);
  StartServer(options);
  gate.Close();
  std::vector<int> statuses(2, 0);
  std::vector<std::thread> clients;
  auto send = [&](int i) {
    clients.emplace_back([&, i] {
      httplib::Result r = Client().Post(kProduction, PredictBody(i), "application/json");
      statuses[i] = r ? r->status : -1;
    });
  };
  send(0);
  ASSERT_TRUE(testing::WaitFor([&] { return gate.waiting() == 1; }, "the busy worker"));
  send(1);
  ASSERT_TRUE(testing::WaitFor([&] { return server_->batcher().queued_batches() == 1; },
                      "the queued batch"));
  httplib::Result refused = Client().Post(kProduction, PredictBody(2), "application/json");
  testing::Reply reply = testing::Parse(refused);
  std::string error = testing::ErrorOf(reply, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_NE(error.find("batch queue is full"), std::string::npos) << error;
  EXPECT_NE(error.find("retry after"), std::string::npos) << error;
  gate.Open();
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
  httplib::Result scrape = Client().Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_NE(scrape->body.find("trainbus_serving_requests_total{model=\"digits\","
                              "version=\"1\",status=\"503\"} 1\n"),
            std::string::npos)
      << scrape->body;
}

}  // namespace
}  // namespace trainbus::serving
