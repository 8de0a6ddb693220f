#include "topology/checkpoint_store.h"

#include <string>

#include "base/file.h"
#include "base/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;

actors::ModelCheckpoint Sample(const std::string& model, uint64_t samples) {
  actors::ModelCheckpoint c;
  c.model = model;
  c.samples = samples;
  c.steps = samples / 4;
  c.bytes = std::string("weights\0and more", 16);
  c.offsets = {{"mnist", samples - 1}, {"live", 7}};
  c.correct = 3;
  c.scored = 5;
  c.markers_seen = 1;
  return c;
}

TEST(CheckpointStore, TheLatestCheckpointComesBackBitForBit) {
  CheckpointStore store(base::NewTestDir("ckpt") + "/checkpoints");
  absl::StatusOr<std::optional<actors::ModelCheckpoint>> none =
      store.Load("worker1/model1");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(store.Save(Sample("worker1/model1", 200)).ok());
  ASSERT_TRUE(store.Save(Sample("worker1/model1", 400)).ok());
  ASSERT_TRUE(store.Save(Sample("worker2/model1", 100)).ok());
  absl::StatusOr<std::optional<actors::ModelCheckpoint>> c =
      store.Load("worker1/model1");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->has_value());
  const actors::ModelCheckpoint& got = **c;
  const actors::ModelCheckpoint want = Sample("worker1/model1", 400);
  EXPECT_EQ(got.samples, want.samples);
  EXPECT_EQ(got.steps, want.steps);
  EXPECT_EQ(got.bytes, want.bytes);
  EXPECT_EQ(got.offsets, want.offsets);
  EXPECT_EQ(got.correct, want.correct);
  EXPECT_EQ(got.scored, want.scored);
  EXPECT_EQ(got.markers_seen, want.markers_seen);
  EXPECT_EQ(store.PathOf("worker1/model1"),
            store.dir() + "/worker1__model1.ckpt");
}

TEST(CheckpointStore, ACorruptOrForeignFileIsDataLossNamingIt) {
  CheckpointStore store(base::NewTestDir("ckpt_bad"));
  ASSERT_TRUE(store.Save(Sample("m", 10)).ok());
  const std::string path = store.PathOf("m");
  std::string text = *base::ReadFile(path);
  text.back() ^= 1;
  ASSERT_TRUE(base::WriteFileAtomically(path, text).ok());
  absl::StatusOr<std::optional<actors::ModelCheckpoint>> c = store.Load("m");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(path));
  ASSERT_TRUE(base::WriteFileAtomically(path, "short").ok());
  EXPECT_EQ(store.Load("m").status().code(), absl::StatusCode::kDataLoss);
  // A valid file under another model's name.
  ASSERT_TRUE(store.Save(Sample("n", 10)).ok());
  ASSERT_TRUE(base::WriteFileAtomically(path, *base::ReadFile(store.PathOf("n")))
                  .ok());
  EXPECT_THAT(std::string(store.Load("m").status().message()),
              HasSubstr("does not hold a checkpoint of m"));
}

}  // namespace
}  // namespace trainbus::topology
