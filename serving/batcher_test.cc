// The batcher with a replica held at a gate: what queues behind a busy
// worker is known exactly, so grouping and the full queue are deterministic.
#include "serving/batcher.h"

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "report/prometheus.h"
#include "serving/model_set.h"
#include "serving/serving_testing.h"

namespace trainbus::serving {
namespace {

using testing::BatchLog;
using testing::Floats;
using testing::Gate;
using testing::kClasses;
using testing::Pattern;
using testing::WaitFor;

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reference_ = testing::TrainedModel("softmax:lr=0.5", 20);
    ASSERT_NE(reference_, nullptr);
    registry::ModelRecord record;
    record.name = "m";
    record.version = 1;
    record.arch = nn::FormatModelSpec(reference_->spec());
    LoadOptions options;
    options.replica_factory = testing::GatedReplicas(&gate_, &batches_);
    version_ = ServedVersion::Load(record, reference_->SaveCheckpoint(), options);
    ASSERT_TRUE(version_->available()) << version_->status();
    record.version = 2;
    other_ = ServedVersion::Load(record, reference_->SaveCheckpoint(), options);
    warm_batches_ = batches_.Rows().size();
  }

  // The batches predicted after warm-up.
  std::vector<size_t> Batches() {
    std::vector<size_t> rows = batches_.Rows();
    return std::vector<size_t>(rows.begin() + warm_batches_, rows.end());
  }

  // Runs Predict of class c's pattern on a thread; its status and scores
  // land in the slots.
  std::thread Client(Batcher& batcher, const ServedVersion* version, int c,
                     absl::Status* status, std::vector<float>* probs) {
    return std::thread([=, &batcher] {
      const std::vector<float> x = Floats(Pattern(c));
      probs->assign(kClasses, 0);
      *status = batcher.Predict(version, x.data(), 1, probs->data());
    });
  }

  void ExpectScoresOf(int c, const std::vector<float>& probs) {
    std::vector<float> expected(kClasses);
    ASSERT_TRUE(
        reference_->Predict(Floats(Pattern(c)).data(), 1, expected.data()).ok());
    for (int k = 0; k < kClasses; ++k) {
      EXPECT_NEAR(probs[k], expected[k], 1e-6f) << "class " << c << " score " << k;
    }
  }

  // Closes the gate and sends class 0 through it; returns once that batch
  // is held in the worker. Its answer lands in status_[0] and probs_[0].
  void HoldOneBatch(Batcher& batcher, std::vector<std::thread>& clients) {
    gate_.Close();
    clients.push_back(
        Client(batcher, version_.get(), 0, &status_[0], &probs_[0]));
    ASSERT_TRUE(WaitFor([&] { return gate_.waiting() == 1; }, "the held batch"));
  }

  Gate gate_;
  BatchLog batches_;
  std::vector<absl::Status> status_{4};
  std::vector<std::vector<float>> probs_{4};
  size_t warm_batches_ = 0;
  std::unique_ptr<nn::Model> reference_;
  std::shared_ptr<const ServedVersion> version_, other_;
};

TEST_F(BatcherTest, RequestsQueuedBehindABusyWorkerGoAsOneBatch) {
  report::MetricRegistry metrics;
  auto sizes = metrics.AddHistogram("batch_size", "rows", {"model"}, {1, 2, 4});
  ASSERT_TRUE(sizes.ok());
  Batcher batcher({.max_batch_size = 8, .num_batch_threads = 1}, *sizes);
  std::vector<std::thread> clients;
  HoldOneBatch(batcher, clients);
  for (int c = 1; c < 4; ++c) {
    clients.push_back(
        Client(batcher, version_.get(), c, &status_[c], &probs_[c]));
  }
  ASSERT_TRUE(WaitFor([&] { return batcher.queued_tasks() == 3; },
                      "three queued requests"));
  EXPECT_EQ(batcher.queued_batches(), 1u);
  gate_.Open();
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(Batches(), (std::vector<size_t>{1, 3}));
  for (int c = 0; c < 4; ++c) {
    ASSERT_TRUE(status_[c].ok()) << status_[c];
    ExpectScoresOf(c, probs_[c]);
  }
  const report::Histogram::Snapshot s = (*sizes)->Labels({"m"}).Read();
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.sum, 4);
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 1, 2, 2}));
}

