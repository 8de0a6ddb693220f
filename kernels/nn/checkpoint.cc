// Checkpoint format, version 2 (all integers little-endian):
//
//   "TBNNCKPT"                      8-byte magic
//   u32 version                     2 (1 is read too)
//   u32 spec_len, spec bytes        FormatModelSpec(spec)
//   u64 steps
//   u32 tensor_count
//   tensor_count x { u32 name_len, name, u32 rank, u32 dims[rank] }
//   float32 data of every tensor, in the order listed
//   u64 FNV-1a 64 of every byte above
//
// Tensors are the parameters, then the optimizer state per parameter tensor
// ("<name>/momentum", or "<name>/adam_m" and "<name>/adam_v"), then (new in
// version 2) the buffers: batch norm's running statistics
// ("conv1.bn_running_mean", "conv1.bn_running_var"). Version 1 had no
// buffers and no batch norm, so a version-1 checkpoint is a version-2 one
// whose model has none and loads as such. Loading rebuilds the model from
// the spec and requires every name and shape to match, so a checkpoint
// cannot be poured into the wrong architecture.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/nn/network.h"
#include "kernels/nn/plan.h"

namespace trainbus::nn::internal {
namespace {

constexpr char kMagic[8] = {'T', 'B', 'N', 'N', 'C', 'K', 'P', 'T'};
constexpr uint32_t kVersion = 2;
constexpr uint32_t kOldestVersion = 1;

uint64_t Fnv1a64(const char* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(data[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

template <class T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // little-endian host (x86-64)
  out->append(buf, sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  template <class T>
  bool Get(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, std::string_view* v) {
    if (data_.size() - pos_ < n) return false;
    *v = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Calls visit(name, tensor, array) for every tensor, in checkpoint order:
// the parameters (array -1), each state array's copy of them (array s, named
// "<tensor>/<state_name(s)>"), then the buffers (array -2).
constexpr int kParams = -1, kBuffers = -2;
template <class StateName, class Visit>
void ForEachTensor(const std::vector<TensorInfo>& tensors,
                   const std::vector<TensorInfo>& buffers, size_t states,
                   StateName state_name, Visit visit) {
  for (const TensorInfo& t : tensors) visit(t.name, t, kParams);
  for (size_t s = 0; s < states; ++s) {
    for (const TensorInfo& t : tensors) {
      visit(absl::StrCat(t.name, "/", state_name(s)), t, static_cast<int>(s));
    }
  }
  for (const TensorInfo& t : buffers) visit(t.name, t, kBuffers);
}

struct Entry {
  std::string name;
  std::vector<uint32_t> shape;
  const float* src;  // null in a plan's table
  float* dst;
  size_t size;
};

// The tensors of `net`; with `mutable_net` (the same network), writable.
std::vector<Entry> Entries(Network* mutable_net, const Network& net) {
  std::vector<Entry> entries;
  ForEachTensor(
      net.tensors(), net.buffer_tensors(), net.state_count(),
      [&](size_t s) { return net.state_name(s); },
      [&](std::string name, const TensorInfo& t, int array) {
        const float* src = array == kParams    ? net.params()
                           : array == kBuffers ? net.buffers()
                                               : net.state(array);
        float* dst = nullptr;
        if (mutable_net != nullptr) {
          dst = array == kParams    ? mutable_net->mutable_params()
                : array == kBuffers ? mutable_net->mutable_buffers()
                                    : mutable_net->mutable_state(array);
        }
        entries.push_back({std::move(name), t.shape, src + t.offset,
                           dst ? dst + t.offset : nullptr, t.size});
      });
  return entries;
}

// The tensors a network of `plan` will have, with no memory behind them: a
// checkpoint's table is checked against this before anything is allocated.
std::vector<Entry> PlannedEntries(const NetworkPlan& plan) {
  std::vector<Entry> entries;
  ForEachTensor(
      plan.tensors(), plan.buffers(), plan.state_count(),
      [&](size_t s) { return plan.state_name(s); },
      [&](std::string name, const TensorInfo& t, int) {
        entries.push_back({std::move(name), t.shape, nullptr, nullptr, t.size});
      });
  return entries;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "model checkpoint is corrupt: ", what,
      "; re-save the model or fetch the checkpoint again"));
}

}  // namespace

std::string Network::SaveCheckpoint() const {
  std::string out;
  out.append(kMagic, sizeof(kMagic));
  Put<uint32_t>(&out, kVersion);
  const std::string spec = FormatModelSpec(spec_);
  Put<uint32_t>(&out, static_cast<uint32_t>(spec.size()));
  out.append(spec);
  Put<uint64_t>(&out, steps_);
  const std::vector<Entry> entries = Entries(nullptr, *this);
  Put<uint32_t>(&out, static_cast<uint32_t>(entries.size()));
  for (const Entry& e : entries) {
    Put<uint32_t>(&out, static_cast<uint32_t>(e.name.size()));
    out.append(e.name);
    Put<uint32_t>(&out, static_cast<uint32_t>(e.shape.size()));
    for (uint32_t d : e.shape) Put<uint32_t>(&out, d);
  }
  for (const Entry& e : entries) {
    out.append(reinterpret_cast<const char*>(e.src), e.size * sizeof(float));
  }
  Put<uint64_t>(&out, Fnv1a64(out.data(), out.size()));
  return out;
}

absl::StatusOr<std::unique_ptr<Network>> LoadNetwork(std::string_view bytes,
                                                     const ModelSpec* respec) {
  constexpr size_t kMinSize = sizeof(kMagic) + 4 + 4 + 8 + 4 + 8;
  if (bytes.size() < sizeof(kMagic) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError(
        "not a trainbus model checkpoint (no TBNNCKPT magic); pass the bytes "
        "that Model::SaveCheckpoint returned");
  }
  if (bytes.size() < kMinSize) {
    return Corrupt(absl::StrCat("truncated to ", bytes.size(), " bytes"));
  }
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  Reader r(body.substr(sizeof(kMagic)));
  uint32_t version = 0;
  r.Get(&version);
  if (version < kOldestVersion || version > kVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model checkpoint version ", version, " is not supported; this build "
        "reads versions ", kOldestVersion, " to ", kVersion));
  }
  if (Fnv1a64(body.data(), body.size()) != stored) {
    return Corrupt("checksum mismatch (truncated or modified bytes)");
  }
  uint32_t spec_len = 0;
  std::string_view spec_bytes;
  uint64_t steps = 0;
  uint32_t count = 0;
  if (!r.Get(&spec_len) || !r.GetBytes(spec_len, &spec_bytes) ||
      !r.Get(&steps) || !r.Get(&count)) {
    return Corrupt("header runs past the end");
  }
  absl::StatusOr<ModelSpec> spec = ParseModelSpec(spec_bytes);
  if (!spec.ok()) {
    return Corrupt(absl::StrCat("bad spec: ", spec.status().message()));
  }
  if (respec != nullptr) spec = *respec;
  // Check the whole tensor table and the file's length against the plan
  // first: the spec alone can ask for gigabytes (a wide model, a large
  // batch), and a few corrupt bytes must not cost that before they are
  // found out.
  absl::StatusOr<NetworkPlan> plan = PlanNetwork(*spec);
  if (!plan.ok()) {
    if (respec != nullptr) return plan.status();
    return Corrupt(absl::StrCat("bad spec: ", plan.status().message()));
  }
  const std::string spec_text = FormatModelSpec(plan->spec());
  const std::vector<Entry> planned = PlannedEntries(*plan);
  if (count != planned.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint has ", count, " tensors but model '", spec_text,
        "' has ", planned.size()));
  }
  uint64_t floats = 0;
  for (const Entry& e : planned) {
    uint32_t name_len = 0, rank = 0;
    std::string_view name;
    if (!r.Get(&name_len) || !r.GetBytes(name_len, &name) || !r.Get(&rank) ||
        rank > 8) {
      return Corrupt("tensor table runs past the end");
    }
    std::vector<uint32_t> shape(rank);
    for (uint32_t& d : shape) {
      if (!r.Get(&d)) return Corrupt("tensor table runs past the end");
    }
    if (name != e.name || shape != e.shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint tensor '", absl::string_view(name.data(), name.size()),
          "' with shape ",
          absl::StrJoin(shape, "x"), " does not match '", e.name,
          "' with shape ", absl::StrJoin(e.shape, "x"), " in model '",
          spec_text, "'"));
    }
    floats += e.size;
  }
  if (r.remaining() != floats * sizeof(float)) {
    return Corrupt(absl::StrCat("expected ", floats * sizeof(float),
                                " bytes of weights, found ", r.remaining()));
  }
  // Only now build the network (its weights are as large as the bytes just
  // counted; activations wait for the first step or prediction).
  absl::StatusOr<std::unique_ptr<Network>> net = Network::Create(*spec);
  if (!net.ok()) return net.status();
  for (const Entry& e : Entries(net->get(), **net)) {
    std::string_view data;
    r.GetBytes(e.size * sizeof(float), &data);
    std::memcpy(e.dst, data.data(), data.size());
  }
  (*net)->set_steps(steps);
  return net;
}

}  // namespace trainbus::nn::internal

