#include "amqp/message.h"

#include <string>
#include <vector>

#include "data/image.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::amqp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Delivery Raw(uint8_t fill = 7) {
  Delivery d;
  d.body.assign(784, static_cast<char>(fill));
  d.message_id = "train-1";
  return d;
}

TEST(ToSample, RawBytesWithAnIntegerLabelAreATrainingSample) {
  Delivery d = Raw();
  d.headers[kLabelHeader] = int64_t{3};
  absl::StatusOr<bus::Sample> s = ToSample(d, "train-in", 5);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->seq, 5u);
  EXPECT_EQ(s->source, "train-in");
  EXPECT_THAT(s->shape, ElementsAre(28, 28));
  ASSERT_EQ(s->pixels.size(), 784u);
  EXPECT_EQ(s->pixels.data()[100], 7);
  EXPECT_EQ(s->label, 3);
  EXPECT_EQ(s->meta.at(bus::kOriginKey), "train-1");
}

TEST(ToSample, NoLabelIsProductionDataAndTextLabelsWork) {
  Delivery d = Raw();
  d.message_id.clear();
  absl::StatusOr<bus::Sample> s = ToSample(d, "live-in", 9);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->has_label());
  EXPECT_EQ(s->meta.at(bus::kOriginKey), "amqp:live-in:9");
  d.headers[kLabelHeader] = std::string("8");
  d.redelivered = true;
  s = ToSample(d, "live-in", 10);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->label, 8);
  EXPECT_EQ(s->meta.at("redelivered"), "1");
}

TEST(ToSample, DecodesPng) {
  data::Image image(28, 28, 0);
  for (uint32_t x = 5; x < 20; ++x) image.at(x, 14) = 200;
  absl::StatusOr<std::vector<uint8_t>> png = data::EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  Delivery d;
  d.body.assign(png->begin(), png->end());
  absl::StatusOr<bus::Sample> s = ToSample(d, "in", 0);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->pixels.size(), 784u);
  EXPECT_GT(s->pixels.data()[14 * 28 + 10], 100);
}

TEST(ToSample, BadMessagesSayWhy) {
  Delivery short_body;
  short_body.body = "hello";
  EXPECT_THAT(ToSample(short_body, "in", 0).status().message(),
              HasSubstr("5 bytes and neither PNG nor JPEG"));
  Delivery broken_png;
  broken_png.body = std::string("\x89PNG\r\n\x1a\n", 8) + "garbage";
  EXPECT_THAT(ToSample(broken_png, "in", 0).status().message(),
              HasSubstr("body: "));
  Delivery negative = Raw();
  negative.headers[kLabelHeader] = int64_t{-2};
  EXPECT_THAT(ToSample(negative, "in", 0).status().message(),
              HasSubstr("integer >= 0"));
  Delivery fractional = Raw();
  fractional.headers[kLabelHeader] = 2.5;
  EXPECT_THAT(ToSample(fractional, "in", 0).status().message(),
              HasSubstr("must be an integer"));
  Delivery text = Raw();
  text.headers[kLabelHeader] = std::string("shirt");
  EXPECT_FALSE(ToSample(text, "in", 0).ok());
}

TEST(IsEndOfStream, TrueOneOrTheirText) {
  Delivery d;
  EXPECT_FALSE(IsEndOfStream(d));
  d.headers[kEndOfStreamHeader] = true;
  EXPECT_TRUE(IsEndOfStream(d));
  d.headers[kEndOfStreamHeader] = int64_t{1};
  EXPECT_TRUE(IsEndOfStream(d));
  d.headers[kEndOfStreamHeader] = std::string("false");
  EXPECT_FALSE(IsEndOfStream(d));
}

TEST(FromPrediction, HeadersAndJsonBody) {
  bus::Prediction p;
  p.sample_seq = 12;
  p.source = "live-in";
  p.origin = "live-12";
  p.model = "model1";
  p.model_version = 2;
  p.label = 4;
  p.scores = {0.25f, 0.75f};
  Message m = FromPrediction(p);
  EXPECT_TRUE(m.persistent);
  EXPECT_EQ(std::get<int64_t>(m.headers.at("predicted_label")), 4);
  EXPECT_EQ(std::get<std::string>(m.headers.at("model")), "model1");
  EXPECT_EQ(std::get<int64_t>(m.headers.at("version")), 2);
  EXPECT_THAT(std::get<std::vector<double>>(m.headers.at("scores")),
              ElementsAre(0.25, 0.75));
  EXPECT_EQ(std::get<std::string>(m.headers.at("origin")), "live-12");
  EXPECT_THAT(m.body, HasSubstr("\"label\":4"));
  EXPECT_THAT(m.body, HasSubstr("\"scores\":[0.25,0.75]"));
}

TEST(DeadLetterOf, KeepsTheMessageAndAddsTheReason) {
  Delivery d = Raw();
  d.headers[kLabelHeader] = int64_t{-1};
  Message m = DeadLetterOf(d, "header 'label' must be ...");
  EXPECT_EQ(m.body, d.body);
  EXPECT_EQ(std::get<int64_t>(m.headers.at(kLabelHeader)), -1);
  EXPECT_EQ(std::get<std::string>(m.headers.at(kReasonHeader)),
            "header 'label' must be ...");
  EXPECT_EQ(m.message_id, "train-1");
}

}  // namespace
}  // namespace trainbus::amqp
