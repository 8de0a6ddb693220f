// Consumers on a deterministic bus: credit, flush waits, the console
// printer, the hook sink and the JSON-lines sink.
#include "actors/consumer/consumer.h"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "actors/consumer/console_printer.h"
#include "actors/consumer/hook_sink.h"
#include "actors/consumer/jsonl_sink.h"
#include "base/test_dir.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;

bus::Prediction P(uint64_t seq, int32_t label,
                  const std::string& model = "m1") {
  bus::Prediction p;
  p.sample_seq = seq;
  p.source = "live";
  p.model = model;
  p.model_version = 2;
  p.label = label;
  p.scores = {0.25f, 0.75f};
  return p;
}

bus::Metric M(uint64_t step) {
  bus::Metric m;
  m.model = "m1";
  m.split = "test";
  m.step = step;
  m.values = {{"test_accuracy", 0.5}, {"loss", 1.25}};
  return m;
}

// Records the reply of a (flush_atom, ...) request whenever it comes.
caf::behavior FlushAsker(caf::event_based_actor* self, caf::actor consumer,
                         uint64_t predictions,
                         std::shared_ptr<std::vector<ConsumerStats>> out) {
  self->request(consumer, caf::infinite, bus::flush_atom::value, predictions,
                uint64_t{0}, uint64_t{0})
      .then([=](const ConsumerStats& s) { out->push_back(s); });
  return {};
}

class ConsumerTest : public ::testing::Test {
 protected:
  bus::resource_actor Declare(const std::string& name, uint32_t max_queue = 256) {
    bus::ResourceOptions r;
    r.name = name;
    r.max_queue = max_queue;
    auto a = t.Ask<bus::resource_actor>(t.directory, bus::declare_atom::value, r);
    EXPECT_TRUE(a);
    return a ? *a : bus::resource_actor{};
  }
  template <class T>
  void Publish(const bus::resource_actor& resource, T x) {
    ASSERT_TRUE(
        t.Ask<uint64_t>(resource, bus::publish_atom::value, std::move(x)));
  }
  ConsumerStats Stats(const caf::actor& consumer) {
    auto s = t.Ask<ConsumerStats>(consumer, query_atom::value);
    EXPECT_TRUE(s);
    return s ? *s : ConsumerStats{};
  }

  BusTestSystem t;
};

TEST_F(ConsumerTest, ReturnsCreditSoASmallWindowCarriesALongStream) {
  bus::resource_actor predictions = Declare("predictions", 2);
  HookSinkOptions o;
  o.consumer.name = "counter";
  o.consumer.inputs = {predictions};
  o.consumer.credit = 4;
  caf::actor sink = SpawnHookSink(t.system(), o);
  t.Run();
  for (uint64_t i = 0; i < 100; ++i) Publish(predictions, P(i, 1));
  EXPECT_EQ(Stats(sink).predictions, 100u);
  auto m = t.Ask<bus::ResourceMetrics>(predictions, bus::metrics_atom::value);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->subscriptions.size(), 1u);
  EXPECT_EQ(m->subscriptions[0].name, "counter");
  EXPECT_EQ(m->subscriptions[0].delivered, 100u);
  EXPECT_EQ(m->blocked, 0u);  // credit came back in time, every time
  caf::anon_send_exit(sink, caf::exit_reason::kill);
}

TEST_F(ConsumerTest, FlushRepliesOnceEnoughHasArrived) {
  bus::resource_actor predictions = Declare("predictions");
  HookSinkOptions o;
  o.consumer.inputs = {predictions};
  caf::actor sink = SpawnHookSink(t.system(), o);
  auto replies = std::make_shared<std::vector<ConsumerStats>>();
  t.Spawn(FlushAsker, sink, uint64_t{3}, replies);
  t.Run();
  Publish(predictions, P(0, 1));
  Publish(predictions, P(1, 1));
  EXPECT_TRUE(replies->empty());
  Publish(predictions, P(2, 1));
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ(replies->front().predictions, 3u);
  caf::anon_send_exit(sink, caf::exit_reason::kill);
}

