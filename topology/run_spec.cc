// RunSpec (topology/runner.h): the whole spec in this process, from the
// checks before anything starts to the drained consumers.
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "actors/topology/components.h"
#include "base/file.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/atoms.h"
#include "bus/subscribe.h"
#include "caf/all.hpp"
#include "registry/records.h"
#include "registry/store.h"
#include "topology/runner.h"

namespace trainbus::topology {
namespace {

using Clock = std::chrono::steady_clock;

// Hands every Metric published to a resource to a callback.
// Subscribed (SubscribeNow) by its spawner.
caf::behavior MetricSink(caf::event_based_actor* self,
                         std::function<void(const bus::Metric&)> fn) {
  return {
      [=](bus::deliver_atom, uint64_t, const bus::Metric& m) {
        fn(m);
        auto from =
            caf::actor_cast<bus::resource_actor>(self->current_sender());
        self->send(from, bus::credit_atom::value, uint32_t{1});
      },
      [=](bus::done_atom) { self->quit(); },
  };
}

// Outputs that must be writable are checked before anything runs.
absl::Status CheckOutputs(const TopologySpec& spec) {
  for (const ConsumerSpec& c : spec.consumers) {
    if (c.kind != ConsumerKind::kJsonl) continue;
    TB_RETURN_IF_ERROR(actors::PrefixStatus(
        absl::StrCat("consumer '", c.name, "' (JSON lines)"),
        base::CheckFileWritable(c.path)));
  }
  return absl::OkStatus();
}

bool Forever(const TopologySpec& spec) {
  for (const SourceSpec& s : spec.sources) {
    if (s.kind == SourceKind::kIdxGenerator && s.epochs == 0) return true;
  }
  return false;
}

void FillHeader(const TopologySpec& spec, PartContext& ctx, RunReport* r) {
  r->name = spec.name;
  for (const SourceSpec& s : spec.sources) {
    if (s.kind != SourceKind::kIdxGenerator) r->production = true;
    if (s.kind == SourceKind::kImageDir && r->image_dir.empty()) {
      r->image_dir = s.dir;
    }
    if (s.kind == SourceKind::kIdxGenerator && r->data_dir.empty()) {
      r->data_dir =
          s.dataset.empty() ? s.data_dir : "registry dataset " + s.dataset;
      r->epochs = s.epochs;
    }
    r->sources.push_back({s.name, s.kind, 0, 0});
  }
  for (const ConsumerSpec& c : spec.consumers) {
    if (c.kind == ConsumerKind::kJsonl && r->jsonl_path.empty()) {
      r->jsonl_path = c.path;
    }
  }
  r->test_samples = ctx.eval_samples();
}

std::string Banner(const TopologySpec& spec, const RunReport& r,
                   size_t train_samples) {
  std::vector<actors::NamedModel> named;
  std::vector<nn::ModelSpec> specs;
  uint32_t eval_every = 0, eval_subset = 0;
  for (const ModelEntry& m : spec.models) {
    named.push_back({m.name, m.spec_text});
    specs.push_back(m.spec);
    eval_every = m.eval_every;
    eval_subset = m.eval_subset;
  }
  std::string out = actors::ModelCostLines(named, specs);
  if (r.production) {
    // What production routing printed: the live sources, then the bus.
    std::string live;
    for (const SourceSpec& s : spec.sources) {
      if (s.kind == SourceKind::kIdxGenerator) continue;
      absl::StrAppendFormat(&live, "%s%s (%s, %.0f/s)",
                            live.empty() ? "" : ", ", s.name,
                            SourceKindName(s.kind), s.rate);
    }
    return absl::StrCat(
        out,
        absl::StrFormat("trainbus production routing: %d models; training on "
                        "%d samples; live traffic: %s\n",
                        spec.models.size(), train_samples, live),
        r.topology.ToText());
  }
  return absl::StrCat(
      out,
      absl::StrFormat(
          "trainbus: %d models on %d training samples %s from %s, "
          "evaluating every %d steps on %d held-out samples\n",
          spec.models.size(), train_samples,
          actors::EpochsText(r.epochs, r.epochs == 0), r.data_dir, eval_every,
          eval_subset == 0 ? r.test_samples
                           : std::min<size_t>(eval_subset, r.test_samples)));
}

// Waits until every model reported (or was stopped) and every source ended.
// A model actor that goes down without a summary was stopped (e.g. by a
// population controller); it is not waited for. A source that goes down
// with an error (its output refused a publish: a full disk under a durable
// log) ends the wait: its stream has no end marker, so the models would
// wait for it forever.
class Waiter {
 public:
  Waiter(caf::scoped_actor& self, PartContext& ctx, RunReport* report)
      : self_(self), report_(report) {
    for (const auto& [name, m] : ctx.models()) {
      self_->monitor(m.actor);
      by_actor_[m.actor.address()] = name;
    }
    for (const PreparedSource& s : ctx.sources()) {
      if (!s.actor) continue;
      self_->monitor(s.actor);
      sources_by_actor_[s.actor.address()] = s.entry->name;
    }
    models_left_ = ctx.models().size();
    sources_left_ = ctx.sources().size();
  }

