#include "topology/dashboard.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/atoms.h"
#include "bus/filter.h"
#include "bus/message.h"
#include "bus/subscribe.h"
#include "bus/subscriber.h"
#include "caf/all.hpp"
#include "report/topology_svg.h"
#include "topology/describe.h"

namespace trainbus::topology {
namespace {

using Json = nlohmann::json;

constexpr std::chrono::seconds kPublishTimeout{10};
constexpr size_t kPixelsKept = 2048;    // recent unlabelled samples
constexpr uint32_t kTapQueue = 64;      // drop_oldest: never holds a stream
constexpr uint32_t kTapCredit = 64;
constexpr std::chrono::milliseconds kSampleEvery{500};
constexpr size_t kInboxKept = 4096;  // an HTTP subscriber's backlog
constexpr size_t kPredictionsKept = 8192;  // ~50 s of production_routing

int64_t NowSteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- The spec as a graph ----

constexpr absl::string_view kResourcePrefix = "resource:";

Json NodeJson(std::string id, const std::string& kind, std::string title,
              std::string subtitle, const std::string& group) {
  return {{"id", std::move(id)},      {"kind", kind},
          {"title", std::move(title)}, {"subtitle", std::move(subtitle)},
          {"group", group}};
}

Json Node(const std::string& kind, const std::string& name,
          std::string subtitle, const std::string& group) {
  return NodeJson(absl::StrCat(kind, ":", name), kind, name,
                  std::move(subtitle), group);
}

// The name after "KIND:" in a graph id.
std::string NameOf(const std::string& id) {
  return id.substr(id.find(':') + 1);
}

// Which subscription of which resource carries `e`, if any: an edge out of
// a resource is a binding (named by its options), a model's input or a
// consumer's (named after the model or the consumer).
std::optional<Json> SubscriptionOf(
    const report::TopologyGraph::Edge& e,
    const std::map<std::pair<std::string, std::string>, std::string>&
        binding_names) {
  if (!absl::StartsWith(e.from, kResourcePrefix)) return std::nullopt;
  std::string name = NameOf(e.to);
  if (absl::StartsWith(e.to, kResourcePrefix)) {
    auto it = binding_names.find({e.from, e.to});
    if (it == binding_names.end()) return std::nullopt;
    name = it->second;
  }
  return Json{{"resource", NameOf(e.from)}, {"name", name}};
}

}  // namespace

Json TopologyGraphJson(const TopologySpec& spec) {
  const report::TopologyGraph g = DescribeGraph(spec);
  std::map<std::pair<std::string, std::string>, std::string> binding_names;
  for (const BindingSpec& b : spec.bindings) {
    binding_names[{absl::StrCat(kResourcePrefix, b.options.from),
                   absl::StrCat(kResourcePrefix, b.options.to)}] =
        b.options.Name();
  }
  Json nodes = Json::array(), edges = Json::array(), groups = Json::array();
  for (const report::TopologyGraph::Group& group : g.groups) {
    groups.push_back({{"id", group.id}, {"label", group.label}});
  }
  for (const report::TopologyGraph::Node& n : g.nodes) {
    // The page brackets resource names itself and finds their figures by
    // the bare name.
    nodes.push_back(NodeJson(n.id, n.kind,
                             n.kind == "resource" ? NameOf(n.id) : n.title,
                             n.subtitle, n.group));
  }
  for (const report::TopologyGraph::Edge& e : g.edges) {
    Json edge = {{"from", e.from}, {"to", e.to}, {"label", e.label}};
    if (e.dashed) edge["dashed"] = true;
    if (auto sub = SubscriptionOf(e, binding_names)) edge["subscription"] = *sub;
    edges.push_back(std::move(edge));
  }
  return {{"nodes", nodes}, {"edges", edges}, {"groups", groups}};
}

DashboardOptions DashboardOptionsFor(
    const TopologySpec& spec, std::string address,
    const std::optional<std::string>& auth_token,
    const std::optional<std::string>& registry_dir) {
  DashboardOptions options;
  options.address = std::move(address);
  options.auth_token = auth_token.value_or(spec.auth_token);
  options.registry_dir = registry_dir.value_or(
      spec.registry ? spec.registry->dir : registry::Store::DefaultRoot());
  return options;
}

absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(
    absl::string_view text) {
  const size_t colon = text.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dashboard='", text,
        "' is not HOST:PORT or :PORT (e.g. --dashboard=:8080)"));
  }
  std::string host(text.substr(0, colon));
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, port);
}

