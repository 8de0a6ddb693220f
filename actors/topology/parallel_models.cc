#include "actors/topology/parallel_models.h"

#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "actors/generator/generator.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "report/json_text.h"
#include "report/svg_chart.h"
#include "report/topology_svg.h"
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
  TB_RETURN_IF_ERROR(CheckEpochs(config.epochs, config.forever));
  TB_ASSIGN_OR_RETURN(
      StreamData splits,
      LoadStreamData(config.data_dir, config.train_limit, config.test_limit));
  std::shared_ptr<const EvalSet> eval = MakeEvalSet(splits.test);
  TB_ASSIGN_OR_RETURN(bus::Policy policy, bus::ParsePolicy(config.policy));
  TB_ASSIGN_OR_RETURN(std::vector<nn::ModelSpec> specs,
                      ParseModelSpecs(config.models, config.seed));
  // Refuse data a model cannot read before anything is spawned.
  for (size_t i = 0; i < specs.size(); ++i) {
    TB_RETURN_IF_ERROR(CheckModelInput(config.models[i].name, specs[i], *eval));
  }

  caf::actor_system_config cfg;
  ConfigureActorSystem(cfg);
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
  report.train_samples = splits.train->count;
  report.test_samples = splits.test.count;
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
  ModelActorOptions common = SharedModelOptions(
      config.eval_every, config.eval_subset, config.print, *metrics, collector,
      eval);
  std::vector<caf::actor> spawned;  // stopped if the run times out
  for (size_t i = 0; i < config.models.size(); ++i) {
    FedModel m;
    m.resource = config.models[i].name;
    m.max_queue = config.max_queue;
    m.feeds = {LabelledFeed("mnist", policy)};
    m.actor = common;
    m.actor.name = config.models[i].name;
    m.actor.spec = specs[i];
    TB_ASSIGN_OR_RETURN(caf::actor actor, SpawnFedModel(bus, std::move(m)));
    spawned.push_back(std::move(actor));
  }
  if (auto d = bus.Describe(); d.ok()) report.topology = *d;

  if (config.print) {
    std::cout << ModelCostLines(config.models, specs);
    std::cout << absl::StrFormat(
        "trainbus: %d models on %d training samples %s from %s, "
        "evaluating every %d steps on %d held-out samples\n",
        config.models.size(), splits.train->count,
        EpochsText(config.epochs, config.forever), config.data_dir,
        config.eval_every,
        config.eval_subset == 0 ? splits.test.count
                                : std::min<size_t>(config.eval_subset,
                                                   splits.test.count));
  }
  const auto start = std::chrono::steady_clock::now();
  GeneratorOptions g;
  g.source = "fashion-mnist/train";
  g.data = splits.train;
  g.output = *mnist;
  g.epochs = GeneratorEpochs(config.epochs, config.forever);
  g.seed = config.seed;
  spawned.push_back(SpawnGenerator(sys, g));
  // Every model reports once it has seen the end-of-stream marker. Streaming
  // forever has no end to wait for; anything else gets a deadline.
  bool finished = false;
  if (config.forever || config.timeout_s <= 0) {
    self->receive([&](bus::done_atom) { finished = true; });
  } else {
    self->receive(
        [&](bus::done_atom) { finished = true; },
        caf::after(std::chrono::milliseconds(
            static_cast<int64_t>(config.timeout_s * 1000))) >> [] {});
  }
  if (!finished) {
    // The actor system waits for every actor when it goes: stop them all.
    spawned.push_back(collector);
    if (sink) spawned.push_back(sink);
    for (const caf::actor& a : spawned) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
    return absl::DeadlineExceededError(absl::StrFormat(
        "the models did not all reach the end of the stream within %.0f s "
        "(a model actor stopped without reporting, or training is slower "
        "than that); raise --timeout_s, or use fewer samples (--train_limit)",
        config.timeout_s));
  }
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
  for (const ModelSummary& m : report.models) {
    out += SummaryNotes(m.name, m.rejected_shape, m.rejected_label,
                        m.warnings);
  }
  absl::StrAppendFormat(&out, "wall time %.1f s for %d samples x %d epoch(s)\n",
                        report.wall_seconds, report.train_samples,
                        report.epochs);
  return out;
}

