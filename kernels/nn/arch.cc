// The architectures: their names and planners (see arch.h).
//
// To add an architecture, write its planner below (or reuse one with other
// defaults) and add its row to kArchitectures (and the enumerator in model.h).
#include "kernels/nn/arch.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/nn/model.h"
#include "kernels/nn/plan.h"

namespace trainbus::nn {
namespace internal {
namespace {

// Dense classifiers on the flat input:
//   softmax  dense(CHW -> classes), no hidden layers;
//   mlp      dense(CHW -> H1) ReLU [-> H2 ReLU ...] -> dense(-> classes),
//            hidden=256 when the spec names none.
class DensePlanner final : public ArchPlanner {
 public:
  explicit DensePlanner(std::vector<uint32_t> default_hidden)
      : default_hidden_(std::move(default_hidden)) {}
  bool takes_hidden() const override { return !default_hidden_.empty(); }
  bool takes_conv() const override { return false; }
  void ApplyDefaults(ModelSpec* spec) const override {
    if (spec->hidden.empty()) spec->hidden = default_hidden_;
  }
  absl::Status Plan(const std::string&, NetworkPlan* plan) const override {
    plan->AddClassifier(plan->spec().InputSize());
    return absl::OkStatus();
  }

 private:
  std::vector<uint32_t> default_hidden_;
};

// cnn: for each c in conv: conv k x k -> ReLU -> maxpool 2x2, then flatten
// -> [dense(-> h) ReLU for h in hidden] -> dense(classes). Conv layers run
// channel-major, so a multi-channel input is transposed first.
class CnnPlanner final : public ArchPlanner {
 public:
  bool takes_hidden() const override { return true; }
  bool takes_conv() const override { return true; }
  void ApplyDefaults(ModelSpec* spec) const override {
    if (spec->conv.empty()) spec->conv = {8, 16};
  }
  absl::Status Plan(const std::string& text,
                    NetworkPlan* plan) const override {
    const ModelSpec& s = plan->spec();
    size_t c = s.channels, h = s.height, w = s.width;
    if (c > 1) plan->AddTranspose(c, h * w, /*to_channel_major=*/true);
    const uint32_t k = s.kernel;
    const size_t pad = s.same_padding ? (k - 1) / 2 : 0;
    for (size_t i = 0; i < s.conv.size(); ++i) {
      // The conv output must hold at least one 2x2 pooling window.
      if (h + 2 * pad < k + 1 || w + 2 * pad < k + 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "cnn '", text, "': conv layer ", i + 1, " gets a ", h, "x", w,
            " input, too small for a ", k, "x", k, " conv and a 2x2 pool; use "
            "fewer conv layers, padding=same, a smaller kernel or a larger "
            "input"));
      }
      const kernels::ConvShape shape{0, c, h, w, s.conv[i], k, pad};
      plan->AddConv(absl::StrCat("conv", i + 1), shape);
      c = s.conv[i];
      h = shape.OutHeight();
      w = shape.OutWidth();
      plan->AddPool(c, h, w);
      h /= 2;
      w /= 2;
    }
    plan->AddTranspose(c, h * w, /*to_channel_major=*/false);
    plan->AddClassifier(c * h * w);
    return absl::OkStatus();
  }
};

struct ArchRow {
  Arch arch;
  const char* name;
  const ArchPlanner* planner;
};

// The one name <-> enum <-> planner table.
const ArchRow kArchitectures[] = {
    {Arch::kSoftmax, "softmax", new DensePlanner({})},
    {Arch::kMlp, "mlp", new DensePlanner({256})},
    {Arch::kCnn, "cnn", new CnnPlanner},
};

const ArchRow* FindRow(Arch arch) {
  for (const ArchRow& row : kArchitectures) {
    if (row.arch == arch) return &row;
  }
  return nullptr;
}

}  // namespace

const ArchPlanner* FindPlanner(Arch arch) {
  const ArchRow* row = FindRow(arch);
  return row == nullptr ? nullptr : row->planner;
}

std::string ArchNamesWhere(bool (ArchPlanner::*capability)() const) {
  std::string out;
  for (const ArchRow& row : kArchitectures) {
    if (!(row.planner->*capability)()) continue;
    absl::StrAppend(&out, out.empty() ? "" : " or ", "'", row.name, "'");
  }
  return out;
}

}  // namespace internal

absl::string_view ArchName(Arch arch) {
  const internal::ArchRow* row = internal::FindRow(arch);
  return row == nullptr ? absl::string_view("unknown") : row->name;
}

std::optional<Arch> ArchFromName(absl::string_view name) {
  for (const internal::ArchRow& row : internal::kArchitectures) {
    if (row.name == name) return row.arch;
  }
  return std::nullopt;
}

std::string ArchNameList() {
  std::string out;
  const size_t n = sizeof(internal::kArchitectures) /
                   sizeof(internal::kArchitectures[0]);
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : (i + 1 == n ? " or " : ", "),
                    internal::kArchitectures[i].name);
  }
  return out;
}

}  // namespace trainbus::nn
