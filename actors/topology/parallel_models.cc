#include "actors/topology/parallel_models.h"

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "data/idx.h"
#include "actors/generator/generator.h"
#include "report/json.h"
#include "report/svg_chart.h"
#include "bus/atoms.h"
#include "bus/bus.h"
#include "bus/subscribe.h"
#include "caf/all.hpp"

namespace trainbus::actors {

// Four architectures / optimizers / batch sizes side by side. Every model
// serves an exponential moving average of its weights (avg=...): online SGD's
// last iterate swings by several points of accuracy between evaluations, the
// average does not (softmax: 0.826 last iterate vs 0.842 averaged after one
// epoch, see BENCHMARKS.md).
std::vector<NamedModel> DefaultModels() {
  return {
      {"model1", "softmax:opt=sgd,lr=0.05,batch=1,avg=0.9999"},
      {"model2", "mlp:hidden=128,opt=momentum,lr=0.02,batch=16,avg=0.999"},
      {"model3", "mlp:hidden=256,opt=adam,lr=0.001,batch=64,avg=0.99"},
      {"model4", "cnn:conv=8x16,opt=momentum,lr=0.02,batch=32,avg=0.998"},
  };
}

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

namespace {

caf::behavior SummaryCollector(
    caf::event_based_actor* self, caf::actor waiter,
    std::shared_ptr<std::map<std::string, ModelSummary>> out, size_t expect) {
  return {[=](ModelSummary& s) {
    out->emplace(s.name, std::move(s));
    if (out->size() == expect) {
      self->send(waiter, bus::done_atom::value);
      self->quit();
    }
  }};
}

// Hands every Metric published to `metrics` to a callback.
// Subscribed (SubscribeNow) by its spawner.
caf::behavior MetricSink(caf::event_based_actor* self,
                         bus::resource_actor metrics,
                         std::function<void(const bus::Metric&)> fn) {
  return {
      [](uint64_t /*start offset*/) {},
      [=](bus::deliver_atom, uint64_t, const bus::Metric& m) {
        fn(m);
        self->send(metrics, bus::credit_atom::value, uint32_t{1});
      },
      [=](bus::done_atom) { self->quit(); },
  };
}

}  // namespace

absl::StatusOr<ParallelModelsReport> RunParallelModels(
    const ParallelModelsConfig& config) {
  absl::StatusOr<data::MnistSplits> splits = data::LoadMnistDir(config.data_dir);
  if (!splits.ok()) return splits.status();
  auto train = std::make_shared<data::Dataset>(
      config.train_limit > 0 ? data::Slice(splits->train, config.train_limit)
                             : std::move(splits->train));
  const data::Dataset test =
      config.test_limit > 0 ? data::Slice(splits->test, config.test_limit)
                            : std::move(splits->test);
  auto eval = std::make_shared<EvalSet>(EvalSet::FromBytes(
      test.pixels.data(), test.labels.data(), test.count,
      {test.rows, test.cols}));
  absl::StatusOr<bus::Policy> policy = bus::ParsePolicy(config.policy);
  if (!policy.ok()) return policy.status();

  std::vector<nn::ModelSpec> specs;
  for (const NamedModel& m : config.models) {
    absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(m.spec);
    if (!spec.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", m.name, "': ", spec.status().message()));
    }
    spec->seed += config.seed - 1;  // --seed shifts every model's init
    specs.push_back(*spec);
  }
  // Refuse data a model cannot read before anything is spawned.
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::Status fits = CheckModelInput(config.models[i].name, specs[i], *eval);
    if (!fits.ok()) return fits;
  }