  // False when `deadline` passed first. Calls `tick` every `every` (if
  // set) while it waits.
  bool Wait(std::optional<Clock::time_point> deadline,
            std::chrono::milliseconds every = {},
            const std::function<void()>& tick = nullptr) {
    std::optional<Clock::time_point> next_tick;
    if (tick && every.count() > 0) next_tick = Clock::now() + every;
    while ((models_left_ > 0 || sources_left_ > 0) && failure_.ok()) {
      auto handlers = std::make_tuple(
          [&](actors::ModelSummary& s) {
            if (summaries_.emplace(s.name, std::move(s)).second) --models_left_;
          },
          [&](caf::down_msg& down) {
            if (SourceDown(down)) return;
            auto it = by_actor_.find(down.source);
            if (it == by_actor_.end() || summaries_.count(it->second)) return;
            if (stopped_.insert(it->second).second) --models_left_;
          },
          [&](bus::done_atom, const std::string& source, uint64_t n) {
            Source(source, n, 0);
          },
          [&](bus::done_atom, const std::string& source, uint64_t n,
              uint64_t dead) { Source(source, n, dead); });
      std::optional<Clock::time_point> wake = deadline;
      if (next_tick && (!wake || *next_tick < *wake)) wake = next_tick;
      if (!wake) {
        std::apply([&](auto&... h) { self_->receive(h...); }, handlers);
        continue;
      }
      const auto wait =
          std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                       *wake - Clock::now()),
                   std::chrono::milliseconds(1));
      std::apply(
          [&](auto&... h) {
            self_->receive(
                h..., caf::after(wait) >> [] {});
          },
          handlers);
      const auto now = Clock::now();
      if (next_tick && now >= *next_tick) {
        tick();
        next_tick = now + every;
      }
      if (deadline && now >= *deadline) return false;
    }
    return true;
  }

  std::map<std::string, actors::ModelSummary>& summaries() {
    return summaries_;
  }
  const std::set<std::string>& stopped() const { return stopped_; }
  size_t models_left() const { return models_left_; }
  size_t sources_left() const { return sources_left_; }
  // Not OK when a source failed; the run cannot end normally.
  const absl::Status& failure() const { return failure_; }

 private:
  // Whether `down` is a source's; records the failure if it had an error.
  bool SourceDown(const caf::down_msg& down) {
    auto it = sources_by_actor_.find(down.source);
    if (it == sources_by_actor_.end()) return false;
    if (down.reason && down.reason != caf::exit_reason::normal) {
      failure_ = absl::AbortedError(absl::StrCat(
          "source '", it->second, "' failed: ",
          base::ErrorToString(down.reason),
          "; the run stops (samples stored before the failure stay in the "
          "source's log)"));
    }
    return true;
  }

  void Source(const std::string& name, uint64_t published, uint64_t dead) {
    for (SourceReport& s : report_->sources) {
      if (s.name != name) continue;
      s.published = published;
      s.dead_lettered = dead;
    }
    if (sources_left_ > 0) --sources_left_;
  }

  caf::scoped_actor& self_;
  RunReport* report_;
  std::map<caf::actor_addr, std::string> by_actor_;
  std::map<caf::actor_addr, std::string> sources_by_actor_;
  absl::Status failure_;
  std::map<std::string, actors::ModelSummary> summaries_;
  std::set<std::string> stopped_;
  size_t models_left_ = 0;
  size_t sources_left_ = 0;
};

// What a consumer must have received by now: the predictions and metrics
// the models it listens to reported, and the dead letters its sources sent.
struct Expected {
  uint64_t predictions = 0, metrics = 0, samples = 0;
};

