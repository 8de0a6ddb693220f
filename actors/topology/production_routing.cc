#include "actors/topology/production_routing.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "actors/consumer/console_printer.h"
#include "actors/consumer/hook_sink.h"
#include "actors/consumer/jsonl_sink.h"
#include "data/image.h"
#include "actors/generator/generator.h"
#include "actors/production/image_dir_source.h"
#include "actors/production/test_replay.h"
#include "base/status_error.h"
#include "bus/atoms.h"
#include "bus/bus.h"
#include "base/status_error.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "actors/topology/components.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

constexpr char kReplaySource[] = "test-replay";
constexpr char kImageSource[] = "images";

absl::Status WriteBytes(const std::string& path,
                        const std::vector<uint8_t>& bytes) {
  return base::WriteFileAtomically(
      path, absl::string_view(reinterpret_cast<const char*>(bytes.data()),
                              bytes.size()));
}

// Dead letters seen by the dead-letter application, read by the runner
// after the run.
struct DeadLetterLog {
  std::mutex mu;
  std::vector<DeadLetter> letters;
};

}  // namespace

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

absl::StatusOr<ProductionRoutingReport> RunProductionRouting(
    const ProductionRoutingConfig& config) {
  // ---- Outputs, checked before anything runs.
  if (!config.jsonl_path.empty()) {
    TB_RETURN_IF_ERROR(PrefixStatus(
        "the JSON-lines file", base::CheckFileWritable(config.jsonl_path)));
  }
  // ---- Data.
  TB_ASSIGN_OR_RETURN(StreamData splits,
                      LoadStreamData(config.data_dir, config.train_limit, 0));
  const data::Dataset& test = splits.test;
  if (config.eval_limit + config.replay_limit > test.count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "eval_limit (%d) + replay_limit (%d) exceed the %d test samples; "
        "lower one of them",
        config.eval_limit, config.replay_limit, test.count));
  }
  std::shared_ptr<data::Dataset> train = splits.train;
  const data::Dataset eval_data = data::Slice(test, config.eval_limit);
  std::shared_ptr<const EvalSet> eval = MakeEvalSet(eval_data);
  auto replay = std::make_shared<data::Dataset>(
      data::SliceRange(test, config.eval_limit, config.replay_limit));

  std::string image_dir = config.image_dir;
  std::vector<int32_t> image_truth;
  if (image_dir.empty()) {
    image_dir = config.export_dir;
    // Only what an earlier export wrote goes; nothing else in the directory.
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(image_dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (absl::StartsWith(name, "img_") ||
          absl::StartsWith(name, "zz_broken_")) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
    const size_t first =
        test.count - std::min(config.export_images, test.count);
    TB_ASSIGN_OR_RETURN(image_truth,
                        ExportImages(test, first, config.export_images,
                                     config.export_broken, image_dir));
  }

  TB_ASSIGN_OR_RETURN(bus::Policy train_policy,
                      bus::ParsePolicy(config.train_policy));
  TB_ASSIGN_OR_RETURN(bus::Policy live_policy,
                      bus::ParsePolicy(config.live_policy));
  TB_ASSIGN_OR_RETURN(std::vector<nn::ModelSpec> specs,
                      ParseModelSpecs(config.models, config.seed));

  // ---- Bus.
  caf::actor_system_config cfg;
  ConfigureActorSystem(cfg);
  AddConsumerTypes(cfg);
  AddAggregatorTypes(cfg);
  caf::actor_system sys{cfg};
  bus::Bus bus{sys};
  std::vector<caf::actor> owned;  // stopped at the end
  auto stop_all = [&] {
    for (const caf::actor& a : owned) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
  };

  std::map<std::string, bus::resource_actor> resources;
  for (const char* name :
       {"mnist", "live", "metrics", "predictions", "dead_letter"}) {
    bus::ResourceOptions r;
    r.name = name;
    r.max_queue = config.max_queue;
    absl::StatusOr<bus::resource_actor> a = bus.Declare(r);
    if (!a.ok()) return a.status();
    resources[name] = *a;
  }

  // ---- Consumer applications (subscribed before anything is published).
  ConsolePrinterOptions console;
  console.consumer.name = "console";
  console.consumer.inputs = {resources["predictions"], resources["metrics"]};
  console.prediction_every = config.print_every;
  console.metric_every = config.print ? 1 : 0;
  if (config.print_every == 0 || !config.print) console.prediction_every = 0;
  for (absl::string_view c : data::kFashionMnistClassNames) {
    console.class_names.emplace_back(c);
  }
  caf::actor console_actor = SpawnConsolePrinter(sys, console);
  owned.push_back(console_actor);

  std::string jsonl_path = config.jsonl_path;
  caf::actor jsonl_actor;
  if (!jsonl_path.empty()) {
    JsonlSinkOptions jsonl;
    jsonl.consumer.name = "jsonl";
    jsonl.consumer.inputs = {resources["predictions"], resources["metrics"]};
    jsonl.path = jsonl_path;
    absl::StatusOr<caf::actor> a = SpawnJsonlSink(sys, jsonl);
    if (!a.ok()) {
      stop_all();
      return a.status();
    }
    jsonl_actor = *a;
    owned.push_back(jsonl_actor);
  }

  AggregatorOptions agg;
  agg.consumer.name = "aggregator";
  agg.consumer.inputs = {resources["predictions"]};
  agg.truth = [replay, image_truth](const std::string& source,
                                    uint64_t seq) -> int32_t {
    if (source == kReplaySource) return TestReplayTruth(*replay, seq);
    if (source == kImageSource && seq < image_truth.size()) {
      return image_truth[seq];
    }
    return bus::kNoLabel;
  };
  caf::actor aggregator = SpawnAggregator(sys, agg);
  owned.push_back(aggregator);

  auto dead_log = std::make_shared<DeadLetterLog>();
  HookSinkOptions dead;
  dead.consumer.name = "dead_letters";
  dead.consumer.inputs = {resources["dead_letter"]};
  const bool print = config.print;
  dead.on_sample = [dead_log, print](const bus::Sample& s) -> absl::Status {
    DeadLetter d;
    d.seq = s.seq;
    if (auto it = s.meta.find("path"); it != s.meta.end()) d.path = it->second;
    if (auto it = s.meta.find("error"); it != s.meta.end())
      d.error = it->second;
    if (print) std::cout << "[dead_letters] " << FormatSampleLine(s) << "\n";
    std::lock_guard<std::mutex> lock(dead_log->mu);
    dead_log->letters.push_back(std::move(d));
    return absl::OkStatus();
  };
  caf::actor dead_actor = SpawnHookSink(sys, dead);
  owned.push_back(dead_actor);

  // ---- Models, each fed by two bindings.
  caf::scoped_actor self{sys};
  // Not printing: the console consumer prints the metrics.
  ModelActorOptions common = SharedModelOptions(
      config.eval_every, config.eval_subset, /*print=*/false,
      resources["metrics"], caf::actor{self}, eval);
  common.end_markers = 3;   // the training stream and two production sources
  common.predictions = resources["predictions"];
  for (size_t i = 0; i < config.models.size(); ++i) {
    FedModel m;
    m.resource = config.models[i].name;
    m.max_queue = config.max_queue;
    const uint32_t window =
        std::min<uint32_t>(256, std::max<uint32_t>(config.max_queue, 1));
    for (const auto& [from, filter, policy] :
         {std::tuple{"mnist", bus::Filter::Labelled(), train_policy},
          std::tuple{"live", bus::Filter::Unlabelled(), live_policy}}) {
      bus::BindingOptions b;
      b.from = from;
      b.filter = filter;
      b.policy = policy;
      b.max_queue = config.max_queue;
      b.window = window;
      m.feeds.push_back(std::move(b));
    }
    m.actor = common;
    m.actor.name = config.models[i].name;
    m.actor.spec = specs[i];
    absl::StatusOr<caf::actor> actor = SpawnFedModel(bus, std::move(m));
    if (!actor.ok()) {
      stop_all();
      return actor.status();
    }
    owned.push_back(*actor);
  }

  ProductionRoutingReport report;
  report.train_samples = train->count;
  report.eval_samples = eval_data.count;
  report.image_dir = image_dir;
  report.jsonl_path = jsonl_path;
  if (auto d = bus.Describe(); d.ok()) report.topology_text = d->ToText();
  if (config.print) {
    std::cout << ModelCostLines(config.models, specs);
    std::cout << absl::StrFormat(
        "trainbus production routing: %d models; training on %d samples; "
        "live traffic: %d replayed test samples at %.0f/s and the images in "
        "%s at %.0f/s\n%s",
        config.models.size(), train->count, replay->count, config.replay_rate,
        image_dir, config.image_rate, report.topology_text);
  }

  // ---- Sources.
  const auto start = std::chrono::steady_clock::now();
  ImageDirSourceOptions images;
  images.dir = image_dir;
  images.source = kImageSource;
  images.output = resources["live"];
  images.dead_letter = resources["dead_letter"];
  images.rate = config.image_rate;
  images.listener = caf::actor{self};
  absl::StatusOr<caf::actor> image_source = SpawnImageDirSource(sys, images);
  if (!image_source.ok()) {
    stop_all();
    return image_source.status();
  }
  TestReplayOptions r;
  r.source = kReplaySource;
  r.data = replay;
  r.first_index = config.eval_limit;  // origins name the test sample
  r.output = resources["live"];
  r.rate = config.replay_rate;
  r.listener = caf::actor{self};
  SpawnTestReplay(sys, r);
  GeneratorOptions g;
  g.source = "fashion-mnist/train";
  g.data = train;
  g.output = resources["mnist"];
  g.seed = config.seed;
  g.listener = caf::actor{self};
  SpawnGenerator(sys, g);

  // ---- Wait: every model has seen every source's end marker.
  const size_t markers = 1;  // a model reports once, after its last marker
  std::map<std::string, std::pair<size_t, ModelSummary>> summaries;
  size_t finished_models = 0;
  uint64_t dead_count = 0;
  int sources_done = 0;
  bool timed_out = false;
  const auto timeout = std::chrono::milliseconds(
      static_cast<int64_t>(config.timeout_seconds * 1000));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto metrics_every = std::chrono::milliseconds(
      static_cast<int64_t>(config.metrics_every_seconds * 1000));
  auto next_metrics = std::chrono::steady_clock::now() + metrics_every;
  while (!timed_out &&
         (finished_models < config.models.size() || sources_done < 3)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (metrics_every.count() > 0 && now >= next_metrics) {
      next_metrics = now + metrics_every;
      if (auto all = bus.Metrics(); all.ok()) {
        std::cout << bus::FormatMetricsTable(*all) << std::flush;
      }
    }
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (metrics_every.count() > 0) {
      wait =
          std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                             next_metrics - now));
    }
    self->receive(
        [&](ModelSummary& s) {
          auto& [count, last] = summaries[s.name];
          last = std::move(s);
          if (++count == markers) ++finished_models;
        },
        [&](bus::done_atom, const std::string& source, uint64_t n) {
          if (source == kReplaySource) report.replayed = n;
          ++sources_done;
        },
        [&](bus::done_atom, const std::string&, uint64_t n, uint64_t dead_n) {
          report.images = n;
          dead_count = dead_n;
          ++sources_done;
        },
        caf::after(std::max(wait, std::chrono::milliseconds(1))) >> [] {});
  }
  if (timed_out) {
    stop_all();
    return absl::DeadlineExceededError(absl::StrFormat(
        "production routing did not finish within %.0f s (%d of %d models "
        "done, %d of 3 sources done); raise timeout_seconds or lower "
        "train_limit",
        config.timeout_seconds, finished_models, config.models.size(),
        sources_done));
  }

  // ---- Drain: each consumer confirms it has everything that was sent.
  uint64_t predictions = 0, metrics = 0;
  for (const NamedModel& m : config.models) {
    ModelSummary& s = summaries[m.name].second;
    predictions += s.predictions;
    metrics += s.curve.size() + (s.error.empty() ? 0 : 1);
    report.models.push_back(std::move(s));
  }
  auto confirm = [&](const caf::actor& consumer, uint64_t p, uint64_t mt,
                     uint64_t samples) -> absl::Status {
    absl::Status status = absl::OkStatus();
    self->request(consumer, timeout, bus::flush_atom::value, p, mt, samples)
        .receive([&](ConsumerStats& s) { report.consumers.push_back(s); },
                 [&](caf::error& err) {
                   status = absl::DeadlineExceededError(
                       absl::StrCat("a consumer did not receive everything: ",
                                    base::ErrorToString(err)));
                 });
    return status;
  };
  std::vector<absl::Status> drained = {
      confirm(console_actor, predictions, metrics, 0),
      jsonl_actor ? confirm(jsonl_actor, predictions, metrics, 0)
                  : absl::OkStatus(),
      confirm(aggregator, predictions, 0, 0),
      confirm(dead_actor, 0, 0, dead_count)};
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  self->request(aggregator, timeout, report_atom::value)
      .receive([&](AggregateReport& a) { report.aggregate = std::move(a); },
               [&](caf::error&) {});
  {
    std::lock_guard<std::mutex> lock(dead_log->mu);
    report.dead_letters = dead_log->letters;
  }
  if (auto all = bus.Metrics(); all.ok()) report.bus = std::move(*all);
  stop_all();
  for (const absl::Status& s : drained) {
    TB_RETURN_IF_ERROR(s);
  }
  return report;
}

