#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "report/json_text.h"
#include "report/svg_chart.h"

namespace trainbus::report {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; ++at) {
    ++n;
  }
  return n;
}

TEST(JsonTextTest, KeepsFieldOrderAndParsesBack) {
  Json doc;
  doc["name"] = "m\"1\n";
  doc["values"] = Json::array({0.5, 3, nullptr, true});
  doc["inner"]["nan"] = std::nan("");
  doc["inner"]["inf"] = std::numeric_limits<double>::infinity();
  const std::string text = ToJsonText(doc);
  EXPECT_EQ(text.find("\"name\""), 1u) << text;  // first, as set
  const Json back = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(back.is_discarded()) << text;
  EXPECT_EQ(back["name"], "m\"1\n");
  EXPECT_EQ(back["values"][0], 0.5);
  EXPECT_EQ(back["values"][1], 3);
  EXPECT_TRUE(back["values"][2].is_null());
  EXPECT_TRUE(back["inner"]["nan"].is_null()) << text;
  EXPECT_TRUE(back["inner"]["inf"].is_null()) << text;
}

TEST(JsonTextTest, BytesThatAreNotUtf8DoNotThrow) {
  Json doc;
  doc["path"] = std::string("/tmp/\xff\xfe/x");
  std::string text;
  ASSERT_NO_THROW(text = ToJsonText(doc));
  const Json back = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(back.is_discarded()) << text;
  EXPECT_EQ(back["path"], "/tmp/\xEF\xBF\xBD\xEF\xBF\xBD/x");
}

TEST(SvgChartTest, DrawsOneLinePerSeriesWithEscapedNames) {
  LineChart chart{"acc <test>", "samples", "accuracy", {}};
  chart.series.push_back({"m&1", {{0, 0.1}, {100, 0.8}}});
  chart.series.push_back({"m2", {{0, 0.2}, {100, 0.7}}});
  const std::string svg = chart.ToSvg();
  EXPECT_NE(svg.find("acc &lt;test&gt;"), std::string::npos);
  EXPECT_NE(svg.find("m&amp;1"), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline"), 2u);
}

TEST(SvgChartTest, MarksPointsSoAOnePointSeriesShows) {
  LineChart chart{"acc", "epoch", "accuracy", {}};
  chart.series.push_back({"softmax", {{1, 0.84}}});
  chart.series.push_back({"mlp", {{1, 0.85}, {2, 0.87}}});
  EXPECT_EQ(Count(chart.ToSvg(), "<circle"), 3u);
}

TEST(SvgChartTest, EmptyChartIsStillValid) {
  const std::string svg = LineChart{}.ToSvg();
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

}  // namespace
}  // namespace trainbus::report
