// trainbus_registry: inspect and manage the trainbus registry from a shell.
//
//   bazel run //registry:trainbus_registry -- ls models --limit 5
//   bazel run //registry:trainbus_registry -- tasks --json
//   bazel run //registry:trainbus_registry -- best --sort test_accuracy
#include <iostream>
#include <string>
#include <vector>

#include "registry/registry_cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return trainbus::registry::RunRegistryCli(args, std::cout, std::cerr);
}
