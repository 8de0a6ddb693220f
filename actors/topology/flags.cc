#include "actors/topology/flags.h"

#include <iostream>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist",
          "directory with MNIST-format IDX files (.gz or raw)");
ABSL_FLAG(std::string, models, "",
          "';'-separated model specs, e.g. 'softmax:lr=0.01;mlp:hidden=128,"
          "batch=16;cnn:batch=32' (default: the experiment's own)");
ABSL_FLAG(uint64_t, seed, 1, "shuffling and initialisation seed");

namespace trainbus::actors {

absl::Status ReadModelsFlag(std::vector<NamedModel>* models) {
  const std::string text = absl::GetFlag(FLAGS_models);
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<NamedModel>> parsed = ParseModelList(text);
  if (!parsed.ok()) return PrefixStatus("--models", parsed.status());
  *models = *std::move(parsed);
  return absl::OkStatus();
}

int ReportFailure(const char* program, const absl::Status& status) {
  std::cerr << program << ": " << status.message() << std::endl;
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace trainbus::actors
