// A resource: a named topic that accepts published messages and fans them out
// to its subscribers (bindings, models, consumers) under per-subscriber
// credit.
//
// Flow control. A subscriber grants credit ((credit_atom, n): "I can take n
// more"). Each subscriber has a queue of at most max_queue messages waiting
// for credit. When the queue is full the subscriber's policy decides:
//   block        the resource stops accepting publishes (their replies wait)
//                until the subscriber takes more; upstream slows down.
//   drop_oldest  the oldest queued message is dropped and counted.
//   catch_up     the subscriber is detached and later served from the
//                durable log, starting where it fell behind.
// So one slow subscriber under drop_oldest or catch_up never stalls its
// siblings, and under block it stalls everyone, on purpose.
//
// Zero copy. A publish is wrapped once into (deliver_atom, offset, payload)
// and that one caf::message (reference-counted) is sent to every subscriber
// whose filter passes it unchanged; the pixel Bytes are never copied.
//
// Durable resources append each accepted message to their log before they
// reply, so the reply (an offset) means "stored".
#ifndef TRAINBUS_BUS_RESOURCE_H_
#define TRAINBUS_BUS_RESOURCE_H_

#include "absl/status/statusor.h"
#include "bus/options.h"
#include "bus/protocol.h"
#include "caf/actor_system.hpp"

namespace trainbus::bus {

// Spawns a resource. A durable one opens (and recovers) its log first; an
// unusable log directory is an error, not a resource that loses data.
absl::StatusOr<resource_actor> SpawnResource(caf::actor_system& sys,
                                             const ResourceOptions& options);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_RESOURCE_H_
