// Population training in a spec run: the RunHooks::after_build hook that
// puts a population controller (controller.h) over the models a run built.
//
//   auto result = std::make_shared<actors::PopulationResult>();
//   if (spec.population) {
//     options.hooks.after_build = PopulationHook(spec, print, result);
//   }
//   RunSpec(spec, options);  // result->fates: who was pruned, who copied whom
//
// Every model of the spec is a member. They must publish their metrics to
// one resource: the controller subscribes to it for their accuracies.
#ifndef TRAINBUS_ACTORS_POPULATION_RUN_HOOK_H_
#define TRAINBUS_ACTORS_POPULATION_RUN_HOOK_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "actors/population/controller.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus::actors {

// `spec` must outlive the run (it is read when the hook runs).
std::function<absl::Status(topology::PartContext&)> PopulationHook(
    const topology::TopologySpec& spec, bool print,
    std::shared_ptr<PopulationResult> result);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_POPULATION_RUN_HOOK_H_
