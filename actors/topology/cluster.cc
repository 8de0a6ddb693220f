#include "actors/topology/cluster.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "actors/generator/generator.h"
#include "actors/topology/components.h"
#include "base/status_error.h"
#include "base/subprocess.h"
#include "base/status_macros.h"
#include "report/json_text.h"
#include "bus/atoms.h"
#include "bus/bus.h"
#include "bus/node.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"

extern char** environ;

namespace trainbus::actors {
namespace {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using fail_atom = caf::atom_constant<caf::atom("fail")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;

// The name under which the hub's coordinator is found in its directory.
constexpr char kCoordinatorName[] = "cluster.hub";
constexpr char kFinalSplit[] = "final";
constexpr uint32_t kMetricsCredit = 4096;

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

caf::actor_system_config& ConfigureNode(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  ConfigureActorSystem(cfg);
  return cfg;
}

// ---- hub ------------------------------------------------------------------

struct JoinedWorker {
  std::string name;
  caf::actor_addr agent;
  std::vector<std::string> models;
  bool lost = false;
};

struct CoordinatorState {
  caf::actor waiter;
  bus::resource_actor metrics;
  size_t expected_workers = 1;
  bool print = true;
  std::shared_ptr<HubReport> report;
  std::vector<JoinedWorker> workers;
  std::map<std::string, ClusterModelResult> results;  // by model
  // The last periodic report of each model: what a lost model's row shows.
  std::map<std::string, ClusterModelResult> progress;
  // Its warnings so far (a lost model's too).
  std::map<std::string, std::vector<std::string>> warnings;
  bool started = false;
  bool generated = false;
  bool finished = false;
  uint32_t unreturned = 0;

