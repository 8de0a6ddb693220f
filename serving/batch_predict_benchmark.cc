// Batch inference throughput, our side of tools/bench/batch_predict.sh:
// `trainbus predict`'s code path (RunBatchPredict) over an IDX images file
// at --batch_size, for the models of tools/bench/torch_models.py (softmax
// 784->10, MLP 784->128->10, CNN conv5x5x8-pool-conv5x5x16-pool-fc). Prints
// one JSON line per model: samples/s inside Predict and end to end (IDX
// already in memory is not assumed: reading, predicting, JSON scores and
// SQLite commits are all counted), best of --repeats.
//
//   bazel run -c opt //serving:batch_predict_benchmark --
//       --input=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/command_line.h"
#include "base/test_dir.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "serving/batch_predict.h"

namespace trainbus::serving {
namespace {

struct Flags {
  std::string input =
      "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  size_t batch_size = 1000;
  int repeats = 3;
};

int Main(const std::vector<std::string>& args) {
  Flags flags;
  absl::StatusOr<std::vector<base::LongFlag>> split =
      base::SplitLongFlags(args);
  if (!split.ok()) {
    std::cerr << split.status().message() << "\n";
    return 2;
  }
  for (const auto& [name, value] : *split) {
    bool ok = true;
    if (name == "input") {
      flags.input = value;
    } else if (name == "batch_size") {
      ok = absl::SimpleAtoi(value, &flags.batch_size) && flags.batch_size > 0;
    } else if (name == "repeats") {
      ok = absl::SimpleAtoi(value, &flags.repeats) && flags.repeats > 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "bad flag --" << name << "=" << value
                << " (--input, --batch_size, --repeats)\n";
      return 2;
    }
  }
  registry::StoreOptions options;
  options.root = base::NewTestDir("batch_predict_benchmark");
  absl::StatusOr<std::unique_ptr<registry::Store>> store =
      registry::Store::Open(options);
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return 1;
  }
  const std::vector<std::pair<std::string, std::string>> models = {
      {"softmax", "softmax"},
      {"mlp", "mlp:hidden=128"},
      {"cnn", "cnn:conv=8x16"}};
  for (const auto& [name, text] : models) {
    absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(text);
    absl::StatusOr<std::unique_ptr<nn::Model>> model =
        spec.ok() ? nn::MakeModel(*spec)
                  : absl::StatusOr<std::unique_ptr<nn::Model>>(spec.status());
    if (!model.ok()) {
      std::cerr << name << ": " << model.status() << "\n";
      return 1;
    }
    if (!(*store)
             ->SaveModel("bench", name, nn::FormatModelSpec(*spec),
                         (*model)->SaveCheckpoint(), {})
             .ok()) {
      return 1;
    }
    double best_predict = 0, best_total = 0;
    int64_t rows = 0;
    std::vector<std::string> runs;
    for (int r = 0; r < flags.repeats; ++r) {
      BatchPredictOptions o;
      o.model = absl::StrCat("bench/", name);
      o.input = flags.input;
      o.batch_size = flags.batch_size;
      absl::StatusOr<BatchPredictResult> result = RunBatchPredict(**store, o);
      if (!result.ok()) {
        std::cerr << name << ": " << result.status() << "\n";
        return 1;
      }
      rows = result->rows;
      best_predict = std::max(best_predict, rows / result->predict_seconds);
      best_total = std::max(best_total, rows / result->seconds);
      runs.push_back(
          absl::StrCat(static_cast<int64_t>(rows / result->seconds)));
    }
    std::printf(
        "{\"model\": \"%s\", \"batch\": %zu, \"samples\": %lld, "
        "\"predict_samples_per_s\": %.1f, \"end_to_end_samples_per_s\": %.1f, "
        "\"end_to_end_runs\": [%s]}\n",
        name.c_str(), flags.batch_size, static_cast<long long>(rows),
        best_predict, best_total, absl::StrJoin(runs, ", ").c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace trainbus::serving

int main(int argc, char** argv) {
  return trainbus::serving::Main(
      std::vector<std::string>(argv + 1, argv + argc));
}
