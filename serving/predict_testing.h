// Fixtures for the batch inference, feedback and continual tests: a seeded
// synthetic 10-class image set, a softmax trained on it, a registry holding
// it.
//
//   data::Dataset set = serving::Blocks(200, /*seed=*/7);
//   std::unique_ptr<nn::Model> m = serving::TrainedSoftmax(set, 30);
//   std::string root = serving::RegistryWith("shop", "fashion", *m);
#ifndef TRAINBUS_SERVING_PREDICT_TESTING_H_
#define TRAINBUS_SERVING_PREDICT_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "base/hash.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "registry/store.h"

namespace trainbus::serving {

// Class c is a bright 8x8 block at cell c of a 4x3 grid, plus seeded noise:
// separable in a few softmax steps, and every image differs.
inline data::Dataset Blocks(size_t count, uint64_t seed) {
  data::Dataset d;
  d.rows = d.cols = 28;
  d.count = count;
  d.pixels.assign(count * 784, 0);
  for (size_t i = 0; i < count; ++i) {
    const int c = static_cast<int>(i % 10);
    d.labels.push_back(static_cast<uint8_t>(c));
    uint8_t* p = &d.pixels[i * 784];
    for (size_t k = 0; k < 784; ++k) {
      p[k] = static_cast<uint8_t>(
          base::SplitMix64(seed * 1000003 + i * 784 + k) % 48);
    }
    const int top = 2 + (c / 4) * 9, left = 1 + (c % 4) * 7;
    for (int y = top; y < top + 8; ++y) {
      for (int x = left; x < left + 6; ++x) p[y * 28 + x] = 230;
    }
  }
  return d;
}

inline std::vector<float> FloatsOf(const data::Dataset& d, size_t begin,
                                   size_t n) {
  std::vector<float> x;
  for (size_t k = begin * 784; k < (begin + n) * 784; ++k) {
    x.push_back(d.pixels[k] / 255.0f);
  }
  return x;
}

// A softmax trained for `epochs` passes of mini-batches of 10.
inline std::unique_ptr<nn::Model> TrainedSoftmax(
    const data::Dataset& d, int epochs,
    const char* spec_text = "softmax:lr=0.2,seed=3") {
  absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(spec_text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::unique_ptr<nn::Model>> model = nn::MakeModel(*spec);
  EXPECT_TRUE(model.ok()) << model.status();
  for (int e = 0; e < epochs; ++e) {
    for (size_t i = 0; i + 10 <= d.count; i += 10) {
      std::vector<float> x = FloatsOf(d, i, 10);
      std::vector<int32_t> y(d.labels.begin() + i, d.labels.begin() + i + 10);
      EXPECT_TRUE((*model)->TrainStep(x.data(), y.data(), 10).ok());
    }
  }
  return *std::move(model);
}

// A new registry holding `model` as project/name version 1, aliased
// `alias` when one is given. Returns the registry's directory.
inline std::string RegistryWith(const std::string& project,
                                const std::string& name, const nn::Model& model,
                                const std::string& alias = "production") {
  registry::StoreOptions options;
  options.root = base::NewTestDir("registry");
  absl::StatusOr<std::unique_ptr<registry::Store>> store =
      registry::Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  absl::StatusOr<int64_t> v =
      (*store)->SaveModel(project, name, nn::FormatModelSpec(model.spec()),
                          model.SaveCheckpoint(), {});
  EXPECT_TRUE(v.ok()) << v.status();
  if (!alias.empty()) {
    EXPECT_TRUE((*store)->SetAlias(project, name, alias, *v).ok());
  }
  return options.root;
}

inline std::unique_ptr<registry::Store> OpenStore(const std::string& root) {
  registry::StoreOptions options;
  options.root = root;
  absl::StatusOr<std::unique_ptr<registry::Store>> store =
      registry::Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// A champion trained on Blocks, in a new registry as version 1 under
// "production": (model, registry directory, open store).
inline std::tuple<std::unique_ptr<nn::Model>, std::string,
                  std::unique_ptr<registry::Store>>
ChampionRegistry(const std::string& project, const std::string& name) {
  std::unique_ptr<nn::Model> champion = TrainedSoftmax(Blocks(200, 1), 5);
  std::string root = RegistryWith(project, name, *champion);
  std::unique_ptr<registry::Store> store = OpenStore(root);
  return {std::move(champion), std::move(root), std::move(store)};
}

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_PREDICT_TESTING_H_
