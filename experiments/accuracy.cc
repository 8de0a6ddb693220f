// bazel run -c opt //experiments:accuracy -- [--runs=SPEC@EPOCHS;...]
//
// Trains each model of --runs on the training split for its number of
// epochs, evaluates on the whole test split after every epoch, and checks
// the result against the accuracy target of its architecture (issue 3:
// softmax >= 0.84, MLP >= 0.89, CNN >= 0.925 on Fashion-MNIST). Prints a
// progress line while an epoch runs, one line per epoch, and a closing
// table with the time each run took; writes accuracy.svg (test accuracy per
// epoch, all runs) and report.json to --out_dir.
//
// This is the models without the bus: the same nn::Model a model actor
// trains, fed straight from memory, so the numbers are the models' own.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "data/idx.h"
#include "data/shuffle.h"
#include "report/json_text.h"
#include "report/svg_chart.h"
#include "kernels/nn/model.h"
#include "kernels/reduce.h"

// The defaults reach the targets; BENCHMARKS.md records the runs.
ABSL_FLAG(std::string, runs,
          "softmax:opt=sgd,lr=0.05,batch=1,avg=0.9999@1;"
          "mlp:hidden=256,opt=adam,lr=0.001,batch=64,avg=0.999@12;"
          "cnn:conv=32x64,kernel=3,padding=same,hidden=256,opt=adam,"
          "lr=0.001,batch=64,halflife=6000,dropout=0.5,hflip=0.5,avg=0.999@15",
          "';'-separated SPEC@EPOCHS, e.g. 'mlp:hidden=256@10;cnn@5'");
ABSL_FLAG(std::string, targets, "softmax=0.84,mlp=0.89,cnn=0.925",
          "test-accuracy target per architecture");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist",
          "directory with MNIST-format IDX files (.gz or raw)");
ABSL_FLAG(uint64_t, seed, 1, "shuffling seed (initialisation: the spec's)");
ABSL_FLAG(uint64_t, train_limit, 0, "use only the first N training samples");
ABSL_FLAG(uint64_t, test_limit, 0, "use only the first N test samples");
ABSL_FLAG(std::string, out_dir, "/tmp/trainbus/accuracy",
          "where accuracy.svg and report.json go ('' for none)");

