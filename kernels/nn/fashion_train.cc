// Trains one model on Fashion-MNIST and prints test accuracy per epoch, to
// check a spec against the accuracy targets without the bus.
//
//   bazel run -c opt //kernels/nn:fashion_train -- --epochs=5
//     --spec=cnn:conv=16x32,hidden=128,opt=momentum,lr=0.01,batch=32
//
// Reads the gzipped IDX files of Debian's dataset-fashion-mnist package
// (--data=/usr/share/datasets/fashion-mnist). Samples are shuffled per epoch
// with a fixed seed, so runs are reproducible.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/nn/model.h"
#include "kernels/reduce.h"

namespace {

bool ReadGz(const std::string& path, std::vector<uint8_t>* out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out->insert(out->end(), buf, buf + n);
  gzclose(f);
  return n == 0;
}

uint32_t BigEndian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct Split {
  std::vector<float> x;
  std::vector<int32_t> labels;
};

bool Load(const std::string& dir, const std::string& prefix, Split* s) {
  std::vector<uint8_t> img, lab;
  if (!ReadGz(dir + "/" + prefix + "-images-idx3-ubyte.gz", &img) ||
      !ReadGz(dir + "/" + prefix + "-labels-idx1-ubyte.gz", &lab) ||
      img.size() < 16 || lab.size() < 8 || BigEndian(img.data()) != 2051 ||
      BigEndian(lab.data()) != 2049) {
    return false;
  }
  const size_t n = BigEndian(img.data() + 4);
  if (img.size() != 16 + n * 784 || lab.size() != 8 + n) return false;
  s->x.resize(n * 784);
  s->labels.resize(n);
  for (size_t i = 0; i < n * 784; ++i) s->x[i] = img[16 + i] / 255.0f;
  for (size_t i = 0; i < n; ++i) s->labels[i] = lab[8 + i];
  return true;
}

std::string Flag(int argc, char** argv, const std::string& name,
                 const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir =
      Flag(argc, argv, "data", "/usr/share/datasets/fashion-mnist");
  const int epochs = std::stoi(Flag(argc, argv, "epochs", "1"));
  auto spec = trainbus::nn::ParseModelSpec(Flag(argc, argv, "spec", "mlp"));
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", std::string(spec.status().message()).c_str());
    return 2;
  }
  Split train, test;
  if (!Load(dir, "train", &train) || !Load(dir, "t10k", &test)) {
    std::fprintf(stderr, "cannot read Fashion-MNIST from %s; install "
                 "dataset-fashion-mnist or pass --data=DIR\n", dir.c_str());
    return 1;
  }
  auto model = trainbus::nn::MakeModel(*spec);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 2;
  }
  const size_t n = train.labels.size(), b = spec->batch_size;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(spec->seed);
  std::vector<float> xb(b * 784), probs(test.labels.size() * 10);
  std::vector<int32_t> yb(b);
  std::printf("spec %s, %zu parameters\n",
              trainbus::nn::FormatModelSpec((*model)->spec()).c_str(),
              (*model)->ParameterCount());
  double train_seconds = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    size_t steps = 0;
    for (size_t i = 0; i + b <= n; i += b) {
      for (size_t j = 0; j < b; ++j) {
        std::memcpy(xb.data() + j * 784, train.x.data() + order[i + j] * 784,
                    784 * sizeof(float));
        yb[j] = train.labels[order[i + j]];
      }
      auto loss = (*model)->TrainStep(xb.data(), yb.data(), b);
      if (!loss.ok()) {
        std::fprintf(stderr, "%s\n", std::string(loss.status().message()).c_str());
        return 1;
      }
      loss_sum += *loss;
      ++steps;
    }
    train_seconds += std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start).count();
    if (!(*model)->Predict(test.x.data(), test.labels.size(), probs.data()).ok()) {
      return 1;
    }
    const double acc = static_cast<double>(trainbus::kernels::CountCorrect(
                           probs.data(), test.labels.data(), test.labels.size(), 10)) /
                       test.labels.size();
    std::printf("epoch %d  train loss %.4f  test accuracy %.4f  train time %.1f s\n",
                epoch, loss_sum / steps, acc, train_seconds);
    std::fflush(stdout);
  }
  return 0;
}
