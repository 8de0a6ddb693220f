// The durable log's record codec: round trips, and hostile bytes (truncated,
// lying lengths, garbage) that must give a clear error and never a crash.
// Run it under --config=asan too.
#include "bus/codec.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "bus/bus_test_util.h"
#include "bus/message.h"
#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

Sample ASample() {
  Sample s;
  s.seq = 42;
  s.source = "fashion-mnist/train";
  s.shape = {2, 3};
  s.pixels = Bytes(std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  s.label = 7;
  s.meta["file"] = "a.png";
  s.publish_ns = 123456789;
  return s;
}

std::vector<std::vector<uint8_t>> AllRecords() {
  return {Encode(ASample()), Encode(testing::MakeBatch()),
          Encode(testing::MakePrediction()),
          Encode(testing::MakeMetric())};
}

TEST(CodecTest, EveryPayloadTypeRoundTrips) {
  auto sample = Decode(Encode(ASample()));
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_TRUE(sample->match_elements<Sample>());
  const Sample& s = sample->get_as<Sample>(0);
  EXPECT_EQ(s.seq, 42u);
  EXPECT_EQ(s.shape, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(s.pixels, ASample().pixels);
  EXPECT_EQ(s.meta.at("file"), "a.png");

  auto batch = Decode(Encode(testing::MakeBatch()));
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_TRUE(batch->match_elements<SampleBatch>());
  EXPECT_EQ(batch->get_as<SampleBatch>(0).labels, testing::MakeBatch().labels);
  EXPECT_EQ(batch->get_as<SampleBatch>(0).pixels, testing::MakeBatch().pixels);

  auto prediction = Decode(Encode(testing::MakePrediction()));
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  ASSERT_TRUE(prediction->match_elements<Prediction>());
  EXPECT_EQ(prediction->get_as<Prediction>(0).scores, testing::MakePrediction().scores);
  EXPECT_EQ(prediction->get_as<Prediction>(0).model, "model1");

  auto metric = Decode(Encode(testing::MakeMetric()));
  ASSERT_TRUE(metric.ok()) << metric.status();
  ASSERT_TRUE(metric->match_elements<Metric>());
  EXPECT_EQ(metric->get_as<Metric>(0).values, testing::MakeMetric().values);
  EXPECT_EQ(metric->get_as<Metric>(0).step, testing::MakeMetric().step);
}

TEST(CodecTest, EmptyAndUnknownTagsAreClearErrors) {
  auto empty = Decode({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kDataLoss);
  const std::vector<uint8_t> unknown = {0x7f, 1, 2, 3};
  auto bad = Decode(unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown bus record tag 127"),
            std::string::npos)
      << bad.status();
}

TEST(CodecTest, EveryTruncationIsAnErrorThatNamesTheType) {
  const char* names[] = {"Sample", "SampleBatch", "Prediction", "Metric"};
  std::vector<std::vector<uint8_t>> records = AllRecords();
  for (size_t r = 0; r < records.size(); ++r) {
    const std::vector<uint8_t>& full = records[r];
    for (size_t n = 1; n < full.size(); ++n) {
      auto got = Decode(absl::MakeConstSpan(full.data(), n));
      ASSERT_FALSE(got.ok()) << names[r] << " cut to " << n << " of "
                             << full.size() << " bytes decoded";
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
      EXPECT_NE(got.status().message().find(names[r]), std::string::npos)
          << got.status();
    }
  }
}

TEST(CodecTest, TrailingBytesAreAnError) {
  std::vector<uint8_t> record = Encode(testing::MakeMetric());
  record.push_back(0);
  auto got = Decode(record);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("trailing"), std::string::npos)
      << got.status();
}

// A length field that claims far more than the record holds must be caught
// before anything of that size is allocated (ASan would report it).
TEST(CodecTest, LyingLengthsAreErrorsNotAllocations) {
  for (PayloadTag tag : {PayloadTag::kSample, PayloadTag::kSampleBatch,
                         PayloadTag::kPrediction, PayloadTag::kMetric}) {
    // After the tag: a first field, then a huge varint length for the next
    // container (a string or vector, depending on the type).
    for (size_t prefix : {0, 1, 4, 8}) {
      std::vector<uint8_t> record{static_cast<uint8_t>(tag)};
      record.insert(record.end(), prefix, 0);
      for (int i = 0; i < 9; ++i) record.push_back(0xff);
      record.push_back(0x01);
      record.push_back(0x41);
      auto got = Decode(record);
      EXPECT_FALSE(got.ok()) << "tag " << int(tag) << " prefix " << prefix;
    }
  }
}

TEST(CodecTest, CorruptedBytesNeverCrash) {
  std::mt19937 rng(20261201);
  std::vector<std::vector<uint8_t>> records = AllRecords();
  int decoded = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<uint8_t> record = records[round % records.size()];
    // Flip a few bytes (the tag stays, so the payload decoder is exercised).
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = 1 + rng() % (record.size() - 1);
      record[at] = static_cast<uint8_t>(rng());
    }
    auto got = Decode(record);
    if (got.ok()) {
      ++decoded;  // some flips land in values, not in lengths
    } else {
      EXPECT_FALSE(got.status().message().empty());
    }
  }
  EXPECT_GT(decoded, 0);
}

TEST(CodecTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 4000; ++round) {
    std::vector<uint8_t> record(rng() % 64);
    for (uint8_t& b : record) b = static_cast<uint8_t>(rng());
    if (!record.empty()) record[0] = static_cast<uint8_t>(1 + round % 4);
    auto got = Decode(record);
    if (!got.ok()) {
      EXPECT_FALSE(got.status().message().empty());
    }
  }
}

}  // namespace
}  // namespace trainbus::bus
