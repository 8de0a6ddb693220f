#include "topology/population.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/hash.h"

namespace trainbus::topology {
namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > kNever / a) return kNever;
  return a * b;
}

// To 4 significant digits, so that specs stay readable (lr=0.06, not
// lr=0.060000002) and the next perturbation starts clean.
float Round4(double x) { return std::stof(absl::StrFormat("%.4g", x)); }

}  // namespace

PointBook::PointBook(std::vector<std::string> models,
                     std::function<uint64_t(size_t)> point)
    : point_(std::move(point)) {
  for (std::string& m : models) members_.push_back({std::move(m)});
}

PointBook::Member* PointBook::Find(const std::string& model) {
  for (Member& m : members_) {
    if (m.name == model) return &m;
  }
  return nullptr;
}

void PointBook::Record(const std::string& model, uint64_t samples,
                       double accuracy) {
  Member* m = Find(model);
  if (m == nullptr || !m->live || m->finished) return;
  // A report may pass several points at once (eval_every > a point's gap):
  // it stands for each of them.
  while (point_(m->at.size()) != kNever && samples >= point_(m->at.size())) {
    m->at.push_back(accuracy);
  }
}

void PointBook::Finish(const std::string& model) {
  if (Member* m = Find(model)) m->finished = true;
}

void PointBook::Drop(const std::string& model) {
  if (Member* m = Find(model)) m->live = false;
}

bool PointBook::live(const std::string& model) const {
  for (const Member& m : members_) {
    if (m.name == model) return m.live;
  }
  return false;
}

size_t PointBook::live_count() const {
  return std::count_if(members_.begin(), members_.end(),
                       [](const Member& m) { return m.live; });
}