  caf::actor_system_config cfg;
  bus::AddBusTypes(cfg);
  AddModelActorTypes(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  bus::Bus bus{sys};

  auto declare = [&](const std::string& name) {
    bus::ResourceOptions r;
    r.name = name;
    r.max_queue = config.max_queue;
    return bus.Declare(r);
  };
  absl::StatusOr<bus::resource_actor> mnist = declare("mnist");
  if (!mnist.ok()) return mnist.status();
  absl::StatusOr<bus::resource_actor> metrics = declare("metrics");
  if (!metrics.ok()) return metrics.status();

  ParallelModelsReport report;
  report.data_dir = config.data_dir;
  report.train_samples = train->count;
  report.test_samples = test.count;
  report.epochs = config.epochs;

  caf::scoped_actor self{sys};
  caf::actor sink;
  if (config.on_metric) {
    sink = sys.spawn<caf::detached>(MetricSink, *metrics, config.on_metric);
    bus::SubscribeOptions sub;
    sub.name = "metrics->sink";
    sub.initial_credit = 64;
    bus::SubscribeNow(sink, *metrics, sub);
  }
  auto summaries = std::make_shared<std::map<std::string, ModelSummary>>();
  caf::actor collector = sys.spawn(SummaryCollector, caf::actor{self},
                                   summaries, config.models.size());
  for (size_t i = 0; i < config.models.size(); ++i) {
    const std::string& name = config.models[i].name;
    absl::StatusOr<bus::resource_actor> resource = declare(name);
    if (!resource.ok()) return resource.status();
    bus::BindingOptions binding;
    binding.from = "mnist";
    binding.to = name;
    binding.filter = bus::Filter::Labelled();
    binding.policy = *policy;
    binding.window = 256;
    if (auto b = bus.Bind(binding); !b.ok()) return b.status();
    ModelActorOptions m;
    m.name = name;
    m.spec = specs[i];
    m.eval_every = config.eval_every;
    m.eval_subset = config.eval_subset;
    m.print = config.print;
    m.input = *resource;
    m.metrics = *metrics;
    m.listener = collector;
    m.eval = eval;
    absl::StatusOr<caf::actor> actor = SpawnModelActor(sys, std::move(m));
    if (!actor.ok()) return actor.status();
  }
  if (auto d = bus.Describe(); d.ok()) report.topology = *d;

  if (config.print) {
    std::cout << absl::StrFormat(
        "trainbus: %d models on %d training samples x %d epoch(s) from %s, "
        "evaluating every %d steps on %d held-out samples\n",
        config.models.size(), train->count, config.epochs, config.data_dir,
        config.eval_every,
        config.eval_subset == 0 ? test.count
                                : std::min<size_t>(config.eval_subset,
                                                   test.count));
  }
  const auto start = std::chrono::steady_clock::now();
  GeneratorOptions g;
  g.source = "fashion-mnist/train";
  g.data = train;
  g.output = *mnist;
  g.epochs = config.epochs;
  g.seed = config.seed;
  SpawnGenerator(sys, g);
  // Every model reports once it has seen the end-of-stream marker.
  self->receive([](bus::done_atom) {});
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  for (const NamedModel& m : config.models) {
    report.models.push_back(std::move((*summaries)[m.name]));
  }
  if (auto all = bus.Metrics(); all.ok()) report.bus = std::move(*all);
  if (sink) {
    // Every model published its last metric before its summary, and the
    // metrics request above went through the resource after them, so the
    // deliveries are in the sink's mailbox ahead of this.
    self->monitor(sink);
    self->send(sink, bus::done_atom::value);
    self->receive([](const caf::down_msg&) {});
  }
  caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
  return report;
}

std::string FormatSummaryTable(const ParallelModelsReport& report) {
  std::string out = absl::StrFormat(
      "%-8s %-8s %9s %8s %9s %9s %10s %8s  %s\n", "model", "kind", "params",
      "steps", "test_acc", "preq_acc", "samples/s", "train_s", "spec");
  for (const ModelSummary& m : report.models) {
    absl::StrAppendFormat(&out, "%-8s %-8s %9d %8d %9.4f %9.4f %10.0f %8.1f  %s%s\n",
                          m.name, m.arch, m.parameters, m.steps,
                          m.test_accuracy, m.prequential_accuracy,
                          m.samples_per_second, m.train_seconds, m.spec,
                          m.error.empty() ? "" : "  ERROR: " + m.error);
  }
  absl::StrAppendFormat(&out, "wall time %.1f s for %d samples x %d epoch(s)\n",
                        report.wall_seconds, report.train_samples,
                        report.epochs);
  return out;
}

std::string ReportToJson(const ParallelModelsReport& report) {
  report::JsonWriter w;
  w.BeginObject();
  w.Key("data_dir").String(report.data_dir);
  w.Key("train_samples").Int(report.train_samples);
  w.Key("test_samples").Int(report.test_samples);
  w.Key("epochs").Int(report.epochs);
  w.Key("wall_seconds").Number(report.wall_seconds);
  w.Key("models").BeginArray();
  for (const ModelSummary& m : report.models) {
    w.BeginObject();
    w.Key("name").String(m.name);
    w.Key("kind").String(m.arch);
    w.Key("spec").String(m.spec);
    w.Key("hyperparameters").BeginObject();
    if (absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(m.spec);
        spec.ok()) {
      w.Key("optimizer").String(spec->optimizer);
      w.Key("learning_rate").Number(spec->learning_rate);
      w.Key("batch_size").Int(spec->batch_size);
      w.Key("hidden").BeginArray();
      for (uint32_t h : spec->hidden) w.Int(h);
      w.EndArray();
    }
    w.EndObject();
    w.Key("parameters").Int(m.parameters);
    w.Key("steps").Int(m.steps);
    w.Key("samples").Int(m.samples);
    w.Key("test_accuracy").Number(m.test_accuracy);
    w.Key("prequential_accuracy").Number(m.prequential_accuracy);
    w.Key("train_samples_per_second").Number(m.samples_per_second);
    w.Key("train_seconds").Number(m.train_seconds);
    if (!m.error.empty()) w.Key("error").String(m.error);
    w.Key("curve").BeginArray();
    for (const CurvePoint& p : m.curve) {
      w.BeginObject()
          .Key("step").Int(p.step)
          .Key("samples").Int(p.samples)
          .Key("test_accuracy").Number(p.test_accuracy)
          .Key("prequential_accuracy").Number(p.prequential_accuracy)
          .Key("loss").Number(p.loss)
          .EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("bus").BeginArray();
  for (const bus::ResourceMetrics& r : report.bus) {
    w.BeginObject()
        .Key("resource").String(r.name)
        .Key("published").Int(r.published)
        .Key("blocked").Int(r.blocked);
    w.Key("subscriptions").BeginArray();
    for (const bus::SubscriptionMetrics& s : r.subscriptions) {
      w.BeginObject()
          .Key("name").String(s.name)
          .Key("policy").String(s.policy)
          .Key("delivered").Int(s.delivered)
          .Key("filtered").Int(s.filtered)
          .Key("dropped").Int(s.dropped)
          .EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str() + "\n";
}

std::string CurvesToSvg(const ParallelModelsReport& report) {
  report::LineChart chart;
  chart.title = "held-out accuracy while training";
  chart.x_label = "training samples seen";
  chart.y_label = "test accuracy";
  for (const ModelSummary& m : report.models) {
    report::LineChart::Series s;
    s.name = absl::StrCat(m.name, " (", m.arch, ")");
    for (const CurvePoint& p : m.curve) {
      s.points.emplace_back(static_cast<double>(p.samples), p.test_accuracy);
    }
    chart.series.push_back(std::move(s));
  }
  return chart.ToSvg();
}

}  // namespace trainbus::actors
