#include "bus/sequence.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trainbus::bus {

std::string OffsetKey(absl::string_view resource) {
  return absl::StrCat(kOffsetKeyPrefix, resource);
}

void StampOffset(const std::string& key, uint64_t offset, Sample* s) {
  s->meta[key] = absl::StrCat(offset);
}

Offsets StampedOffsets(const Sample& s) {
  Offsets out;
  const absl::string_view prefix = kOffsetKeyPrefix;
  // The keys are sorted: the stamps sit together from the first match on.
  for (auto it = s.meta.lower_bound(std::string(prefix));
       it != s.meta.end() && absl::StartsWith(it->first, prefix); ++it) {
    uint64_t offset = 0;
    if (absl::SimpleAtoi(it->second, &offset)) {
      out[it->first.substr(prefix.size())] = offset;
    }
  }
  return out;
}

bool DuplicateFilter::Admit(const Sample& s) {
  const Offsets stamped = StampedOffsets(s);
  for (const auto& [resource, offset] : stamped) {
    auto it = last_.find(resource);
    if (it != last_.end() && offset <= it->second) {
      ++duplicates_;
      return false;
    }
  }
  for (const auto& [resource, offset] : stamped) last_[resource] = offset;
  return true;
}

}  // namespace trainbus::bus
