#include "base/command_line.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trainbus::base {

absl::StatusOr<std::vector<LongFlag>> SplitLongFlags(
    const std::vector<std::string>& args, const std::set<std::string>& switches) {
  std::vector<LongFlag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!absl::StartsWith(args[i], "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", args[i], "'"));
    }
    LongFlag flag;
    flag.name = args[i].substr(2);
    if (size_t eq = flag.name.find('='); eq != std::string::npos) {
      flag.value = flag.name.substr(eq + 1);
      flag.name.resize(eq);
    } else if (switches.count(flag.name) == 0) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag.name, " needs a value"));
      }
      flag.value = args[++i];
    }
    flags.push_back(std::move(flag));
  }
  return flags;
}

}  // namespace trainbus::base
