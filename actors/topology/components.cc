#include "actors/topology/components.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "data/image.h"
#include "bus/filter.h"  // Filter::Labelled

namespace trainbus::actors {
namespace {

absl::Status WriteBytes(const std::string& path,
                        const std::vector<uint8_t>& bytes) {
  return base::WriteFileAtomically(
      path, absl::string_view(reinterpret_cast<const char*>(bytes.data()),
                              bytes.size()));
}

}  // namespace


absl::StatusOr<std::vector<NamedModel>> ParseModelList(absl::string_view text) {
  std::vector<NamedModel> models;
  for (absl::string_view item : absl::StrSplit(text, ';', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    NamedModel m;
    const size_t eq = item.find('=');
    const size_t colon = item.find(':');
    if (eq != absl::string_view::npos &&
        (colon == absl::string_view::npos || eq < colon)) {
      m.name = std::string(item.substr(0, eq));
      m.spec = std::string(item.substr(eq + 1));
    } else {
      m.name = absl::StrCat("model", models.size() + 1);
      m.spec = std::string(item);
    }
    absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(m.spec);
    if (!spec.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", m.name, "' (", m.spec, "): ", spec.status().message()));
    }
    models.push_back(std::move(m));
  }
  if (models.empty()) {
    return absl::InvalidArgumentError(
        "no models given; e.g. --models='softmax:lr=0.01;mlp:hidden=128'");
  }
  return models;
}

absl::StatusOr<std::vector<nn::ModelSpec>> ParseModelSpecs(
    const std::vector<NamedModel>& models, uint64_t seed) {
  std::vector<nn::ModelSpec> specs;
  for (const NamedModel& m : models) {
    absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(m.spec);
    if (!spec.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model '", m.name, "': ", spec.status().message()));
    }
    spec->seed += seed - 1;
    specs.push_back(*std::move(spec));
  }
  return specs;
}

absl::StatusOr<StreamData> LoadStreamData(const std::string& dir,
                                          size_t train_limit,
                                          size_t test_limit) {
  TB_ASSIGN_OR_RETURN(data::MnistSplits splits, data::LoadMnistDir(dir));
  StreamData out;
  out.train = std::make_shared<data::Dataset>(
      train_limit > 0 ? data::Slice(splits.train, train_limit)
                      : std::move(splits.train));
  out.test = test_limit > 0 ? data::Slice(splits.test, test_limit)
                            : std::move(splits.test);
  return out;
}

std::shared_ptr<const EvalSet> MakeEvalSet(const data::Dataset& d) {
  return std::make_shared<EvalSet>(EvalSet::FromBytes(
      d.pixels.data(), d.labels.data(), d.count, {d.rows, d.cols}));
}

void ConfigureActorSystem(caf::actor_system_config& cfg) {
  bus::AddBusTypes(cfg);
  AddModelActorTypes(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
}

absl::Status CheckEpochs(uint64_t epochs, bool forever) {
  if (forever) {
    if (epochs > 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--forever streams until stopped; it cannot go with --epochs=%d",
          epochs));
    }
    return absl::OkStatus();
  }
  if (epochs == 0) {
    return absl::InvalidArgumentError(
        "--epochs=0: a run needs at least one pass over the training split; "
        "give --epochs=N, or --forever to stream until the process is "
        "stopped");
  }
  return absl::OkStatus();
}

uint64_t GeneratorEpochs(uint64_t epochs, bool forever) {
  return forever ? 0 : epochs;
}

std::string EpochsText(uint64_t epochs, bool forever) {
  if (forever) return "forever (until stopped)";
  return absl::StrFormat("x %d epoch(s)", epochs);
}

std::string ModelCostLines(const std::vector<NamedModel>& models,
                           const std::vector<nn::ModelSpec>& specs,
                           absl::string_view name_prefix) {
  std::string out;
  for (size_t i = 0; i < models.size() && i < specs.size(); ++i) {
    absl::StatusOr<nn::ModelCost> cost = nn::EstimateModelCost(specs[i]);
    absl::StrAppend(&out, name_prefix, models[i].name, " (",
                    nn::ArchName(specs[i].arch), "): ",
                    cost.ok() ? cost->Summary() : cost.status().message(),
                    "\n");
  }
  return out;
}

std::string SummaryNotes(const std::string& name, uint64_t rejected_shape,
                         uint64_t rejected_label,
                         const std::vector<std::string>& warnings) {
  std::string out;
  if (rejected_shape + rejected_label > 0) {
    absl::StrAppendFormat(
        &out,
        "  %s: refused %d sample(s) whose shape did not fit its input and %d "
        "with a label >= its classes (not trained on)\n",
        name, rejected_shape, rejected_label);
  }
  for (const std::string& w : warnings) {
    absl::StrAppend(&out, "  ", name, " warning: ", w, "\n");
  }
  return out;
}

absl::Status PrefixStatus(absl::string_view what, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(what, ": ", status.message()));
}