  static inline const char* name = "trainbus.cluster_hub";
};

using Coordinator = caf::stateful_actor<CoordinatorState>;

void MaybeFinish(Coordinator* self) {
  auto& st = self->state;
  if (st.finished || !st.generated) return;
  for (const JoinedWorker& w : st.workers) {
    for (const std::string& m : w.models) {
      if (st.results.count(m) == 0) return;
    }
  }
  st.finished = true;
  HubReport& r = *st.report;
  for (const JoinedWorker& w : st.workers) {
    r.workers.push_back(w.name);
    if (w.lost) r.lost_workers.push_back(w.name);
    for (const std::string& m : w.models) r.models.push_back(st.results[m]);
  }
  self->send(st.waiter, bus::done_atom::value);
}

// The figures every test and final metric carries.
void ReadFigures(const bus::Metric& m, ClusterModelResult* r) {
  auto value = [&](const char* key) {
    auto it = m.values.find(key);
    return it == m.values.end() ? 0.0 : it->second;
  };
  r->test_accuracy = value("test_accuracy");
  r->prequential_accuracy = value("prequential_accuracy");
  r->steps = m.step;
  r->samples = static_cast<uint64_t>(value("samples"));
  r->samples_per_second = value("samples_per_second");
  r->rejected_shape = static_cast<uint64_t>(value("rejected_shape"));
  r->rejected_label = static_cast<uint64_t>(value("rejected_label"));
}

void OnMetric(Coordinator* self, const bus::Metric& m) {
  auto& st = self->state;
  if (++st.unreturned >= kMetricsCredit / 8) {
    self->send(st.metrics, bus::credit_atom::value, st.unreturned);
    st.unreturned = 0;
  }
  auto value = [&](const char* key) {
    auto it = m.values.find(key);
    return it == m.values.end() ? 0.0 : it->second;
  };
  if (m.split != kFinalSplit) {
    if (m.split == "warning") {
      st.warnings[m.model].push_back(absl::StrFormat(
          "training accuracy %.4f after %.0f samples is no better than "
          "chance (%.4f)",
          value("prequential_accuracy"), value("samples"),
          value("chance_accuracy")));
    }
    if (m.split == "test") ReadFigures(m, &st.progress[m.model]);
    if (st.print) {
      caf::aout(self) << absl::StrFormat(
          "hub: %s %s step %d test_acc %.4f prequential_acc %.4f loss %.4f "
          "samples %.0f\n",
          m.model, m.split, m.step, value("test_accuracy"),
          value("prequential_accuracy"), value("loss"), value("samples"));
    }
    return;
  }
  ClusterModelResult r;
  r.model = m.model;
  r.worker = m.model.substr(0, m.model.find('/'));
  r.status = value("failed") > 0 ? "failed" : "done";
  ReadFigures(m, &r);
  r.warnings = st.warnings[m.model];
  if (st.print) caf::aout(self) << "hub: " << FormatResultLine(r) << "\n";
  if (st.results.count(r.model) == 0) st.results[r.model] = std::move(r);
  MaybeFinish(self);
}

void OnWorkerDown(Coordinator* self, const caf::down_msg& down) {
  auto& st = self->state;
  for (JoinedWorker& w : st.workers) {
    if (w.agent != down.source || w.lost) continue;
    std::vector<std::string> unfinished;
    for (const std::string& m : w.models) {
      if (st.results.count(m) == 0) unfinished.push_back(m);
    }
    if (unfinished.empty()) return;  // it finished and left
    w.lost = true;
    caf::aout(self) << "hub: lost worker " << w.name << " ("
                    << self->system().render(down.reason) << ") with "
                    << unfinished.size() << " unfinished model(s): "
                    << absl::StrJoin(unfinished, ", ")
                    << "; the others carry on\n";
    for (const std::string& m : unfinished) {
      // Keeps the figures of its last report: the progress it did make.
      ClusterModelResult r = st.progress[m];
      r.worker = w.name;
      r.model = m;
      r.status = "lost";
      r.warnings = st.warnings[m];
      r.error = absl::StrFormat(
          "worker died before the end of the stream; figures as of its last "
          "report (step %d)",
          r.steps);
      st.results[m] = std::move(r);
    }
    MaybeFinish(self);
    return;
  }
}

caf::behavior CoordinatorActor(Coordinator* self, caf::actor waiter,
                               bus::resource_actor metrics,
                               size_t expected_workers,
                               bool print, std::shared_ptr<HubReport> report) {
  auto& st = self->state;
  st.waiter = waiter;
  st.metrics = metrics;
  st.expected_workers = expected_workers;
  st.print = print;
  st.report = std::move(report);
  self->set_down_handler(
      [=](const caf::down_msg& down) { OnWorkerDown(self, down); });
  return {
      [=](hello_atom, const std::string& worker,
          const std::string& models) -> caf::result<uint64_t> {
        auto& s = self->state;
        if (s.generated) {
          return base::ToCafError(absl::UnavailableError(
              "the hub's stream has already ended; start a new hub"));
        }
        for (const JoinedWorker& w : s.workers) {
          if (w.name == worker) {
            return base::ToCafError(absl::AlreadyExistsError(
                absl::StrCat("a worker named '", worker,
                             "' already joined; give each worker its own "
                             "--name")));
          }
        }
        JoinedWorker w;
        w.name = worker;
        w.agent = self->current_sender()
                      ? caf::actor_cast<caf::actor_addr>(self->current_sender())
                      : caf::actor_addr{};
        w.models = absl::StrSplit(models, ',', absl::SkipEmpty());
        self->monitor(self->current_sender());
        if (s.print) {
          caf::aout(self) << "hub: worker " << worker << " joined with "
                          << models << "\n";
        }
        s.workers.push_back(std::move(w));
        if (!s.started && s.workers.size() >= s.expected_workers) {
          s.started = true;
          self->send(s.waiter, start_atom::value);
        }
        return s.workers.size();
      },
      [=](bus::deliver_atom, uint64_t, const bus::Metric& m) {
        OnMetric(self, m);
      },
      [=](bus::done_atom, const std::string&, uint64_t published) {
        self->state.generated = true;
        self->state.report->published = published;
        MaybeFinish(self);
      },
  };
}

// Stops the actors a run spawned, so that the actor system can shut down.
class Cleanup {
 public:
  ~Cleanup() {
    for (const caf::actor& a : actors_) {
      if (a) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
  }
  void Add(caf::actor a) { actors_.push_back(std::move(a)); }

 private:
  std::vector<caf::actor> actors_;
};

// A node's actor system, its bus and what to stop at the end. Members go in
// reverse: the actors are stopped, then the system waits for them.
struct Node {
  Node() : sys(ConfigureNode(cfg)), bus(sys) { cleanup.Add(caf::actor_cast<caf::actor>(bus.directory())); }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  bus::Bus bus;
  Cleanup cleanup;
};

// ---- worker ---------------------------------------------------------------

struct AgentState {
  caf::actor waiter;
  bus::resource_actor metrics;
  caf::actor coordinator;
  std::string worker;
  std::string hub;
  std::string models_csv;
  size_t models = 0;
  size_t acked = 0;
  std::shared_ptr<std::vector<ModelSummary>> summaries;
  bool done = false;

