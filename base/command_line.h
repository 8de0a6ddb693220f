// The long flags of a subcommand (`trainbus runner --lease_ms=500 --forever`)
// split into names and values, one way for every subcommand.
//
//   absl::StatusOr<std::vector<base::LongFlag>> flags =
//       base::SplitLongFlags(args, /*switches=*/{"forever"});
//   if (!flags.ok()) ...;  // "unexpected argument 'x'", "--port needs a value"
//   for (const base::LongFlag& f : *flags) { ... f.name, f.value ... }
#ifndef TRAINBUS_BASE_COMMAND_LINE_H_
#define TRAINBUS_BASE_COMMAND_LINE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace trainbus::base {

struct LongFlag {
  std::string name;   // without the leading "--"
  std::string value;  // empty for a switch
};

// Accepts "--name=value", "--name value" and, for the names in `switches`,
// a bare "--name". Anything else is an InvalidArgument error naming it.
absl::StatusOr<std::vector<LongFlag>> SplitLongFlags(
    const std::vector<std::string>& args,
    const std::set<std::string>& switches = {});

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_COMMAND_LINE_H_
