// The population controller: the actor that carries out ASHA's and PBT's
// decisions (topology/population.h) on live model actors sharing a stream.
//
//   caf::actor c = SpawnPopulationController(sys, std::move(options));
//   bus::SubscribeNow(c, metrics, sub);  // it hears every model's Metric
//   // then tell c which actor is which model:
//   caf::anon_send(c, join_atom::value, std::string("m1"), m1_actor);
//
// Each model's held-out accuracy (its "test" Metric: test_accuracy at
// samples) is a report. A pruned model is unbound (the directory removes
// its feed binding, so the stream stops waiting for it) and then stopped, so
// its core goes to the survivors at once. A PBT copy asks the donor for its
// checkpoint, hands the bytes to the receiver, then sets the receiver's
// perturbed hyperparameters: three messages, each between two samples of
// the actor that handles it.
//
// `*result` is kept up to date as decisions are made. When every member's
// actor has gone (finished, failed or stopped) the controller sends
// (done_atom) to `waiter` and quits.
#ifndef TRAINBUS_ACTORS_POPULATION_CONTROLLER_H_
#define TRAINBUS_ACTORS_POPULATION_CONTROLLER_H_

#include <memory>
#include <string>
#include <vector>

#include "actors/model/model_actor.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "kernels/nn/model.h"
#include "topology/population.h"

namespace trainbus::actors {

// (join_atom, name, actor): the model actor of member `name`.
using join_atom = caf::atom_constant<caf::atom("join")>;

struct PopulationMember {
  std::string name;      // as in its Metrics and summary
  caf::actor actor;      // or null until (join_atom, name, actor)
  std::string resource;  // the resource it trains on
  std::vector<std::string> feeds;  // the bindings feed -> resource
  nn::ModelSpec spec;
};

// One decision as carried out, in the order they were made.
struct PopulationEvent {
  topology::Decision decision;
  double seconds = 0;     // since the controller started
  std::string error;      // why it could not be carried out, or ""
};

struct PopulationResult {
  std::vector<topology::Fate> fates;  // per member, in member order
  std::vector<PopulationEvent> events;
};

struct PopulationControllerOptions {
  topology::PopulationOptions population;
  std::vector<PopulationMember> members;
  bus::directory_actor directory;  // where the feed bindings live
  bus::resource_actor metrics;     // the models' metrics (credit goes here)
  bool print = true;               // a line per decision
  caf::actor waiter;               // gets (done_atom) at the end; may be null
  std::shared_ptr<PopulationResult> result;
};

caf::actor SpawnPopulationController(caf::actor_system& sys,
                                     PopulationControllerOptions options);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_POPULATION_CONTROLLER_H_
