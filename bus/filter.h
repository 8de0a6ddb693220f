// Which samples a binding or subscription lets through.
//
//   auto f = trainbus::bus::ParseFilter("labelled;labels=0,1;ratio=0.5");
//   if (f.ok() && f->Accepts(sample)) ...
//
// Grammar: a kind ("all", "labelled" or "unlabelled"), then optional
// ";labels=L1,L2,..." (keep only these labels) and ";ratio=R" (keep the
// fraction R of samples, chosen by a hash of the sequence number so every run
// keeps the same ones). Non-sample messages (predictions, metrics) and
// end-of-stream markers always pass.
#ifndef TRAINBUS_BUS_FILTER_H_
#define TRAINBUS_BUS_FILTER_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "bus/message.h"
#include "caf/meta/type_name.hpp"

namespace trainbus::bus {

struct Filter {
  enum class Kind : uint8_t { kAll, kLabelled, kUnlabelled };
  Kind kind = Kind::kAll;
  std::vector<int32_t> labels;  // empty: any label
  double ratio = 1.0;           // in (0, 1]

  static Filter All() { return Filter{}; }
  static Filter Labelled() { return Filter{Kind::kLabelled, {}, 1.0}; }
  static Filter Unlabelled() { return Filter{Kind::kUnlabelled, {}, 1.0}; }

  bool Accepts(int32_t label, uint64_t seq) const;
  bool Accepts(const Sample& s) const {
    return Accepts(s.label, s.seq) || s.end_of_stream();
  }
  bool PassesEverything() const {
    return kind == Kind::kAll && labels.empty() && ratio >= 1.0;
  }

  friend bool operator==(const Filter& a, const Filter& b) {
    return a.kind == b.kind && a.labels == b.labels && a.ratio == b.ratio;
  }
  friend bool operator!=(const Filter& a, const Filter& b) { return !(a == b); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Filter& x) {
  return f(caf::meta::type_name("trainbus.Filter"), x.kind, x.labels, x.ratio);
}

absl::StatusOr<Filter> ParseFilter(absl::string_view text);
std::string FormatFilter(const Filter& filter);

// The samples of `batch` that `filter` accepts, as a new batch (shares the
// buffer when every sample passes). Returns a batch with count 0 if none do.
SampleBatch FilterBatch(const Filter& filter, const SampleBatch& batch);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_FILTER_H_
