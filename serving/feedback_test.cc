// POST :feedback on the real server over loopback, with the continual
// service behind it: ids in :classify/:predict answers, feedback by id and
// by image, every error status, the ring's bound, the loop through HTTP up
// to a promotion in the registry, and `trainbus serve --continual` itself.
#include "serving/feedback.h"

#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/program_testing.h"
#include "base/subprocess.h"
#include "data/image.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "serving/continual.h"
#include "serving/predict_testing.h"
#include "serving/rest_api.h"
#include "serving/server.h"

namespace trainbus::serving {
namespace {

using Json = nlohmann::json;

constexpr char kProject[] = "shop";
constexpr char kModel[] = "fashion";

std::string PngB64(const data::Dataset& d, size_t i) {
  data::Image image(28, 28, 0);
  image.pixels.assign(d.image(i), d.image(i) + 784);
  absl::StatusOr<std::vector<uint8_t>> png = data::EncodePng(image);
  EXPECT_TRUE(png.ok()) << png.status();
  return absl::Base64Escape(std::string(png->begin(), png->end()));
}

struct Reply {
  int status = 0;
  Json json;
};

Reply Post(httplib::Client& client, const std::string& path,
           const std::string& body) {
  Reply reply;
  httplib::Result r = client.Post(path.c_str(), body, "application/json");
  if (!r) {
    ADD_FAILURE() << path << ": no response: " << httplib::to_string(r.error());
    return reply;
  }
  reply.status = r->status;
  reply.json = Json::parse(r->body, nullptr, false);
  return reply;
}

std::string Error(const Reply& r) {
  return r.json.is_object() && r.json.contains("error") &&
                 r.json["error"].is_string()
             ? r.json["error"].get<std::string>()
             : r.json.dump();
}

TEST(RecentPredictionsTest, KeepsTheLastCapacityAndForgetsOlder) {
  RecentPredictions recent(3);
  std::vector<float> x = {0.0f, 1.0f, 0.5f, 0.2f};  // four inputs of one
  std::vector<uint64_t> ids = recent.Remember(7, x.data(), 4, 1);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[1], ids[0] + 1);
  EXPECT_EQ(recent.Find(ids[0]).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<RecentPredictions::Entry> e = recent.Find(ids[2]);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->version, 7);
  EXPECT_EQ(e->pixels, std::vector<uint8_t>{128});
  EXPECT_TRUE(absl::StrContains(recent.Find(12345).status().message(),
                                "keeps the last 3"));
}

class FeedbackServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(champion_, root_, store_) = ChampionRegistry(kProject, kModel);
    ContinualOptions options;
    options.enabled = true;
    options.promote_window = 50;
    options.promote_margin = 0.3;
    options.recent_predictions = 8;
    // The whole server (batcher included) as `trainbus serve --continual`
    // assembles it; the test polls the watcher itself.
    ServeOptions serve;
    serve.model = absl::StrCat(kProject, "/", kModel);
    serve.http.port = 0;
    serve.poll_interval = absl::ZeroDuration();
    serve.feedback =
        [&](const ModelSet& models) -> absl::StatusOr<const Feedback*> {
      auto service = ContinualService::Start(root_, models.project(),
                                             models.name(), options, log_);
      if (!service.ok()) return service.status();
      service_ = *std::move(service);
      return service_->feedback();
    };
    auto started = Server::Start(store_.get(), std::move(serve));
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(30, 0);
  }

  void TearDown() override {
    server_.reset();  // before the service its API publishes to
    service_.reset();
  }

  const std::string kFeedback = "/v1/models/fashion:feedback";
  std::unique_ptr<nn::Model> champion_;
  std::string root_;
  std::unique_ptr<registry::Store> store_;
  std::ostringstream log_;
  std::unique_ptr<ContinualService> service_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(FeedbackServerTest, FeedbackByPredictionIdAndByImageReachesTheBus) {
  const data::Dataset d = Blocks(4, 3);
  Reply classified = Post(*client_, "/v1/models/fashion:classify",
                          Json{{"examples",
                                {{{"image", {{"b64", PngB64(d, 0)}}}},
                                 {{"image", {{"b64", PngB64(d, 1)}}}}}}}
                              .dump());
  ASSERT_EQ(classified.status, 200) << classified.json.dump();
  ASSERT_TRUE(classified.json["result"].is_array());
  const Json& ids = classified.json["prediction_ids"];
  ASSERT_EQ(ids.size(), 2u) << classified.json.dump();
  Reply predicted = Post(*client_, "/v1/models/fashion:predict",
                         Json{{"instances", {FloatsOf(d, 2, 1)}}}.dump());
  ASSERT_EQ(predicted.status, 200);
  ASSERT_EQ(predicted.json["prediction_ids"].size(), 1u);
  EXPECT_EQ(predicted.json["prediction_ids"][0].get<uint64_t>(),
            ids[1].get<uint64_t>() + 1);

  Reply by_id = Post(*client_, kFeedback,
                     Json{{"prediction_id", ids[1]}, {"label", 4}}.dump());
  ASSERT_EQ(by_id.status, 200) << Error(by_id);
  EXPECT_EQ(by_id.json["offset"], 0);
  Reply by_image =
      Post(*client_, kFeedback,
           Json{{"image", {{"b64", PngB64(d, 3)}}}, {"label", 3}}.dump());
  ASSERT_EQ(by_image.status, 200) << Error(by_image);
  EXPECT_EQ(by_image.json["offset"], 1);
  ASSERT_TRUE(service_->AwaitSamples(2, absl::Seconds(30)).ok());
}

