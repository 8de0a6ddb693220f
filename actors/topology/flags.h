// Command-line flags every topology experiment shares (--data_dir,
// --models, --seed) and the one way to read --models.
//
//   ABSL_FLAGs live in flags.cc; link //actors/topology:flags and call
//   if (absl::Status s = ReadModelsFlag(&config.models); !s.ok()) ...
#ifndef TRAINBUS_ACTORS_TOPOLOGY_FLAGS_H_
#define TRAINBUS_ACTORS_TOPOLOGY_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "actors/topology/components.h"

ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_DECLARE_FLAG(std::string, models);
ABSL_DECLARE_FLAG(uint64_t, seed);

namespace trainbus::actors {

// Replaces `models` with --models when it is given; keeps them otherwise.
absl::Status ReadModelsFlag(std::vector<NamedModel>* models);

// Prints "<program>: <message>" to stderr and returns the exit code for it:
// 2 for bad input (InvalidArgument), 1 for anything else.
int ReportFailure(const char* program, const absl::Status& status);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_TOPOLOGY_FLAGS_H_
