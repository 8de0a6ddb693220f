// The atoms of the bus protocol (CAF 0.17: at most 10 characters each).
//
// Resource:   (publish_atom, T) -> uint64_t offset,  T in Sample, SampleBatch,
//             Prediction, Metric.  Replies once the message is accepted; under
//             the "block" policy that waits for room (backpressure).
//             (subscribe_atom, caf::actor target, SubscribeOptions) -> uint64_t
//             (credit_atom, uint32_t n)   from a subscriber: n more messages.
//             (unsubscribe_atom, caf::actor target)
//             (metrics_atom) -> ResourceMetrics
// Subscriber: (deliver_atom, uint64_t offset, T)
// Directory:  (declare_atom, ResourceOptions) -> caf::actor
//             (bind_atom, BindingOptions) -> caf::actor
//             (lookup_atom, std::string) -> caf::actor
//             (attach_atom, std::string, caf::actor) -> caf::actor
//             (describe_atom) -> TopologyDescription
//             (metrics_atom) -> std::vector<ResourceMetrics>
#ifndef TRAINBUS_BUS_ATOMS_H_
#define TRAINBUS_BUS_ATOMS_H_

#include "caf/atom.hpp"

namespace trainbus::bus {

using publish_atom = caf::atom_constant<caf::atom("publish")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using declare_atom = caf::atom_constant<caf::atom("declare")>;
using bind_atom = caf::atom_constant<caf::atom("bind")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_ATOMS_H_
