#include "registry/filter.h"

#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

TEST(ParseFilterTest, EmptyMatchesAll) {
  absl::StatusOr<Filter> f = ParseFilter("  ");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->empty());
}

TEST(ParseFilterTest, ClausesKeysOperatorsAndNumbers) {
  absl::StatusOr<Filter> f =
      ParseFilter("name=mlp, test_accuracy>0.8,step<=100,lr!=1e-3,a>=-2,b<3,"
                  "c==x y");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->conditions.size(), 7u);
  EXPECT_EQ(f->conditions[0].key, "name");
  EXPECT_EQ(f->conditions[0].op, CompareOp::kEq);
  EXPECT_EQ(f->conditions[0].value, "mlp");
  EXPECT_FALSE(f->conditions[0].number.has_value());
  EXPECT_EQ(f->conditions[1].op, CompareOp::kGt);
  ASSERT_TRUE(f->conditions[1].number.has_value());
  EXPECT_DOUBLE_EQ(*f->conditions[1].number, 0.8);
  EXPECT_EQ(f->conditions[2].op, CompareOp::kLe);
  EXPECT_EQ(f->conditions[3].op, CompareOp::kNe);
  EXPECT_DOUBLE_EQ(*f->conditions[3].number, 1e-3);
  EXPECT_EQ(f->conditions[4].op, CompareOp::kGe);
  EXPECT_DOUBLE_EQ(*f->conditions[4].number, -2);
  EXPECT_EQ(f->conditions[5].op, CompareOp::kLt);
  EXPECT_EQ(f->conditions[6].op, CompareOp::kEq);
  EXPECT_EQ(f->conditions[6].value, "x y");
}

TEST(ParseFilterTest, QuotedValuesHoldCommasAndQuotes) {
  absl::StatusOr<Filter> f =
      ParseFilter(R"(description="a, b \"c\"",name=x)");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->conditions.size(), 2u);
  EXPECT_EQ(f->conditions[0].value, "a, b \"c\"");
  EXPECT_EQ(f->conditions[1].value, "x");
}

TEST(ParseFilterTest, SqlIsJustAValue) {
  absl::StatusOr<Filter> f = ParseFilter("name=x' OR 1=1; DROP TABLE tasks");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->conditions[0].value, "x' OR 1=1; DROP TABLE tasks");
}

void ExpectError(absl::string_view text, absl::string_view needle) {
  absl::StatusOr<Filter> f = ParseFilter(text);
  ASSERT_FALSE(f.ok()) << text;
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find(needle), absl::string_view::npos)
      << f.status();
}

TEST(ParseFilterTest, RejectsBadInput) {
  ExpectError("test_accuracy=>0.8", "unknown operator '=>'");
  ExpectError("a<>1", "unknown operator '<>'");
  ExpectError("a~1", "unknown operator '~'");
  ExpectError("a = = 1", "unknown operator '=='");
  ExpectError("name", "expected an operator after key 'name'");
  ExpectError("name mlp", "expected an operator");
  ExpectError("name=", "missing value");
  ExpectError("name=mlp,", "expected a key");
  ExpectError("=mlp", "expected a key");
  ExpectError("1abc=2", "expected a key");
  ExpectError("a=\"open", "unterminated quote");
  ExpectError("a=\"x\" y", "unexpected text");
}

TEST(ParseSortTest, KeysAndDirections) {
  absl::StatusOr<std::vector<SortKey>> s =
      ParseSort("test_accuracy desc, time ASC,name");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].key, "test_accuracy");
  EXPECT_TRUE((*s)[0].descending);
  EXPECT_FALSE((*s)[1].descending);
  EXPECT_FALSE((*s)[2].descending);
  EXPECT_TRUE(ParseSort("")->empty());
}

TEST(ParseSortTest, RejectsBadInput) {
  EXPECT_FALSE(ParseSort("acc downward").ok());
  EXPECT_FALSE(ParseSort("acc desc extra").ok());
  EXPECT_FALSE(ParseSort("acc;drop desc").ok());
  EXPECT_FALSE(ParseSort("acc,").ok());
  EXPECT_FALSE(ParseSort("9x").ok());
}

}  // namespace
}  // namespace trainbus::registry
