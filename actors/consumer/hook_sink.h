// A consumer that hands every message to callbacks: the place where a
// registry or log sink plugs into the bus without writing an actor.
//
//   HookSinkOptions o;
//   o.consumer.inputs = {*bus.Lookup("metrics")};
//   o.on_metric = [&registry](const bus::Metric& m) {
//     return registry.AppendMetric(m);  // absl::Status
//   };
//   SpawnHookSink(sys, o);
//
// Callbacks run on the consumer actor's thread, one message at a time, so
// they need no locking among themselves; whatever they share with other
// threads they must protect. A callback's error is counted (ConsumerStats
// errors, last_error) and the stream continues.
#ifndef TRAINBUS_ACTORS_CONSUMER_HOOK_SINK_H_
#define TRAINBUS_ACTORS_CONSUMER_HOOK_SINK_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "actors/consumer/consumer.h"
#include "bus/message.h"

namespace trainbus::actors {

struct HookSinkOptions {
  ConsumerOptions consumer;
  // Any of these may be empty: that kind of message is then only counted.
  std::function<absl::Status(const bus::Prediction&)> on_prediction;
  std::function<absl::Status(const bus::Metric&)> on_metric;
  std::function<absl::Status(const bus::Sample&)> on_sample;  // + end markers
  std::function<absl::Status()> on_flush;
};

std::unique_ptr<ConsumerLogic> MakeHookSinkLogic(HookSinkOptions options);

caf::actor SpawnHookSink(caf::actor_system& sys, HookSinkOptions options);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_CONSUMER_HOOK_SINK_H_