namespace {

// The shortest decimal that reads back as `f` (0.01f is 0.01, not
// 0.009999999776): what the spec said.
double ShortestDecimal(float f) {
  for (int digits = 6; digits < 9; ++digits) {
    const double d = std::stod(absl::StrFormat("%.*g", digits, f));
    if (static_cast<float>(d) == f) return d;
  }
  return f;
}

report::Json HyperparametersJson(const std::string& spec_text) {
  report::Json out = report::Json::object();
  if (absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(spec_text);
      spec.ok()) {
    out["optimizer"] = spec->optimizer;
    out["learning_rate"] = ShortestDecimal(spec->learning_rate);
    out["batch_size"] = spec->batch_size;
    out["hidden"] = spec->hidden;
  }
  return out;
}

report::Json ModelJson(const ModelSummary& m) {
  report::Json out = {
      {"name", m.name},
      {"kind", m.arch},
      {"spec", m.spec},
      {"hyperparameters", HyperparametersJson(m.spec)},
      {"parameters", m.parameters},
      {"steps", m.steps},
      {"samples", m.samples},
      {"test_accuracy", m.test_accuracy},
      {"prequential_accuracy", m.prequential_accuracy},
      {"train_samples_per_second", m.samples_per_second},
      {"train_seconds", m.train_seconds},
  };
  if (!m.error.empty()) out["error"] = m.error;
  out["curve"] = report::Json::array();
  for (const CurvePoint& p : m.curve) {
    out["curve"].push_back({{"step", p.step},
                            {"samples", p.samples},
                            {"test_accuracy", p.test_accuracy},
                            {"prequential_accuracy", p.prequential_accuracy},
                            {"loss", p.loss}});
  }
  // After every older field, so that readers by position keep working.
  out["rejected_shape"] = m.rejected_shape;
  out["rejected_label"] = m.rejected_label;
  out["warnings"] = m.warnings;
  return out;
}

report::Json ResourceJson(const bus::ResourceMetrics& r) {
  report::Json subscriptions = report::Json::array();
  for (const bus::SubscriptionMetrics& s : r.subscriptions) {
    subscriptions.push_back({{"name", s.name},
                             {"policy", s.policy},
                             {"delivered", s.delivered},
                             {"filtered", s.filtered},
                             {"dropped", s.dropped}});
  }
  return {{"resource", r.name},
          {"published", r.published},
          {"blocked", r.blocked},
          {"subscriptions", std::move(subscriptions)}};
}

}  // namespace

std::string ReportToJson(const ParallelModelsReport& report) {
  report::Json models = report::Json::array();
  for (const ModelSummary& m : report.models) models.push_back(ModelJson(m));
  report::Json resources = report::Json::array();
  for (const bus::ResourceMetrics& r : report.bus) {
    resources.push_back(ResourceJson(r));
  }
  const report::Json doc = {{"data_dir", report.data_dir},
                            {"train_samples", report.train_samples},
                            {"test_samples", report.test_samples},
                            {"epochs", report.epochs},
                            {"wall_seconds", report.wall_seconds},
                            {"models", std::move(models)},
                            {"bus", std::move(resources)}};
  return report::ToJsonText(doc) + "\n";
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

absl::Status CheckReportFiles(const ReportFiles& files) {
  if (!files.report_json.empty()) {
    absl::Status s = base::CheckFileWritable(files.report_json);
    if (!s.ok()) return PrefixStatus("--report_json", s);
  }
  if (!files.out_dir.empty()) {
    absl::Status s = base::CheckDirectoryWritable(files.out_dir);
    if (!s.ok()) return PrefixStatus("--out_dir", s);
  }
  return absl::OkStatus();
}

absl::Status WriteReportFiles(const ParallelModelsReport& report,
                              const ReportFiles& files) {
  const std::string json = ReportToJson(report);
  if (!files.report_json.empty()) {
    TB_RETURN_IF_ERROR(base::WriteFileAtomically(files.report_json, json));
  }
  if (files.out_dir.empty()) return absl::OkStatus();
  const std::string& dir = files.out_dir;
  for (const auto& [name, text] :
       {std::pair<const char*, std::string>{"report.json", json},
        {"curves.svg", CurvesToSvg(report)},
        {"topology.svg", report::TopologyToSvg(report.topology)},
        {"topology.dot", report.topology.ToDot()}}) {
    TB_RETURN_IF_ERROR(
        base::WriteFileAtomically(absl::StrCat(dir, "/", name), text));
  }
  return absl::OkStatus();
}

}  // namespace trainbus::actors
