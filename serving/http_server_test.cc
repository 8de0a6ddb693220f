// The real server on loopback, driven by a real HTTP client: every endpoint
// and every error status of serving/rest_api.h.
#include "serving/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/test_dir.h"
#include "data/image.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kernels/nn/model.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"
#include "serving/model_set.h"
#include "serving/rest_api.h"
#include "serving/server.h"
#include "serving/serving_testing.h"

namespace trainbus::serving {
namespace {

using Json = nlohmann::json;

using testing::B64;
using testing::ErrorOf;
using testing::Floats;
using testing::kClasses;
using testing::Parse;
using testing::Pattern;
using testing::Png;
using testing::Reply;
using testing::Train;

constexpr char kProject[] = "shop";
constexpr char kModel[] = "fashion";

std::vector<float> ScoresOf(const Json& prediction) {
  return prediction.at("scores").get<std::vector<float>>();
}

// Scores of a batched request: the GEMM's summation order depends on the
// batch size, so they may differ from a batch of one in the last bit.
void ExpectNear(const std::vector<float>& actual,
                const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-6f) << "score " << i;
  }
}

int ArgMax(const std::vector<float>& scores) {
  return static_cast<int>(std::max_element(scores.begin(), scores.end()) -
                          scores.begin());
}

// One registry (in TEST_TMPDIR) and one server for the whole suite:
// versions 1 and 3 trained (3 longer), 2 a corrupt checkpoint; labels
// best -> 1, production -> 3, broken -> 2.
class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry::StoreOptions options;
    options.root = base::NewTestDir("serving");
    auto store = registry::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = store->release();
    auto spec = nn::ParseModelSpec("softmax:lr=0.5");
    ASSERT_TRUE(spec.ok()) << spec.status();
    auto model = nn::MakeModel(*spec);
    ASSERT_TRUE(model.ok()) << model.status();
    const std::string arch = nn::FormatModelSpec(*spec);
    Train(**model, 20);
    ASSERT_TRUE(store_->SaveModel(kProject, kModel, arch,
                                  (*model)->SaveCheckpoint(),
                                  {{"test_accuracy", "0.9"}})
                    .ok());
    ASSERT_TRUE(
        store_->SaveModel(kProject, kModel, arch, "not a checkpoint", {}).ok());
    Train(**model, 100);
    ASSERT_TRUE(store_->SaveModel(kProject, kModel, arch,
                                  (*model)->SaveCheckpoint(), {})
                    .ok());
    ASSERT_TRUE(store_->SetAlias(kProject, kModel, "best", 1).ok());
    ASSERT_TRUE(store_->SetAlias(kProject, kModel, "production", 3).ok());
    ASSERT_TRUE(store_->SetAlias(kProject, kModel, "broken", 2).ok());

    ServeOptions serve;
    serve.model = absl::StrCat(kProject, "/", kModel);
    serve.http.port = 0;
    serve.poll_interval = absl::ZeroDuration();  // the registry stays put
    auto server = Server::Start(store_, serve);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    WaitUntilLive(server_->port());
  }

  static void TearDownTestSuite() {
    delete server_;
    delete store_;
  }

  // Start returns once the accept loop runs; this also proves a client gets
  // through, within a deadline.
  static void WaitUntilLive(int port) {
    httplib::Client client("127.0.0.1", port);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      httplib::Result result = client.Get("/v2/health/live");
      if (result && result->status == 200) return;
      ASSERT_LT(absl::Now(), deadline)
          << "the server on port " << port << " did not answer within 30 s";
    }
  }

  // The scores the model in the registry gives, computed here.
  static std::vector<float> LocalScores(int64_t version,
                                        const data::Image& image) {
    auto blob = store_->LoadModelBlob(kProject, kModel, version);
    EXPECT_TRUE(blob.ok()) << blob.status();
    auto model = nn::LoadModel(*blob);
    EXPECT_TRUE(model.ok()) << model.status();
    std::vector<float> probs(kClasses);
    EXPECT_TRUE((*model)->Predict(Floats(image).data(), 1, probs.data()).ok());
    return probs;
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(30, 0);
    return client;
  }
  Reply Get(const std::string& path) const { return Parse(Client().Get(path)); }
  Reply Post(const std::string& path, const std::string& body,
             const std::string& type = "application/json") const {
    return Parse(Client().Post(path, body, type));
  }
  Reply Post(const std::string& path, const Json& body) const {
    return Post(path, body.dump());
  }

  static registry::Store* store_;
  static Server* server_;
};

