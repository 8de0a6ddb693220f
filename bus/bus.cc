#include "bus/bus.h"

#include <utility>

#include "base/status_error.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "caf/all.hpp"

namespace trainbus::bus {

void AddBusTypes(caf::actor_system_config& cfg) {
  cfg.add_message_type<Bytes>("trainbus.Bytes")
      .add_message_type<Sample>("trainbus.Sample")
      .add_message_type<SampleBatch>("trainbus.SampleBatch")
      .add_message_type<Prediction>("trainbus.Prediction")
      .add_message_type<Metric>("trainbus.Metric")
      .add_message_type<Filter>("trainbus.Filter")
      .add_message_type<ResourceOptions>("trainbus.ResourceOptions")
      .add_message_type<SubscribeOptions>("trainbus.SubscribeOptions")
      .add_message_type<BindingOptions>("trainbus.BindingOptions")
      .add_message_type<SubscriptionMetrics>("trainbus.SubscriptionMetrics")
      .add_message_type<ResourceMetrics>("trainbus.ResourceMetrics")
      .add_message_type<std::vector<ResourceMetrics>>(
          "trainbus.ResourceMetricsList")
      .add_message_type<TopologyDescription>("trainbus.TopologyDescription")
      .add_message_type<subscriber_actor>("trainbus.subscriber_actor")
      .add_message_type<resource_actor>("trainbus.resource_actor");
  base::AddStatusErrors(cfg);
}

Bus::Bus(caf::actor_system& sys) : Bus(sys, SpawnDirectory(sys)) {}

Bus::Bus(caf::actor_system& sys, directory_actor directory)
    : sys_(sys), directory_(std::move(directory)) {}

template <class T, class... Ts>
absl::StatusOr<T> Bus::Ask(Ts&&... xs) {
  caf::scoped_actor self{sys_};
  absl::StatusOr<T> result = absl::UnavailableError("no reply");
  self->request(directory_, timeout_, std::forward<Ts>(xs)...)
      .receive([&](T& value) { result = std::move(value); },
               [&](caf::error& err) { result = base::ToStatus(err); });
  return result;
}

absl::StatusOr<resource_actor> Bus::Declare(const ResourceOptions& options) {
  return Ask<resource_actor>(declare_atom::value, options);
}

absl::StatusOr<binding_actor> Bus::Bind(const BindingOptions& options) {
  return Ask<binding_actor>(bind_atom::value, options);
}

absl::StatusOr<bool> Bus::Unbind(const std::string& from,
                                 const std::string& to) {
  return Ask<bool>(unbind_atom::value, from, to);
}

absl::StatusOr<resource_actor> Bus::Lookup(const std::string& name) {
  return Ask<resource_actor>(lookup_atom::value, name);
}

absl::StatusOr<resource_actor> Bus::Attach(const std::string& name,
                                           const resource_actor& resource) {
  return Ask<resource_actor>(attach_atom::value, name, resource);
}

absl::StatusOr<TopologyDescription> Bus::Describe() {
  return Ask<TopologyDescription>(describe_atom::value);
}

absl::StatusOr<std::vector<ResourceMetrics>> Bus::Metrics() {
  return Ask<std::vector<ResourceMetrics>>(metrics_atom::value);
}

}  // namespace trainbus::bus
