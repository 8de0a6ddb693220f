// The one bridge between absl::Status (library code) and caf::error (actor
// handlers and replies, also across the middleman).
//
// A bridged error is a caf::error in category "status" whose code is the
// absl::StatusCode and whose context is the message, so it survives a trip
// through a remote node and comes back as the same Status:
//
//   caf::result<uint64_t> Handler(...) {
//     if (absl::Status s = store.Append(x); !s.ok()) return ToCafError(s);
//     ...
//   }
//   ... [&](caf::error& err) { status = ToStatus(err); }
//
// Call AddStatusErrors(cfg) on every actor_system_config (AddBusTypes and
// AddRegistryMessageTypes do) so that CAF renders these errors as
// "NOT_FOUND: resource 'mnist' not declared; ..." instead of a number.
#ifndef TRAINBUS_BASE_STATUS_ERROR_H_
#define TRAINBUS_BASE_STATUS_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/error.hpp"

namespace trainbus::base {

inline constexpr caf::atom_value kStatusErrorCategory = caf::atom("status");

// An OK status gives the empty (no-error) caf::error.
caf::error ToCafError(const absl::Status& status);

// Our own errors come back with their code and message. Errors raised by CAF
// itself (a timeout, a dead or unreachable actor) become DEADLINE_EXCEEDED or
// UNAVAILABLE with CAF's name for them, e.g. "caf: request_timeout".
absl::Status ToStatus(const caf::error& error);

// Whether `error` was made by ToCafError (and not by CAF itself).
bool IsStatusError(const caf::error& error);

// "NOT_FOUND: resource 'x' not declared ..." for ours, "caf: ..." for CAF's,
// "ok" for no error. Needs no actor_system.
std::string ErrorToString(const caf::error& error);

// Registers the renderer of the "status" category. Calling it again is
// harmless.
void AddStatusErrors(caf::actor_system_config& cfg);

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_STATUS_ERROR_H_