TEST_F(ConsumerTest, ConsolePrinterPrintsEveryNthPredictionAndAllMetrics) {
  bus::resource_actor predictions = Declare("predictions");
  bus::resource_actor metrics = Declare("metrics");
  bus::resource_actor dead = Declare("dead_letter");
  auto lines = std::make_shared<std::vector<std::string>>();
  ConsolePrinterOptions o;
  o.consumer.name = "console";
  o.consumer.inputs = {predictions, metrics, dead};
  o.prediction_every = 3;
  o.class_names = {"zero", "one"};
  o.write = [lines](const std::string& line) { lines->push_back(line); };
  caf::actor printer = SpawnConsolePrinter(t.system(), o);
  t.Run();
  for (uint64_t i = 0; i < 7; ++i) Publish(predictions, P(i, 1));
  Publish(metrics, M(100));
  bus::Sample letter;
  letter.seq = 4;
  letter.source = "images";
  letter.meta = {{"path", "/x/broken.png"}, {"error", "not a PNG"}};
  Publish(dead, letter);
  Publish(dead, bus::Sample::EndOfStream("images", 5));
  ASSERT_EQ(lines->size(), 6u);
  EXPECT_EQ((*lines)[0],
            "[console] prediction #1 m1 v2 live#0 -> 1 one (p=0.75)");
  EXPECT_EQ((*lines)[1].substr(0, 24), "[console] prediction #4 ");
  EXPECT_EQ((*lines)[2].substr(0, 24), "[console] prediction #7 ");
  EXPECT_EQ((*lines)[3],
            "[console] metric m1 test step 100 loss=1.25 test_accuracy=0.5");
  EXPECT_EQ((*lines)[4],
            "[console] dead letter images#4 /x/broken.png: not a PNG");
  EXPECT_EQ((*lines)[5], "[console] end of stream images after 5 samples");
  ConsumerStats s = Stats(printer);
  EXPECT_EQ(s.predictions, 7u);
  EXPECT_EQ(s.metrics, 1u);
  EXPECT_EQ(s.samples, 1u);
  EXPECT_EQ(s.end_markers, 1u);
  caf::anon_send_exit(printer, caf::exit_reason::kill);
}

TEST_F(ConsumerTest, HookErrorsAreCountedAndTheStreamGoesOn) {
  bus::resource_actor metrics = Declare("metrics");
  auto steps = std::make_shared<std::vector<uint64_t>>();
  HookSinkOptions o;
  o.consumer.name = "registry";
  o.consumer.inputs = {metrics};
  o.on_metric = [steps](const bus::Metric& m) -> absl::Status {
    steps->push_back(m.step);
    if (m.step == 2) return absl::UnavailableError("registry is down");
    return absl::OkStatus();
  };
  caf::actor sink = SpawnHookSink(t.system(), o);
  t.Run();
  for (uint64_t i = 1; i <= 4; ++i) Publish(metrics, M(i));
  EXPECT_EQ(*steps, (std::vector<uint64_t>{1, 2, 3, 4}));
  ConsumerStats s = Stats(sink);
  EXPECT_EQ(s.metrics, 4u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.last_error, "registry is down");
  EXPECT_NE(FormatConsumerStats(s).find("1 errors"), std::string::npos);
  caf::anon_send_exit(sink, caf::exit_reason::kill);
}

using Json = nlohmann::json;

