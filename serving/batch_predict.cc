#include "serving/batch_predict.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/command_line.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "data/idx.h"
#include "data/image_dir.h"
#include "data/mnist28.h"
#include "kernels/nn/model.h"
#include "nlohmann/json.hpp"

namespace trainbus::serving {
namespace {

// Float scores print as the shortest text that reads back to the same float.
using FloatJson = nlohmann::basic_json<std::map, std::vector, std::string, bool,
                                       std::int64_t, std::uint64_t, float>;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The model a --model names: "[PROJECT/]NAME[@ALIAS|@VERSION]".
absl::StatusOr<registry::ModelRecord> ResolveModel(registry::Store& store,
                                                   absl::string_view ref) {
  std::string project;
  if (size_t slash = ref.find('/'); slash != absl::string_view::npos) {
    project = std::string(ref.substr(0, slash));
    ref.remove_prefix(slash + 1);
  }
  std::string name_ref(ref);
  if (size_t at = ref.find('@'); at != absl::string_view::npos) {
    int64_t version = 0;
    // The registry spells a version name:V; NAME@3 reads as the version.
    if (absl::SimpleAtoi(ref.substr(at + 1), &version)) {
      name_ref = absl::StrCat(ref.substr(0, at), ":", version);
    }
  }
  return store.GetModelByRef(project, name_ref);
}

// What a run reads: image files by path, or the images of one IDX file.
struct Inputs {
  std::vector<std::string> paths;
  std::string idx_path;
  data::Dataset idx;

  bool is_idx() const { return !idx_path.empty(); }
  size_t size() const { return is_idx() ? idx.count : paths.size(); }
  std::string Id(size_t i) const {
    return is_idx() ? absl::StrCat("idx:", idx_path, ":", i) : paths[i];
  }
  // Input i as floats in [0, 1] into x (spec.InputSize() of them).
  absl::Status Read(size_t i, float* x) const {
    if (is_idx()) {
      const uint8_t* p = idx.image(i);
      for (size_t k = 0; k < idx.image_size(); ++k) x[k] = p[k] / 255.0f;
      return absl::OkStatus();
    }
    TB_ASSIGN_OR_RETURN(data::Image image, data::LoadImageFile28(paths[i]));
    for (size_t k = 0; k < image.pixels.size(); ++k) {
      x[k] = image.pixels[k] / 255.0f;
    }
    return absl::OkStatus();
  }
};

// Lists or loads the input and checks, before anything is written, that its
// images can fit the model at all.
absl::StatusOr<Inputs> OpenInputs(const std::string& input,
                                  const nn::ModelSpec& spec) {
  std::error_code ec;
  Inputs inputs;
  const std::string model_input =
      absl::StrCat(spec.channels, "x", spec.height, "x", spec.width);
  if (std::filesystem::is_directory(input, ec)) {
    if (spec.channels != 1 || spec.height != data::kMnistSide ||
        spec.width != data::kMnistSide) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the model takes ", model_input,
          " inputs; image files become 28x28 "
          "gray samples, so predict this model from an IDX file of its size"));
    }
    TB_ASSIGN_OR_RETURN(inputs.paths, data::ListImageFiles(input));
    if (inputs.paths.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "directory '", input, "' has no .png, .jpg, .jpeg or .pgm files"));
    }
    return inputs;
  }
  if (!std::filesystem::exists(input, ec)) {
    return absl::NotFoundError(
        absl::StrCat("--input '", input,
                     "' does not exist; give a directory of images "
                     "or an IDX images file"));
  }
  TB_ASSIGN_OR_RETURN(inputs.idx, data::LoadIdxImages(input));
  inputs.idx_path = input;
  if (spec.channels != 1 || inputs.idx.image_size() != spec.InputSize()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IDX file '", input, "' holds ", inputs.idx.rows, "x", inputs.idx.cols,
        " images but the model takes ", model_input,
        " inputs; use a model trained on images of this size"));
  }
  return inputs;
}

std::string ScoresText(const float* probs, size_t classes) {
  return FloatJson(std::vector<float>(probs, probs + classes)).dump();
}