TEST_F(BatcherTest, AFullQueueIsUnavailableAndSaysWhatToDo) {
  Batcher batcher({.max_batch_size = 1,
                   .num_batch_threads = 1,
                   .max_enqueued_batches = 1});
  gate_.Close();
  absl::Status first, second;
  std::vector<float> p1, p2;
  std::thread a = Client(batcher, version_.get(), 1, &first, &p1);
  ASSERT_TRUE(WaitFor([&] { return gate_.waiting() == 1; }, "the busy worker"));
  std::thread b = Client(batcher, version_.get(), 2, &second, &p2);
  ASSERT_TRUE(WaitFor([&] { return batcher.queued_batches() == 1; },
                      "one queued batch"));
  const std::vector<float> x = Floats(Pattern(3));
  std::vector<float> probs(kClasses);
  absl::Status refused = batcher.Predict(version_.get(), x.data(), 1, probs.data());
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_NE(refused.message().find("batch queue is full"), absl::string_view::npos);
  EXPECT_NE(refused.message().find("--max_enqueued_batches"), absl::string_view::npos);
  gate_.Open();
  a.join();
  b.join();
  ASSERT_TRUE(first.ok() && second.ok()) << first << second;
  ExpectScoresOf(1, p1);
  ExpectScoresOf(2, p2);
  // The queue drained, so the next request is taken again.
  EXPECT_TRUE(batcher.Predict(version_.get(), x.data(), 1, probs.data()).ok());
}

TEST_F(BatcherTest, VersionsAreNotMixedAndLargeRequestsGoAlone) {
  Batcher batcher({.max_batch_size = 2, .num_batch_threads = 1});
  std::vector<std::thread> clients;
  HoldOneBatch(batcher, clients);
  clients.push_back(Client(batcher, version_.get(), 1, &status_[1], &probs_[1]));
  clients.push_back(Client(batcher, other_.get(), 2, &status_[2], &probs_[2]));
  ASSERT_TRUE(WaitFor([&] { return batcher.queued_batches() == 2; },
                      "a batch per version"));
  // Three rows, above max_batch_size: a batch of its own.
  std::vector<float> x;
  for (int c = 4; c < 7; ++c) {
    const std::vector<float> f = Floats(Pattern(c));
    x.insert(x.end(), f.begin(), f.end());
  }
  std::vector<float> big(3 * kClasses);
  absl::Status big_status;
  clients.emplace_back([&] {
    big_status = batcher.Predict(version_.get(), x.data(), 3, big.data());
  });
  ASSERT_TRUE(WaitFor([&] { return batcher.queued_batches() == 3; },
                      "the large request's own batch"));
  gate_.Open();
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(Batches(), (std::vector<size_t>{1, 1, 1, 3}));
  for (int c = 0; c < 3; ++c) ExpectScoresOf(c, probs_[c]);
  ASSERT_TRUE(big_status.ok()) << big_status;
  for (int i = 0; i < 3; ++i) {
    ExpectScoresOf(4 + i, std::vector<float>(big.begin() + i * kClasses,
                                             big.begin() + (i + 1) * kClasses));
  }
}

TEST_F(BatcherTest, AFullBatchDoesNotWaitForItsTimeout) {
  // A timeout far beyond the test's deadline: only a full batch can go.
  Batcher batcher({.max_batch_size = 2,
                   .batch_timeout_micros = int64_t{600} * 1000 * 1000,
                   .num_batch_threads = 1});
  std::vector<absl::Status> status(2);
  std::vector<std::vector<float>> probs(2);
  std::thread a = Client(batcher, version_.get(), 5, &status[0], &probs[0]);
  std::thread b = Client(batcher, version_.get(), 6, &status[1], &probs[1]);
  a.join();
  b.join();
  EXPECT_EQ(Batches(), (std::vector<size_t>{2}));
  ExpectScoresOf(5, probs[0]);
  ExpectScoresOf(6, probs[1]);
}

TEST_F(BatcherTest, StoppingFinishesWhatIsQueued) {
  absl::Status status;
  std::vector<float> probs;
  std::thread client;
  {
    Batcher batcher({.max_batch_size = 4,
                     .batch_timeout_micros = int64_t{600} * 1000 * 1000,
                     .num_batch_threads = 1});
    client = Client(batcher, version_.get(), 7, &status, &probs);
    ASSERT_TRUE(WaitFor([&] { return batcher.queued_tasks() == 1; },
                        "the queued request"));
  }  // the destructor runs the batch without waiting out its timeout
  client.join();
  ASSERT_TRUE(status.ok()) << status;
  ExpectScoresOf(7, probs);
}

}  // namespace
}  // namespace trainbus::serving
