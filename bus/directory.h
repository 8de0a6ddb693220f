// The directory: one per actor system, it owns the topology. Resources and
// bindings are declared through it, by name, any number of times.
//
//   bus::directory_actor dir = trainbus::bus::SpawnDirectory(sys);
//   self->request(dir, infinite, declare_atom::value, ResourceOptions{"mnist"})
//   self->request(dir, infinite, bind_atom::value,
//                 BindingOptions{"mnist", "model1", Filter::Labelled()})
//
// Declaring an existing resource with the same options, or an existing
// binding with the same filter and policy, returns the existing actor.
// A binding that would close a cycle is refused (messages would circle
// forever), and so is a binding that names an undeclared resource.
// Unbinding (from, to) removes the binding and stops its actor at once, so
// `from` no longer waits for `to`; unbinding one that is not there (again)
// is harmless and replies false.
// Resources on other nodes join a directory through (attach_atom, name, actor)
// and are then bound to like local ones.
#ifndef TRAINBUS_BUS_DIRECTORY_H_
#define TRAINBUS_BUS_DIRECTORY_H_

#include "bus/protocol.h"
#include "caf/actor_system.hpp"

namespace trainbus::bus {

directory_actor SpawnDirectory(caf::actor_system& sys);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_DIRECTORY_H_
