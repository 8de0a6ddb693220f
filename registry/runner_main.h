// The body of a `trainbus runner` binary: parses runner flags, connects to a
// registry (a local directory, or a registry node over the middleman) and
// runs tasks with the caller's training function until none is open.
//
//   int main(int argc, char** argv) {
//     return trainbus::registry::RunnerMain(
//         std::vector<std::string>(argv + 1, argv + argc), MyTrainFn,
//         std::cout, std::cerr);
//   }
//
// Flags:
//   --registry_dir DIR     open the registry directly (default: Store::DefaultRoot)
//   --registry_node H:P    use a published registry actor instead
//   --runner_id ID         default: MakeRunnerId()
//   --lease_ms N           default 30000
//   --heartbeat_ms N       default lease / 3
//   --max_tasks N          stop after N tasks (default: no limit)
//   --forever              keep waiting for new tasks
#ifndef TRAINBUS_REGISTRY_RUNNER_MAIN_H_
#define TRAINBUS_REGISTRY_RUNNER_MAIN_H_

#include <ostream>
#include <string>
#include <vector>

#include "registry/runner.h"

namespace trainbus::registry {

// Returns the process exit code (0: every claimed task was handled).
int RunnerMain(const std::vector<std::string>& args, const TaskFn& fn,
               std::ostream& out, std::ostream& err);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_RUNNER_MAIN_H_