std::string FormatProductionReport(const ProductionRoutingReport& r) {
  std::string out;
  absl::StrAppendFormat(
      &out,
      "\n== sources\ntraining: %d labelled samples; live: %d replayed test "
      "samples, %d images from %s, %d dead letters\n",
      r.train_samples, r.replayed, r.images, r.image_dir,
      r.dead_letters.size());
  out += "\n== models\n";
  absl::StrAppendFormat(&out, "%-8s %-8s %8s %8s %11s %9s  %s\n", "model",
                        "kind", "steps", "trained", "predictions", "test_acc",
                        "spec");
  for (const ModelSummary& m : r.models) {
    absl::StrAppendFormat(&out, "%-8s %-8s %8d %8d %11d %9.4f  %s%s\n", m.name,
                          m.arch, m.steps, m.samples, m.predictions,
                          m.test_accuracy, m.spec,
                          m.error.empty() ? "" : "  ERROR: " + m.error);
  }
  out += "\n== what each consumer received\n";
  for (const ConsumerStats& s : r.consumers) {
    absl::StrAppend(&out, FormatConsumerStats(s), "\n");
  }
  if (!r.jsonl_path.empty()) {
    absl::StrAppend(&out, "JSON lines written to ", r.jsonl_path, "\n");
  }
  out += "\n== aggregator (live predictions)\n";
  out += FormatAggregateReport(r.aggregate);
  out += "\n== dead letters\n";
  if (r.dead_letters.empty()) out += "(none)\n";
  for (const DeadLetter& d : r.dead_letters) {
    absl::StrAppendFormat(&out, "#%d %s: %s\n", d.seq, d.path, d.error);
  }
  out += "\n== bus\n";
  out += bus::FormatMetricsTable(r.bus);
  absl::StrAppendFormat(&out, "wall time %.1f s\n", r.wall_seconds);
  return out;
}

}  // namespace trainbus::actors