std::string JsonLine(const registry::PredictionBatch& batch,
                     const registry::PredictionRow& row) {
  nlohmann::json line = {
      {"batch", batch.id},
      {"run", batch.run},
      {"input", row.input},
      {"label", row.label},
      {"model", absl::StrCat(batch.project, "/", batch.model)},
      {"version", batch.model_version},
      {"time_ns", batch.time_ns}};
  nlohmann::json scores =
      nlohmann::json::parse(row.scores, nullptr, /*allow_exceptions=*/false);
  line["scores"] = scores.is_discarded() ? nlohmann::json::array() : scores;
  if (!row.error.empty()) line["error"] = row.error;
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Reads, predicts and stores inputs [begin, end) as one batch.
class BatchWriter {
 public:
  BatchWriter(registry::Store& store, const nn::Model& model,
              const Inputs& inputs, registry::PredictionBatch header,
              std::ostream* jsonl)
      : store_(store),
        model_(model),
        inputs_(inputs),
        header_(std::move(header)),
        jsonl_(jsonl) {}

  absl::StatusOr<int64_t> Write(size_t begin, size_t end,
                                BatchPredictResult& result) {
    const size_t in = model_.spec().InputSize();
    const size_t classes = model_.spec().classes;
    std::vector<registry::PredictionRow> rows(end - begin);
    std::vector<size_t> good;  // rows whose input was read
    x_.resize((end - begin) * in);
    for (size_t i = begin; i < end; ++i) {
      registry::PredictionRow& row = rows[i - begin];
      row.input = inputs_.Id(i);
      absl::Status read = inputs_.Read(i, &x_[good.size() * in]);
      if (read.ok()) {
        good.push_back(i - begin);
      } else {
        row.error = std::string(read.message());
      }
    }
    probs_.resize(good.size() * classes);
    if (!good.empty()) {
      const Clock::time_point start = Clock::now();
      TB_RETURN_IF_ERROR(model_.Predict(x_.data(), good.size(), probs_.data()));
      result.predict_seconds += SecondsSince(start);
    }
    for (size_t k = 0; k < good.size(); ++k) {
      const float* p = &probs_[k * classes];
      registry::PredictionRow& row = rows[good[k]];
      row.label = static_cast<int32_t>(std::max_element(p, p + classes) - p);
      row.scores = ScoresText(p, classes);
    }
    header_.time_ns = absl::GetCurrentTimeNanos();
    TB_ASSIGN_OR_RETURN(header_.id,
                        store_.AppendPredictionBatch(header_, rows));
    result.batch_ids.push_back(header_.id);
    result.rows += static_cast<int64_t>(rows.size());
    result.errors += static_cast<int64_t>(rows.size() - good.size());
    if (jsonl_ != nullptr) {
      for (const registry::PredictionRow& row : rows) {
        *jsonl_ << JsonLine(header_, row) << "\n";
      }
      jsonl_->flush();
      if (!*jsonl_) {
        return absl::UnavailableError(absl::StrCat(
            "writing the JSONL file failed after batch ", header_.id,
            " (disk full?); the registry holds every committed batch"));
      }
    }
    return header_.id;
  }

 private:
  registry::Store& store_;
  const nn::Model& model_;
  const Inputs& inputs_;
  registry::PredictionBatch header_;
  std::ostream* jsonl_;
  std::vector<float> x_, probs_;
};

std::string DefaultRunId() {
  return absl::StrCat(
      "predict-",
      absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()), "-",
      getpid());
}

}  // namespace

absl::StatusOr<BatchPredictResult> RunBatchPredict(
    registry::Store& store, const BatchPredictOptions& options) {
  if (options.batch_size == 0) {
    return absl::InvalidArgumentError("--batch_size must be at least 1");
  }
  const Clock::time_point start = Clock::now();
  TB_ASSIGN_OR_RETURN(registry::ModelRecord record,
                      ResolveModel(store, options.model));
  TB_ASSIGN_OR_RETURN(
      std::string checkpoint,
      store.LoadModelBlob(record.project, record.name, record.version));
  TB_ASSIGN_OR_RETURN(std::unique_ptr<nn::Model> model,
                      nn::LoadModel(checkpoint));
  TB_ASSIGN_OR_RETURN(Inputs inputs, OpenInputs(options.input, model->spec()));
  std::ofstream jsonl;
  if (!options.jsonl.empty()) {
    TB_RETURN_IF_ERROR(base::CheckFileWritable(options.jsonl));
    jsonl.open(options.jsonl, std::ios::out | std::ios::trunc);
    if (!jsonl) {
      return absl::UnavailableError(
          absl::StrCat("cannot open --jsonl file '", options.jsonl, "'"));
    }
  }
  BatchPredictResult result;
  result.run = options.run.empty() ? DefaultRunId() : options.run;
  result.project = record.project;
  result.model = record.name;
  result.model_version = record.version;
  registry::PredictionBatch header;
  header.run = result.run;
  header.project = record.project;
  header.model = record.name;
  header.model_version = record.version;
  BatchWriter writer(store, *model, inputs, header,
                     options.jsonl.empty() ? nullptr : &jsonl);
  const size_t total = inputs.size();
  for (size_t begin = 0; begin < total; begin += options.batch_size) {
    const size_t end = std::min(total, begin + options.batch_size);
    TB_ASSIGN_OR_RETURN(int64_t id, writer.Write(begin, end, result));
    if (options.progress != nullptr) {
      *options.progress << "committed batch " << id << ": " << end << "/"
                        << total << " inputs, " << result.errors << " errors, "
                        << static_cast<int64_t>(end / SecondsSince(start))
                        << " inputs/s" << std::endl;
    }
  }
  result.seconds = SecondsSince(start);
  return result;
}

