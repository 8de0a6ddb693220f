#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"

namespace trainbus::nn {
namespace {

TEST(ModelSpecTest, ParsesAllKeys) {
  auto spec = ParseModelSpec(
      "mlp:hidden=256x128,opt=adam,lr=0.001,momentum=0.8,wd=0.0001,batch=64,"
      "seed=7,input=1x28x28,classes=10");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->arch, "mlp");
  EXPECT_EQ(spec->hidden, (std::vector<uint32_t>{256, 128}));
  EXPECT_EQ(spec->optimizer, "adam");
  EXPECT_FLOAT_EQ(spec->learning_rate, 0.001f);
  EXPECT_FLOAT_EQ(spec->momentum, 0.8f);
  EXPECT_FLOAT_EQ(spec->weight_decay, 0.0001f);
  EXPECT_EQ(spec->batch_size, 64u);
  EXPECT_EQ(spec->seed, 7u);
}

TEST(ModelSpecTest, DefaultsAndRoundTrip) {
  for (const char* text :
       {"softmax", "mlp", "cnn", "mlp:hidden=100x50,lr=0.05,batch=32",
        "cnn:conv=16x32,hidden=128,opt=momentum,lr=0.02,seed=3",
        "softmax:avg=0.999", "mlp:halflife=5000,avg=0.99",
        "cnn:conv=32x64,hidden=128,dropout=0.25,hflip=0.5,shift=2",
        "cnn:conv=32x64,kernel=3,padding=same,hidden=256",
        "softmax:opt=adam,lr=0.0003,wd=0.01,input=3x32x32,classes=100"}) {
    auto spec = ParseModelSpec(text);
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    const std::string formatted = FormatModelSpec(*spec);
    auto again = ParseModelSpec(formatted);
    ASSERT_TRUE(again.ok()) << formatted;
    EXPECT_EQ(FormatModelSpec(*again), formatted);
    EXPECT_EQ(again->hidden, spec->hidden);
    EXPECT_EQ(again->conv, spec->conv);
    EXPECT_EQ(again->learning_rate, spec->learning_rate);
    EXPECT_EQ(again->InputSize(), spec->InputSize());
    EXPECT_EQ(again->classes, spec->classes);
    EXPECT_EQ(again->average, spec->average);
    EXPECT_EQ(again->lr_halflife, spec->lr_halflife);
    EXPECT_EQ(again->dropout, spec->dropout);
    EXPECT_EQ(again->hflip, spec->hflip);
    EXPECT_EQ(again->shift, spec->shift);
    EXPECT_EQ(again->kernel, spec->kernel);
    EXPECT_EQ(again->same_padding, spec->same_padding);
  }
  EXPECT_EQ(ParseModelSpec("mlp")->hidden, (std::vector<uint32_t>{256}));
  EXPECT_EQ(ParseModelSpec("cnn")->conv, (std::vector<uint32_t>{8, 16}));
  EXPECT_EQ(FormatModelSpec(*ParseModelSpec("softmax")),
            "softmax:opt=sgd,lr=0.01,momentum=0.9,wd=0,batch=1,seed=1");
}

TEST(ModelSpecTest, ErrorsNameTheKeyAndTheFix) {
  struct Bad {
    const char* text;
    const char* needle;
  } cases[] = {
      {"transformer", "unknown arch 'transformer'"},
      {"mlp:hiden=3", "unknown key 'hiden'"},
      {"mlp:hiden=3", "accepted keys: hidden, opt"},
      {"mlp:lr=-1", "key 'lr'"},
      {"mlp:lr=abc", "bad value 'abc'"},
      {"mlp:hidden=0", "key 'hidden'"},
      {"mlp:hidden=12xx", "key 'hidden'"},
      {"mlp:opt=rmsprop", "sgd, momentum or adam"},
      {"mlp:batch=0", "key 'batch'"},
      {"mlp:avg=1", "key 'avg'"},
      {"mlp:halflife=-3", "key 'halflife'"},
      {"mlp:dropout=1", "key 'dropout'"},
      {"softmax:dropout=0.5", "has none"},
      {"cnn:hflip=2", "key 'hflip'"},
      {"cnn:shift=x", "key 'shift'"},
      {"cnn:kernel=4", "an odd size"},
      {"cnn:padding=full", "valid or same"},
      {"mlp:kernel=3", "only to arch 'cnn'"},
      {"mlp:avg=-0.5", "a decay in [0, 1)"},
      {"mlp:momentum=1", "key 'momentum'"},
      {"softmax:hidden=10", "does not apply to arch 'softmax'"},
      {"mlp:conv=8", "only to arch 'cnn'"},
      {"mlp:lr", "expected key=value"},
      {"mlp:lr=0.1,lr=0.2", "given twice"},
      {"cnn:input=1x28", "CxHxW"},
  };
  for (const Bad& b : cases) {
    auto spec = ParseModelSpec(b.text);
    ASSERT_FALSE(spec.ok()) << b.text;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(spec.status().message()).find(b.needle),
              std::string::npos)
        << b.text << " -> " << spec.status();
  }
}

}  // namespace
}  // namespace trainbus::nn