TEST_F(FeedbackServerTest, BadFeedbackIs400AndUnknownIs404) {
  const data::Dataset d = Blocks(1, 3);
  struct Case {
    std::string path, body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {kFeedback, "{", 400, "not valid JSON"},
      {kFeedback, R"({"prediction_id": 5})", 400, "integer \"label\""},
      {kFeedback, R"({"prediction_id": 5, "label": "3"})", 400, "\"label\""},
      {kFeedback, R"({"prediction_id": 5, "label": 10})", 400,
       "classes are 0..9"},
      {kFeedback, R"({"prediction_id": -5, "label": 1})", 400,
       "prediction_ids"},
      {kFeedback, R"({"prediction_id": 5, "label": 1})", 404,
       "no recent prediction 5"},
      {kFeedback, R"({"label": 1})", 400, "\"image\""},
      {kFeedback, R"({"image": {"b64": "***"}, "label": 1})", 400, "base64"},
      {kFeedback,
       Json{{"image", {{"b64", absl::Base64Escape("not an image")}}},
            {"label", 1}}
           .dump(),
       400, "not a readable image"},
      {"/v1/models/shoes:feedback", R"({"label": 1})", 404, "unknown model"},
      {"/v1/models/fashion:feedbacks", R"({"label": 1})", 404, ":feedback"},
  };
  for (const Case& c : cases) {
    Reply r = Post(*client_, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.json.dump();
    EXPECT_TRUE(absl::StrContains(Error(r), c.says))
        << c.body << " -> " << Error(r);
  }
  httplib::Result get = client_->Get(kFeedback.c_str());
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  // An id the ring (8 entries) has forgotten is 404 too.
  Reply first = Post(*client_, "/v1/models/fashion:predict",
                     Json{{"instances", {FloatsOf(d, 0, 1)}}}.dump());
  for (int i = 0; i < 8; ++i) {
    Post(*client_, "/v1/models/fashion:predict",
         Json{{"instances", {FloatsOf(d, 0, 1)}}}.dump());
  }
  Reply old = Post(
      *client_, kFeedback,
      Json{{"prediction_id", first.json["prediction_ids"][0]}, {"label", 1}}
          .dump());
  EXPECT_EQ(old.status, 404) << old.json.dump();
}

TEST_F(FeedbackServerTest, WithoutFeedbackTheRouteSaysHowToTurnItOn) {
  RestApi plain(RestApiParts{&server_->watcher()});
  HttpRequest request{"POST", kFeedback, "application/json", R"({"label": 1})"};
  HttpResponse response = plain.Handle(request);
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(absl::StrContains(response.body, "--continual"));
  HttpResponse classify = plain.Handle(
      {"POST", "/v1/models/fashion:predict", "application/json",
       Json{{"instances", {FloatsOf(Blocks(1, 1), 0, 1)}}}.dump()});
  EXPECT_EQ(classify.status, 200);
  EXPECT_FALSE(absl::StrContains(classify.body, "prediction_ids"));
}

TEST_F(FeedbackServerTest, PermutedFeedbackOverHttpPromotesInTheRegistry) {
  const data::Dataset d = Blocks(600, 42);
  size_t sent = 0;
  for (; sent < d.count; ++sent) {
    Reply r = Post(*client_, kFeedback,
                   Json{{"image", {{"b64", PngB64(d, sent)}}},
                        {"label", (d.labels[sent] + 3) % 10}}
                       .dump());
    ASSERT_EQ(r.status, 200) << Error(r);
    // Every window, wait for the challenger to catch up and look.
    if ((sent + 1) % 50 != 0) continue;
    ASSERT_TRUE(service_->AwaitSamples(sent + 1, absl::Seconds(60)).ok());
    std::vector<Decision> decisions = service_->RecentDecisions();
    if (!decisions.empty() && decisions.back().promoted) break;
  }
  std::vector<Decision> decisions = service_->RecentDecisions();
  ASSERT_FALSE(decisions.empty());
  ASSERT_TRUE(decisions.back().promoted)
      << "no promotion after " << sent << " samples:\n"
      << log_.str();
  EXPECT_EQ(decisions.back().new_version, 2);
  absl::StatusOr<int64_t> aliased =
      store_->ResolveAlias(kProject, kModel, "production");
  ASSERT_TRUE(aliased.ok());
  EXPECT_EQ(*aliased, 2);
  EXPECT_TRUE(absl::StrContains(log_.str(), "promoted as version 2"))
      << log_.str();

  // The server side: its watcher swaps the promoted version in, and the
  // alias's status and answers report it.
  absl::StatusOr<bool> swapped = server_->watcher().Poll();
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_TRUE(*swapped);
  httplib::Result status = client_->Get("/v1/models/fashion/labels/production");
  ASSERT_TRUE(status) << httplib::to_string(status.error());
  Json statuses = Json::parse(status->body, nullptr, false);
  ASSERT_EQ(status->status, 200) << status->body;
  EXPECT_EQ(statuses["model_version_status"][0]["version"], "2")
      << status->body;
  EXPECT_EQ(statuses["model_version_status"][0]["state"], "AVAILABLE");
  httplib::Result answer = client_->Post(
      "/v1/models/fashion/labels/production:predict",
      Json{{"instances", {FloatsOf(d, 0, 1)}}}.dump(), "application/json");
  ASSERT_TRUE(answer) << httplib::to_string(answer.error());
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_EQ(answer->get_header_value(kModelVersionHeader), "2");
}

// The real binary: --continual wires the route, and SIGTERM stops it.
TEST(ServeContinualTest, TrainbusServeContinualTakesFeedback) {
  const std::string root =
      RegistryWith(kProject, kModel, *TrainedSoftmax(Blocks(100, 1), 2));
  absl::StatusOr<base::Subprocess> child = base::Subprocess::Spawn(
      {base::ProgramUnderTest(), "serve", "--registry_dir=" + root,
       "--model=shop/fashion", "--port=0", "--continual",
       "--promote_window=10"},
      base::OutputPiped());
  ASSERT_TRUE(child.ok()) << child.status();
  int port = 0;
  while (port == 0) {
    absl::StatusOr<std::string> line = child->ReadLine(absl::Seconds(60));
    ASSERT_TRUE(line.ok()) << "the server did not start: " << line.status();
    if (absl::StartsWith(*line, "serving ")) {
      ASSERT_TRUE(absl::SimpleAtoi(line->substr(line->rfind(':') + 1), &port))
          << *line;
    }
  }
  httplib::Client client("127.0.0.1", port);
  const data::Dataset d = Blocks(1, 5);
  Reply r = Post(client, "/v1/models/fashion:feedback",
                 Json{{"image", {{"b64", PngB64(d, 0)}}}, {"label", 2}}.dump());
  EXPECT_EQ(r.status, 200) << r.json.dump();
  EXPECT_EQ(r.json["offset"], 0);
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  absl::StatusOr<base::ExitStatus> exit = child->WaitOrKill(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->Describe();
}

// The next line of `child` containing one of `needles`; fails the test
// (empty result) when the deadline passes first.
std::string AwaitLine(base::Subprocess& child,
                      const std::vector<std::string>& needles,
                      absl::Time deadline) {
  while (true) {
    absl::StatusOr<std::string> line =
        child.ReadLine(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!line.ok()) {
      ADD_FAILURE() << "no line with " << needles[0]
                    << " before the deadline: " << line.status();
      return "";
    }
    for (const std::string& needle : needles) {
      if (absl::StrContains(*line, needle)) return *line;
    }
  }
}

// The real binary end to end: permuted feedback promotes the challenger,
// the server's own watcher swaps the new version in, and the alias's status
// reports it. Driven by the lines the child prints: a decision per window
// of feedback, then the watcher's line for the moved label.
TEST(ServeContinualTest, PromotionIsSwappedInAndShownUnderTheAlias) {
  auto [champion, root, store] = ChampionRegistry(kProject, kModel);
  store.reset();
  constexpr int kWindow = 50;
  absl::StatusOr<base::Subprocess> child = base::Subprocess::Spawn(
      {base::ProgramUnderTest(), "serve", "--registry_dir=" + root,
       "--model=shop/fashion", "--port=0", "--poll_interval_s=0.05",
       "--continual", absl::StrCat("--promote_window=", kWindow),
       "--promote_margin=0.3"},
      base::OutputPiped());
  ASSERT_TRUE(child.ok()) << child.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  const std::string serving = AwaitLine(*child, {"serving "}, deadline);
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(serving.substr(serving.rfind(':') + 1), &port))
      << serving;
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  const data::Dataset d = Blocks(600, 42);
  // Each full window ends in a decision ("keep" or a promotion); send the
  // next window only after the last one's decision.
  std::string decision;
  for (size_t sent = 0; sent < d.count;) {
    for (int i = 0; i < kWindow; ++i, ++sent) {
      Reply r = Post(client, "/v1/models/fashion:feedback",
                     Json{{"image", {{"b64", PngB64(d, sent)}}},
                          {"label", (d.labels[sent] + 3) % 10}}
                         .dump());
      ASSERT_EQ(r.status, 200) << Error(r);
    }
    decision = AwaitLine(*child, {"keep the champion", "promoted as version"},
                         deadline);
    ASSERT_FALSE(decision.empty());
    if (absl::StrContains(decision, "promoted")) break;
  }
  ASSERT_TRUE(absl::StrContains(decision, "promoted as version 2"))
      << "no promotion after " << d.count << " samples: " << decision;
  // The watcher logs the label's move once it has swapped the snapshot in.
  ASSERT_FALSE(AwaitLine(*child, {"label production moved from version 1 to 2"},
                         deadline)
                   .empty());
  httplib::Result status = client.Get("/v1/models/fashion/labels/production");
  ASSERT_TRUE(status) << httplib::to_string(status.error());
  ASSERT_EQ(status->status, 200) << status->body;
  Json statuses = Json::parse(status->body, nullptr, false);
  EXPECT_EQ(statuses["model_version_status"][0]["version"], "2")
      << status->body;
  EXPECT_EQ(statuses["model_version_status"][0]["state"], "AVAILABLE");
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  absl::StatusOr<base::ExitStatus> exit = child->WaitOrKill(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->Describe();
}

}  // namespace
}  // namespace trainbus::serving

int main(int argc, char** argv) {
  return trainbus::base::RunTestsWithProgram(argc, argv);
}
