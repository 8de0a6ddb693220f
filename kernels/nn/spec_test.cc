#include <cmath>
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
  EXPECT_EQ(spec->arch, Arch::kMlp);
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

TEST(ModelSpecTest, RecipeKeysParseAndRoundTrip) {
  const char* text =
      "cnn:conv=16x32,kernel=3,padding=same,hidden=64,batch=64,bn=1,"
      "bn_momentum=0.2,sched=onecycle,steps=1000,warmup=0.3,smooth=0.1,"
      "tta=flip";
  auto spec = ParseModelSpec(text);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->batch_norm);
  EXPECT_FLOAT_EQ(spec->bn_momentum, 0.2f);
  EXPECT_EQ(spec->schedule, "onecycle");
  EXPECT_EQ(spec->schedule_steps, 1000u);
  EXPECT_FLOAT_EQ(spec->warmup, 0.3f);
  EXPECT_FLOAT_EQ(spec->label_smoothing, 0.1f);
  EXPECT_TRUE(spec->tta_flip);
  const std::string formatted = FormatModelSpec(*spec);
  auto again = ParseModelSpec(formatted);
  ASSERT_TRUE(again.ok()) << formatted;
  EXPECT_EQ(FormatModelSpec(*again), formatted);
  // The defaults stay out of the text, so older readers still parse it.
  EXPECT_EQ(FormatModelSpec(*ParseModelSpec("cnn:tta=none,bn=0")),
            FormatModelSpec(*ParseModelSpec("cnn")));
  for (const char* bad :
       {"cnn:bn=2", "cnn:bn_momentum=0", "mlp:sched=linear", "mlp:warmup=1",
        "mlp:smooth=1", "mlp:tta=yes", "mlp:steps=-1"}) {
    EXPECT_FALSE(ParseModelSpec(bad).ok()) << bad;
  }
  // Valid keys, impossible models: the error says what to add or change.
  for (const char* bad : {"mlp:sched=onecycle,batch=8", "mlp:bn=1,batch=1",
                          "mlp:sched=cosine,steps=10,halflife=5"}) {
    auto model = MakeModel(*ParseModelSpec(bad));
    ASSERT_FALSE(model.ok()) << bad;
    const std::string message(model.status().message());
    EXPECT_TRUE(message.find("steps=N") != std::string::npos ||
                message.find("batch >= 2") != std::string::npos)
        << message;
  }
}

float Lr(const std::string& text, uint64_t step) {
  return LearningRateAt(*ParseModelSpec(text), step);
}

// One-cycle: lr/25 -> lr (linear, over the warm-up) -> 0 (linear).
TEST(ScheduleTest, OneCycleRisesThenFallsToZero) {
  const std::string s = "mlp:lr=0.5,sched=onecycle,steps=100,warmup=0.2";
  EXPECT_FLOAT_EQ(Lr(s, 0), 0.02f);
  EXPECT_FLOAT_EQ(Lr(s, 10), 0.02f + 0.48f * 0.5f);
  EXPECT_FLOAT_EQ(Lr(s, 20), 0.5f);
  EXPECT_FLOAT_EQ(Lr(s, 60), 0.25f);
  EXPECT_FLOAT_EQ(Lr(s, 100), 0.0f);
  EXPECT_FLOAT_EQ(Lr(s, 1000), 0.0f);  // stays at the end value
  for (uint64_t t = 1; t <= 100; ++t) {
    if (t <= 20) {
      EXPECT_GT(Lr(s, t), Lr(s, t - 1)) << t;
    } else {
      EXPECT_LT(Lr(s, t), Lr(s, t - 1)) << t;
    }
  }
}

// Warmup-cosine: 0 -> lr (linear), then half a cosine down to 0.
TEST(ScheduleTest, WarmupCosine) {
  const std::string s = "mlp:lr=0.1,sched=cosine,steps=1000,warmup=0.1";
  EXPECT_FLOAT_EQ(Lr(s, 0), 0.0f);
  EXPECT_FLOAT_EQ(Lr(s, 50), 0.05f);
  EXPECT_FLOAT_EQ(Lr(s, 100), 0.1f);
  EXPECT_NEAR(Lr(s, 550), 0.05f, 1e-7f);  // half way down
  EXPECT_NEAR(Lr(s, 325), 0.1f * 0.5f * (1 + std::cos(M_PI / 4)), 1e-7f);
  EXPECT_NEAR(Lr(s, 1000), 0.0f, 1e-9f);
  for (uint64_t t = 101; t <= 1000; ++t) EXPECT_LE(Lr(s, t), Lr(s, t - 1));
}

