// Declarations: what a resource, a subscription and a binding are asked to be.
// All of them travel in messages (to a directory on another node, too), so
// each has an inspect().
#ifndef TRAINBUS_BUS_OPTIONS_H_
#define TRAINBUS_BUS_OPTIONS_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "bus/filter.h"
#include "caf/meta/type_name.hpp"

namespace trainbus::bus {

// What a resource does when a subscriber's queue is full.
enum class Policy : uint8_t {
  kBlock,       // stop accepting publishes until the subscriber takes more
  kDropOldest,  // drop the oldest queued message and count it
  kCatchUp,     // detach; deliver from the durable log once it asks again
};

const char* PolicyName(Policy policy);
absl::StatusOr<Policy> ParsePolicy(absl::string_view text);

struct ResourceOptions {
  std::string name;
  uint32_t max_queue = 256;     // per subscriber, unless it asks for less
  // Durable resources keep an append-only log of every message they accept.
  std::string log_dir;          // empty: not durable
  uint64_t segment_bytes = 64 << 20;
  uint32_t fsync_every = 0;     // 0: leave it to the OS; N: every N appends
  uint64_t retention_bytes = 0; // 0: keep everything

  bool durable() const { return !log_dir.empty(); }
  // Options that must agree when a resource is declared again.
  bool SameAs(const ResourceOptions& o) const {
    return name == o.name && log_dir == o.log_dir;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ResourceOptions& x) {
  return f(caf::meta::type_name("trainbus.ResourceOptions"), x.name,
           x.max_queue, x.log_dir, x.segment_bytes, x.fsync_every,
           x.retention_bytes);
}

// Where a new subscriber starts reading. kLatest: only what is published
// from now on. kEarliest / kOffset need a durable resource.
enum class StartFrom : uint8_t { kLatest, kEarliest, kOffset };

struct SubscribeOptions {
  std::string name;             // for metrics, e.g. "mnist->model1"
  Filter filter;
  Policy policy = Policy::kBlock;
  uint32_t max_queue = 0;       // 0: the resource's default
  StartFrom start = StartFrom::kLatest;
  uint64_t offset = 0;          // with StartFrom::kOffset
  uint32_t initial_credit = 0;  // messages the subscriber can take right away
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SubscribeOptions& x) {
  return f(caf::meta::type_name("trainbus.SubscribeOptions"), x.name,
           x.filter, x.policy, x.max_queue, x.start, x.offset,
           x.initial_credit);
}

// A binding copies what `from` accepts (and `filter` lets through) to `to`.
struct BindingOptions {
  std::string from;
  std::string to;
  Filter filter;
  Policy policy = Policy::kBlock;
  uint32_t max_queue = 0;       // 0: the source resource's default
  uint32_t window = 64;         // messages in flight towards `to`
  StartFrom start = StartFrom::kLatest;
  uint64_t offset = 0;          // with StartFrom::kOffset
  // Stamp each forwarded Sample with its offset in `from` (bus/sequence.h),
  // so that whoever trains on it can drop a replayed duplicate.
  bool sequenced = false;

  std::string Name() const { return from + "->" + to; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, BindingOptions& x) {
  return f(caf::meta::type_name("trainbus.BindingOptions"), x.from, x.to,
           x.filter, x.policy, x.max_queue, x.window, x.start, x.offset,
           x.sequenced);
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_OPTIONS_H_
