// The text format byte for byte, the name checks, and the real `promtool
// check metrics` (Debian's prometheus) reading what Render writes.
#include "report/prometheus.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "report/prometheus_testing.h"

namespace trainbus::report {
namespace {

TEST(PrometheusTest, RendersCountersGaugesAndHistograms) {
  MetricRegistry metrics;
  auto requests = metrics.AddCounter("requests_total", "Requests answered.",
                                     {"model", "status"});
  ASSERT_TRUE(requests.ok()) << requests.status();
  (*requests)->Labels({"mnist", "200"}).Increment();
  (*requests)->Labels({"mnist", "200"}).Increment(2);
  (*requests)->Labels({"mnist", "503"}).Increment();
  (*requests)->Labels({"mnist", "503"}).Increment(-5);  // ignored
  auto depth = metrics.AddGauge("queue_depth", "Tasks waiting.");
  ASSERT_TRUE(depth.ok());
  (*depth)->Get().Set(4);
  (*depth)->Get().Add(-1.5);
  auto sizes = metrics.AddHistogram("batch_size", "Rows per batch.", {}, {1, 4});
  ASSERT_TRUE(sizes.ok());
  for (double v : {1.0, 2.0, 4.0, 9.0}) (*sizes)->Get().Observe(v);
  EXPECT_EQ(metrics.Render(),
            "# HELP requests_total Requests answered.\n"
            "# TYPE requests_total counter\n"
            "requests_total{model=\"mnist\",status=\"200\"} 3\n"
            "requests_total{model=\"mnist\",status=\"503\"} 1\n"
            "# HELP queue_depth Tasks waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 2.5\n"
            "# HELP batch_size Rows per batch.\n"
            "# TYPE batch_size histogram\n"
            "batch_size_bucket{le=\"1\"} 1\n"
            "batch_size_bucket{le=\"4\"} 3\n"
            "batch_size_bucket{le=\"+Inf\"} 4\n"
            "batch_size_sum 16\n"
            "batch_size_count 4\n");
}

TEST(PrometheusTest, EscapesAndFormatsValues) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1234567), "1234567");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  const double third = 1.0 / 3;
  EXPECT_EQ(std::stod(FormatValue(third)), third);
}

TEST(PrometheusTest, BadNamesAndDuplicatesAreErrors) {
  MetricRegistry metrics;
  EXPECT_EQ(metrics.AddCounter("1abc", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddCounter("a-b", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGauge("ok", "x", {"bad:label"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGauge("ok", "x", {"__reserved"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddHistogram("h", "x", {"le"}, {1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddHistogram("h", "x", {}, {2, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(metrics.AddCounter("ns:requests_total", "x").ok());
  auto again = metrics.AddGauge("ns:requests_total", "x");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("ns:requests_total"),
            absl::string_view::npos);
}

TEST(PrometheusTest, WrongLabelCountStillRendersValidText) {
  MetricRegistry metrics;
  auto family = metrics.AddCounter("c_total", "x", {"a", "b"});
  ASSERT_TRUE(family.ok());
  (*family)->Labels({"only"}).Increment();
  (*family)->Labels({"1", "2", "3"}).Increment();
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("c_total{a=\"only\",b=\"\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("c_total{a=\"1\",b=\"2\"} 1\n"), std::string::npos);
}

TEST(PrometheusTest, ClearDropsSamplesThatWentAway) {
  MetricRegistry metrics;
  auto labelled = metrics.AddGauge("version", "x", {"label"});
  auto lone = metrics.AddGauge("depth", "x");
  ASSERT_TRUE(labelled.ok() && lone.ok());
  (*labelled)->Labels({"old"}).Set(1);
  (*lone)->Get().Set(5);
  (*labelled)->Clear();
  (*lone)->Clear();
  (*labelled)->Labels({"new"}).Set(2);
  EXPECT_EQ(metrics.Render(),
            "# HELP version x\n# TYPE version gauge\nversion{label=\"new\"} 2\n"
            "# HELP depth x\n# TYPE depth gauge\ndepth 0\n");
}

TEST(PrometheusTest, ConcurrentUpdatesAreAllCounted) {
  MetricRegistry metrics;
  auto counter = metrics.AddCounter("hits_total", "x", {"t"});
  auto histogram = metrics.AddHistogram("lat", "x", {}, {0.5});
  ASSERT_TRUE(counter.ok() && histogram.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        (*counter)->Labels({"shared"}).Increment();
        (*histogram)->Get().Observe(t % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ((*counter)->Labels({"shared"}).value(), 40000);
  Histogram::Snapshot s = (*histogram)->Get().Read();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative[0], 20000u);
  EXPECT_EQ(s.sum, 20000 * 0.25 + 20000 * 1.0);
}

TEST(PrometheusTest, PromtoolAcceptsTheOutput) {
  MetricRegistry metrics;
  auto requests = metrics.AddCounter(
      "trainbus_serving_requests_total",
      "Requests answered, by model, version and HTTP status.",
      {"model", "version", "status"});
  auto latency = metrics.AddHistogram(
      "trainbus_serving_request_duration_seconds",
      "Time from request to response \\ with a backslash\nand a newline.",
      {"model"}, ExponentialBuckets(0.0001, 2, 16));
  auto depth = metrics.AddGauge("trainbus_serving_queue_depth", "Queued tasks.");
  ASSERT_TRUE(requests.ok() && latency.ok() && depth.ok());
  (*requests)->Labels({"odd \"name\"\\\n", "3", "200"}).Increment(7);
  (*requests)->Labels({"mnist", "", "404"}).Increment();
  (*latency)->Labels({"mnist"}).Observe(0.0012);
  (*latency)->Labels({"mnist"}).Observe(12);
  (*depth)->Get().Set(3);
  int code = -1;
  const std::string output = CheckWithPromtool(metrics.Render(), &code);
  EXPECT_EQ(code, 0) << output << "\n" << metrics.Render();

  // And promtool does fail on a broken scrape, so the check means something.
  const std::string broken = "# TYPE x counter\nx{a=\"unterminated} 1\n";
  CheckWithPromtool(broken, &code);
  EXPECT_NE(code, 0);
}

}  // namespace
}  // namespace trainbus::report
