#include "kernels/nn/network.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "kernels/reduce.h"
#include "kernels/test_util.h"

namespace trainbus::nn {
namespace {

using internal::Network;

std::vector<float> Uniform(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t s = seed;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(s >> 40) / static_cast<float>(1 << 24);
  }
  return v;
}

std::unique_ptr<Network> Make(const std::string& text) {
  auto spec = ParseModelSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto net = Network::Create(*spec);
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(*net);
}

// Central differences of the mean loss against the analytic gradient, for
// every parameter of a small network.
void CheckGradients(const std::string& text, size_t batch) {
  auto net = Make(text);
  const size_t in = net->spec().InputSize();
  const auto x = Uniform(batch * in, 5);
  std::vector<int32_t> labels(batch);
  for (size_t i = 0; i < batch; ++i) labels[i] = static_cast<int32_t>(i % net->spec().classes);
  ASSERT_TRUE(net->ComputeGradients(x.data(), labels.data(), batch).ok());
  const std::vector<float> grad(net->gradients(),
                                net->gradients() + net->ParameterCount());
  float* w = net->mutable_params();
  auto fd = [&](size_t i, float h) {
    const float saved = w[i];
    w[i] = saved + h;
    const double lp = *net->Loss(x.data(), labels.data(), batch);
    w[i] = saved - h;
    const double lm = *net->Loss(x.data(), labels.data(), batch);
    w[i] = saved;
    return (lp - lm) / (2 * h);
  };
  auto close = [](double a, double b) {
    return std::fabs(a - b) <= 1e-3 + 2e-2 * std::fabs(b);
  };
  // ReLU and max-pool are not differentiable at their kinks; a difference
  // whose two step sizes disagree straddles one and is skipped (and counted).
  size_t bad = 0, kinks = 0;
  for (size_t i = 0; i < net->ParameterCount(); ++i) {
    const double fd1 = fd(i, 1e-3f), fd2 = fd(i, 5e-4f);
    if (!close(fd1, fd2)) {
      ++kinks;
      continue;
    }
    if (!close(grad[i], fd2)) {
      ++bad;
      ADD_FAILURE() << text << " param " << i << ": analytic " << grad[i]
                    << " vs finite difference " << fd2;
      if (bad > 5) return;
    }
  }
  EXPECT_LE(kinks, net->ParameterCount() / 10) << text;
}

TEST(NetworkTest, GradientsMatchFiniteDifferences) {
  CheckGradients("softmax:input=1x5x5,classes=4", 3);
  CheckGradients("mlp:hidden=7x5,input=1x6x6,classes=4", 3);
  CheckGradients("mlp:hidden=6,input=1x6x6,classes=3", 1);
  CheckGradients("cnn:conv=2x3,hidden=6,input=2x16x16,classes=3", 2);
  CheckGradients("cnn:conv=3,input=1x12x13,classes=4", 1);
  CheckGradients("cnn:conv=2x3,input=1x16x16,classes=3", 2);
  CheckGradients("cnn:conv=2,input=2x12x12,classes=3", 2);
  CheckGradients("cnn:conv=2x3,kernel=3,padding=same,input=1x8x8,classes=3", 2);
  CheckGradients("cnn:conv=3,kernel=3,input=2x9x7,classes=4", 1);
  // The step's dropout mask is fixed within a step, so the loss is smooth.
  CheckGradients("mlp:hidden=7x5,input=1x6x6,classes=4,dropout=0.3", 3);
  // (Large enough that no sample loses every feature: an all-zero input
  // puts the next ReLU exactly on its kink.)
  CheckGradients("cnn:conv=2x3,hidden=6,input=1x20x20,classes=3,dropout=0.4", 2);
  // Batch norm (training mode: the statistics depend on every sample) after
  // conv and dense layers, and label smoothing.
  CheckGradients("mlp:hidden=7x5,input=1x6x6,classes=4,bn=1,batch=5", 5);
  CheckGradients(
      "cnn:conv=2x3,kernel=3,padding=same,hidden=6,input=1x8x8,classes=3,"
      "bn=1,batch=4",
      4);
  CheckGradients("cnn:conv=2,hidden=5,input=2x10x10,classes=3,bn=1,batch=3",
                 3);
  CheckGradients("mlp:hidden=7,input=1x6x6,classes=4,smooth=0.1", 3);
  CheckGradients("cnn:conv=2,kernel=3,input=1x8x8,classes=3,smooth=0.2", 2);
}

// The layer (ReLU, bias, the rule's method for each pass) against the
// kernels' direct loops, valid and padded.
TEST(NetworkTest, ConvLayerMatchesDirectLoops) {
  for (size_t pad : {0, 1}) {
    kernels::ConvShape s{7, 2, 10, 9, 3, 5, pad};
    const size_t out_size = s.OutSize();
    const auto w = Uniform(s.WeightSize(), 1), b = Uniform(3, 2);
    const auto x = Uniform(s.InSize(), 3), r = Uniform(out_size, 4);
    std::vector<float> dw(w.size()), db(3), din(x.size()), out(out_size);
    internal::Conv conv({0, 2, 10, 9, 3, 5, pad}, /*relu=*/true,
                        const_cast<float*>(w.data()),
                        const_cast<float*>(b.data()), dw.data(), db.data());
    conv.Forward(x.data(), out.data(), s.batch);
    std::vector<float> dout = r;
    conv.Backward(x.data(), out.data(), dout.data(), din.data(), s.batch);

    std::vector<float> want(out_size), masked(out_size), dwr(w.size()),
        dbr(3), dinr(x.size());
    kernels::Conv2dForwardReference(s, x.data(), w.data(), b.data(),
                                    want.data());
    for (size_t i = 0; i < out_size; ++i) {
      want[i] = std::max(want[i], 0.0f);
      masked[i] = want[i] > 0.0f ? r[i] : 0.0f;
    }
    kernels::Conv2dBackwardReference(s, x.data(), w.data(), masked.data(),
                                     dwr.data(), dbr.data(), dinr.data());
    auto near = [](const std::vector<float>& a, const std::vector<float>& b) {
      for (size_t i = 0; i < a.size(); ++i) {
        if (std::fabs(a[i] - b[i]) > 1e-4f * (1 + std::fabs(b[i]))) {
          return false;
        }
      }
      return true;
    };
    EXPECT_TRUE(near(out, want)) << "pad " << pad;
    EXPECT_TRUE(near(dw, dwr)) << "pad " << pad;
    EXPECT_TRUE(near(db, dbr)) << "pad " << pad;
    EXPECT_TRUE(near(din, dinr)) << "pad " << pad;
  }
}

TEST(NetworkTest, ParameterCounts) {
  EXPECT_EQ(Make("softmax")->ParameterCount(), 784u * 10 + 10);
  EXPECT_EQ(Make("mlp:hidden=256")->ParameterCount(),
            784u * 256 + 256 + 256 * 10 + 10);
  EXPECT_EQ(Make("cnn")->ParameterCount(),
            8u * 25 + 8 + 16 * 8 * 25 + 16 + 256 * 10 + 10);
  // 3x3 "same": 28 -> 28 -> 14 -> 14 -> 7, so 64 x 7 x 7 features.
  EXPECT_EQ(Make("cnn:conv=32x64,kernel=3,padding=same,hidden=256")
                ->ParameterCount(),
            32u * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 256 + 256 + 256 * 10 + 10);
}

// Ten classes, each a random binary 28x28 pattern; samples flip 10% of the
// pixels and add noise. Linearly separable with margin, so every model must
// reach high accuracy quickly.
struct Synthetic {
  std::vector<float> x;
  std::vector<int32_t> labels;
};

Synthetic MakeData(size_t n, uint64_t seed) {
  const size_t in = 784;
  const auto protos = Uniform(10 * in, 99);
  const auto noise = Uniform(n * in * 2, seed);
  Synthetic d;
  d.x.resize(n * in);
  d.labels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t c = static_cast<int32_t>((i * 7 + seed) % 10);
    d.labels[i] = c;
    for (size_t j = 0; j < in; ++j) {
      float p = protos[c * in + j] > 0.7f ? 1.0f : 0.0f;
      if (noise[(i * in + j) * 2] < 0.1f) p = 1.0f - p;
      d.x[i * in + j] = 0.8f * p + 0.2f * noise[(i * in + j) * 2 + 1];
    }
  }
  return d;
}

