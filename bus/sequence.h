// Sequence numbers across nodes, and the receiver's duplicate filter.
//
// A sequenced binding (BindingOptions::sequenced; every binding of a placed
// run) stamps each Sample it forwards with its offset in the binding's source
// resource, under "trainbus.offset.<source>". Offsets only grow within a
// resource, so they are a per-binding sequence number (with gaps where the
// filter said no). Whoever trains on the samples keeps a DuplicateFilter:
// after a replay from a durable log (a model resumed from its checkpoint on
// another node) anything at or below what it already took is dropped, so a
// model never trains twice on one sample.
//
//   bus::DuplicateFilter seen(checkpoint.offsets);  // {} for a fresh model
//   if (!seen.Admit(sample)) return;                // a duplicate: counted
//   ... train ...
//   checkpoint.offsets = seen.last();               // where to resume from
#ifndef TRAINBUS_BUS_SEQUENCE_H_
#define TRAINBUS_BUS_SEQUENCE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "bus/message.h"

namespace trainbus::bus {

inline constexpr char kOffsetKeyPrefix[] = "trainbus.offset.";

// Resource name -> the last offset taken from it.
using Offsets = std::map<std::string, uint64_t>;

// "trainbus.offset.<resource>".
std::string OffsetKey(absl::string_view resource);

// Records `offset` (in the resource whose OffsetKey is `key`) in `s`.
void StampOffset(const std::string& key, uint64_t offset, Sample* s);

// The offsets stamped in `s`, by resource. A value that is not a number is
// left out (it cannot order anything).
Offsets StampedOffsets(const Sample& s);

class DuplicateFilter {
 public:
  explicit DuplicateFilter(Offsets last = {}) : last_(std::move(last)) {}

  // Whether `s` is new: false (and counted) when one of its stamps is at or
  // below the last offset taken from that resource. A new sample's stamps
  // become the last offsets. Unstamped samples are always new.
  bool Admit(const Sample& s);

  const Offsets& last() const { return last_; }
  uint64_t duplicates() const { return duplicates_; }

 private:
  Offsets last_;
  uint64_t duplicates_ = 0;
};

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_SEQUENCE_H_
