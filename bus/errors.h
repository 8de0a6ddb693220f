// The bus's error codes, as caf::error values with a human-readable context.
//
//   return MakeError(Errc::kUnknownResource,
//                    "resource 'mnist' not declared; declare it first");
#ifndef TRAINBUS_BUS_ERRORS_H_
#define TRAINBUS_BUS_ERRORS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "caf/atom.hpp"
#include "caf/error.hpp"
#include "caf/make_message.hpp"

namespace trainbus::bus {

enum class Errc : uint8_t {
  kUnknownResource = 1,
  kBindingCycle,
  kConflict,         // declared again with different options
  kInvalidArgument,
  kLogError,         // the durable log failed (I/O, corruption)
  kUnavailable,      // a node or actor is gone
};

const char* ErrcName(Errc code);

inline constexpr caf::atom_value kErrorCategory = caf::atom("trainbus");

inline caf::error MakeError(Errc code, std::string what) {
  return caf::error(static_cast<uint8_t>(code), kErrorCategory,
                    caf::make_message(std::move(what)));
}

// "unknown_resource: resource 'x' not declared; ..." for our errors, CAF's own
// text for the others. Needs no actor_system.
std::string ErrorToString(const caf::error& err);

// Maps a bus caf::error to an absl::Status with the same text.
absl::Status ToStatus(const caf::error& err);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_ERRORS_H_