double Accuracy(const Model& m, const Synthetic& d) {
  const size_t n = d.labels.size();
  std::vector<float> probs(n * 10);
  EXPECT_TRUE(m.Predict(d.x.data(), n, probs.data()).ok());
  return static_cast<double>(
             kernels::CountCorrect(probs.data(), d.labels.data(), n, 10)) /
         n;
}

TEST(NetworkTest, TrainsToHighAccuracyOnSeparableData) {
  const Synthetic train = MakeData(600, 1);
  const Synthetic test = MakeData(300, 2);
  for (const char* text :
       {"softmax:lr=0.05", "softmax:lr=0.05,batch=16", "mlp:hidden=64,lr=0.05",
        "mlp:hidden=64,batch=16,opt=momentum,lr=0.02",
        "mlp:hidden=32x32,opt=adam,lr=0.002,batch=8", "cnn:lr=0.02",
        "cnn:batch=16,opt=momentum,lr=0.01",
        // The recipe's keys: batch norm, one-cycle over the 2 epochs' 74
        // steps, label smoothing.
        "cnn:batch=16,opt=momentum,lr=0.01,bn=1",
        "mlp:hidden=64,batch=16,opt=adam,lr=0.003,bn=1,sched=onecycle,"
        "steps=74,smooth=0.1"}) {
    auto spec = ParseModelSpec(text);
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    auto model = MakeModel(*spec);
    ASSERT_TRUE(model.ok()) << model.status();
    const size_t b = spec->batch_size;
    for (int epoch = 0; epoch < 2; ++epoch) {
      for (size_t i = 0; i + b <= train.labels.size(); i += b) {
        auto loss = (*model)->TrainStep(train.x.data() + i * 784,
                                        train.labels.data() + i, b);
        ASSERT_TRUE(loss.ok()) << text << ": " << loss.status();
      }
    }
    EXPECT_GE(Accuracy(**model, test), 0.95) << text;
    EXPECT_EQ((*model)->steps(), 2 * (train.labels.size() / b));
  }
}