namespace trainbus::nn {

absl::StatusOr<CheckpointDifference> CompareCheckpoints(std::string_view a,
                                                        std::string_view b) {
  absl::StatusOr<std::unique_ptr<internal::Network>> na =
      internal::LoadNetwork(a);
  if (!na.ok()) return na.status();
  absl::StatusOr<std::unique_ptr<internal::Network>> nb =
      internal::LoadNetwork(b);
  if (!nb.ok()) return nb.status();
  const std::vector<internal::Entry> ea = internal::Entries(nullptr, **na);
  const std::vector<internal::Entry> eb = internal::Entries(nullptr, **nb);
  CheckpointDifference diff;
  diff.identical = a == b;
  diff.steps_a = (*na)->steps();
  diff.steps_b = (*nb)->steps();
  bool same_shapes = ea.size() == eb.size();
  for (size_t t = 0; same_shapes && t < ea.size(); ++t) {
    same_shapes = ea[t].name == eb[t].name && ea[t].shape == eb[t].shape;
  }
  if (!same_shapes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoints of '", FormatModelSpec((*na)->spec()), "' and '",
        FormatModelSpec((*nb)->spec()),
        "' have different tensors; only the same architecture compares "
        "weight by weight"));
  }
  for (size_t t = 0; t < ea.size(); ++t) {
    for (size_t i = 0; i < ea[t].size; ++i) {
      // NaN never compares greater, so a NaN on one side counts as infinite.
      double d = std::fabs(double{ea[t].src[i]} - double{eb[t].src[i]});
      if (std::isnan(d)) d = HUGE_VAL;
      if (d > diff.max_abs_difference) {
        diff.max_abs_difference = d;
        diff.tensor = ea[t].name;
        diff.index = i;
      }
    }
  }
  return diff;
}

}  // namespace trainbus::nn
