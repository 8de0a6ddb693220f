#include "base/command_line.h"

#include "gtest/gtest.h"

namespace trainbus::base {
namespace {

TEST(SplitLongFlagsTest, TakesBothValueFormsAndSwitches) {
  absl::StatusOr<std::vector<LongFlag>> flags = SplitLongFlags(
      {"--port=8501", "--model", "mlp", "--forever", "--empty="}, {"forever"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  ASSERT_EQ(flags->size(), 4u);
  EXPECT_EQ((*flags)[0].name, "port");
  EXPECT_EQ((*flags)[0].value, "8501");
  EXPECT_EQ((*flags)[1].name, "model");
  EXPECT_EQ((*flags)[1].value, "mlp");
  EXPECT_EQ((*flags)[2].name, "forever");
  EXPECT_EQ((*flags)[2].value, "");
  EXPECT_EQ((*flags)[3].name, "empty");
  EXPECT_EQ((*flags)[3].value, "");
}

TEST(SplitLongFlagsTest, NamesWhatIsWrong) {
  EXPECT_EQ(SplitLongFlags({"help"}).status().message(),
            "unexpected argument 'help'");
  EXPECT_EQ(SplitLongFlags({"--port"}).status().message(),
            "--port needs a value");
  // A switch given a value keeps it; the caller decides what that means.
  absl::StatusOr<std::vector<LongFlag>> flags =
      SplitLongFlags({"--forever=yes"}, {"forever"});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ((*flags)[0].value, "yes");
}

}  // namespace
}  // namespace trainbus::base