// ---- The live part: what talks to the run's bus ----

namespace {

// Joins each prediction with the pixels of the sample it was made on (from
// the production sources' resources) and hands it to the gateway.
struct TapState {
  std::map<std::pair<std::string, uint64_t>, bus::Sample> seen;
  std::deque<std::pair<std::string, uint64_t>> order;
  bus::CreditReturner credit{kTapCredit / 4};
};

void Remember(TapState& st, const bus::Sample& s) {
  if (s.pixels.empty() || s.has_label()) return;
  auto key = std::make_pair(s.source, s.seq);
  if (!st.seen.emplace(key, s).second) return;
  st.order.push_back(key);
  while (st.order.size() > kPixelsKept) {
    st.seen.erase(st.order.front());
    st.order.pop_front();
  }
}

caf::behavior PredictionTap(caf::stateful_actor<TapState>* self,
                            gateway::Gateway* gw) {
  self->set_error_handler([](caf::error&) {});  // a refused subscription
  auto from = [self] {
    return caf::actor_cast<bus::resource_actor>(self->current_sender());
  };
  return {
      [=](bus::deliver_atom, uint64_t, const bus::Sample& s) {
        Remember(self->state, s);
        self->state.credit.Consumed(self, from());
      },
      [=](bus::deliver_atom, uint64_t, const bus::Prediction& p) {
        gateway::RecentPrediction r;
        r.model = p.model;
        r.model_version = p.model_version;
        r.label = p.label;
        r.scores = p.scores;
        r.source = p.source;
        r.sample_seq = p.sample_seq;
        r.origin = p.origin;
        r.time_ns = absl::GetCurrentTimeNanos();
        auto it = self->state.seen.find({p.source, p.sample_seq});
        if (it != self->state.seen.end()) {
          r.shape = it->second.shape;
          r.pixels.assign(it->second.pixels.data(),
                          it->second.pixels.data() + it->second.pixels.size());
        }
        gw->predictions().Add(std::move(r));
        self->state.credit.Consumed(self, from());
      },
  };
}

using sample_atom = caf::atom_constant<caf::atom("gw_sample")>;

// Asks the directory for the bus metrics every kSampleEvery and pushes them
// to the gateway, from inside the run's actor system: the gateway's threads
// never call into the bus (a scoped_actor asking from the gateway's own
// thread kept ~actor_system waiting at the end of a run).
caf::behavior BusSampler(caf::event_based_actor* self,
                         bus::directory_actor directory, gateway::Gateway* gw) {
  self->send(self, sample_atom::value);
  return {
      [=](sample_atom) {
        self->request(directory, kPublishTimeout, bus::metrics_atom::value)
            .then(
                [=](std::vector<bus::ResourceMetrics>& m) {
                  gw->UpdateBus(std::move(m));
                },
                [](caf::error&) {});  // busy or going: keep the last one
        self->delayed_send(self, kSampleEvery, sample_atom::value);
      },
  };
}

Json SampleJson(uint64_t offset, const bus::Sample& s) {
  return {{"offset", offset},
          {"seq", s.seq},
          {"source", s.source},
          {"label", s.label},
          {"shape", s.shape},
          {"meta", s.meta},
          {"end_of_stream", s.end_of_stream()},
          {"pixels_b64",
           absl::Base64Escape(absl::string_view(
               reinterpret_cast<const char*>(s.pixels.data()),
               s.pixels.size()))}};
}

Json PredictionJson(uint64_t offset, const bus::Prediction& p) {
  return {{"offset", offset},         {"model", p.model},
          {"version", p.model_version}, {"label", p.label},
          {"scores", p.scores},       {"source", p.source},
          {"sample_seq", p.sample_seq}, {"origin", p.origin}};
}

Json MetricJson(uint64_t offset, const bus::Metric& m) {
  return {{"offset", offset}, {"model", m.model}, {"split", m.split},
          {"step", m.step},   {"values", m.values}, {"time_ns", m.time_ns}};
}

// What an HTTP subscriber has been delivered and not yet been sent.
struct Inbox {
  absl::Mutex mu;
  std::deque<Json> items ABSL_GUARDED_BY(mu);
  bool ended ABSL_GUARDED_BY(mu) = false;
  std::atomic<bool> cancelled{false};  // the HTTP client went away
  void Push(Json j) {
    absl::MutexLock lock(&mu);
    items.push_back(std::move(j));
    // A client that reads slower than the resource publishes loses the
    // oldest, as its drop_oldest subscription does.
    while (items.size() > kInboxKept) items.pop_front();
  }
  void End() {
    absl::MutexLock lock(&mu);
    ended = true;
  }
};

struct InboxState {
  bus::CreditReturner credit{16};
};

caf::behavior InboxActor(caf::stateful_actor<InboxState>* self,
                         std::shared_ptr<Inbox> inbox) {
  self->set_error_handler([self, inbox](caf::error&) {
    inbox->End();
    self->quit();
  });
  self->attach_functor([inbox] { inbox->End(); });
  auto take = [self, inbox](Json j) {
    if (inbox->cancelled) {
      self->quit();
      return;
    }
    inbox->Push(std::move(j));
    self->state.credit.Consumed(
        self, caf::actor_cast<bus::resource_actor>(self->current_sender()));
  };
  return {
      [=](bus::deliver_atom, uint64_t o, const bus::Sample& s) {
        take(SampleJson(o, s));
      },
      [=](bus::deliver_atom, uint64_t o, const bus::SampleBatch& b) {
        take({{"offset", o}, {"batch", b.count}, {"source", b.source}});
      },
      [=](bus::deliver_atom, uint64_t o, const bus::Prediction& p) {
        take(PredictionJson(o, p));
      },
      [=](bus::deliver_atom, uint64_t o, const bus::Metric& m) {
        take(MetricJson(o, m));
      },
  };
}

// An answer one thread waits for and an actor gives.
struct Reply {
  absl::Mutex mu;
  std::optional<absl::StatusOr<uint64_t>> value ABSL_GUARDED_BY(mu);
  void Set(absl::StatusOr<uint64_t> v) {
    absl::MutexLock lock(&mu);
    if (!value) value = std::move(v);
  }
  absl::StatusOr<uint64_t> Wait(absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return value.has_value();
    };
    if (!mu.AwaitWithTimeout(absl::Condition(&done), timeout)) {
      return absl::DeadlineExceededError(
          "the bus did not answer in time (the run may be ending)");
    }
    return *value;
  }
};

