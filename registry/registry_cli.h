// The `trainbus registry` command line: list, show, rank, alias and delete
// registry records, as aligned tables or JSON. A library so the `trainbus`
// tool can forward its arguments; trainbus_registry is the stand-alone binary.
//
//   std::ostringstream out, err;
//   int rc = RunRegistryCli({"best", "--sort", "test_accuracy"}, out, err);
//
// Commands (run `help` for the full text):
//   ls [models|datasets|logs|tasks] [--filter F] [--sort S] [--limit N]
//   show <name>[:version|@alias]     show dataset <name>[:version]
//   show task <id>                   best [--sort KEY [asc|desc]] [--filter F]
//   tasks [--filter F]               unfinished
//   alias <name> <alias> <version>   delete [models|logs] --filter F --yes
//   verify                           (every blob's size and sha256)
//   predictions [--run R]            predictions --batch ID
// Common flags: --registry_dir DIR, --project P, --json. Every command needs
// an existing registry (none is created); only alias and delete --yes write.
#ifndef TRAINBUS_REGISTRY_REGISTRY_CLI_H_
#define TRAINBUS_REGISTRY_REGISTRY_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace trainbus::registry {

// Returns the process exit code: 0 success, 1 failure, 2 usage error.
int RunRegistryCli(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_REGISTRY_CLI_H_