namespace {

struct Run {
  std::string spec_text;
  uint64_t epochs = 1;
  // Filled by Train.
  std::string spec;  // normalised
  std::string arch;
  size_t parameters = 0;
  std::vector<double> accuracy;  // per epoch
  std::vector<double> loss;      // mean training loss per epoch
  double train_seconds = 0;
  double samples_per_second = 0;
  double target = 0;  // 0: none for this arch
  std::string error;
};

absl::StatusOr<std::vector<Run>> ParseRuns(absl::string_view text) {
  std::vector<Run> runs;
  for (absl::string_view item : absl::StrSplit(text, ';', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    Run run;
    const size_t at = item.rfind('@');
    run.spec_text = std::string(item.substr(0, at));
    if (at != absl::string_view::npos &&
        (!absl::SimpleAtoi(item.substr(at + 1), &run.epochs) ||
         run.epochs == 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad epoch count in '", item, "'; write SPEC@EPOCHS, e.g. cnn@5"));
    }
    runs.push_back(std::move(run));
  }
  if (runs.empty()) {
    return absl::InvalidArgumentError(
        "no runs given; e.g. --runs='softmax@1;mlp:hidden=256@10'");
  }
  return runs;
}

absl::StatusOr<std::map<std::string, double>> ParseTargets(
    absl::string_view text) {
  std::map<std::string, double> targets;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, '=');
    double v = 0;
    if (!absl::SimpleAtod(kv.second, &v) || v < 0 || v > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad target '", item, "'; write arch=accuracy, e.g. mlp=0.89"));
    }
    targets[kv.first] = v;
  }
  return targets;
}

// The split as floats in [0, 1], (count, rows * cols).
struct FloatSplit {
  size_t count = 0, size = 0;
  std::vector<float> x;
  std::vector<int32_t> labels;
};

FloatSplit ToFloats(const trainbus::data::Dataset& d, uint64_t limit) {
  FloatSplit s;
  s.count = limit == 0 ? d.count : std::min<size_t>(d.count, limit);
  s.size = d.image_size();
  s.x.resize(s.count * s.size);
  s.labels.resize(s.count);
  for (size_t i = 0; i < s.count * s.size; ++i) s.x[i] = d.pixels[i] / 255.0f;
  for (size_t i = 0; i < s.count; ++i) s.labels[i] = d.labels[i];
  return s;
}

absl::StatusOr<double> Accuracy(const trainbus::nn::Model& model,
                                 const FloatSplit& test,
                                 std::vector<float>* probs) {
  const size_t classes = model.spec().classes;
  probs->resize(test.count * classes);
  absl::Status s = model.Predict(test.x.data(), test.count, probs->data());
  if (!s.ok()) return s;
  return static_cast<double>(trainbus::kernels::CountCorrect(
             probs->data(), test.labels.data(), test.count, classes)) /
         static_cast<double>(test.count);
}

// Trains `run` in place; progress goes to stderr when it is a terminal.
void Train(const FloatSplit& train, const FloatSplit& test, uint64_t seed,
           Run* run) {
  auto spec = trainbus::nn::ParseModelSpec(run->spec_text);
  if (!spec.ok()) {
    run->error = std::string(spec.status().message());
    return;
  }
  if (spec->InputSize() != train.size) {
    run->error = absl::StrCat("spec '", run->spec_text, "' expects ",
                              spec->InputSize(), " inputs, the data has ",
                              train.size, " pixels per image; set input=");
    return;
  }
  auto model = trainbus::nn::MakeModel(*spec);
  if (!model.ok()) {
    run->error = std::string(model.status().message());
    return;
  }
  if (spec->batch_size > train.count) {
    run->error = absl::StrCat("batch ", spec->batch_size, " is larger than the ",
                              train.count, " training samples; lower batch=");
    return;
  }
  run->spec = trainbus::nn::FormatModelSpec((*model)->spec());
  run->arch = spec->arch;
  run->parameters = (*model)->ParameterCount();
  const size_t b = spec->batch_size;
  const size_t in = train.size;
  const bool tty = isatty(STDERR_FILENO) != 0;
  std::vector<float> xb(b * in), probs;
  std::vector<int32_t> yb(b);
  trainbus::data::EpochShuffler shuffler(train.count, seed);
  size_t trained = 0;
  for (uint64_t epoch = 1; epoch <= run->epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    size_t steps = 0;
    const size_t batches = train.count / b;
    for (size_t step = 0; step < batches; ++step) {
      for (size_t j = 0; j < b; ++j) {
        const size_t i = shuffler.Next().index;
        std::memcpy(xb.data() + j * in, train.x.data() + i * in,
                    in * sizeof(float));
        yb[j] = train.labels[i];
      }
      absl::StatusOr<float> loss = (*model)->TrainStep(xb.data(), yb.data(), b);
      if (!loss.ok()) {
        run->error = std::string(loss.status().message());
        return;
      }
      loss_sum += *loss;
      ++steps;
      if (tty && (step + 1) % std::max<size_t>(1, batches / 20) == 0) {
        const double s = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
        std::fprintf(stderr, "\r  %-8s epoch %llu/%llu %3zu%%  %6.0f samples/s",
                     run->arch.c_str(),
                     static_cast<unsigned long long>(epoch),
                     static_cast<unsigned long long>(run->epochs),
                     (step + 1) * 100 / batches, (step + 1) * b / s);
      }
    }
    // Skip the epoch's remainder (fewer than b samples) so that every epoch
    // starts a fresh permutation.
    while (shuffler.position() != 0) shuffler.Next();
    const double seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                               .count();
    run->train_seconds += seconds;
    trained += steps * b;
    if (tty) std::fprintf(stderr, "\r%60s\r", "");
    run->loss.push_back(steps ? loss_sum / steps : 0);
    absl::StatusOr<double> accuracy = Accuracy(**model, test, &probs);
    if (!accuracy.ok()) {
      run->error = std::string(accuracy.status().message());
      return;
    }
    run->accuracy.push_back(*accuracy);
    std::cout << absl::StrFormat(
                     "%-8s epoch %2d/%d  train_loss %.4f  test_acc %.4f  "
                     "%.0f samples/s  train %.1f s",
                     run->arch, epoch, run->epochs, run->loss.back(),
                     run->accuracy.back(), steps * b / seconds,
                     run->train_seconds)
              << std::endl;
  }
  run->samples_per_second =
      run->train_seconds > 0 ? trained / run->train_seconds : 0;
}

std::string ReportJson(const std::vector<Run>& runs) {
  trainbus::report::Json doc;
  doc["runs"] = trainbus::report::Json::array();
  for (const Run& r : runs) {
    trainbus::report::Json run;
    run["spec"] = r.spec.empty() ? r.spec_text : r.spec;
    run["arch"] = r.arch;
    run["epochs"] = r.epochs;
    run["parameters"] = static_cast<int64_t>(r.parameters);
    run["test_accuracy"] = r.accuracy;
    run["train_loss"] = r.loss;
    const double best =
        r.accuracy.empty() ? 0 : *std::max_element(r.accuracy.begin(), r.accuracy.end());
    run["final_test_accuracy"] = r.accuracy.empty() ? 0 : r.accuracy.back();
    run["best_test_accuracy"] = best;
    run["train_seconds"] = r.train_seconds;
    run["samples_per_second"] = r.samples_per_second;
    if (r.target > 0) {
      run["target"] = r.target;
      run["met"] = !r.accuracy.empty() && r.accuracy.back() >= r.target;
    }
    if (!r.error.empty()) run["error"] = r.error;
    doc["runs"].push_back(std::move(run));
  }
  return trainbus::report::ToJsonText(doc);
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::cerr << "cannot write " << path << "; check --out_dir\n";
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains models on Fashion-MNIST and checks the accuracy targets.\n"
      "  bazel run -c opt //experiments:accuracy -- --runs='cnn@5'");
  absl::ParseCommandLine(argc, argv);
  auto runs = ParseRuns(absl::GetFlag(FLAGS_runs));
  if (!runs.ok()) {
    std::cerr << "--runs: " << runs.status().message() << "\n";
    return 2;
  }
  auto targets = ParseTargets(absl::GetFlag(FLAGS_targets));
  if (!targets.ok()) {
    std::cerr << "--targets: " << targets.status().message() << "\n";
    return 2;
  }
  auto splits = trainbus::data::LoadMnistDir(absl::GetFlag(FLAGS_data_dir));
  if (!splits.ok()) {
    std::cerr << splits.status().message() << "\n";
    return 1;
  }
  const FloatSplit train =
      ToFloats(splits->train, absl::GetFlag(FLAGS_train_limit));
  const FloatSplit test = ToFloats(splits->test, absl::GetFlag(FLAGS_test_limit));
  std::cout << "data " << splits->dir << ": " << train.count << " train, "
            << test.count << " test images\n";

