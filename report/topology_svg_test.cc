#include "report/topology_svg.h"

#include "gtest/gtest.h"

namespace trainbus::report {
namespace {

TEST(TopologySvgTest, OneBoxPerResourceOneArrowPerBinding) {
  bus::TopologyDescription t;
  t.resources = {{"mnist", true, false}, {"model1", false, false},
                 {"model2", false, true}};
  bus::BindingOptions a;
  a.from = "mnist";
  a.to = "model1";
  a.filter = bus::Filter::Labelled();
  bus::BindingOptions b = a;
  b.to = "model2";
  b.policy = bus::Policy::kDropOldest;
  t.bindings = {a, b};
  const std::string svg = TopologyToSvg(t);
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = 0; (at = svg.find(needle, at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("<rect x="), 3u);
  EXPECT_EQ(count("<line "), 2u);
  EXPECT_EQ(count("labelled / drop_oldest"), 1u);
  EXPECT_EQ(count("stroke-dasharray"), 1u);  // the remote one
}

}  // namespace
}  // namespace trainbus::report