registry::Store* HttpServerTest::store_ = nullptr;
Server* HttpServerTest::server_ = nullptr;

TEST_F(HttpServerTest, HealthIsLiveAndReady) {
  Reply live = Get("/v2/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.json, (Json{{"live", true}}));
  Reply ready = Get("/v2/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json, (Json{{"ready", true}}));
}

TEST_F(HttpServerTest, StatusListsEveryVersionWithItsState) {
  Reply all = Get("/v1/models/fashion");
  ASSERT_EQ(all.status, 200) << all.json.dump();
  const Json& list = all.json.at("model_version_status");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0], (Json{{"version", "1"},
                           {"state", "AVAILABLE"},
                           {"status",
                            {{"error_code", "OK"}, {"error_message", ""}}}}));
  EXPECT_EQ(list[1].at("version"), "2");
  EXPECT_EQ(list[1].at("state"), "END");
  EXPECT_NE(list[1].at("status").at("error_code"), "OK");
  EXPECT_FALSE(list[1].at("status").at("error_message").get<std::string>().empty());
  EXPECT_EQ(list[2].at("state"), "AVAILABLE");

  Reply v3 = Get("/v1/models/fashion/versions/3");
  ASSERT_EQ(v3.status, 200);
  ASSERT_EQ(v3.json.at("model_version_status").size(), 1u);
  EXPECT_EQ(v3.json["model_version_status"][0].at("version"), "3");
  Reply best = Get("/v1/models/fashion/labels/best");
  ASSERT_EQ(best.status, 200);
  EXPECT_EQ(best.json["model_version_status"][0].at("version"), "1");
  Reply broken = Get("/v1/models/fashion/labels/broken");
  ASSERT_EQ(broken.status, 200);
  EXPECT_EQ(broken.json["model_version_status"][0].at("version"), "2");
  EXPECT_EQ(broken.json["model_version_status"][0].at("state"), "END");
}

TEST_F(HttpServerTest, MetadataHasArchShapeAndClasses) {
  Reply latest = Get("/v1/models/fashion/metadata");
  ASSERT_EQ(latest.status, 200) << latest.json.dump();
  EXPECT_EQ(latest.json.at("model_spec").at("name"), "fashion");
  EXPECT_EQ(latest.json.at("model_spec").at("version"), "3");
  const Json& meta = latest.json.at("metadata");
  EXPECT_EQ(meta.at("arch").get<std::string>().rfind("softmax", 0), 0u)
      << meta.dump();
  EXPECT_EQ(meta.at("input_shape"), (Json{1, 28, 28}));
  ASSERT_EQ(meta.at("classes").size(), 10u);
  EXPECT_EQ(meta["classes"][0], "0");
  EXPECT_EQ(meta["classes"][9], "9");
  EXPECT_EQ(meta.at("parameters"), 7850);
  EXPECT_EQ(meta.at("labels"),
            (Json{{"best", "1"}, {"broken", "2"}, {"production", "3"}}));

  Reply best = Get("/v1/models/fashion/labels/best/metadata");
  ASSERT_EQ(best.status, 200);
  EXPECT_EQ(best.json.at("model_spec").at("version"), "1");
  EXPECT_EQ(best.json.at("metadata").at("properties"),
            (Json{{"test_accuracy", "0.9"}}));
  Reply v1 = Get("/v1/models/fashion/versions/1/metadata");
  EXPECT_EQ(v1.json.at("model_spec").at("version"), "1");
}

TEST_F(HttpServerTest, ClassifyJsonExamplesScoresEveryClass) {
  Json examples = Json::array();
  for (int c = 0; c < kClasses; ++c) {
    examples.push_back({{"image", {{"b64", B64(Png(c))}}}});
  }
  Reply reply = Post("/v1/models/fashion:classify", Json{{"examples", examples}});
  ASSERT_EQ(reply.status, 200) << reply.json.dump();
  const Json& result = reply.json.at("result");
  ASSERT_EQ(result.size(), 10u);
  for (int c = 0; c < kClasses; ++c) {
    ASSERT_EQ(result[c].size(), 10u);
    std::vector<float> scores;
    for (int k = 0; k < kClasses; ++k) {
      EXPECT_EQ(result[c][k][0], absl::StrCat(k));
      scores.push_back(result[c][k][1].get<float>());
    }
    EXPECT_EQ(ArgMax(scores), c);
    ExpectNear(scores, LocalScores(3, Pattern(c)));
  }
}