  bool all_met = true;
  for (Run& run : *runs) {
    Train(train, test, absl::GetFlag(FLAGS_seed), &run);
    if (!run.error.empty()) {
      std::cerr << run.spec_text << ": " << run.error << "\n";
      all_met = false;
      continue;
    }
    const auto t = targets->find(run.arch);
    if (t != targets->end()) run.target = t->second;
  }

  std::cout << absl::StrFormat("\n%-8s %8s %6s %9s %9s %7s %5s %9s %10s  %s\n",
                               "arch", "params", "epochs", "final_acc",
                               "best_acc", "target", "met", "train_s",
                               "samples/s", "spec");
  for (const Run& r : *runs) {
    if (!r.error.empty()) continue;
    const double final_acc = r.accuracy.back();
    const double best = *std::max_element(r.accuracy.begin(), r.accuracy.end());
    const bool met = r.target == 0 || final_acc >= r.target;
    all_met = all_met && met;
    std::cout << absl::StrFormat(
        "%-8s %8d %6d %9.4f %9.4f %7s %5s %9.1f %10.0f  %s\n", r.arch,
        r.parameters, r.epochs, final_acc, best,
        r.target > 0 ? absl::StrFormat("%.3f", r.target) : "-",
        r.target > 0 ? (met ? "yes" : "NO") : "-", r.train_seconds,
        r.samples_per_second, r.spec);
  }

  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    trainbus::report::LineChart chart{"test accuracy per epoch", "epoch",
                                      "test accuracy"};
    for (const Run& r : *runs) {
      trainbus::report::LineChart::Series s{
          absl::StrCat(r.arch, " (", r.epochs, r.epochs == 1 ? " epoch)" : " epochs)"),
          {}};
      for (size_t e = 0; e < r.accuracy.size(); ++e) {
        s.points.emplace_back(static_cast<double>(e + 1), r.accuracy[e]);
      }
      chart.series.push_back(std::move(s));
    }
    if (!ec && WriteFile(out_dir + "/report.json", ReportJson(*runs)) &&
        WriteFile(out_dir + "/accuracy.svg", chart.ToSvg())) {
      std::cout << "open in a browser: " << out_dir << "/accuracy.svg (report: "
                << out_dir << "/report.json)\n";
    }
  }
  return all_met ? 0 : 3;
}