  static inline const char* name = "trainbus.cluster_worker";
};

using Agent = caf::stateful_actor<AgentState>;

void AgentFail(Agent* self, std::string why) {
  if (self->state.done) return;
  self->state.done = true;
  // Said right away: the caller still has to stop the worker's actors.
  std::cerr << self->state.worker << ": " << why << std::endl;
  self->send(self->state.waiter, fail_atom::value, std::move(why));
  self->quit();
}

bus::Metric FinalMetric(const ModelSummary& s) {
  bus::Metric m;
  m.model = s.name;
  m.split = kFinalSplit;
  m.step = s.steps;
  m.values = {{"test_accuracy", s.test_accuracy},
              {"prequential_accuracy", s.prequential_accuracy},
              {"samples", static_cast<double>(s.samples)},
              {"samples_per_second", s.samples_per_second},
              {"failed", s.error.empty() ? 0.0 : 1.0},
              {"rejected_shape", static_cast<double>(s.rejected_shape)},
              {"rejected_label", static_cast<double>(s.rejected_label)}};
  m.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  return m;
}

caf::behavior AgentActor(Agent* self, caf::actor waiter,
                         bus::resource_actor metrics, caf::actor coordinator,
                         bus::resource_actor mnist,
                         std::string name, std::string hub,
                         std::vector<std::string> models,
                         std::shared_ptr<std::vector<ModelSummary>> out) {
  auto& st = self->state;
  st.waiter = waiter;
  st.metrics = metrics;
  st.coordinator = coordinator;
  st.worker = name;
  st.hub = hub;
  st.models_csv = absl::StrJoin(models, ",");
  st.models = models.size();
  st.summaries = std::move(out);
  // The hub going away ends the run: nothing more will arrive.
  self->monitor(mnist);
  self->monitor(coordinator);
  self->set_down_handler([=](const caf::down_msg& down) {
    AgentFail(self, absl::StrCat("lost the hub at ", self->state.hub, " (",
                                 self->system().render(down.reason),
                                 "); is it still running?"));
  });
  return {
      // Every model listens now: join, and the hub may start streaming.
      [=](wake_atom) {
        self->request(self->state.coordinator, caf::infinite, hello_atom::value,
                      self->state.worker, self->state.models_csv)
            .then([](uint64_t) {},
                  [=](caf::error& err) {
                    AgentFail(self, absl::StrCat("the hub refused worker '",
                                                 self->state.worker, "': ",
                                                 base::ErrorToString(err)));
                  });
      },
      [=](ModelSummary& s) {
        auto& st = self->state;
        if (!s.error.empty()) {
          caf::aout(self) << s.name << " failed: " << s.error << "\n";
        }
        bus::Metric final_metric = FinalMetric(s);
        st.summaries->push_back(std::move(s));
        // Wait for the hub to accept each final result before leaving, so
        // that it has them before it sees this worker go.
        self->request(st.metrics, caf::infinite, bus::publish_atom::value,
                      std::move(final_metric))
            .then(
                [=](uint64_t) {
                  auto& st = self->state;
                  if (++st.acked == st.models && !st.done) {
                    st.done = true;
                    self->send(st.waiter, bus::done_atom::value);
                    self->quit();
                  }
                },
                [=](caf::error& err) {
                  AgentFail(self, absl::StrCat("the hub did not take a final "
                                               "result: ",
                                               base::ErrorToString(err)));
                });
      },
  };
}

absl::Status WaitForSubscribers(bus::Bus& bus,
                                const std::vector<std::string>& names,
                                double timeout_s) {
  const auto deadline = Clock::now() + Millis(timeout_s);
  while (true) {
    absl::StatusOr<std::vector<bus::ResourceMetrics>> all = bus.Metrics();
    if (!all.ok()) return all.status();
    size_t ready = 0;
    for (const bus::ResourceMetrics& r : *all) {
      for (const std::string& n : names) {
        if (r.name == n && !r.subscriptions.empty()) ++ready;
      }
    }
    if (ready == names.size()) return absl::OkStatus();
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(
          "the model actors did not subscribe to their resources in time");
    }
  }
}

}  // namespace

absl::StatusOr<HubReport> RunHub(const HubConfig& config) {
  if (config.workers == 0) {
    return absl::InvalidArgumentError(
        "--workers=0: the hub streams once that many workers have joined; "
        "give --workers=1 or more");
  }
  TB_RETURN_IF_ERROR(CheckEpochs(config.epochs, config.forever));
  TB_ASSIGN_OR_RETURN(StreamData splits,
                      LoadStreamData(config.data_dir, config.train_limit, 0));
  std::shared_ptr<data::Dataset> train = splits.train;
  auto report = std::make_shared<HubReport>();
  report->train_samples = train->count;

  Node node;
  caf::actor_system& sys = node.sys;
  bus::Bus& bus = node.bus;
  Cleanup& cleanup = node.cleanup;
  bus::ResourceOptions mnist_options;
  mnist_options.name = "mnist";
  mnist_options.max_queue = config.max_queue;
  absl::StatusOr<bus::resource_actor> mnist = bus.Declare(mnist_options);
  if (!mnist.ok()) return mnist.status();
  bus::ResourceOptions metrics_options;
  metrics_options.name = "metrics";
  metrics_options.max_queue = kMetricsCredit;
  absl::StatusOr<bus::resource_actor> metrics = bus.Declare(metrics_options);
  if (!metrics.ok()) return metrics.status();

  caf::scoped_actor self{sys};
  // If the hub's own bus fails, say so instead of waiting for the timeout.
  self->monitor(*mnist);
  self->monitor(*metrics);
  absl::Status bus_failure = absl::OkStatus();
  auto on_down = [&](caf::down_msg& down) {
    bus_failure = absl::InternalError(
        absl::StrCat("the hub's bus stopped: ", sys.render(down.reason)));
  };
  caf::actor coordinator =
      sys.spawn(CoordinatorActor, caf::actor{self}, *metrics, config.workers,
                config.print, report);
  cleanup.Add(coordinator);
  bus::SubscribeOptions sub;
  sub.name = "hub";
  sub.initial_credit = kMetricsCredit;
  // block: final results must never be dropped.
  sub.policy = bus::Policy::kBlock;
  absl::Status subscribed = absl::OkStatus();
  self->request(*metrics, caf::infinite, bus::subscribe_atom::value,
                bus::AsSubscriber(coordinator), sub)
      .receive([](uint64_t) {},
               [&](caf::error& err) { subscribed = base::ToStatus(err); });
  TB_RETURN_IF_ERROR(subscribed);
  // The hub's directory doubles as its name service: the coordinator is no
  // resource, but workers find it by name like one (and cast it back).
  if (absl::StatusOr<bus::resource_actor> a = bus.Attach(
          kCoordinatorName, caf::actor_cast<bus::resource_actor>(coordinator));
      !a.ok()) {
    return a.status();
  }
  absl::StatusOr<uint16_t> port =
      bus::ServeNode(sys, bus.directory(), config.port, config.host);
  if (!port.ok()) return port.status();
  if (config.on_listening) config.on_listening(*port);

  bool started = false;
  self->receive([&](start_atom) { started = true; }, on_down,
                caf::after(Millis(config.join_timeout_s)) >> [] {});
  TB_RETURN_IF_ERROR(bus_failure);
  if (!started) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "not all %d worker(s) joined within %.0f s; start them with "
        "--role=worker --hub=%s:%d",
        config.workers, config.join_timeout_s, config.host, *port));
  }
  if (config.print) {
    std::cout << absl::StrFormat(
                     "hub: %d worker(s) joined; streaming %d training "
                     "samples %s",
                     config.workers, train->count,
                     EpochsText(config.epochs, config.forever))
              << std::endl;
  }
  const auto start = Clock::now();
  GeneratorOptions g;
  g.source = "fashion-mnist/train";
  g.data = train;
  g.output = *mnist;
  g.epochs = GeneratorEpochs(config.epochs, config.forever);
  g.seed = config.seed;
  g.rate = config.rate;
  g.listener = coordinator;
  cleanup.Add(SpawnGenerator(sys, g));

  bool finished = false;
  if (config.forever) {
    // Until the process is stopped, or the hub's bus fails.
    self->receive([&](bus::done_atom) { finished = true; }, on_down);
  } else {
    self->receive([&](bus::done_atom) { finished = true; }, on_down,
                  caf::after(Millis(config.run_timeout_s)) >> [] {});
  }
  TB_RETURN_IF_ERROR(bus_failure);
  if (!finished) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "the run did not finish within %.0f s", config.run_timeout_s));
  }
  report->wall_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  return *report;
}

