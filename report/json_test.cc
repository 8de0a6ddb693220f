// The hand-written JSON writer; goes with json.h once nothing uses it.
#include "report/json.h"

#include <cmath>

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

}  // namespace
}  // namespace trainbus::report
