#include "actors/population/run_hook.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "bus/subscribe.h"

namespace trainbus::actors {
namespace {

// The members in spec order, with the sources of their feed bindings.
absl::StatusOr<std::vector<PopulationMember>> Members(
    const topology::TopologySpec& spec, topology::PartContext& ctx) {
  std::vector<PopulationMember> out;
  for (const topology::ModelEntry& entry : spec.models) {
    auto it = ctx.models().find(entry.name);
    if (it == ctx.models().end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "population: model '", entry.name,
          "' is not in this process; run population specs in one process"));
    }
    PopulationMember m;
    m.name = entry.name;
    m.actor = it->second.actor;
    m.resource = entry.input;
    m.spec = entry.spec;
    for (const std::string& feed : it->second.feeds) {  // "from->to"
      std::vector<std::string> ends = absl::StrSplit(feed, "->");
      if (!ends.empty()) m.feeds.push_back(ends[0]);
    }
    out.push_back(std::move(m));
  }
  return out;
}

// The one resource every member publishes its metrics to.
absl::StatusOr<std::string> MetricsResource(
    const topology::TopologySpec& spec) {
  const std::string& first = spec.models.front().output;
  for (const topology::ModelEntry& m : spec.models) {
    if (m.output != first) {
      return absl::InvalidArgumentError(absl::StrCat(
          "population: models '", spec.models.front().name, "' and '",
          m.name, "' publish to different outputs ('", first, "', '",
          m.output, "'); give every model the same output so the controller "
          "hears them all"));
    }
  }
  return first;
}

}  // namespace

std::function<absl::Status(topology::PartContext&)> PopulationHook(
    const topology::TopologySpec& spec, bool print,
    std::shared_ptr<PopulationResult> result) {
  return [&spec, print, result](topology::PartContext& ctx) -> absl::Status {
    if (!spec.population || spec.models.empty()) return absl::OkStatus();
    TB_ASSIGN_OR_RETURN(std::string output, MetricsResource(spec));
    TB_ASSIGN_OR_RETURN(bus::resource_actor metrics, ctx.Resource(output));
    PopulationControllerOptions c;
    c.population = spec.population->options;
    TB_ASSIGN_OR_RETURN(c.members, Members(spec, ctx));
    c.directory = ctx.bus().directory();
    c.metrics = metrics;
    c.print = print;
    c.result = result;
    caf::actor controller = SpawnPopulationController(ctx.system(), c);
    bus::SubscribeOptions sub;
    sub.name = "population";
    sub.initial_credit = 256;
    bus::SubscribeNow(controller, metrics, sub);
    return absl::OkStatus();
  };
}

}  // namespace trainbus::actors
