#include <cmath>

#include "report/json.h"
#include "report/svg_chart.h"
#include "gtest/gtest.h"

namespace trainbus::report {
namespace {

TEST(JsonWriterTest, NestsAndSeparates) {
  JsonWriter w;
  w.BeginObject()
      .Key("name").String("m\"1\n")
      .Key("values").BeginArray().Number(0.5).Int(3).Null().Bool(true).EndArray()
      .Key("inner").BeginObject().Key("nan").Number(std::nan("")).EndObject()
      .EndObject();
  EXPECT_EQ(w.str(),
            "{\"name\":\"m\\\"1\\n\",\"values\":[0.5,3,null,true],"
            "\"inner\":{\"nan\":null}}");
}

TEST(JsonWriterTest, EscapesControlCharacters) {
  EXPECT_EQ(JsonQuote(std::string("a\x01") + "b"), "\"a\\u0001b\"");
}

TEST(SvgChartTest, DrawsOneLinePerSeriesWithEscapedNames) {
  LineChart chart{"acc <test>", "samples", "accuracy", {}};
  chart.series.push_back({"m&1", {{0, 0.1}, {100, 0.8}}});
  chart.series.push_back({"m2", {{0, 0.2}, {100, 0.7}}});
  const std::string svg = chart.ToSvg();
  EXPECT_NE(svg.find("acc &lt;test&gt;"), std::string::npos);
  EXPECT_NE(svg.find("m&amp;1"), std::string::npos);
  size_t lines = 0;
  for (size_t at = 0; (at = svg.find("<polyline", at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u);
}

TEST(SvgChartTest, MarksPointsSoAOnePointSeriesShows) {
  LineChart chart{"acc", "epoch", "accuracy", {}};
  chart.series.push_back({"softmax", {{1, 0.84}}});
  chart.series.push_back({"mlp", {{1, 0.85}, {2, 0.87}}});
  const std::string svg = chart.ToSvg();
  size_t markers = 0;
  for (size_t at = 0; (at = svg.find("<circle", at)) != std::string::npos;
       ++at) {
    ++markers;
  }
  EXPECT_EQ(markers, 3u);
}

TEST(SvgChartTest, EmptyChartIsStillValid) {
  const std::string svg = LineChart{}.ToSvg();
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

}  // namespace
}  // namespace trainbus::report