absl::StatusOr<std::vector<ModelSummary>> RunWorker(
    const WorkerConfig& config) {
  absl::StatusOr<std::pair<std::string, uint16_t>> hub =
      bus::ParseHostPort(config.hub);
  if (!hub.ok()) return hub.status();
  TB_ASSIGN_OR_RETURN(bus::Policy policy, bus::ParsePolicy(config.policy));
  if (config.name.empty() || config.name.find('/') != std::string::npos ||
      config.name.find(',') != std::string::npos) {
    return absl::InvalidArgumentError(
        "a worker needs a --name without '/' or ','");
  }
  TB_ASSIGN_OR_RETURN(std::vector<nn::ModelSpec> specs,
                      ParseModelSpecs(config.models, config.seed));
  TB_ASSIGN_OR_RETURN(StreamData splits,
                      LoadStreamData(config.data_dir, 0, config.test_limit));
  std::shared_ptr<const EvalSet> eval = MakeEvalSet(splits.test);
  // Refuse data a model cannot read before joining the hub.
  for (size_t i = 0; i < specs.size(); ++i) {
    TB_RETURN_IF_ERROR(CheckModelInput(config.models[i].name, specs[i], *eval));
  }
  // Said whether or not the models print their progress: it is what tells
  // a slow model from a stuck one.
  std::cout << ModelCostLines(config.models, specs, config.name + "/")
            << std::flush;

  Node node;
  caf::actor_system& sys = node.sys;
  bus::Bus& bus = node.bus;
  Cleanup& cleanup = node.cleanup;
  absl::StatusOr<bus::directory_actor> hub_directory =
      bus::ConnectNode(sys, hub->first, hub->second);
  if (!hub_directory.ok()) return hub_directory.status();
  for (const char* name : {"mnist", "metrics", kCoordinatorName}) {
    absl::Status imported = bus::ImportResource(bus, *hub_directory, name);
    if (!imported.ok()) return imported;
  }
  absl::StatusOr<bus::resource_actor> mnist = bus.Lookup("mnist");
  absl::StatusOr<bus::resource_actor> metrics = bus.Lookup("metrics");
  absl::StatusOr<bus::resource_actor> coordinator =
      bus.Lookup(kCoordinatorName);
  if (!mnist.ok() || !metrics.ok() || !coordinator.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the hub at ", config.hub, " went away while joining"));
  }

  caf::scoped_actor self{sys};
  auto summaries = std::make_shared<std::vector<ModelSummary>>();
  std::vector<std::string> resource_names;
  std::vector<std::string> model_names;
  for (const NamedModel& m : config.models) {
    resource_names.push_back(m.name);
    model_names.push_back(absl::StrCat(config.name, "/", m.name));
  }
  // The agent says hello (and the hub may start streaming) only once every
  // model listens.
  caf::actor agent =
      sys.spawn(AgentActor, caf::actor{self}, *metrics,
                caf::actor_cast<caf::actor>(*coordinator), *mnist,
                config.name, config.hub, model_names, summaries);
  ModelActorOptions common = SharedModelOptions(
      config.eval_every, config.eval_subset, config.print, *metrics, agent,
      eval);
  // On the worker's scheduler threads, not detached: with CAF 0.17 a
  // detached actor that talked to another node can outlive its node's
  // actor_system (await_detached_threads never returns), and a worker
  // process is its models' alone anyway.
  common.detached = false;
  for (size_t i = 0; i < config.models.size(); ++i) {
    // The same binding the parallel_models spec makes, across the network.
    FedModel m;
    m.resource = resource_names[i];
    m.feeds = {LabelledFeed("mnist", policy)};
    m.actor = common;
    m.actor.name = model_names[i];
    m.actor.spec = specs[i];
    absl::StatusOr<caf::actor> actor = SpawnFedModel(bus, std::move(m));
    if (!actor.ok()) {
      caf::anon_send_exit(agent, caf::exit_reason::kill);
      return actor.status();
    }
    cleanup.Add(*actor);
  }
  cleanup.Add(agent);
  if (absl::Status s = WaitForSubscribers(bus, resource_names, 30); !s.ok()) {
    return s;
  }
  self->send(agent, wake_atom::value);

  absl::Status result = absl::DeadlineExceededError(
      absl::StrFormat("worker %s did not finish within %.0f s", config.name,
                      config.run_timeout_s));
  self->receive([&](bus::done_atom) { result = absl::OkStatus(); },
                [&](fail_atom, std::string& why) {
                  result = absl::UnavailableError(why);
                },
                caf::after(Millis(config.run_timeout_s)) >> [] {});
  TB_RETURN_IF_ERROR(result);
  return *summaries;
}