// shift=S translates each training image by (dy, dx) in [-S, S]^2 with zero
// fill: the mass of a one-pixel image moves, and never by more than S.
TEST(NetworkTest, ShiftTranslatesWithinTheRange) {
  // A 1x9x9 input whose only bright pixel is the centre; softmax's weight
  // gradient row for the label is -(1 - p) * x, so it reveals where the
  // pixel went.
  size_t off_centre = 0;
  for (uint64_t step = 0; step < 20; ++step) {
    auto net = Make("softmax:input=1x9x9,classes=2,shift=2,seed=3,lr=0.5");
    net->set_steps(step);
    std::vector<float> x(81, 0.0f);
    x[4 * 9 + 4] = 1.0f;
    const int32_t label = 0;
    std::vector<float> before(net->params(), net->params() + 81);
    ASSERT_TRUE(net->TrainStep(x.data(), &label, 1).ok());
    size_t moved = 0, where = 0;
    for (size_t i = 0; i < 81; ++i) {
      if (net->params()[i] != before[i]) {
        ++moved;
        where = i;
      }
    }
    ASSERT_EQ(moved, 1u) << "step " << step;
    const int64_t dy = static_cast<int64_t>(where / 9) - 4;
    const int64_t dx = static_cast<int64_t>(where % 9) - 4;
    EXPECT_LE(std::abs(dy), 2);
    EXPECT_LE(std::abs(dx), 2);
    off_centre += (dx != 0 || dy != 0) ? 1 : 0;
  }
  EXPECT_GE(off_centre, 10u);  // 24 of 25 offsets move the pixel
}