TEST_F(HttpServerTest, ClassifyRawPngAndJpegBodies) {
  Reply png = Post("/v1/models/fashion:classify", Png(4), "image/png");
  ASSERT_EQ(png.status, 200) << png.json.dump();
  ASSERT_EQ(png.json.at("result").size(), 1u);
  std::vector<float> scores;
  for (const Json& pair : png.json["result"][0]) {
    scores.push_back(pair[1].get<float>());
  }
  // PNG is lossless: exactly the model's own scores for the pixels.
  EXPECT_EQ(scores, LocalScores(3, Pattern(4)));

  auto jpeg = data::EncodeJpeg(Pattern(7));
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  Reply reply = Post("/v1/models/fashion/labels/production:classify",
                     std::string(jpeg->begin(), jpeg->end()), "image/jpeg");
  ASSERT_EQ(reply.status, 200) << reply.json.dump();
  scores.clear();
  for (const Json& pair : reply.json["result"][0]) {
    scores.push_back(pair[1].get<float>());
  }
  EXPECT_EQ(ArgMax(scores), 7);
}

TEST_F(HttpServerTest, PredictTakesImagesFlatAndNestedPixels) {
  const data::Image image = Pattern(6);
  const std::vector<float> flat = Floats(image);
  Json nested = Json::array();
  for (int y = 0; y < 28; ++y) {
    nested.push_back(std::vector<float>(flat.begin() + 28 * y,
                                        flat.begin() + 28 * (y + 1)));
  }
  Json instances = {{{"b64", B64(Png(6))}}, flat, nested};
  Reply reply = Post("/v1/models/fashion:predict", Json{{"instances", instances}});
  ASSERT_EQ(reply.status, 200) << reply.json.dump();
  const Json& predictions = reply.json.at("predictions");
  ASSERT_EQ(predictions.size(), 3u);
  const std::vector<float> expected = LocalScores(3, image);
  for (const Json& p : predictions) {
    EXPECT_EQ(p.at("label"), 6);
    ExpectNear(ScoresOf(p), expected);
  }
}

TEST_F(HttpServerTest, PredictColumnarInputsGiveOutputs) {
  Json inputs = {Floats(Pattern(1)), Floats(Pattern(2))};
  Reply reply = Post("/v1/models/fashion:predict", Json{{"inputs", inputs}});
  ASSERT_EQ(reply.status, 200) << reply.json.dump();
  const Json& outputs = reply.json.at("outputs");
  EXPECT_EQ(outputs.at("label"), (Json{1, 2}));
  ASSERT_EQ(outputs.at("scores").size(), 2u);
  ExpectNear(outputs["scores"][1].get<std::vector<float>>(),
             LocalScores(3, Pattern(2)));
}

TEST_F(HttpServerTest, VersionsAndLabelsServeTheirOwnModel) {
  const data::Image image = Pattern(3);
  const Json body = {{"instances", {Floats(image)}}};
  const std::vector<float> v1 = LocalScores(1, image);
  const std::vector<float> v3 = LocalScores(3, image);
  ASSERT_NE(v1, v3) << "versions 1 and 3 must differ for this test to mean anything";
  for (const auto& [path, expected] :
       std::vector<std::pair<std::string, std::vector<float>>>{
           {"/v1/models/fashion/versions/1:predict", v1},
           {"/v1/models/fashion/labels/best:predict", v1},
           {"/v1/models/fashion/versions/3:predict", v3},
           {"/v1/models/fashion/labels/production:predict", v3},
           {"/v1/models/fashion:predict", v3}}) {
    Reply reply = Post(path, body);
    ASSERT_EQ(reply.status, 200) << path << ": " << reply.json.dump();
    EXPECT_EQ(ScoresOf(reply.json["predictions"][0]), expected) << path;
  }
}