std::string FormatResultLine(const ClusterModelResult& r) {
  return absl::StrFormat(
      "RESULT worker=%s model=%s status=%s test_accuracy=%.4f "
      "prequential_accuracy=%.4f steps=%d samples=%d samples_per_s=%.0f",
      r.worker, r.model, r.status, r.test_accuracy, r.prequential_accuracy,
      r.steps, r.samples, r.samples_per_second);
}

std::string FormatHubSummary(const HubReport& report) {
  std::string out =
      absl::StrFormat("%-10s %-22s %-7s %9s %9s %8s %9s\n", "worker", "model",
                      "status", "test_acc", "preq_acc", "steps", "samples");
  for (const ClusterModelResult& r : report.models) {
    absl::StrAppendFormat(&out, "%-10s %-22s %-7s %9.4f %9.4f %8d %9d\n",
                          r.worker, r.model, r.status, r.test_accuracy,
                          r.prequential_accuracy, r.steps, r.samples);
  }
  for (const ClusterModelResult& r : report.models) {
    out += SummaryNotes(r.model, r.rejected_shape, r.rejected_label,
                        r.warnings);
  }
  absl::StrAppendFormat(
      &out, "%d worker(s), %d lost%s; %d samples published in %.1f s\n",
      report.workers.size(), report.lost_workers.size(),
      report.lost_workers.empty()
          ? ""
          : absl::StrCat(" (", absl::StrJoin(report.lost_workers, ", "), ")"),
      report.published, report.wall_seconds);
  return out;
}

