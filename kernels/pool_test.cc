#include "kernels/pool.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/test_util.h"

namespace trainbus::kernels {
namespace {

using testing::RandomFloats;

TEST(PoolTest, MatchesReferenceOnOddAndEvenShapes) {
  for (size_t planes : {1, 3, 200}) {
    for (size_t h : {2, 5, 24}) {
      for (size_t w : {2, 7, 24}) {
        const auto in = RandomFloats(planes * h * w, planes + h + w);
        const size_t out_size = planes * (h / 2) * (w / 2);
        std::vector<float> out(out_size), ref(out_size);
        std::vector<uint8_t> am(out_size), amref(out_size);
        MaxPool2x2Forward(in.data(), planes, h, w, out.data(), am.data());
        MaxPool2x2ForwardReference(in.data(), planes, h, w, ref.data(), amref.data());
        ASSERT_EQ(out, ref);
        ASSERT_EQ(am, amref);
        const auto dout = RandomFloats(out_size, 9);
        std::vector<float> din(in.size(), 7.0f), dref(in.size());
        MaxPool2x2Backward(dout.data(), am.data(), planes, h, w, din.data());
        MaxPool2x2BackwardReference(dout.data(), amref.data(), planes, h, w, dref.data());
        ASSERT_EQ(din, dref);
      }
    }
  }
}

TEST(PoolTest, BackwardMatchesFiniteDifferences) {
  const size_t planes = 2, h = 6, w = 5;
  auto x = RandomFloats(planes * h * w, 3);  // distinct values: no ties
  const size_t out_size = planes * (h / 2) * (w / 2);
  const auto r = RandomFloats(out_size, 4);
  std::vector<float> y(out_size), dx(x.size());
  std::vector<uint8_t> am(out_size);
  MaxPool2x2Forward(x.data(), planes, h, w, y.data(), am.data());
  MaxPool2x2Backward(r.data(), am.data(), planes, h, w, dx.data());
  auto loss = [&]() {
    std::vector<float> yy(out_size);
    std::vector<uint8_t> aa(out_size);
    MaxPool2x2Forward(x.data(), planes, h, w, yy.data(), aa.data());
    return testing::WeightedSum(r, yy.data());
  };
  testing::ExpectFiniteDifferences(x, dx, loss, 1e-4f, 2e-3, "maxpool");
}

}  // namespace
}  // namespace trainbus::kernels
