#include "actors/population/controller.h"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "base/status_error.h"
#include "bus/atoms.h"
#include "bus/message.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

struct ControllerState {
  PopulationControllerOptions options;
  std::optional<topology::Population> population;
  std::map<std::string, size_t> index;  // member name -> position
  std::map<caf::actor_addr, std::string> joined;  // actor -> member name
  size_t gone = 0;
  std::chrono::steady_clock::time_point start;

  static inline const char* name = "trainbus.population";
};

using Self = caf::stateful_actor<ControllerState>;

// The event for `d`, kept in the result; `error` is filled in later if the
// messages that carry it out fail.
size_t Log(Self* self, const topology::Decision& d) {
  auto& st = self->state;
  const double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - st.start)
                             .count();
  st.options.result->events.push_back({d, seconds, ""});
  if (st.options.print && d.kind == topology::Decision::Kind::kPrune) {
    caf::aout(self) << absl::StrFormat(
        "population: %s pruned at rung %d (acc %.4f)\n", d.model, d.point,
        d.accuracy);
  } else if (st.options.print) {
    caf::aout(self) << absl::StrFormat(
        "population: %s (acc %.4f) copies %s (acc %.4f) at %d, then %s\n",
        d.model, d.accuracy, d.donor, d.donor_accuracy, d.point,
        nn::FormatModelSpec(d.spec));
  }
  return st.options.result->events.size() - 1;
}

void Failed(Self* self, size_t event, const caf::error& err) {
  auto& ev = self->state.options.result->events[event];
  ev.error = base::ErrorToString(err);
  caf::aout(self) << "population: could not carry out the decision for "
                  << ev.decision.model << ": " << ev.error << "\n";
}

const PopulationMember* Member(Self* self, const std::string& name) {
  auto it = self->state.index.find(name);
  return it == self->state.index.end()
             ? nullptr
             : &self->state.options.members[it->second];
}

// Unbind first: the stream stops waiting for the model before it goes.
void Prune(Self* self, const topology::Decision& d, size_t event) {
  const PopulationMember* m = Member(self, d.model);
  if (m == nullptr) return;
  const caf::actor actor = m->actor;
  const std::string why =
      absl::StrFormat("pruned by ASHA at rung %d (acc %.4f)", d.point,
                      d.accuracy);
  auto left = std::make_shared<size_t>(m->feeds.size());
  auto unbound = [=] {
    if (--*left == 0) self->send(actor, stop_atom::value, why);
  };
  if (*left == 0) self->send(actor, stop_atom::value, why);
  for (const std::string& feed : m->feeds) {
    self->request(self->state.options.directory, caf::infinite,
                  bus::unbind_atom::value, feed, m->resource)
        .then([=](bool) { unbound(); },
              [=](caf::error& err) {
                Failed(self, event, err);
                unbound();
              });
  }
}

void Copy(Self* self, const topology::Decision& d, size_t event) {
  const PopulationMember* donor = Member(self, d.donor);
  const PopulationMember* receiver = Member(self, d.model);
  if (donor == nullptr || receiver == nullptr) return;
  const caf::actor to = receiver->actor;
  const std::string spec = nn::FormatModelSpec(d.spec);
  auto fail = [=](caf::error& err) { Failed(self, event, err); };
  self->request(donor->actor, caf::infinite, checkpoint_atom::value)
      .then(
          [=](ModelCheckpoint& ckpt) {
            self->request(to, caf::infinite, checkpoint_atom::value,
                          std::move(ckpt.bytes))
                .then(
                    [=](uint64_t) {
                      self->request(to, caf::infinite, hyper_atom::value, spec)
                          .then([](const std::string&) {}, fail);
                    },
                    fail);
          },
          fail);
}

void Carry(Self* self, const std::vector<topology::Decision>& decisions) {
  if (decisions.empty()) return;
  self->state.options.result->fates = self->state.population->fates();
  for (const topology::Decision& d : decisions) {
    const size_t event = Log(self, d);
    if (d.kind == topology::Decision::Kind::kPrune) {
      Prune(self, d, event);
    } else {
      Copy(self, d, event);
    }
  }
}

void OnMetric(Self* self, const bus::Metric& m) {
  if (m.split != "test") return;
  auto acc = m.values.find("test_accuracy");
  auto samples = m.values.find("samples");
  if (acc == m.values.end() || samples == m.values.end()) return;
  Carry(self, self->state.population->Report(
                  m.model, static_cast<uint64_t>(samples->second),
                  acc->second));
}

// A member's actor went: its stream ended (or it failed, or was pruned).
void OnGone(Self* self, const caf::down_msg& down) {
  auto& st = self->state;
  auto it = st.joined.find(down.source);
  if (it == st.joined.end()) return;
  const std::string name = it->second;
  st.joined.erase(it);
  Carry(self, st.population->Finished(name));
  if (++st.gone < st.options.members.size()) return;
  st.options.result->fates = st.population->fates();
  if (st.options.waiter) self->send(st.options.waiter, bus::done_atom::value);
  self->quit();
}

void Join(Self* self, const std::string& name, const caf::actor& actor) {
  auto& st = self->state;
  auto it = st.index.find(name);
  if (it == st.index.end() || !actor) return;
  st.options.members[it->second].actor = actor;
  st.joined[actor.address()] = name;
  self->monitor(actor);
}

caf::behavior Controller(Self* self, PopulationControllerOptions options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.start = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, nn::ModelSpec>> models;
  for (size_t i = 0; i < st.options.members.size(); ++i) {
    st.index[st.options.members[i].name] = i;
    models.emplace_back(st.options.members[i].name,
                        st.options.members[i].spec);
  }
  st.population.emplace(st.options.population, std::move(models));
  st.options.result->fates = st.population->fates();
  for (const PopulationMember& m : st.options.members) {
    if (m.actor) Join(self, m.name, m.actor);
  }
  self->set_down_handler([=](const caf::down_msg& down) { OnGone(self, down); });
  return {
      [=](bus::deliver_atom, uint64_t, const bus::Metric& m) {
        OnMetric(self, m);
        self->send(self->state.options.metrics, bus::credit_atom::value,
                   uint32_t{1});
      },
      [=](join_atom, const std::string& name, const caf::actor& actor) {
        Join(self, name, actor);
      },
  };
}

}  // namespace

caf::actor SpawnPopulationController(caf::actor_system& sys,
                                     PopulationControllerOptions options) {
  return sys.spawn(Controller, std::move(options));
}

}  // namespace trainbus::actors