TEST(NetworkTest, DropoutOnlyInTrainingAndHflipMirrors) {
  const Synthetic d = MakeData(8, 10);
  auto plain = Make("mlp:hidden=32");
  auto dropped = Make("mlp:hidden=32,dropout=0.5");
  ASSERT_EQ(plain->ParameterCount(), dropped->ParameterCount());
  // Same init, and Predict is inference: identical outputs.
  std::vector<float> p1(80), p2(80);
  ASSERT_TRUE(plain->Predict(d.x.data(), 8, p1.data()).ok());
  ASSERT_TRUE(dropped->Predict(d.x.data(), 8, p2.data()).ok());
  EXPECT_EQ(p1, p2);
  // The training loss differs (half the hidden units are dropped).
  EXPECT_NE(*plain->Loss(d.x.data(), d.labels.data(), 8),
            *dropped->Loss(d.x.data(), d.labels.data(), 8));

  // hflip=1 mirrors every image: training on x equals training a plain
  // model on the mirrored x.
  Synthetic mirrored = d;
  for (size_t b = 0; b < 8; ++b) {
    for (size_t r = 0; r < 28; ++r) {
      float* row = mirrored.x.data() + b * 784 + r * 28;
      std::reverse(row, row + 28);
    }
  }
  auto flip = Make("mlp:hidden=32,batch=8,hflip=1");
  auto ref = Make("mlp:hidden=32,batch=8");
  ASSERT_TRUE(flip->TrainStep(d.x.data(), d.labels.data(), 8).ok());
  ASSERT_TRUE(ref->TrainStep(mirrored.x.data(), d.labels.data(), 8).ok());
  EXPECT_EQ(std::memcmp(flip->params(), ref->params(),
                        ref->ParameterCount() * sizeof(float)),
            0);
}

// Batch norm trains on batch statistics and predicts with running ones:
// after one step with bn_momentum=1 the running mean of the first hidden
// layer is the batch mean of its pre-norm output (x W^T: no bias), and
// Predict scores each sample alone (its result does not depend on the
// batch it comes in).
TEST(NetworkTest, BatchNormRunningStatisticsServePredictions) {
  const Synthetic d = MakeData(16, 11);
  auto net = Make("mlp:hidden=8,batch=16,bn=1,bn_momentum=1,lr=0.01");
  std::vector<float> w0(net->params(), net->params() + 8 * 784);
  ASSERT_TRUE(net->TrainStep(d.x.data(), d.labels.data(), 16).ok());
  ASSERT_EQ(net->buffer_tensors().size(), 2u);
  EXPECT_EQ(net->buffer_tensors()[0].name, "fc1.bn_running_mean");
  const float* running_mean = net->buffers() + net->buffer_tensors()[0].offset;
  const float* running_var = net->buffers() + net->buffer_tensors()[1].offset;
  for (size_t f = 0; f < 8; ++f) {
    double sum = 0, sq = 0;
    for (size_t b = 0; b < 16; ++b) {
      double h = 0;
      for (size_t i = 0; i < 784; ++i) h += double{d.x[b * 784 + i]} * w0[f * 784 + i];
      sum += h;
      sq += h * h;
    }
    const double mean = sum / 16, var = (sq - 16 * mean * mean) / 15;
    EXPECT_NEAR(running_mean[f], mean, 1e-4 * (1 + std::fabs(mean))) << f;
    EXPECT_NEAR(running_var[f], var, 1e-3 * (1 + var)) << f;
  }
  std::vector<float> all(16 * 10), one(10);
  ASSERT_TRUE(net->Predict(d.x.data(), 16, all.data()).ok());
  ASSERT_TRUE(net->Predict(d.x.data() + 5 * 784, 1, one.data()).ok());
  for (size_t j = 0; j < 10; ++j) EXPECT_NEAR(one[j], all[50 + j], 1e-6f);
}