// Jobs for the bridge, sent with anon_send from the HTTP threads: only the
// run's own actors talk to the bus (a scoped_actor made on an HTTP thread
// kept ~actor_system waiting at the end of a run).
struct PublishJob {
  std::string resource;
  bus::Sample sample;
  std::shared_ptr<Reply> reply;
};
struct SubscribeJob {
  std::string resource;
  std::string name;
  std::shared_ptr<Inbox> inbox;
  std::shared_ptr<Reply> reply;
};

}  // namespace
}  // namespace trainbus::topology

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(trainbus::topology::PublishJob)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(trainbus::topology::SubscribeJob)

namespace trainbus::topology {
namespace {

// Looks resources up and publishes or subscribes for the HTTP adapter and
// the feedback path. Inbox actors are linked to it: they end with it.
caf::behavior BusBridge(caf::event_based_actor* self,
                        bus::directory_actor directory) {
  auto failed = [](std::shared_ptr<Reply> reply) {
    return [reply](caf::error& e) { reply->Set(base::ToStatus(e)); };
  };
  return {
      [=](const PublishJob& job) {
        self->request(directory, kPublishTimeout, bus::lookup_atom::value,
                      job.resource)
            .then(
                [=](bus::resource_actor& r) {
                  self->request(r, kPublishTimeout, bus::publish_atom::value,
                                job.sample)
                      .then([=](uint64_t o) { job.reply->Set(o); },
                            failed(job.reply));
                },
                failed(job.reply));
      },
      [=](const SubscribeJob& job) {
        self->request(directory, kPublishTimeout, bus::lookup_atom::value,
                      job.resource)
            .then(
                [=](bus::resource_actor& r) {
                  caf::actor inbox =
                      self->spawn<caf::linked>(InboxActor, job.inbox);
                  bus::SubscribeOptions sub;
                  sub.name = job.name;
                  // A slow client never holds a stream up.
                  sub.policy = bus::Policy::kDropOldest;
                  sub.max_queue = 256;
                  sub.initial_credit = 64;
                  bus::SubscribeNow(inbox, r, sub);
                  job.reply->Set(0);
                },
                failed(job.reply));
      },
  };
}

constexpr absl::Duration kReplyTimeout = absl::Seconds(12);

}  // namespace

// The run's bus for the gateway: publishes, subscriptions, the tap and the
// sampler. Closed (every call then fails, every subscription ends) before
// the bus goes.
struct RunDashboard::Live : gateway::ResourceAdapter {
  absl::StatusOr<uint64_t> Publish(const std::string& resource,
                                   gateway::AdapterSample sample) override {
    bus::Sample s;
    s.source = "http";
    s.shape = std::move(sample.shape);
    s.pixels = bus::Bytes(std::move(sample.pixels));
    s.label = sample.label;
    s.meta[bus::kOriginKey] = "http";
    return PublishSample(resource, std::move(s));
  }

