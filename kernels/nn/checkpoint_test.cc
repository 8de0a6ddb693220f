#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"

namespace trainbus::nn {
namespace {

std::vector<float> Inputs(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  return v;
}

std::unique_ptr<Model> Trained(const std::string& text, int steps) {
  auto model = MakeModel(*ParseModelSpec(text));
  EXPECT_TRUE(model.ok()) << model.status();
  const size_t b = (*model)->spec().batch_size;
  const auto x = Inputs(b * 784);
  std::vector<int32_t> labels(b);
  for (size_t i = 0; i < b; ++i) labels[i] = static_cast<int32_t>(i % 10);
  for (int s = 0; s < steps; ++s) {
    EXPECT_TRUE((*model)->TrainStep(x.data(), labels.data(), b).ok());
  }
  return std::move(*model);
}

uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// Re-seals bytes whose body was edited on purpose.
std::string Reseal(std::string body) {
  const uint64_t h = Fnv1a64(body);
  body.append(reinterpret_cast<const char*>(&h), 8);
  return body;
}

TEST(CheckpointTest, RoundTripsExactlyForEveryArchAndOptimizer) {
  for (const char* text : {"softmax:lr=0.1", "mlp:hidden=32x16,opt=momentum",
                           "cnn:batch=4,opt=adam,lr=0.001",
                           "mlp:hidden=16,opt=momentum,avg=0.99"}) {
    auto a = Trained(text, 3);
    const std::string bytes = a->SaveCheckpoint();
    auto b = LoadModel(bytes);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->SaveCheckpoint(), bytes) << text;
    EXPECT_EQ((*b)->steps(), 3u);
    EXPECT_EQ(FormatModelSpec((*b)->spec()), FormatModelSpec(a->spec()));
    // Optimizer state came along: one more step keeps them identical.
    const size_t n = a->spec().batch_size;
    const auto x = Inputs(n * 784);
    std::vector<int32_t> labels(n, 3);
    ASSERT_TRUE(a->TrainStep(x.data(), labels.data(), n).ok());
    ASSERT_TRUE((*b)->TrainStep(x.data(), labels.data(), n).ok());
    EXPECT_EQ((*b)->SaveCheckpoint(), a->SaveCheckpoint()) << text;
  }
}

TEST(CheckpointTest, LoadsUnderNewHyperparametersButNotOtherTensors) {
  auto a = Trained("mlp:hidden=16,opt=momentum,lr=0.05", 3);
  ModelSpec faster = a->spec();
  faster.learning_rate = 0.1f;
  faster.momentum = 0.5f;
  auto b = LoadModel(a->SaveCheckpoint(), faster);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->steps(), 3u);
  EXPECT_FLOAT_EQ((*b)->spec().learning_rate, 0.1f);
  // Same weights and velocity: saved back under the old spec, the bytes match.
  auto back = LoadModel((*b)->SaveCheckpoint(), a->spec());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->SaveCheckpoint(), a->SaveCheckpoint());

  ModelSpec other = a->spec();
  other.optimizer = "adam";  // two state arrays instead of one
  auto refused = LoadModel(a->SaveCheckpoint(), other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("tensors"), std::string::npos)
      << refused.status();
}

TEST(CheckpointTest, CorruptOrTruncatedBytesAreErrors) {
  const std::string good = Trained("mlp:hidden=8", 1)->SaveCheckpoint();
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  auto r = LoadModel(flipped);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(r.status().message()).find("checksum"), std::string::npos);
  for (size_t keep : {size_t{0}, size_t{5}, size_t{20}, good.size() / 2,
                      good.size() - 1}) {
    EXPECT_FALSE(LoadModel(good.substr(0, keep)).ok()) << keep;
  }
  EXPECT_EQ(LoadModel("hello world, not a model").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string extra = good.substr(0, good.size() - 8) + "xxxx";
  r = LoadModel(Reseal(extra));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("bytes of weights"),
            std::string::npos) << r.status();
}