// tta=flip averages the probabilities of each image and its mirror: the
// same weights without tta, on x and on mirrored x, give the two halves.
TEST(NetworkTest, TestTimeFlipAveragesTheMirror) {
  const Synthetic d = MakeData(3, 14);
  auto tta = Make("cnn:conv=2x4,tta=flip");
  auto plain = Make("cnn:conv=2x4");
  ASSERT_EQ(tta->ParameterCount(), plain->ParameterCount());
  Synthetic mirrored = d;
  for (size_t r = 0; r < 3 * 28; ++r) {
    std::reverse(mirrored.x.begin() + r * 28, mirrored.x.begin() + (r + 1) * 28);
  }
  std::vector<float> p(30), a(30), b(30);
  ASSERT_TRUE(tta->Predict(d.x.data(), 3, p.data()).ok());
  ASSERT_TRUE(plain->Predict(d.x.data(), 3, a.data()).ok());
  ASSERT_TRUE(plain->Predict(mirrored.x.data(), 3, b.data()).ok());
  for (size_t i = 0; i < 30; ++i) {
    EXPECT_NEAR(p[i], 0.5f * (a[i] + b[i]), 1e-7f) << i;
  }
  EXPECT_NE(p, a);
}

// avg=d keeps an exponential moving average of the weights and predicts
// with it; the raw iterate trains as it would without averaging.
TEST(NetworkTest, AveragedWeightsServePredictions) {
  const Synthetic train = MakeData(200, 5);
  const Synthetic test = MakeData(100, 6);
  auto plain = Make("mlp:hidden=32,lr=0.05");
  auto averaged = Make("mlp:hidden=32,lr=0.05,avg=0.9");
  ASSERT_EQ(averaged->state_count(), 1u);
  EXPECT_STREQ(averaged->state_name(0), "average");
  for (size_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(plain->TrainStep(train.x.data() + i * 784, &train.labels[i], 1).ok());
    ASSERT_TRUE(averaged->TrainStep(train.x.data() + i * 784, &train.labels[i], 1).ok());
  }
  const size_t n = plain->ParameterCount();
  // Same iterate...
  ASSERT_EQ(std::memcmp(plain->params(), averaged->params(), n * sizeof(float)), 0);
  // ...and the average is the reference recursion over it, which differs.
  const float* avg = averaged->state(0);
  EXPECT_NE(std::memcmp(avg, averaged->params(), n * sizeof(float)), 0);
  // Predict uses the average: identical to a plain network holding it.
  auto holder = Make("mlp:hidden=32,lr=0.05");
  std::memcpy(holder->mutable_params(), avg, n * sizeof(float));
  std::vector<float> p1(100 * 10), p2(100 * 10);
  ASSERT_TRUE(averaged->Predict(test.x.data(), 100, p1.data()).ok());
  ASSERT_TRUE(holder->Predict(test.x.data(), 100, p2.data()).ok());
  EXPECT_EQ(p1, p2);
  EXPECT_GE(Accuracy(*averaged, test), 0.9);
}

TEST(NetworkTest, AverageFollowsTheWarmupRecursion) {
  const Synthetic d = MakeData(3, 8);
  auto net = Make("softmax:lr=0.1,avg=0.5");
  std::vector<float> ref(net->params(), net->params() + net->ParameterCount());
  for (size_t t = 0; t < 3; ++t) {
    ASSERT_TRUE(net->TrainStep(d.x.data() + t * 784, &d.labels[t], 1).ok());
    const float decay = std::min(0.5f, (1.0f + t) / (10.0f + t));
    for (size_t i = 0; i < ref.size(); ++i) {
      ref[i] += (1.0f - decay) * (net->params()[i] - ref[i]);
    }
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_NEAR(net->state(0)[i], ref[i], 1e-6f + 1e-5f * std::fabs(ref[i])) << i;
  }
}

