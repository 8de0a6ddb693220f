// Population training on live models sharing one stream: the decisions of
// ASHA (prune the weak at rungs) and PBT (the weak copy the strong, then
// explore), with no actors in sight. A controller feeds it each model's
// held-out accuracy as it reports and carries out what comes back.
//
//   Population pop(options, {{"m1", spec1}, {"m2", spec2}, ...});
//   for (const Decision& d : pop.Report("m1", 4000, 0.81)) {
//     if (d.kind == Decision::Kind::kPrune) ...;  // unbind d.model, stop it
//     else ...;  // d.model loads d.donor's checkpoint, then takes d.spec
//   }
//
// Decisions at a point (a rung, a PBT interval) are made once every live
// model has reported at or past it, so they depend on the accuracies only,
// never on which actor's thread ran first. A model's accuracy "at" a point
// is its first report at or past the point's sample count.
#ifndef TRAINBUS_TOPOLOGY_POPULATION_H_
#define TRAINBUS_TOPOLOGY_POPULATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/nn/model.h"

namespace trainbus::topology {

// ASHA: rungs at grace * eta^k samples (k = 0, 1, ...). At a rung, the
// models outside the top 1/eta (at least one kept) are pruned.
struct AshaOptions {
  uint64_t grace = 0;  // samples to the first rung, > 0
  uint32_t eta = 3;    // >= 2
};

// PBT: every `interval` samples, the bottom `quantile` of the models copy a
// model of the top `quantile` (chosen with `seed`) and perturb its
// hyperparameters: lr x0.8 or x1.2, and likewise 1 - momentum (opt=momentum)
// and weight decay (when > 0), each to 4 significant digits.
struct PbtOptions {
  uint64_t interval = 0;   // > 0
  double quantile = 0.25;  // (0, 0.5]
  uint64_t seed = 1;
};

struct PopulationOptions {
  std::optional<AshaOptions> asha;
  std::optional<PbtOptions> pbt;
};

struct Decision {
  enum class Kind { kPrune, kCopy };
  Kind kind = Kind::kPrune;
  std::string model;       // pruned, or receiving the copy
  uint64_t point = 0;      // the rung's / interval's sample count
  double accuracy = 0;     // the model's at the point
  // kCopy only:
  std::string donor;
  double donor_accuracy = 0;
  nn::ModelSpec spec;      // the donor's spec, perturbed: what `model` takes
};

// What happened to one model, for the report.
struct Fate {
  struct Copy {
    uint64_t point = 0;
    std::string donor;
    std::string spec;  // nn::FormatModelSpec of what it took
  };
  std::string model;
  std::string initial_spec;
  uint64_t pruned_at = 0;  // the rung; 0: never pruned
  double pruned_accuracy = 0;
  std::vector<Copy> copies;
};

// The first report of each model at or past each of a series of sample
// points, and which points every live model has reached.
class PointBook {
 public:
  // point(k), k = 0, 1, ...: increasing sample counts.
  PointBook(std::vector<std::string> models,
            std::function<uint64_t(size_t)> point);

  void Record(const std::string& model, uint64_t samples, double accuracy);
  // The model reports no more (end of its stream): no point waits for it.
  void Finish(const std::string& model);
  // The model is out of the population (pruned): no longer ranked.
  void Drop(const std::string& model);

  struct Ranked {
    size_t k = 0;
    uint64_t point = 0;
    // Live models that reached the point, best first (ties: listed order).
    std::vector<std::pair<std::string, double>> models;
  };
  // The next undecided point, once every live unfinished model reached it.
  std::optional<Ranked> NextComplete();

  bool live(const std::string& model) const;
  size_t live_count() const;

 private:
  struct Member {
    std::string name;
    bool live = true;
    bool finished = false;
    std::vector<double> at;  // accuracy at point k, for k < at.size()
  };
  Member* Find(const std::string& model);

  std::vector<Member> members_;
  std::function<uint64_t(size_t)> point_;
  size_t next_ = 0;  // the next point to decide
};

class Population {
 public:
  Population(PopulationOptions options,
             std::vector<std::pair<std::string, nn::ModelSpec>> models);

  std::vector<Decision> Report(const std::string& model, uint64_t samples,
                               double accuracy);
  std::vector<Decision> Finished(const std::string& model);

  const std::vector<Fate>& fates() const { return fates_; }
  // The spec a model trains with now (after any copies).
  const nn::ModelSpec* spec(const std::string& model) const;

  // The sample count of ASHA rung k (saturates at UINT64_MAX).
  static uint64_t AshaRung(const AshaOptions& options, size_t k);

 private:
  std::vector<Decision> Decide();
  void Asha(const PointBook::Ranked& rung, std::vector<Decision>* out);
  void Pbt(const PointBook::Ranked& point, std::vector<Decision>* out);
  nn::ModelSpec Perturb(const nn::ModelSpec& spec);
  uint64_t Draw();  // the next seeded random number
  Fate* FateOf(const std::string& model);

  PopulationOptions options_;
  std::map<std::string, nn::ModelSpec> specs_;
  std::optional<PointBook> rungs_, intervals_;
  std::vector<Fate> fates_;
  uint64_t draws_ = 0;  // random numbers drawn so far (PBT)
};

// Fates as a table: model, initial spec, pruned at, copies.
std::string FormatFates(const std::vector<Fate>& fates);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_POPULATION_H_