std::optional<PointBook::Ranked> PointBook::NextComplete() {
  Ranked out;
  out.k = next_;
  out.point = point_(next_);
  if (out.point == kNever) return std::nullopt;
  for (const Member& m : members_) {
    if (!m.live) continue;
    if (m.at.size() > next_) {
      out.models.emplace_back(m.name, m.at[next_]);
    } else if (!m.finished) {
      return std::nullopt;  // still on its way to the point
    }
  }
  if (out.models.empty()) return std::nullopt;
  std::stable_sort(out.models.begin(), out.models.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  ++next_;
  return out;
}

uint64_t Population::AshaRung(const AshaOptions& options, size_t k) {
  uint64_t rung = options.grace;
  for (size_t i = 0; i < k && rung != kNever; ++i) {
    rung = SaturatingMul(rung, options.eta);
  }
  return rung;
}

Population::Population(
    PopulationOptions options,
    std::vector<std::pair<std::string, nn::ModelSpec>> models)
    : options_(std::move(options)) {
  std::vector<std::string> names;
  for (auto& [name, spec] : models) {
    names.push_back(name);
    fates_.push_back({name, nn::FormatModelSpec(spec)});
    specs_.emplace(name, std::move(spec));
  }
  if (options_.asha) {
    const AshaOptions asha = *options_.asha;
    rungs_.emplace(names, [asha](size_t k) { return AshaRung(asha, k); });
  }
  if (options_.pbt) {
    const uint64_t interval = options_.pbt->interval;
    intervals_.emplace(names, [interval](size_t k) {
      return SaturatingMul(interval, k + 1);
    });
  }
}

const nn::ModelSpec* Population::spec(const std::string& model) const {
  auto it = specs_.find(model);
  return it == specs_.end() ? nullptr : &it->second;
}

Fate* Population::FateOf(const std::string& model) {
  for (Fate& f : fates_) {
    if (f.model == model) return &f;
  }
  return nullptr;
}

std::vector<Decision> Population::Report(const std::string& model,
                                         uint64_t samples, double accuracy) {
  if (rungs_) rungs_->Record(model, samples, accuracy);
  if (intervals_) intervals_->Record(model, samples, accuracy);
  return Decide();
}

std::vector<Decision> Population::Finished(const std::string& model) {
  if (rungs_) rungs_->Finish(model);
  if (intervals_) intervals_->Finish(model);
  return Decide();
}

std::vector<Decision> Population::Decide() {
  std::vector<Decision> out;
  // Pruning first: a model pruned at a rung is not also a PBT donor there.
  if (rungs_) {
    while (std::optional<PointBook::Ranked> rung = rungs_->NextComplete()) {
      Asha(*rung, &out);
    }
  }
  if (intervals_) {
    while (std::optional<PointBook::Ranked> point = intervals_->NextComplete()) {
      Pbt(*point, &out);
    }
  }
  return out;
}

void Population::Asha(const PointBook::Ranked& rung,
                      std::vector<Decision>* out) {
  const size_t keep =
      std::max<size_t>(1, rung.models.size() / options_.asha->eta);
  for (size_t i = keep; i < rung.models.size(); ++i) {
    const auto& [model, accuracy] = rung.models[i];
    Decision d;
    d.kind = Decision::Kind::kPrune;
    d.model = model;
    d.point = rung.point;
    d.accuracy = accuracy;
    rungs_->Drop(model);
    if (intervals_) intervals_->Drop(model);
    if (Fate* f = FateOf(model)) {
      f->pruned_at = rung.point;
      f->pruned_accuracy = accuracy;
    }
    out->push_back(std::move(d));
  }
}

void Population::Pbt(const PointBook::Ranked& point,
                     std::vector<Decision>* out) {
  const size_t n = point.models.size();
  if (n < 2) return;
  const size_t cut = std::clamp<size_t>(
      static_cast<size_t>(static_cast<double>(n) * options_.pbt->quantile), 1,
      n / 2);
  for (size_t i = n - cut; i < n; ++i) {
    const auto& [donor, donor_accuracy] = point.models[Draw() % cut];
    Decision d;
    d.kind = Decision::Kind::kCopy;
    d.model = point.models[i].first;
    d.point = point.point;
    d.accuracy = point.models[i].second;
    d.donor = donor;
    d.donor_accuracy = donor_accuracy;
    d.spec = Perturb(specs_[donor]);
    specs_[d.model] = d.spec;
    if (Fate* f = FateOf(d.model)) {
      f->copies.push_back({d.point, donor, nn::FormatModelSpec(d.spec)});
    }
    out->push_back(std::move(d));
  }
}

uint64_t Population::Draw() {
  return base::SplitMix64(options_.pbt->seed ^ (++draws_ << 32));
}

nn::ModelSpec Population::Perturb(const nn::ModelSpec& spec) {
  auto factor = [&] { return (Draw() & 1) != 0 ? 1.2f : 0.8f; };
  nn::ModelSpec out = spec;
  out.learning_rate = Round4(double{out.learning_rate} * factor());
  // Momentum scales its distance from 1 (0.9 -> 0.92 or 0.88): the
  // averaging horizon 1 / (1 - m) changes by the same factor as lr.
  if (out.optimizer == "momentum") {
    out.momentum = Round4(1 - (1 - double{out.momentum}) * factor());
  }
  if (out.weight_decay > 0) {
    out.weight_decay = Round4(double{out.weight_decay} * factor());
  }
  return out;
}

std::string FormatFates(const std::vector<Fate>& fates) {
  std::string out =
      absl::StrFormat("%-10s %-28s %s\n", "model", "fate", "weights copied");
  for (const Fate& f : fates) {
    const std::string fate =
        f.pruned_at == 0
            ? "survived"
            : absl::StrFormat("pruned at %d (acc %.4f)", f.pruned_at,
                              f.pruned_accuracy);
    std::vector<std::string> copies;
    for (const Fate::Copy& c : f.copies) {
      copies.push_back(absl::StrCat("from ", c.donor, " at ", c.point));
    }
    absl::StrAppendFormat(&out, "%-10s %-28s %s\n", f.model, fate,
                          copies.empty() ? "-" : absl::StrJoin(copies, "; "));
  }
  return out;
}

}  // namespace trainbus::topology