TEST(NetworkTest, HalflifeHalvesTheLearningRate) {
  const Synthetic d = MakeData(4, 9);
  auto net = Make("softmax:lr=0.2,halflife=2");
  EXPECT_FLOAT_EQ(net->CurrentLearningRate(), 0.2f);
  // Step 3 runs at lr 0.2 * 2^(-2/2) = 0.1: compare with a gradient step.
  for (size_t t = 0; t < 2; ++t) {
    ASSERT_TRUE(net->TrainStep(d.x.data() + t * 784, &d.labels[t], 1).ok());
  }
  EXPECT_FLOAT_EQ(net->CurrentLearningRate(), 0.1f);
  auto probe = Make("softmax:lr=0.2,halflife=2");
  std::memcpy(probe->mutable_params(), net->params(),
              net->ParameterCount() * sizeof(float));
  ASSERT_TRUE(probe->ComputeGradients(d.x.data() + 2 * 784, &d.labels[2], 1).ok());
  std::vector<float> expect(net->params(), net->params() + net->ParameterCount());
  for (size_t i = 0; i < expect.size(); ++i) expect[i] -= 0.1f * probe->gradients()[i];
  ASSERT_TRUE(net->TrainStep(d.x.data() + 2 * 784, &d.labels[2], 1).ok());
  for (size_t i = 0; i < expect.size(); ++i) {
    ASSERT_NEAR(net->params()[i], expect[i], 1e-6f + 1e-5f * std::fabs(expect[i])) << i;
  }
}

// The same weights on 1 to 4 threads (more threads than cores too).
TEST(NetworkTest, BitwiseIdenticalWeightsForAnyThreadCount) {
  const Synthetic data = MakeData(128, 3);
  for (const char* text : {"mlp:hidden=256,batch=64,opt=adam,lr=0.001",
                           "cnn:conv=8x16,batch=32,opt=momentum",
                           "mlp:hidden=512,batch=1",
                           // Batch norm's rows (and running statistics).
                           "cnn:conv=8x16,kernel=3,padding=same,hidden=32,"
                           "bn=1,batch=32,opt=adam,lr=0.003"}) {
    std::string first;
    for (int threads : kernels::testing::kThreadCounts) {
      std::string saved;
      kernels::testing::WithThreads(threads, [&] {
        auto model = MakeModel(*ParseModelSpec(text));
        ASSERT_TRUE(model.ok());
        const size_t b = (*model)->spec().batch_size;
        for (size_t i = 0; i + b <= 128; i += b) {
          ASSERT_TRUE((*model)->TrainStep(data.x.data() + i * 784,
                                          data.labels.data() + i, b).ok());
        }
        saved = (*model)->SaveCheckpoint();
      });
      if (threads == 1) first = saved;
      EXPECT_TRUE(saved == first) << text << " differs on " << threads
                                  << " threads";
    }
  }
}

TEST(NetworkTest, FusedBatchOneSgdMatchesGradientThenStep) {
  const Synthetic d = MakeData(1, 7);
  for (const char* text : {"mlp:hidden=32x16,lr=0.1", "softmax:lr=0.1",
                           "cnn:conv=4x8,hidden=16,lr=0.1"}) {
    auto fused = Make(text);
    auto plain = Make(text);
    ASSERT_TRUE(plain->ComputeGradients(d.x.data(), d.labels.data(), 1).ok());
    std::vector<float> expect(plain->params(),
                              plain->params() + plain->ParameterCount());
    for (size_t i = 0; i < expect.size(); ++i) {
      expect[i] -= 0.1f * plain->gradients()[i];
    }
    ASSERT_TRUE(fused->TrainStep(d.x.data(), d.labels.data(), 1).ok());
    for (size_t i = 0; i < expect.size(); ++i) {
      ASSERT_NEAR(fused->params()[i], expect[i], 1e-6f + 1e-5f * std::fabs(expect[i]))
          << text << " param " << i;
    }
  }
}