bus::BindingOptions LabelledFeed(const std::string& from, bus::Policy policy) {
  bus::BindingOptions b;
  b.from = from;
  b.filter = bus::Filter::Labelled();
  b.policy = policy;
  b.window = 256;
  return b;
}

absl::StatusOr<caf::actor> SpawnFedModel(bus::Bus& bus, FedModel model) {
  bus::ResourceOptions r;
  r.name = model.resource;
  r.max_queue = model.max_queue;
  TB_ASSIGN_OR_RETURN(model.actor.input, bus.Declare(r));
  for (bus::BindingOptions& feed : model.feeds) {
    feed.to = model.resource;
    TB_RETURN_IF_ERROR(bus.Bind(feed).status());
  }
  return SpawnModelActor(bus.system(), std::move(model.actor));
}

absl::StatusOr<std::vector<int32_t>> ExportImages(const data::Dataset& d,
                                                  size_t first, size_t n,
                                                  size_t broken,
                                                  const std::string& dir) {
  TB_RETURN_IF_ERROR(
      PrefixStatus("image directory", base::CreateDirectories(dir)));
  std::vector<int32_t> labels;
  for (size_t i = first; i < std::min(first + n, d.count); ++i) {
    data::Image img(d.cols, d.rows);
    std::copy(d.image(i), d.image(i) + d.image_size(), img.pixels.begin());
    absl::StatusOr<std::vector<uint8_t>> bytes;
    const char* ext;
    switch (labels.size() % 3) {
      case 0:
        bytes = data::EncodePng(img);
        ext = "png";
        break;
      case 1:
        bytes = data::EncodeJpeg(img, 95);
        ext = "jpg";
        break;
      default:
        bytes = data::EncodePgm(img);
        ext = "pgm";
        break;
    }
    if (!bytes.ok()) return bytes.status();
    TB_RETURN_IF_ERROR(WriteBytes(
        absl::StrFormat("%s/img_%05d_%d.%s", dir, i, d.labels[i], ext),
        *bytes));
    labels.push_back(d.labels[i]);
  }
  // Named to sort after the images ("z..."): a truncated PNG, then a text
  // file posing as a JPEG, then a PGM with a broken header, in turn.
  for (size_t i = 0; i < broken; ++i) {
    std::vector<uint8_t> bytes;
    const char* ext;
    if (i % 3 == 0) {
      data::Image img(d.cols, d.rows, 128);
      bytes = *data::EncodePng(img);
      bytes.resize(bytes.size() / 2);
      ext = "png";
    } else if (i % 3 == 1) {
      const std::string text = "this is not a JPEG\n";
      bytes.assign(text.begin(), text.end());
      ext = "jpg";
    } else {
      const std::string text = "P5\n28 x\n255\n";
      bytes.assign(text.begin(), text.end());
      ext = "pgm";
    }
    TB_RETURN_IF_ERROR(WriteBytes(
        absl::StrFormat("%s/zz_broken_%03d.%s", dir, i, ext), bytes));
    labels.push_back(bus::kNoLabel);
  }
  return labels;
}

}  // namespace trainbus::actors