TEST_F(HttpServerTest, BadRequestsAre400WithTheProblem) {
  const std::string predict = "/v1/models/fashion:predict";
  const std::string classify = "/v1/models/fashion:classify";
  struct Case {
    std::string path, body, type, expect;
  };
  const std::vector<Case> cases = {
      {predict, "{\"instances\": [", "application/json", "not valid JSON"},
      {predict, "[1, 2]", "application/json", "not an object"},
      {predict, "{}", "application/json", "\"instances\""},
      {predict, "{\"instances\": []}", "application/json", "non-empty"},
      {predict, "{\"instances\": [{\"b64\": \"@@@\"}]}", "application/json",
       "instances[0].b64 is not a base64"},
      {predict, Json{{"instances", {{{"b64", B64("hello, not an image")}}}}}.dump(),
       "application/json", "instances[0] is not a readable image"},
      {predict, Json{{"instances", {std::vector<float>(783, 0.5f)}}}.dump(),
       "application/json", "has 783 numbers; the model takes 784"},
      {predict, "{\"instances\": [[0.5, \"x\"]]}", "application/json",
       "string where pixels"},
      {predict, "{\"instances\": [{\"image\": 1}]}", "application/json",
       "without \"b64\""},
      {predict, "{\"instances\": [7]}", "application/json", "is a number"},
      {predict, "{\"instances\": [[1]], \"inputs\": [[1]]}", "application/json",
       "send one"},
      {classify, "{\"examples\": [{\"b64\": \"AAAA\"}]}", "application/json",
       "examples[0] needs"},
      {classify, "{\"examples\": [{\"image\": {\"b64\": 5}}]}",
       "application/json", "examples[0].image.b64 is not a base64"},
      {classify, "definitely not a png", "image/png",
       "the body is not a readable image"},
  };
  for (const Case& c : cases) {
    std::string error = ErrorOf(Post(c.path, c.body, c.type), 400);
    EXPECT_NE(error.find(c.expect), std::string::npos)
        << c.body.substr(0, 80) << " -> " << error;
  }
}

TEST_F(HttpServerTest, UnknownThingsAre404ListingTheKnownOnes) {
  const Json body = {{"instances", {Floats(Pattern(0))}}};
  struct Case {
    std::string method, path, expect;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/models/shoes", "unknown model 'shoes'; this server serves 'fashion'"},
      {"POST", "/v1/models/shoes:predict", "unknown model 'shoes'"},
      {"GET", "/v1/models/fashion/versions/9",
       "no version 9; its versions: 1, 2 (not loaded), 3"},
      {"POST", "/v1/models/fashion/versions/9:predict", "no version 9"},
      {"GET", "/v1/models/fashion/versions/abc/metadata", "'abc' is not a number"},
      {"GET", "/v1/models/fashion/labels/staging",
       "no label 'staging'; its labels: best -> 1, broken -> 2, production -> 3"},
      {"POST", "/v1/models/fashion/labels/staging:classify", "no label 'staging'"},
      {"POST", "/v1/models/fashion/versions/2:predict", "version 2 of model 'fashion' failed to load"},
      {"POST", "/v1/models/fashion/labels/broken:predict", "failed to load"},
      {"GET", "/v1/models/fashion/versions/2/metadata", "failed to load"},
      {"POST", "/v1/models/fashion:regress", "unknown method ':regress'"},
      {"GET", "/v1/models/fashion/versions", "no route for"},
      {"GET", "/v1/other", "no route for /v1/other"},
      {"GET", "/", "no route for /"},
  };
  for (const Case& c : cases) {
    Reply reply = c.method == "GET" ? Get(c.path) : Post(c.path, body);
    std::string error = ErrorOf(reply, 404);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.path << " -> " << error;
  }
}

TEST_F(HttpServerTest, WrongMethodIs405) {
  EXPECT_NE(ErrorOf(Get("/v1/models/fashion:predict"), 405).find("takes POST"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Post("/v2/health/live", std::string("{}")), 405).find("takes GET"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Parse(Client().Delete("/v1/models/fashion")), 405)
                .find("takes GET, not DELETE"),
            std::string::npos);
}