TEST(NetworkTest, NonFiniteLossIsAnErrorAndLeavesWeightsUnchanged) {
  auto model = *MakeModel(*ParseModelSpec("mlp:hidden=16"));
  Synthetic d = MakeData(2, 4);
  ASSERT_TRUE(model->TrainStep(d.x.data(), d.labels.data(), 1).ok());
  const std::string before = model->SaveCheckpoint();
  d.x[100] = std::nanf("");
  auto loss = model->TrainStep(d.x.data(), d.labels.data(), 1);
  ASSERT_FALSE(loss.ok());
  const std::string msg(loss.status().message());
  EXPECT_NE(msg.find("mlp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("step 2"), std::string::npos) << msg;
  EXPECT_EQ(model->SaveCheckpoint(), before);
  EXPECT_EQ(model->steps(), 1u);
  d.x[100] = INFINITY;
  EXPECT_FALSE(model->TrainStep(d.x.data(), d.labels.data(), 1).ok());
}

TEST(NetworkTest, BadArgumentsAreStatusErrors) {
  auto model = *MakeModel(*ParseModelSpec("softmax"));
  const Synthetic d = MakeData(4, 5);
  std::vector<int32_t> bad = {1, 10, 2, 3};
  auto r = model->TrainStep(d.x.data(), bad.data(), 4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("label 10 of sample 1"),
            std::string::npos);
  EXPECT_FALSE(model->TrainStep(d.x.data(), d.labels.data(), 0).ok());
  EXPECT_FALSE(model->TrainStep(nullptr, d.labels.data(), 1).ok());
  EXPECT_FALSE(model->Predict(d.x.data(), 1, nullptr).ok());
  ModelSpec spec;
  spec.arch = Arch::kCnn;
  spec.height = spec.width = 8;
  EXPECT_FALSE(MakeModel(spec).ok());  // 8x8 is too small for two convs
  spec.arch = static_cast<Arch>(42);  // not an architecture
  EXPECT_FALSE(MakeModel(spec).ok());
  ModelSpec even;
  even.arch = Arch::kCnn;
  even.kernel = 4;
  EXPECT_FALSE(MakeModel(even).ok());
  auto no_hidden = MakeModel(*ParseModelSpec("cnn:dropout=0.5"));
  ASSERT_FALSE(no_hidden.ok());
  EXPECT_NE(std::string(no_hidden.status().message()).find("add hidden=N"),
            std::string::npos);
}

TEST(NetworkTest, ASpecAboveTheParameterBudgetIsRefusedWithItsSize) {
  // 4.3 G parameters: refused before anything is allocated (no bad_alloc).
  auto huge = MakeModel(*ParseModelSpec("mlp:hidden=65536x65536"));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(huge.status().message());
  EXPECT_NE(msg.find("4.3 G parameters"), std::string::npos) << msg;
  EXPECT_NE(msg.find("budget of 50.0 M"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_params=4347133962"), std::string::npos) << msg;
  // Just over a lowered budget, then raised to fit: the budget is the spec's.
  EXPECT_FALSE(MakeModel(*ParseModelSpec("softmax:max_params=7849")).ok());
  auto fits = MakeModel(*ParseModelSpec("softmax:max_params=7850"));
  ASSERT_TRUE(fits.ok()) << fits.status();
  // A checkpoint of a raised-budget model loads again.
  EXPECT_TRUE(LoadModel((*fits)->SaveCheckpoint()).ok());
  // Few weights, but activations no machine holds (4 x 4092 x 4092 floats
  // in the first conv alone, per sample, and 65536 samples): refused too,
  // before allocating.
  auto wide = MakeModel(*ParseModelSpec(
      "cnn:conv=4x4x4x4x4x4,input=1x4096x4096,batch=65536"));
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(wide.status().message()).find("MiB of memory"),
            std::string::npos)
      << wide.status();
}

TEST(NetworkTest, LargerBatchThanSpecAndPredictionsBeforeTheStep) {
  auto model = *MakeModel(*ParseModelSpec("cnn:batch=2"));
  const Synthetic d = MakeData(300, 6);
  std::vector<float> before(300 * 10), during(300 * 10);
  ASSERT_TRUE(model->Predict(d.x.data(), 300, before.data()).ok());
  ASSERT_TRUE(model->TrainStepWithPredictions(d.x.data(), d.labels.data(), 300,
                                              during.data()).ok());
  for (size_t i = 0; i < before.size(); ++i) {
    ASSERT_NEAR(before[i], during[i], 1e-6) << i;
  }
  std::vector<float> after(300 * 10);
  ASSERT_TRUE(model->Predict(d.x.data(), 300, after.data()).ok());
  EXPECT_NE(before, after);
  double sum = 0;
  for (size_t j = 0; j < 10; ++j) sum += after[j];
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

}  // namespace
}  // namespace trainbus::nn