  absl::StatusOr<uint64_t> PublishSample(const std::string& resource,
                                         bus::Sample s) {
    auto reply = std::make_shared<Reply>();
    {
      absl::MutexLock lock(&mu);
      if (closed) return absl::UnavailableError("the run has ended");
      s.seq = next_seq++;
      s.publish_ns = NowSteadyNs();
      caf::anon_send(bridge, PublishJob{resource, std::move(s), reply});
    }
    return reply->Wait(kReplyTimeout);
  }

  class Subscription : public gateway::AdapterSubscription {
   public:
    explicit Subscription(std::shared_ptr<Inbox> inbox)
        : inbox_(std::move(inbox)) {}
    ~Subscription() override { inbox_->cancelled = true; }

    absl::StatusOr<std::vector<Json>> Next(absl::Duration wait) override {
      absl::MutexLock lock(&inbox_->mu);
      Inbox* in = inbox_.get();
      auto ready = [in]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in->mu) {
        return in->ended || !in->items.empty();
      };
      inbox_->mu.AwaitWithTimeout(absl::Condition(&ready), wait);
      if (inbox_->items.empty() && inbox_->ended) {
        return absl::CancelledError("the subscription ended");
      }
      std::vector<Json> out(inbox_->items.begin(), inbox_->items.end());
      inbox_->items.clear();
      return out;
    }

   private:
    std::shared_ptr<Inbox> inbox_;
  };

  absl::StatusOr<std::unique_ptr<gateway::AdapterSubscription>> Subscribe(
      const std::string& resource) override {
    auto inbox = std::make_shared<Inbox>();
    auto reply = std::make_shared<Reply>();
    {
      absl::MutexLock lock(&mu);
      if (closed) return absl::UnavailableError("the run has ended");
      caf::anon_send(bridge,
                     SubscribeJob{resource, absl::StrCat("http:", ++subscribers),
                                  inbox, reply});
    }
    TB_RETURN_IF_ERROR(reply->Wait(kReplyTimeout).status());
    return std::unique_ptr<gateway::AdapterSubscription>(
        new Subscription(inbox));
  }

  // Stops every actor this made (the inboxes with the bridge).
  void Close() {
    absl::MutexLock lock(&mu);
    closed = true;
    for (caf::actor* a : {&bridge, &tap, &sampler}) {
      if (*a) caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
      *a = caf::actor();
    }
  }