// The constant schedule is lr, or the halflife decay when one is given.
TEST(ScheduleTest, ConstantAndHalflife) {
  EXPECT_FLOAT_EQ(Lr("mlp:lr=0.3", 12345), 0.3f);
  EXPECT_FLOAT_EQ(Lr("mlp:lr=0.3,halflife=10", 20), 0.075f);
  auto model = MakeModel(*ParseModelSpec("mlp:lr=0.3,sched=onecycle,steps=10"));
  ASSERT_TRUE(model.ok());
  EXPECT_FLOAT_EQ((*model)->CurrentLearningRate(), 0.3f / 25);
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

TEST(ModelSpecTest, ArchNamesMapBothWays) {
  for (Arch a : {Arch::kSoftmax, Arch::kMlp, Arch::kCnn}) {
    ASSERT_TRUE(ArchFromName(ArchName(a)).has_value()) << ArchName(a);
    EXPECT_EQ(*ArchFromName(ArchName(a)), a);
    auto spec = ParseModelSpec(std::string(ArchName(a)));
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->arch, a);
  }
  EXPECT_EQ(ArchName(Arch::kCnn), "cnn");
  EXPECT_FALSE(ArchFromName("rnn").has_value());
  EXPECT_EQ(ArchName(static_cast<Arch>(42)), "unknown");
  EXPECT_EQ(ArchNameList(), "softmax, mlp or cnn");
}

TEST(ModelSpecTest, ParameterBudgetKeyRoundTrips) {
  auto spec = ParseModelSpec("mlp:hidden=4096x4096,max_params=100000000");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->max_params, 100000000u);
  const std::string text = FormatModelSpec(*spec);
  EXPECT_NE(text.find("max_params=100000000"), std::string::npos) << text;
  EXPECT_EQ(ParseModelSpec(text)->max_params, 100000000u);
  // The default budget is not written, so existing specs keep their text.
  EXPECT_EQ(FormatModelSpec(*ParseModelSpec("mlp")).find("max_params"),
            std::string::npos);
  EXPECT_FALSE(ParseModelSpec("mlp:max_params=0").ok());
  EXPECT_FALSE(ParseModelSpec("mlp:max_params=-5").ok());
}

TEST(ModelCostTest, CountsParametersAndMultiplyAddsFromThePlan) {
  auto softmax = EstimateModelCost(*ParseModelSpec("softmax"));
  ASSERT_TRUE(softmax.ok()) << softmax.status();
  EXPECT_EQ(softmax->parameters, 7850u);
  EXPECT_EQ(softmax->weight_bytes, 7850u * 4);
  EXPECT_EQ(softmax->forward_macs, 7840u);
  EXPECT_EQ(softmax->training_macs, 2 * 7840u);  // no input gradient
  // The default cnn (8x16 on 28x28): 24x24x8 from 25 taps, 8x8x16 from 200
  // taps, then 256 -> 10.
  auto cnn = EstimateModelCost(*ParseModelSpec("cnn"));
  ASSERT_TRUE(cnn.ok()) << cnn.status();
  EXPECT_EQ(cnn->parameters, 8u * 25 + 8 + 16 * 200 + 16 + 2560 + 10);
  const uint64_t conv1 = 24 * 24 * 8 * 25, conv2 = 8 * 8 * 16 * 200,
                 fc = 2560;
  EXPECT_EQ(cnn->forward_macs, conv1 + conv2 + fc);
  EXPECT_EQ(cnn->training_macs, 2 * conv1 + 3 * (conv2 + fc));
  EXPECT_FALSE(cnn->very_costly());
  EXPECT_GT(cnn->training_bytes, cnn->weight_bytes * 2);
  const std::string line = cnn->Summary();
  EXPECT_NE(line.find("6.0 k parameters"), std::string::npos) << line;
  EXPECT_NE(line.find("multiply-adds per sample forward"), std::string::npos)
      << line;
  EXPECT_EQ(line.find("very costly"), std::string::npos) << line;
}

TEST(ModelCostTest, AWideCnnIsVeryCostlyAndAHugeMlpIsOverBudget) {
  auto wide = EstimateModelCost(*ParseModelSpec("cnn:conv=1024x1024"));
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_TRUE(wide->very_costly());
  EXPECT_FALSE(wide->over_budget());
  EXPECT_NE(wide->Summary().find("very costly"), std::string::npos)
      << wide->Summary();
  // Described without allocating 4.3 G parameters.
  auto huge = EstimateModelCost(*ParseModelSpec("mlp:hidden=65536x65536"));
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->parameters, 784ull * 65536 + 65536 + 65536ull * 65536 +
                                  65536 + 655360 + 10);
  EXPECT_TRUE(huge->over_budget());
  EXPECT_NE(huge->Summary().find("4.3 G parameters"), std::string::npos)
      << huge->Summary();
}

}  // namespace
}  // namespace trainbus::nn
