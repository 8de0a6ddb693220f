// One planner per architecture (internal to nn): the keys it accepts, its
// defaults and its layer plan. The parser, the formatter and Network ask the
// planner instead of comparing architecture names.
//
// Adding an architecture: an enumerator in model.h's Arch, a planner class and
// a row of kArchitectures in arch.cc. That is all.
#ifndef TRAINBUS_KERNELS_NN_ARCH_H_
#define TRAINBUS_KERNELS_NN_ARCH_H_

#include <string>

#include "absl/status/status.h"
#include "kernels/nn/model.h"
#include "kernels/nn/plan.h"

namespace trainbus::nn::internal {

class ArchPlanner {
 public:
  virtual ~ArchPlanner() = default;
  // Takes hidden dense layers (key hidden, and so dropout).
  virtual bool takes_hidden() const = 0;
  // Takes conv layers (keys conv, kernel, padding).
  virtual bool takes_conv() const = 0;
  // Fills what the spec leaves empty (e.g. mlp's hidden=256).
  virtual void ApplyDefaults(ModelSpec* spec) const = 0;
  // Appends the layers of a validated, defaulted spec. `text` is the
  // formatted spec, for error messages.
  virtual absl::Status Plan(const std::string& text,
                            NetworkPlan* plan) const = 0;
};

// The planner of `arch`; null for a value outside the enum.
const ArchPlanner* FindPlanner(Arch arch);
// "'cnn'" or "'mlp' or 'cnn'": the architectures with a capability, for
// error messages.
std::string ArchNamesWhere(bool (ArchPlanner::*capability)() const);

}  // namespace trainbus::nn::internal

#endif  // TRAINBUS_KERNELS_NN_ARCH_H_