  absl::Mutex mu;
  bool closed ABSL_GUARDED_BY(mu) = false;
  caf::actor bridge ABSL_GUARDED_BY(mu);
  caf::actor tap;
  caf::actor sampler;
  uint64_t subscribers ABSL_GUARDED_BY(mu) = 0;
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 0;
};

absl::StatusOr<std::unique_ptr<RunDashboard>> RunDashboard::Start(
    const TopologySpec& spec, DashboardOptions options) {
  TB_ASSIGN_OR_RETURN(auto address, ParseListenAddress(options.address));
  std::unique_ptr<RunDashboard> d(new RunDashboard());
  d->spec_ = &spec;
  gateway::GatewayOptions g;
  g.auth_token = options.auth_token;
  // Four models predicting 40 samples/s each turned 256 over in under two
  // seconds: a thumbnail was gone before its click (browser test).
  g.recent_predictions = kPredictionsKept;
  if (!options.registry_dir.empty()) {
    registry::StoreOptions so;
    so.root = options.registry_dir;
    so.read_only = true;
    // A registry that does not exist yet just has nothing to show.
    if (auto store = registry::Store::Open(so); store.ok()) {
      d->store_ = *std::move(store);
      g.registry = d->store_.get();
    }
  }
  d->gateway_ = std::make_unique<gateway::Gateway>(std::move(g));
  Json models = Json::array();
  for (const ModelEntry& m : spec.models) {
    models.push_back({{"name", m.name},
                      {"spec", m.spec_text},
                      {"input", m.input},
                      {"output", m.output},
                      {"predictions", m.predictions},
                      {"eval_every", m.eval_every}});
  }
  Json sources = Json::array();
  for (const SourceSpec& s : spec.sources) {
    sources.push_back({{"name", s.name}, {"kind", SourceKindName(s.kind)}});
  }
  d->gateway_->SetRun({{"name", spec.name},
                       {"description", spec.description},
                       {"models", models},
                       {"sources", sources},
                       {"started_ns", absl::GetCurrentTimeNanos()}});
  d->gateway_->SetTopology(TopologyGraphJson(spec));
  serving::ServerOptions http;
  http.host = address.first;
  http.port = address.second;
  http.threads = 32;
  TB_ASSIGN_OR_RETURN(d->http_, serving::HttpServer::Start(
                                    d->gateway_->Handler(), http));
  d->url_ = absl::StrCat("http://", address.first, ":", d->http_->port(), "/");
  return d;
}

RunDashboard::~RunDashboard() {
  EndRun();
  gateway_->Close();  // the streams end within a turn
  http_->Stop();
}

void RunDashboard::Attach(RunHooks* hooks) {
  gateway::Gateway* gw = gateway_.get();
  auto on_metric = std::move(hooks->on_metric);
  hooks->on_metric = [gw, on_metric](const bus::Metric& m) {
    gw->history().Append(m);
    if (on_metric) on_metric(m);
  };
  auto after_build = std::move(hooks->after_build);
  hooks->after_build = [this, after_build](PartContext& ctx) -> absl::Status {
    if (after_build) TB_RETURN_IF_ERROR(after_build(ctx));
    return BeginRun(ctx);
  };
  auto before_teardown = std::move(hooks->before_teardown);
  hooks->before_teardown = [this, before_teardown] {
    EndRun();
    if (before_teardown) before_teardown();
  };
}