long PeakRssKiB() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Found by //fuzz:checkpoint_fuzzer (fuzz/corpus/checkpoint/oom-ec11d38c...):
// 99 bytes whose spec is a valid CNN with 282 channels at batch 1000, ~2.4 GB
// of activations. The loader used to build the network before reading the
// tensor table; it now checks the table and the length against the plan
// first, and allocates nothing the bytes cannot back.
TEST(CheckpointTest, AHeaderClaimingGigabytesIsRefusedBeforeAllocating) {
  std::string body("TBNNCKPT", 8);
  const uint32_t version = 1;
  body.append(reinterpret_cast<const char*>(&version), 4);
  const std::string spec =
      "cnn:conv=282,hidden=1,opt=sgd,lr=0.01,momentum=0.9,wd=0,batch=1000";
  const uint32_t spec_len = static_cast<uint32_t>(spec.size());
  body.append(reinterpret_cast<const char*>(&spec_len), 4);
  body.append(spec);
  body.append(std::string(8 + 4, '\0'));  // steps, a tensor count of 0
  const long before = PeakRssKiB();
  auto r = LoadModel(Reseal(body));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("tensors but model"),
            std::string::npos) << r.status();
  // Every tensor listed, but the weights missing: refused by length.
  auto full = Trained("cnn:conv=282,hidden=1,batch=2", 0)->SaveCheckpoint();
  full.resize(full.size() - 8);
  const size_t at = full.find("batch=2");
  ASSERT_NE(at, std::string::npos);
  full.replace(at, 7, "batch=1000");
  uint32_t stored_len = 0;
  std::memcpy(&stored_len, full.data() + 12, 4);
  stored_len += 3;  // "batch=1000" is 3 bytes longer
  std::memcpy(full.data() + 12, &stored_len, 4);
  r = LoadModel(Reseal(full.substr(0, full.size() / 2)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("bytes of weights"),
            std::string::npos) << r.status();
  EXPECT_LT(PeakRssKiB() - before, 256 << 10)
      << "the loader allocated by what the header claimed";
}

TEST(CheckpointTest, ShapeMismatchIsAnError) {
  std::string body = Trained("mlp:hidden=8", 1)->SaveCheckpoint();
  body.resize(body.size() - 8);
  const size_t at = body.find("hidden=8");
  ASSERT_NE(at, std::string::npos);
  body[at + 7] = '9';  // the spec now says hidden=9; the tensors say 8
  auto r = LoadModel(Reseal(body));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("fc1.weight"), std::string::npos)
      << r.status();
  EXPECT_NE(std::string(r.status().message()).find("9x784"), std::string::npos)
      << r.status();
}

TEST(CheckpointTest, UnsupportedVersionIsNamed) {
  std::string body = Trained("softmax", 0)->SaveCheckpoint();
  body.resize(body.size() - 8);
  body[8] = 3;
  auto r = LoadModel(Reseal(body));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("version 3"), std::string::npos);
}

// Version 1 (before batch norm) had the same layout without buffers: its
// checkpoints still load, and save as version 2.
TEST(CheckpointTest, VersionOneStillLoads) {
  auto a = Trained("mlp:hidden=16,opt=momentum,batch=4", 2);
  std::string body = a->SaveCheckpoint();
  ASSERT_EQ(body[8], 2);
  body.resize(body.size() - 8);
  body[8] = 1;
  auto b = LoadModel(Reseal(body));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->SaveCheckpoint(), a->SaveCheckpoint());
}

// Batch norm's running statistics travel in the checkpoint: the loaded
// model predicts exactly as the saved one, and a model without them would
// not (the fresh statistics are mean 0, variance 1).
TEST(CheckpointTest, BatchNormRunningStatisticsRoundTrip) {
  const std::string text =
      "cnn:conv=4x8,kernel=3,padding=same,hidden=16,bn=1,batch=8,opt=adam,"
      "lr=0.01";
  auto a = Trained(text, 5);
  const std::string bytes = a->SaveCheckpoint();
  EXPECT_NE(bytes.find("conv1.bn_running_var"), std::string::npos);
  EXPECT_NE(bytes.find("fc1.bn_running_mean"), std::string::npos);
  auto b = LoadModel(bytes);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->SaveCheckpoint(), bytes);
  const auto x = Inputs(3 * 784);
  std::vector<float> pa(30), pb(30), fresh(30);
  ASSERT_TRUE(a->Predict(x.data(), 3, pa.data()).ok());
  ASSERT_TRUE((*b)->Predict(x.data(), 3, pb.data()).ok());
  EXPECT_EQ(pa, pb);
  auto untrained = Trained(text, 0);
  ASSERT_TRUE(untrained->Predict(x.data(), 3, fresh.data()).ok());
  EXPECT_NE(pa, fresh);
}

TEST(CheckpointTest, CompareFindsTheLargestWeightDifference) {
  const std::string a = Trained("mlp:hidden=16,opt=momentum", 2)->SaveCheckpoint();
  auto same = CompareCheckpoints(a, a);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_TRUE(same->identical);
  EXPECT_EQ(same->max_abs_difference, 0.0);

  const std::string b = Trained("mlp:hidden=16,opt=momentum", 3)->SaveCheckpoint();
  auto diff = CompareCheckpoints(a, b);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_FALSE(diff->identical);
  EXPECT_GT(diff->max_abs_difference, 0.0);
  EXPECT_FALSE(diff->tensor.empty());
  EXPECT_EQ(diff->steps_a, 2u);
  EXPECT_EQ(diff->steps_b, 3u);

  auto other = CompareCheckpoints(a, Trained("softmax", 1)->SaveCheckpoint());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("same architecture"),
            std::string::npos);
  EXPECT_FALSE(CompareCheckpoints(a, "not a checkpoint").ok());
}

TEST(CheckpointTest, KernelTargetIsNamed) {
  EXPECT_NE(std::string(KernelTargetName()), "");
}

}  // namespace
}  // namespace trainbus::nn
