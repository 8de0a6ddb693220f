#include "actors/consumer/aggregator.h"

#include <memory>

#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

bus::Prediction P(const std::string& model, uint64_t seq, int32_t label,
                  int64_t publish_ns = 0, int64_t predicted_ns = 0,
                  const std::string& source = "live") {
  bus::Prediction p;
  p.model = model;
  p.sample_seq = seq;
  p.source = source;
  p.label = label;
  p.publish_ns = publish_ns;
  p.predicted_ns = predicted_ns;
  return p;
}

TEST(PredictionAggregatorTest, CountsAgreementAccuracyAndLatency) {
  // Truth: label = seq % 3.
  PredictionAggregator agg(
      [](const std::string& source, uint64_t seq) -> int32_t {
        return source == "live" ? static_cast<int32_t>(seq % 3) : bus::kNoLabel;
      });
  for (uint64_t seq = 0; seq < 10; ++seq) {
    const int32_t truth = static_cast<int32_t>(seq % 3);
    // b is always right; a is right on even samples; c always says 0.
    agg.Add(P("b", seq, truth, 1000, 1000 + 100 * (seq + 1)), 5000);
    agg.Add(P("a", seq, seq % 2 == 0 ? truth : 9, 1000, 2000), 5000);
    agg.Add(P("c", seq, 0), 5000);  // no publish time: no latency
  }
  agg.Add(P("a", 0, 1, 0, 0, "images"), 0);  // no truth, no partner
  AggregateReport r = agg.Report();
  EXPECT_EQ(r.predictions, 31u);
  ASSERT_EQ(r.models.size(), 3u);
  EXPECT_EQ(r.models[0].model, "a");
  EXPECT_EQ(r.models[0].predictions, 11u);
  EXPECT_EQ(r.models[0].with_truth, 10u);
  EXPECT_EQ(r.models[0].correct, 5u);
  EXPECT_EQ(r.models[1].correct, 10u);
  EXPECT_DOUBLE_EQ(r.models[1].accuracy(), 1.0);
  EXPECT_EQ(r.models[2].correct, 4u);  // seq 0, 3, 6, 9
  EXPECT_EQ(r.per_source.at("live"), 30u);
  EXPECT_EQ(r.per_source.at("images"), 1u);
  // a vs b agree exactly where a is right (5 of 10).
  EXPECT_EQ(r.compared[0 * 3 + 1], 10u);
  EXPECT_DOUBLE_EQ(r.Agreement(0, 1), 0.5);
  EXPECT_DOUBLE_EQ(r.Agreement(1, 0), 0.5);
  // b vs c agree where truth is 0: seq 0, 3, 6, 9.
  EXPECT_DOUBLE_EQ(r.Agreement(1, 2), 0.4);
  // a vs c: a even and truth 0 -> seq 0, 6.
  EXPECT_DOUBLE_EQ(r.Agreement(0, 2), 0.2);
  EXPECT_EQ(r.compared[0], 0u);
  // Latencies: b 100..1000 ns, a 1000 ns x 10.
  EXPECT_EQ(r.prediction_latency.count, 20u);
  EXPECT_EQ(r.prediction_latency.min_ns, 100);
  EXPECT_EQ(r.prediction_latency.max_ns, 1000);
  EXPECT_EQ(r.prediction_latency.p50_ns, 1000);  // 100..900, then 11 x 1000
  EXPECT_EQ(r.delivery_latency.max_ns, 4000);
  const std::string text = FormatAggregateReport(r);
  EXPECT_NE(text.find("0.5000"), std::string::npos) << text;
  EXPECT_NE(text.find("images=1"), std::string::npos) << text;
}

TEST(PredictionAggregatorTest, ForgetsTheOldestSamplesBeyondTheCap) {
  PredictionAggregator agg(nullptr, 2);
  agg.Add(P("a", 0, 1), 0);
  agg.Add(P("a", 1, 1), 0);
  agg.Add(P("a", 2, 1), 0);  // sample 0 is forgotten
  agg.Add(P("b", 0, 1), 0);  // nothing to compare with; now 1 is forgotten
  agg.Add(P("b", 2, 1), 0);
  AggregateReport r = agg.Report();
  EXPECT_EQ(r.evicted, 2u);
  EXPECT_EQ(r.compared[0 * 2 + 1], 1u);
  EXPECT_DOUBLE_EQ(r.Agreement(0, 1), 1.0);
}

TEST(AggregatorActorTest, AnswersReportRequests) {
  bus::testing::BusTestSystem t;
  bus::ResourceOptions r;
  r.name = "predictions";
  auto resource = t.Ask<bus::resource_actor>(t.directory, bus::declare_atom::value, r);
  ASSERT_TRUE(resource);
  AggregatorOptions o;
  o.consumer.name = "aggregator";
  o.consumer.inputs = {*resource};
  o.consumer.credit = 4;
  caf::actor agg = SpawnAggregator(t.system(), o);
  t.Run();
  for (uint64_t seq = 0; seq < 50; ++seq) {
    ASSERT_TRUE(
        t.Ask<uint64_t>(*resource, bus::publish_atom::value, P("m1", seq, 1)));
    ASSERT_TRUE(t.Ask<uint64_t>(*resource, bus::publish_atom::value,
                                P("m2", seq, seq < 25 ? 1 : 2)));
  }
  auto report = t.Ask<AggregateReport>(agg, report_atom::value);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->predictions, 100u);
  ASSERT_EQ(report->models.size(), 2u);
  EXPECT_DOUBLE_EQ(report->Agreement(0, 1), 0.5);
  auto stats = t.Ask<ConsumerStats>(agg, query_atom::value);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->predictions, 100u);
  caf::anon_send_exit(agg, caf::exit_reason::kill);
}

}  // namespace
}  // namespace trainbus::actors