// A body above --max_body_bytes is refused from its Content-Length, before
// it is sent (httplib::Client would still be writing it when the server
// closes, and see a reset instead of the reply), so this speaks HTTP itself.
TEST_F(HttpServerTest, BodyAboveTheLimitIs413) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval timeout{30, 0};
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  ASSERT_EQ(::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr), 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = absl::StrCat(
      "POST /v1/models/fashion:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: ",
      kDefaultMaxBodyBytes + 1, "\r\n\r\n");
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // Read the head, then Content-Length bytes of body (or to EOF).
  std::string response;
  size_t head_end = std::string::npos, length = 0;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    ASSERT_GE(n, 0) << "no reply within 30 s";
    if (n == 0) break;
    response.append(buffer, n);
    if (head_end == std::string::npos &&
        (head_end = response.find("\r\n\r\n")) != std::string::npos) {
      const size_t at = response.find("Content-Length: ");
      ASSERT_NE(at, std::string::npos) << response;
      const size_t eol = response.find("\r\n", at);
      ASSERT_TRUE(absl::SimpleAtoi(
          response.substr(at + 16, eol - at - 16), &length));
    }
    if (head_end != std::string::npos &&
        response.size() >= head_end + 4 + length) {
      break;
    }
  }
  ::close(fd);
  ASSERT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  ASSERT_NE(head_end, std::string::npos) << response;
  Json body = Json::parse(response.substr(head_end + 4), nullptr, false);
  ASSERT_TRUE(body.is_object()) << response;
  EXPECT_EQ(body.at("error"),
            absl::StrCat("the body is larger than ", kDefaultMaxBodyBytes,
                         " bytes (--max_body_bytes)"));
  // And the server goes on.
  EXPECT_EQ(Get("/v2/health/live").status, 200);
}

// Concurrent requests are batched together; each still gets its own
// image's scores.
TEST_F(HttpServerTest, ConcurrentClientsGetTheirOwnAnswers) {
  constexpr int kThreads = 8, kRequests = 20;
  std::vector<std::vector<float>> expected;
  for (int c = 0; c < kThreads; ++c) expected.push_back(LocalScores(3, Pattern(c)));
  std::vector<int> correct(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client = Client();
      const std::string body = Json{{"instances", {Floats(Pattern(t))}}}.dump();
      for (int i = 0; i < kRequests; ++i) {
        httplib::Result result =
            client.Post("/v1/models/fashion:predict", body, "application/json");
        if (!result || result->status != 200) continue;
        Json json = Json::parse(result->body, nullptr, false);
        if (!json.is_object() || !json.contains("predictions")) continue;
        // Batched with other clients' rows: equal up to summation order.
        const std::vector<float> scores = ScoresOf(json["predictions"][0]);
        bool near = scores.size() == expected[t].size();
        for (size_t k = 0; near && k < scores.size(); ++k) {
          near = std::fabs(scores[k] - expected[t][k]) <= 1e-6f;
        }
        if (near) ++correct[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(correct[t], kRequests) << t;
}

// httplib's default socket options include SO_REUSEPORT, under which this
// second Start succeeded and shared the port.
TEST_F(HttpServerTest, ABusyPortIsAnError) {
  ServeOptions options;
  options.model = absl::StrCat(kProject, "/", kModel);
  options.http.port = server_->port();
  options.poll_interval = absl::ZeroDuration();
  auto second = Server::Start(store_, options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(absl::StrCat(":", server_->port())),
            absl::string_view::npos)
      << second.status();
}

// A model none of whose versions loads: served (its status says why) but
// not ready, and inference is 404.
TEST(HttpServerNotReadyTest, NoLoadedVersionIsNotReady) {
  registry::StoreOptions options;
  options.root = base::NewTestDir("serving_broken");
  auto store = registry::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->SaveModel("", "wreck", "softmax", "garbage", {}).ok());
  ServeOptions serve;
  serve.model = "wreck";
  serve.http.port = 0;
  auto server = Server::Start(store->get(), serve);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  Reply ready = Parse(client.Get("/v2/health/ready"));
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.json, (Json{{"ready", false}}));
  Reply status = Parse(client.Get("/v1/models/wreck"));
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.json["model_version_status"][0].at("state"), "END");
  std::string error = ErrorOf(
      Parse(client.Post("/v1/models/wreck:classify", Png(1), "image/png")), 404);
  EXPECT_NE(error.find("no version of model 'wreck' is loaded"), std::string::npos)
      << error;
  (*server)->Stop();
  (*server)->Stop();  // idempotent
}

TEST(ModelSetTest, UnknownModelsAndBadRefsAreErrors) {
  registry::StoreOptions options;
  options.root = base::NewTestDir("serving_empty");
  auto store = registry::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto missing = ModelSet::Load(**store, "shop/nothing", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no model 'nothing' in project 'shop'"),
            absl::string_view::npos)
      << missing.status();
  for (const char* ref : {"", "shop/", "/x", "a/b/c", "mlp@best", "mlp:3"}) {
    auto bad = ModelSet::Load(**store, ref, {});
    ASSERT_FALSE(bad.ok()) << ref;
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << ref;
  }
}

}  // namespace
}  // namespace trainbus::serving
