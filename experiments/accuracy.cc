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
// trains, fed straight from memory by training/trainer.h, so the numbers are
// the models' own. Each run first prints its size and cost.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
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
#include "base/file.h"
#include "data/idx.h"
#include "report/json_text.h"
#include "report/svg_chart.h"
#include "kernels/nn/model.h"
#include "training/trainer.h"

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

// Trains `run` in place; progress goes to stderr when it is a terminal.
void Train(const trainbus::training::FloatSplit& train,
           const trainbus::training::FloatSplit& test, uint64_t seed,
           Run* run) {
  auto spec = trainbus::nn::ParseModelSpec(run->spec_text);
  if (!spec.ok()) {
    run->error = std::string(spec.status().message());
    return;
  }
  run->arch = std::string(trainbus::nn::ArchName(spec->arch));
  absl::Status fits = trainbus::training::CheckFits(*spec, train);
  if (!fits.ok()) {
    run->error = std::string(fits.message());
    return;
  }
  auto model = trainbus::nn::MakeModel(*spec);
  if (!model.ok()) {
    run->error = std::string(model.status().message());
    return;
  }
  run->spec = trainbus::nn::FormatModelSpec((*model)->spec());
  run->parameters = (*model)->ParameterCount();
  absl::StatusOr<trainbus::nn::ModelCost> cost =
      trainbus::nn::EstimateModelCost((*model)->spec());
  if (cost.ok()) std::cout << run->arch << ": " << cost->Summary() << std::endl;

  const bool tty = isatty(STDERR_FILENO) != 0;
  trainbus::training::TrainOptions options;
  options.epochs = run->epochs;
  options.shuffle_seed = seed;
  if (tty) {
    options.on_progress = [run](const trainbus::training::Progress& p) {
      std::fprintf(stderr, "\r  %-8s epoch %llu/%llu %3zu%%  %6.0f samples/s",
                   run->arch.c_str(), static_cast<unsigned long long>(p.epoch),
                   static_cast<unsigned long long>(run->epochs),
                   p.steps * 100 / p.steps_per_epoch, p.samples / p.seconds);
    };
  }
  options.on_epoch = [run, tty](const trainbus::training::EpochResult& e) {
    run->train_seconds += e.seconds;
    run->loss.push_back(e.loss);
    run->accuracy.push_back(e.accuracy);
    if (tty) std::fprintf(stderr, "\r%60s\r", "");
    std::cout << absl::StrFormat(
                     "%-8s epoch %2d/%d  train_loss %.4f  test_acc %.4f  "
                     "%.0f samples/s  train %.1f s",
                     run->arch, e.epoch, run->epochs, e.loss, e.accuracy,
                     e.samples / e.seconds, run->train_seconds)
              << std::endl;
  };
  std::vector<trainbus::training::EpochResult> history;
  absl::Status s = trainbus::training::TrainAndEvaluate(**model, train, test,
                                                        options, &history);
  if (!s.ok()) {
    run->error = std::string(s.message());
    return;
  }
  size_t trained = 0;
  for (const auto& e : history) trained += e.samples;
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

// --out_dir must be writable before any training, so that a bad path fails
// in a second, not after an hour.
absl::Status CheckOutDir(const std::string& dir) {
  const absl::Status s = trainbus::base::CheckDirectoryWritable(dir);
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("--out_dir: ", s.message(),
                                             ", or --out_dir= for none"));
}

bool WriteFile(const std::string& path, const std::string& text) {
  const absl::Status s = trainbus::base::WriteFileAtomically(path, text);
  if (!s.ok()) std::cerr << s.message() << "; check --out_dir\n";
  return s.ok();
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
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (!out_dir.empty()) {
    if (absl::Status s = CheckOutDir(out_dir); !s.ok()) {
      std::cerr << s.message() << "\n";
      return 2;
    }
  }
  auto splits = trainbus::data::LoadMnistDir(absl::GetFlag(FLAGS_data_dir));
  if (!splits.ok()) {
    std::cerr << splits.status().message() << "\n";
    return 1;
  }
  const trainbus::training::FloatSplit train = trainbus::training::ToFloatSplit(
      splits->train, absl::GetFlag(FLAGS_train_limit));
  const trainbus::training::FloatSplit test = trainbus::training::ToFloatSplit(
      splits->test, absl::GetFlag(FLAGS_test_limit));
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

  if (!out_dir.empty()) {
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
    if (!WriteFile(out_dir + "/report.json", ReportJson(*runs)) ||
        !WriteFile(out_dir + "/accuracy.svg", chart.ToSvg())) {
      return 1;  // results that cannot be written are a failed run
    }
    std::cout << "open in a browser: " << out_dir << "/accuracy.svg (report: "
              << out_dir << "/report.json)\n";
  }
  return all_met ? 0 : 3;
}