absl::Status RunDashboard::BeginRun(PartContext& ctx) {
  bus::Bus* bus = &ctx.bus();
  bool declared = false;
  for (const ResourceSpec& r : spec_->resources) {
    declared = declared || r.options.name == kFeedbackResource;
  }
  if (!declared) {
    bus::ResourceOptions feedback;
    feedback.name = kFeedbackResource;
    TB_RETURN_IF_ERROR(bus->Declare(feedback).status());
    Json graph = TopologyGraphJson(*spec_);
    graph["nodes"].push_back(Node("resource", kFeedbackResource,
                                  "dashboard labels", ""));
    gateway_->SetTopology(std::move(graph));
  }
  live_ = std::make_shared<Live>();
  {
    absl::MutexLock lock(&live_->mu);
    live_->bridge = ctx.system().spawn(BusBridge, bus->directory());
  }
  // The tap: predictions, and the unlabelled samples they were made on.
  std::set<std::string> predictions, production;
  for (const ModelEntry& m : spec_->models) {
    if (!m.predictions.empty()) predictions.insert(m.predictions);
  }
  for (const SourceSpec& s : spec_->sources) {
    if (s.kind != SourceKind::kIdxGenerator || !s.labels) {
      production.insert(s.output);
    }
  }
  if (!predictions.empty()) {
    live_->tap = ctx.system().spawn(PredictionTap, gateway_.get());
    auto subscribe = [&](const std::string& name, bus::Filter filter) {
      absl::StatusOr<bus::resource_actor> r = ctx.Resource(name);
      if (!r.ok()) return;
      bus::SubscribeOptions sub;
      sub.name = name + "->dashboard";
      sub.filter = filter;
      sub.policy = bus::Policy::kDropOldest;
      sub.max_queue = kTapQueue;
      sub.initial_credit = kTapCredit;
      bus::SubscribeNow(live_->tap, *r, sub);
    };
    for (const std::string& p : predictions) subscribe(p, bus::Filter::All());
    for (const std::string& p : production) {
      subscribe(p, bus::Filter::Unlabelled());
    }
  }
  std::weak_ptr<Live> weak = live_;
  gateway_->SetFeedback(
      [weak](const gateway::RecentPrediction& p,
             int32_t label) -> absl::StatusOr<uint64_t> {
        std::shared_ptr<Live> live = weak.lock();
        if (!live) return absl::UnavailableError("the run has ended");
        bus::Sample s;
        s.source = "dashboard";
        s.shape = p.shape;
        s.pixels = bus::Bytes(p.pixels);
        s.label = label;
        s.meta[bus::kOriginKey] = p.origin;
        s.meta["predicted_by"] = p.model;
        s.meta["predicted_label"] = absl::StrCat(p.label);
        return live->PublishSample(kFeedbackResource, std::move(s));
      },
      kFeedbackResource);
  gateway_->SetAdapter(live_);
  live_->sampler = ctx.system().spawn(BusSampler, bus->directory(),
                                      gateway_.get());
  AddAmqpCollector(ctx.amqp_counters());
  gateway_->SetState("running");
  return absl::OkStatus();
}

void RunDashboard::AddAmqpCollector(
    std::map<std::string, std::shared_ptr<const amqp::BridgeCounters>>
        counters) {
  if (counters.empty()) return;
  // The counters outlive the run (shared): the last figures stay on
  // /metrics after it, e.g. with --dashboard_hold.
  gateway_->AddMetricsCollector(
      [counters = std::move(counters)](report::MetricRegistry* out) {
        std::vector<amqp::BridgeStats> stats;
        for (const auto& [name, c] : counters) stats.push_back(c->Snapshot());
        return gateway::AddAmqpMetrics(stats, out);
      });
}

void RunDashboard::EndRun() {
  if (!live_) return;
  gateway_->SetAdapter(nullptr);
  gateway_->SetFeedback(nullptr, "");
  live_->Close();
  live_.reset();
}

void RunDashboard::Finish(const absl::StatusOr<RunReport>& report) {
  EndRun();
  if (!report.ok()) {
    gateway_->SetState(absl::StrCat("failed: ", report.status().message()));
    return;
  }
  // A placed run's report has no bus figures: keep the last sampled ones.
  if (!report->bus.empty()) gateway_->UpdateBus(report->bus);
  gateway_->SetState("finished");
}

void RunDashboard::HoldUntilSignal(std::ostream& out) const {
  out << "dashboard: the run is over; still serving " << url_
      << " until SIGINT or SIGTERM" << std::endl;
  for (;;) pause();  // the signal's default action ends the process
}

}  // namespace trainbus::topology
