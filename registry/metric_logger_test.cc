#include "registry/metric_logger.h"

#include <chrono>

#include "registry/registry_actor.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

bus::Metric MakeMetric(const std::string& split, uint64_t step) {
  bus::Metric m;
  m.model = "mlp";
  m.split = split;
  m.step = step;
  m.values = {{"accuracy", 0.5 + step / 100.0}, {"loss", 1.0 / (step + 1)}};
  m.time_ns = 1'700'000'000'000'000'000 + static_cast<int64_t>(step);
  return m;
}

TEST(MetricToLogEntryTest, Converts) {
  absl::StatusOr<LogEntry> e = MetricToLogEntry(MakeMetric("test", 4), "p", 2);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, LogKind::kTest);
  EXPECT_EQ(e->model_version, 2);
  EXPECT_EQ(e->step, 4);
  EXPECT_EQ(e->metrics.at("accuracy"), "0.54");
  EXPECT_EQ(e->metrics.at("loss"), "0.2");
  EXPECT_EQ(MetricToLogEntry(MakeMetric("holdout", 1), "p", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricLoggerTest, BatchesAndFlushes) {
  StoreOptions options;
  options.root = testing::NewTempDir("mlog");
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(options);
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<Store> store(std::move(*opened));
  caf::actor_system_config cfg;
  AddRegistryMessageTypes(cfg);
  caf::actor_system system{cfg};
  registry_actor registry = SpawnRegistryActor(system, store);
  MetricLoggerOptions logger_options{"mnist", 3, /*batch_size=*/3,
                                     absl::Hours(1)};
  caf::actor logger = SpawnMetricLogger(system, registry, logger_options);
  {
    caf::scoped_actor self{system};
    for (uint64_t step = 0; step < 4; ++step) {
      self->send(logger, MakeMetric(step % 2 ? "train" : "validation", step));
    }
    self->send(logger, MakeMetric("bogus", 9));  // dropped
    int64_t written = -1;
    self->request(logger, std::chrono::seconds(30), flush_logs_atom::value)
        .receive([&](int64_t n) { written = n; },
                 [&](caf::error& e) { ADD_FAILURE() << system.render(e); });
    EXPECT_EQ(written, 1);  // the first three went as one batch already
  }
  absl::StatusOr<std::vector<LogEntry>> logs = store->QueryLogs({"", "step", 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_EQ(logs->size(), 4u);
  EXPECT_EQ((*logs)[0].kind, LogKind::kValidation);
  EXPECT_EQ((*logs)[1].kind, LogKind::kTrain);
  EXPECT_EQ((*logs)[3].model_version, 3);
  EXPECT_EQ((*logs)[3].time_ns, 1'700'000'000'000'000'003);
  caf::anon_send_exit(logger, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace trainbus::registry
