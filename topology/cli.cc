#include "topology/cli.h"

#include <cstdlib>
#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/file.h"
#include "topology/describe.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

constexpr char kValidateUsage[] =
    "usage: trainbus validate SPEC\n"
    "  checks a topology spec (YAML or JSON) and prints a one-line summary,\n"
    "  or every error as SPEC:LINE:COLUMN: message (exit 2)\n";

constexpr char kDescribeUsage[] =
    "usage: trainbus describe SPEC [--format=table|dot]\n"
    "  prints the topology's sources, resources, bindings, models, consumers\n"
    "  and nodes as tables (default) or as Graphviz DOT\n"
    "  (trainbus describe SPEC --format=dot | dot -Tsvg > topology.svg)\n";

struct Command {
  std::string spec_path;
  std::string format = "table";
  bool help = false;
};

// Returns nothing (and prints why) for a bad command line.
std::optional<Command> ParseArgs(const std::vector<std::string>& args,
                                 bool with_format, const char* usage,
                                 std::ostream& err) {
  Command command;
  for (const std::string& arg : args) {
    absl::string_view rest = arg;
    if (arg == "--help" || arg == "-h" || arg == "help") {
      command.help = true;
    } else if (with_format && absl::ConsumePrefix(&rest, "--format=")) {
      command.format = std::string(rest);
      if (command.format != "table" && command.format != "dot") {
        err << "trainbus: --format is '" << command.format
            << "'; use table or dot\n"
            << usage;
        return std::nullopt;
      }
    } else if (absl::StartsWith(arg, "-")) {
      err << "trainbus: unknown flag '" << arg << "'\n" << usage;
      return std::nullopt;
    } else if (command.spec_path.empty()) {
      command.spec_path = arg;
    } else {
      err << "trainbus: one SPEC only (got '" << command.spec_path << "' and '"
          << arg << "')\n"
          << usage;
      return std::nullopt;
    }
  }
  if (command.spec_path.empty() && !command.help) {
    err << "trainbus: missing SPEC\n" << usage;
    return std::nullopt;
  }
  return command;
}

// Parses the command line and loads the spec, then hands both to `print`.
// Exit codes as in cli.h.
int WithSpec(
    const std::vector<std::string>& args, bool with_format, const char* usage,
    std::ostream& out, std::ostream& err,
    const std::function<void(const Command&, const TopologySpec&)>& print) {
  std::optional<Command> command = ParseArgs(args, with_format, usage, err);
  if (!command.has_value()) return 2;
  if (command->help) {
    out << usage;
    return 0;
  }
  absl::StatusOr<std::string> text =
      base::ReadFile(UserPath(command->spec_path));
  if (!text.ok()) {
    err << text.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<TopologySpec> spec = ParseSpec(*text, command->spec_path);
  if (!spec.ok()) {
    err << spec.status().message() << "\n";
    return spec.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  print(*command, *spec);
  return 0;
}

}  // namespace

std::string UserPath(const std::string& path) {
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (dir == nullptr || *dir == '\0' || path.empty() || path[0] == '/') {
    return path;
  }
  return absl::StrCat(dir, "/", path);
}

int ValidateMain(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  return WithSpec(args, /*with_format=*/false, kValidateUsage, out, err,
                  [&](const Command& command, const TopologySpec& spec) {
                    out << command.spec_path << ": valid: " << Summary(spec)
                        << "\n";
                  });
}

int DescribeMain(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  return WithSpec(args, /*with_format=*/true, kDescribeUsage, out, err,
                  [&](const Command& command, const TopologySpec& spec) {
                    out << (command.format == "dot" ? DescribeDot(spec)
                                                    : DescribeTable(spec));
                  });
}

}  // namespace trainbus::topology