namespace {

constexpr char kUsage[] =
    R"(usage: trainbus predict --model=NAME[@ALIAS|@VERSION] --input=DIR|IDX [flags]
Runs a registry model over every input and writes one row per input into the
registry's predictions table (`trainbus registry predictions`).
flags:
  --registry_dir DIR   the registry (default: $TRAINBUS_REGISTRY_DIR or
                       ~/.local/share/trainbus/registry)
  --model REF          NAME, NAME@ALIAS (e.g. mlp@production), NAME@VERSION,
                       optionally PROJECT/ in front
  --input PATH         a directory of .png/.jpg/.pgm files, or an IDX images
                       file (rows are named idx:<file>:<index>)
  --batch_size N       inputs per batch, each batch one transaction (1000)
  --jsonl FILE         also write every row as a JSON line
  --run ID             the run id the batches share (default: generated)
An input that cannot be decoded gets a row with its error, and the command
exits 1 after the whole run; a killed run leaves whole batches.
)";

struct PredictFlags {
  std::string registry_dir;
  BatchPredictOptions options;
  // Fault injection for the atomicity test (not in the usage text): the
  // process kills itself with SIGKILL once it has written this many rows,
  // inside a batch's open transaction.
  int64_t crash_after_rows = 0;
};

std::string ParsePredictFlags(const std::vector<std::string>& args,
                              PredictFlags& flags) {
  absl::StatusOr<std::vector<base::LongFlag>> split =
      base::SplitLongFlags(args);
  if (!split.ok()) return std::string(split.status().message());
  for (const auto& [name, value] : *split) {
    if (name == "registry_dir") {
      flags.registry_dir = value;
    } else if (name == "model") {
      flags.options.model = value;
    } else if (name == "input") {
      flags.options.input = value;
    } else if (name == "jsonl") {
      flags.options.jsonl = value;
    } else if (name == "run") {
      flags.options.run = value;
    } else if (name == "crash_after_rows") {
      if (!absl::SimpleAtoi(value, &flags.crash_after_rows)) {
        return absl::StrCat("--crash_after_rows wants a number, got '", value,
                            "'");
      }
    } else if (name == "batch_size") {
      if (!absl::SimpleAtoi(value, &flags.options.batch_size) ||
          flags.options.batch_size == 0) {
        return absl::StrCat("--batch_size wants a number >= 1, got '", value,
                            "'");
      }
    } else {
      return absl::StrCat("unknown flag --", name);
    }
  }
  if (flags.options.model.empty()) return "--model is required";
  if (flags.options.input.empty()) return "--input is required";
  return "";
}

// The registry must exist: predicting into a mistyped --registry_dir would
// create an empty one and then fail to find the model.
absl::StatusOr<std::unique_ptr<registry::Store>> OpenRegistry(
    const PredictFlags& flags) {
  registry::StoreOptions options;
  options.root = flags.registry_dir;
  options.create_if_missing = false;
  if (flags.crash_after_rows > 0) {
    options.prediction_fault_hook = [left = flags.crash_after_rows](
                                        int64_t, size_t) mutable {
      if (--left == 0) raise(SIGKILL);
    };
  }
  return registry::Store::Open(std::move(options));
}

}  // namespace

int PredictMain(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err) {
  const bool help = std::any_of(args.begin(), args.end(), [](const auto& a) {
    return a == "help" || a == "--help" || a == "-h";
  });
  if (help) {
    out << kUsage;
    return 0;
  }
  PredictFlags flags;
  if (const std::string problem = ParsePredictFlags(args, flags);
      !problem.empty()) {
    err << "trainbus predict: " << problem << "\n" << kUsage;
    return 2;
  }
  absl::StatusOr<std::unique_ptr<registry::Store>> store = OpenRegistry(flags);
  if (!store.ok()) {
    err << "trainbus predict: " << store.status().message() << "\n";
    return 1;
  }
  flags.options.progress = &out;
  absl::StatusOr<BatchPredictResult> result =
      RunBatchPredict(**store, flags.options);
  if (!result.ok()) {
    err << "trainbus predict: " << result.status().message() << "\n";
    return 1;
  }
  out << "run " << result->run << ": " << result->rows << " predictions by "
      << result->project << "/" << result->model << ":" << result->model_version
      << " in " << result->batch_ids.size() << " batches ("
      << result->batch_ids.front() << ".." << result->batch_ids.back() << "), "
      << static_cast<int64_t>(result->rows / result->seconds)
      << " inputs/s end to end, "
      << static_cast<int64_t>((result->rows - result->errors) /
                              std::max(result->predict_seconds, 1e-9))
      << " inputs/s in Predict" << std::endl;
  if (result->errors > 0) {
    err << "trainbus predict: " << result->errors << " of " << result->rows
        << " inputs could not be predicted; their rows hold the error "
           "(`trainbus registry predictions --batch ID`)\n";
    return 1;
  }
  return 0;
}

}  // namespace trainbus::serving