std::string HubReportToJson(const HubReport& report) {
  report::Json models = report::Json::array();
  for (const ClusterModelResult& r : report.models) {
    report::Json m = {{"worker", r.worker},
                      {"model", r.model},
                      {"status", r.status},
                      {"test_accuracy", r.test_accuracy},
                      {"prequential_accuracy", r.prequential_accuracy},
                      {"steps", r.steps},
                      {"samples", r.samples}};
    if (!r.error.empty()) m["error"] = r.error;
    // After every older field, so that readers by position keep working.
    m["rejected_shape"] = r.rejected_shape;
    m["rejected_label"] = r.rejected_label;
    m["warnings"] = r.warnings;
    models.push_back(std::move(m));
  }
  const report::Json doc = {{"train_samples", report.train_samples},
                            {"published", report.published},
                            {"wall_seconds", report.wall_seconds},
                            {"workers", report.workers},
                            {"lost_workers", report.lost_workers},
                            {"models", std::move(models)}};
  return report::ToJsonText(doc) + "\n";
}

// ---- processes --------------------------------------------------------------

std::string SelfExecutable() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  return std::string(path, static_cast<size_t>(n));
}

// ---- local demo ------------------------------------------------------------

namespace {

// The demo's models when --models is not given, by worker (in turn).
constexpr const char* kDemoModels[] = {
    "model1=softmax:opt=sgd,lr=0.01,batch=1;"
    "model2=mlp:hidden=64,opt=momentum,lr=0.02,batch=16",
    "model1=mlp:hidden=128,opt=adam,lr=0.001,batch=32",
};

}  // namespace