// The line as JSON; a line that does not parse fails the test.
Json Parse(const std::string& line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
  return j;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(ConsumerTest, JsonlSinkWritesOneObjectPerLineAndFlushesOnRequest) {
  bus::resource_actor predictions = Declare("predictions");
  bus::resource_actor metrics = Declare("metrics");
  JsonlSinkOptions o;
  o.consumer.name = "jsonl";
  o.consumer.inputs = {predictions, metrics};
  o.path = base::NewTestDir("jsonl") + "/out.jsonl";
  o.flush_every = 0;  // only when asked
  auto sink = SpawnJsonlSink(t.system(), o);
  ASSERT_TRUE(sink.ok()) << sink.status();
  t.Run();
  bus::Prediction p = P(7, 1);
  p.origin = "live/7.png";
  p.publish_ns = 1000000;
  p.predicted_ns = 3500000;
  Publish(predictions, p);
  Publish(metrics, M(3));
  Publish(predictions, P(8, 0, "m\"2"));
  auto stats = t.Ask<ConsumerStats>(*sink, bus::flush_atom::value, uint64_t{2},
                                    uint64_t{1}, uint64_t{0});
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->errors, 0u);
  std::vector<std::string> lines = ReadLines(o.path);
  ASSERT_EQ(lines.size(), 3u);
  const Json first = Parse(lines[0]);
  EXPECT_EQ(first, Json::parse(R"({"type": "prediction", "source": "live",
      "origin": "live/7.png", "sample_seq": 7, "model": "m1",
      "model_version": 2, "label": 1, "scores": [0.25, 0.75],
      "publish_ns": 1000000, "predicted_ns": 3500000, "latency_ms": 2.5})"))
      << lines[0];
  EXPECT_EQ(Parse(lines[1]), Json::parse(R"({"type": "metric", "model": "m1",
      "split": "test", "step": 3, "time_ns": 0,
      "values": {"loss": 1.25, "test_accuracy": 0.5}})"))
      << lines[1];
  const Json third = Parse(lines[2]);
  EXPECT_EQ(third.value("model", ""), "m\"2");  // quoted, not broken
  EXPECT_EQ(third.value("origin", "?"), "");
  EXPECT_EQ(third.count("latency_ms"), 0u);  // no publish time
  caf::anon_send_exit(*sink, caf::exit_reason::kill);
}

TEST(JsonlSinkTest, AnUnwritablePathIsAClearError) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  JsonlSinkOptions o;
  o.path = base::NewTestDir("jsonl") + "/no/such/dir/out.jsonl";
  auto sink = SpawnJsonlSink(sys, o);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find(o.path), std::string::npos)
      << sink.status();
  EXPECT_NE(sink.status().message().find("create its directory"),
            std::string::npos)
      << sink.status();
  o.path.clear();
  EXPECT_FALSE(SpawnJsonlSink(sys, o).ok());
}

TEST(JsonlSinkTest, SamplesAndDeadLettersKeepTheirMetadata) {
  bus::Sample s;
  s.seq = 3;
  s.source = "images";
  s.meta = {{"path", "/x/a.png"}, {"error", "bad CRC"}};
  EXPECT_EQ(Parse(SampleToJson(s)), Json::parse(R"({"type": "sample",
      "source": "images", "seq": 3, "label": -1, "shape": [], "bytes": 0,
      "publish_ns": 0, "meta": {"error": "bad CRC", "path": "/x/a.png"}})"));
  const Json eos = Parse(SampleToJson(bus::Sample::EndOfStream("images", 4)));
  EXPECT_EQ(eos.value("type", ""), "end_of_stream");
  EXPECT_EQ(eos.value("seq", 0), 4);
}

TEST(JsonlSinkTest, BatchesAndOddValuesStillParse) {
  bus::SampleBatch b;
  b.source = "batches";
  b.first_seq = 10;
  b.count = 3;
  b.labels = {1, -1, 2};
  EXPECT_EQ(Parse(BatchToJson(b)), Json::parse(R"({"type": "batch",
      "source": "batches", "first_seq": 10, "count": 3,
      "labels": [1, -1, 2], "publish_ns": 0})"));
  bus::Prediction p = P(1, 0);
  p.scores = {0.1f, std::numeric_limits<float>::quiet_NaN()};
  p.origin = "caf\xe9.png";  // a Latin-1 file name, not UTF-8
  const Json j = Parse(PredictionToJson(p));
  ASSERT_EQ(j["scores"].size(), 2u);
  EXPECT_EQ(j["scores"][0].get<double>(), 0.1);  // not 0.10000000149...
  EXPECT_TRUE(j["scores"][1].is_null());
  EXPECT_EQ(j.value("origin", ""), "caf\xef\xbf\xbd.png");  // U+FFFD
  bus::Metric m = M(1);
  m.values["loss"] = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(Parse(MetricToJson(m))["values"]["loss"].is_null());
}

}  // namespace
}  // namespace trainbus::actors
