// `trainbus validate SPEC`, `trainbus describe SPEC [--format=table|dot]`
// and `trainbus run SPEC [flags]`.
//
//   return trainbus::topology::ValidateMain(args, std::cout, std::cerr);
//
// All exit 0 on success, 2 for a bad command line or an invalid spec (every
// error printed, one per line, as FILE:LINE:COLUMN: message) and 1 when the
// file cannot be read. `run` also exits 1 when the run fails (a timeout, a
// model that stopped with an error, results that could not be written).
#ifndef TRAINBUS_TOPOLOGY_CLI_H_
#define TRAINBUS_TOPOLOGY_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "topology/spec.h"

namespace trainbus::topology {

// `args` are the words after the command name.
int ValidateMain(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);
int DescribeMain(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

// `path` as the user meant it: under `bazel run` (BUILD_WORKING_DIRECTORY
// set) a relative path is relative to where bazel was run, not to the
// runfiles; otherwise `path` itself.
std::string UserPath(const std::string& path);

// `trainbus run SPEC [--epochs=N] [--models=...] ...` (see --help): runs the
// spec in this process, prints the summary, writes the report files.
int RunMain(const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err);

// The flags of `trainbus run` that change the spec (--epochs, --models,
// --train_limit, ...) applied to `spec`; the others (--quiet, --report_json,
// --out_dir, --timeout_s) are ignored. A placed run's hub and nodes all
// apply the hub's flags with it (topology/node.h).
absl::Status ApplyRunFlags(const std::vector<std::string>& args,
                           TopologySpec* spec);

// The same for a spec given as text (an experiment binary that embeds its
// spec): `origin` names it in errors, `args` are only flags.
int RunSpecTextMain(absl::string_view origin, absl::string_view text,
                    const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_CLI_H_