std::vector<std::vector<std::string>> LocalDemoCommands(
    const LocalDemoConfig& config) {
  const std::string data = "--data_dir=" + config.data_dir;
  const std::string timeout = absl::StrCat("--timeout_s=", config.timeout_s);
  const std::string seed = absl::StrCat("--seed=", config.seed);
  std::vector<std::vector<std::string>> commands;
  std::vector<std::string> hub = {
      config.program, "--role=hub", "--host=127.0.0.1", "--port=0",
      absl::StrCat("--workers=", config.workers),
      absl::StrCat("--train_limit=", config.train_limit),
      absl::StrCat("--epochs=", config.epochs),
      absl::StrCat("--rate=", config.rate), data, timeout, seed};
  if (config.forever) hub.push_back("--forever");
  if (!config.report_json.empty()) {
    hub.push_back("--report_json=" + config.report_json);
  }
  commands.push_back(std::move(hub));
  for (size_t i = 0; i < config.workers; ++i) {
    const std::string models =
        config.models.empty() ? kDemoModels[i % 2] : config.models;
    commands.push_back(
        {config.program, "--role=worker",
         absl::StrCat("--name=worker", i + 1), "--models=" + models,
         absl::StrCat("--test_limit=", config.test_limit),
         absl::StrCat("--eval_every=", config.eval_every),
         absl::StrCat("--eval_subset=", config.eval_subset),
         absl::StrCat("--print_models=",
                      config.print_models ? "true" : "false"),
         data, timeout, seed});
  }
  return commands;
}

int RunLocalDemo(const LocalDemoConfig& config, std::ostream& out) {
  out << "local_demo: hub + " << config.workers << " workers on 127.0.0.1, "
      << config.train_limit << " training samples (" << config.program << ")"
      << std::endl;
  struct Child {
    std::string name;
    base::Subprocess process;
    bool open = true;
  };
  base::SubprocessOptions piped;  // stdout and stderr, interleaved
  piped.pipe_stdout = true;
  piped.stderr_to_stdout = true;
  std::vector<std::vector<std::string>> commands = LocalDemoCommands(config);
  std::vector<Child> children;
  absl::StatusOr<base::Subprocess> hub =
      base::Subprocess::Spawn(commands[0], piped);
  if (!hub.ok()) {
    out << "local_demo: " << hub.status().message() << std::endl;
    return 1;
  }
  children.push_back({"hub", *std::move(hub)});
  const auto deadline = Clock::now() + Millis(config.timeout_s);
  auto seconds_left = [&] {
    return std::max(
        0.0, std::chrono::duration<double>(deadline - Clock::now()).count());
  };
  std::string address;
  while (address.empty()) {
    absl::StatusOr<std::string> line = children[0].process.ReadLine(
        absl::Seconds(std::min(120.0, seconds_left())));
    if (!line.ok()) break;
    out << "[hub]     " << *line << std::endl;
    if (absl::StartsWith(*line, "LISTENING ")) address = line->substr(10);
  }
  if (address.empty()) {
    out << "local_demo: the hub did not start; see its output above"
        << std::endl;
    return 1;
  }
  for (size_t i = 1; i < commands.size(); ++i) {
    commands[i].push_back("--hub=" + address);
    absl::StatusOr<base::Subprocess> w =
        base::Subprocess::Spawn(commands[i], piped);
    if (!w.ok()) {
      out << "local_demo: " << w.status().message() << std::endl;
      return 1;
    }
    children.push_back({absl::StrCat("worker", i), *std::move(w)});
  }

  // Interleave everyone's output, line by line, until all have ended.
  size_t open = children.size();
  while (open > 0 && seconds_left() > 0) {
    std::vector<pollfd> fds;
    for (const Child& c : children) {
      if (c.open) fds.push_back({c.process.stdout_fd(), POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(),
           static_cast<int>(std::min(1.0, seconds_left()) * 1000));
    for (Child& c : children) {
      if (!c.open) continue;
      std::vector<std::string> lines;
      c.open = c.process.ReadAvailable(&lines);
      for (const std::string& l : lines) {
        out << "[" << c.name << "]"
            << std::string(c.name.size() < 8 ? 8 - c.name.size() : 1, ' ')
            << l << "\n";
      }
      if (!c.open) --open;
    }
    out << std::flush;
  }
  int failures = 0;
  out << "\nlocal_demo summary:";
  for (Child& c : children) {
    if (c.open) c.process.Kill();
    // A child whose output ended gets a few seconds to exit.
    absl::StatusOr<base::ExitStatus> exit =
        c.process.WaitOrKill(absl::Seconds(10));
    failures += !exit.ok() || !exit->success();
    out << " " << c.name << " exit "
        << (exit.ok() ? absl::StrCat(exit->ShellCode())
                      : "killed, it hung after its output")
        << (c.open ? " (killed after the timeout)" : "") << ";";
  }
  out << (failures == 0 ? " all nodes finished cleanly" : " some nodes failed")
      << std::endl;
  return failures == 0 ? 0 : 1;
}

}  // namespace trainbus::actors