Expected ExpectedFor(const TopologySpec& spec, const ConsumerSpec& c,
                     const RunReport& report) {
  const std::set<std::string> inputs(c.inputs.begin(), c.inputs.end());
  Expected e;
  for (size_t i = 0; i < spec.models.size(); ++i) {
    const ModelEntry& m = spec.models[i];
    const actors::ModelSummary* s = nullptr;
    for (const actors::ModelSummary& r : report.models) {
      if (r.name == m.name) s = &r;
    }
    if (s == nullptr) continue;
    if (inputs.count(m.predictions)) e.predictions += s->predictions;
    if (inputs.count(m.output)) {
      e.metrics += s->curve.size() + (s->error.empty() ? 0 : 1);
    }
  }
  for (size_t i = 0; i < spec.sources.size(); ++i) {
    const SourceSpec& s = spec.sources[i];
    if (s.kind == SourceKind::kImageDir && inputs.count(s.dead_letter)) {
      e.samples += report.sources[i].dead_lettered;
    }
    if (s.kind == SourceKind::kAmqp && inputs.count(s.output)) {
      e.samples += report.sources[i].published;  // and what it accepted
    }
  }
  return e;
}

}  // namespace

// Each consumer confirms it has everything that was sent (flush_atom).
absl::Status Drain(const TopologySpec& spec, PartContext& ctx,
                   caf::scoped_actor& self, std::chrono::milliseconds timeout,
                   RunReport* report) {
  absl::Status status = absl::OkStatus();
  for (const ConsumerSpec& c : spec.consumers) {
    auto it = ctx.consumers().find(c.name);
    if (it == ctx.consumers().end()) continue;
    const Expected e = ExpectedFor(spec, c, *report);
    self->request(it->second, timeout, bus::flush_atom::value, e.predictions,
                  e.metrics, e.samples)
        .receive(
            [&](actors::ConsumerStats& s) {
              report->consumers.push_back(std::move(s));
            },
            [&](caf::error& err) {
              status.Update(absl::DeadlineExceededError(absl::StrCat(
                  "consumer '", c.name,
                  "' did not receive everything: ", base::ErrorToString(err))));
            });
    if (c.kind == ConsumerKind::kAggregator && !report->aggregate) {
      self->request(it->second, timeout, actors::report_atom::value)
          .receive([&](actors::AggregateReport& a) { report->aggregate = a; },
                   [&](caf::error&) {});
    }
  }
  return status;
}

// Finished models go to the registry, with their results as key/values.
absl::Status SaveModels(const TopologySpec& spec, const RunReport& report) {
  if (!spec.registry) return absl::OkStatus();
  registry::StoreOptions options;
  options.root = spec.registry->dir;
  TB_ASSIGN_OR_RETURN(std::unique_ptr<registry::Store> store,
                      registry::Store::Open(options));
  const std::string project = spec.name.empty() ? "trainbus" : spec.name;
  for (const actors::ModelSummary& m : report.models) {
    if (!m.error.empty() || m.checkpoint.empty()) continue;
    registry::KeyValues kv = {
        {"test_accuracy", registry::FormatNumber(m.test_accuracy)},
        {"prequential_accuracy",
         registry::FormatNumber(m.prequential_accuracy)},
        {"samples", registry::FormatNumber(static_cast<double>(m.samples))},
        {"steps", registry::FormatNumber(static_cast<double>(m.steps))},
    };
    TB_RETURN_IF_ERROR(
        store->SaveModel(project, m.name, m.spec, m.checkpoint, kv).status());
  }
  return absl::OkStatus();
}

namespace {

// Subscribes one MetricSink to every resource a model publishes metrics to.
caf::actor SpawnMetricSink(const TopologySpec& spec, PartContext& ctx,
                           std::function<void(const bus::Metric&)> fn) {
  caf::actor sink =
      ctx.system().spawn<caf::detached>(MetricSink, std::move(fn));
  std::set<std::string> outputs;
  for (const ModelEntry& m : spec.models) outputs.insert(m.output);
  for (const std::string& name : outputs) {
    absl::StatusOr<bus::resource_actor> r = ctx.Resource(name);
    if (!r.ok()) continue;
    bus::SubscribeOptions sub;
    sub.name = name + "->on_metric";
    sub.initial_credit = 64;
    bus::SubscribeNow(sink, *r, sub);
  }
  return sink;
}

// The actor system's config with every type a run sends.
struct RunConfig : caf::actor_system_config {
  RunConfig() { ConfigureRunSystem(*this); }
};

// One run in this process: its actor system, bus, part and metric sink.
// Whatever happens, the destructor stops everything it started.
class LocalRun {
 public:
  LocalRun(const TopologySpec& spec, const RunOptions& options)
      : spec_(spec),
        options_(options),
        sys_(cfg_),
        bus_(sys_),
        self_(sys_),
        ctx_(sys_, bus_) {
    ctx_.listener = caf::actor{self_};
    ctx_.print = options.print;
    const double s = std::max(options.timeout_s, 0.0);
    timeout_ = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
  }
  ~LocalRun() {
    if (options_.hooks.before_teardown) options_.hooks.before_teardown();
    if (sink_) caf::anon_send_exit(sink_, caf::exit_reason::user_shutdown);
    ctx_.StopAll();
    caf::anon_send_exit(bus_.directory(), caf::exit_reason::user_shutdown);
  }

  // Everything built, hooks run, nothing streaming yet.
  absl::Status Build() {
    TB_RETURN_IF_ERROR(BuildPart(spec_, kEveryNode, ctx_));
    if (options_.hooks.on_metric) {
      sink_ = SpawnMetricSink(spec_, ctx_, options_.hooks.on_metric);
    }
    if (options_.hooks.after_build) {
      TB_RETURN_IF_ERROR(options_.hooks.after_build(ctx_));
    }
    FillHeader(spec_, ctx_, &report_);
    for (const PreparedSource& s : ctx_.sources()) {
      if (s.entry->kind == SourceKind::kIdxGenerator) {
        report_.train_samples = s.samples;  // the first idx source's
        break;
      }
    }
    if (auto d = bus_.Describe(); d.ok()) report_.topology = *d;
    if (options_.print) {
      std::cout << Banner(spec_, report_, report_.train_samples);
    }
    return absl::OkStatus();
  }

  // Starts the sources and waits for every model and source to finish.
  absl::Status Stream() {
    start_ = Clock::now();
    TB_RETURN_IF_ERROR(ctx_.StartSources());
    Waiter waiter(self_, ctx_, &report_);
    std::optional<Clock::time_point> deadline;
    if (!Forever(spec_) && options_.timeout_s > 0) deadline = start_ + timeout_;
    const auto every = std::chrono::milliseconds(
        static_cast<int64_t>(std::max(options_.metrics_every_s, 0.0) * 1000));
    auto print_metrics = [this] {
      if (auto all = bus_.Metrics(); all.ok()) {
        std::cout << bus::FormatMetricsTable(*all) << std::flush;
      }
    };
    const bool finished = waiter.Wait(deadline, every, print_metrics);
    TB_RETURN_IF_ERROR(waiter.failure());
    if (!finished) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "the run did not finish within %.0f s (%d of %d models and %d of %d "
          "sources still running; a model actor stopped without reporting, "
          "or training is slower than that); raise --timeout_s, or use fewer "
          "samples (--train_limit)",
          options_.timeout_s, waiter.models_left(), ctx_.models().size(),
          waiter.sources_left(), ctx_.sources().size()));
    }
    for (const ModelEntry& m : spec_.models) {
      auto it = waiter.summaries().find(m.name);
      if (it != waiter.summaries().end()) {
        report_.models.push_back(std::move(it->second));
      } else if (waiter.stopped().count(m.name)) {
        report_.stopped_models.push_back(m.name);
      }
    }
    return absl::OkStatus();
  }

  // Drains the consumers, collects the bus's figures, saves the models.
  absl::StatusOr<RunReport> Finish() {
    const absl::Status drained = Drain(
        spec_, ctx_, self_,
        timeout_.count() > 0 ? timeout_ : std::chrono::hours(24), &report_);
    report_.wall_seconds =
        std::chrono::duration<double>(Clock::now() - start_).count();
    report_.dead_letters = ctx_.DeadLetters();
    for (const auto& [name, counters] : ctx_.amqp_counters()) {
      report_.amqp.push_back(counters->Snapshot());
    }
    if (auto all = bus_.Metrics(); all.ok()) report_.bus = std::move(*all);
    if (sink_) {
      // Every model published its last metric before its summary, and the
      // metrics request above went through the resources after them, so the
      // deliveries are in the sink's mailbox ahead of this.
      self_->monitor(sink_);
      self_->send(sink_, bus::done_atom::value);
      self_->receive([](const caf::down_msg&) {});
      sink_ = caf::actor();
    }
    TB_RETURN_IF_ERROR(drained);
    TB_RETURN_IF_ERROR(
        actors::PrefixStatus("registry", SaveModels(spec_, report_)));
    return std::move(report_);
  }

 private:
  const TopologySpec& spec_;
  const RunOptions& options_;
  RunConfig cfg_;
  caf::actor_system sys_;
  bus::Bus bus_;
  caf::scoped_actor self_;
  PartContext ctx_;
  caf::actor sink_;
  std::chrono::milliseconds timeout_;
  Clock::time_point start_ = Clock::now();
  RunReport report_;
};

}  // namespace

absl::StatusOr<RunReport> RunSpec(const TopologySpec& spec,
                                  const RunOptions& options) {
  TB_RETURN_IF_ERROR(CheckOutputs(spec));
  LocalRun run(spec, options);
  TB_RETURN_IF_ERROR(run.Build());
  TB_RETURN_IF_ERROR(run.Stream());
  return run.Finish();
}

}  // namespace trainbus::topology
