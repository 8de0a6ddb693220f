// What every consumer application has in common: it subscribes to one or
// more bus resources with credit, hands each delivery to its logic, returns
// the credit in batches, counts what it received, and answers queries.
//
//   class CountingLogic : public ConsumerLogic {
//     absl::Status OnPrediction(uint64_t, const bus::Prediction& p) override {
//       ++n;
//       return absl::OkStatus();
//     }
//     uint64_t n = 0;
//   };
//   ConsumerOptions o;
//   o.name = "counter";
//   o.inputs = {*bus.Lookup("predictions")};
//   caf::actor c = SpawnConsumer(sys, o, std::make_unique<CountingLogic>());
//
// Protocol of every consumer actor:
//   (query_atom)                          -> ConsumerStats
//   (flush_atom, uint64_t predictions, uint64_t metrics, uint64_t samples)
//                                         -> ConsumerStats, once at least that
//                                            many of each have arrived and the
//                                            logic has flushed (e.g. its file)
//   (report_atom)                         -> whatever the logic reports
//                                            (e.g. AggregateReport)
// A logic error (a failed write, a hook that returned an error) is counted
// and kept in ConsumerStats; the stream goes on.
#ifndef TRAINBUS_ACTORS_CONSUMER_CONSUMER_H_
#define TRAINBUS_ACTORS_CONSUMER_CONSUMER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bus/filter.h"
#include "bus/message.h"
#include "bus/options.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/message.hpp"
#include "caf/meta/type_name.hpp"

namespace trainbus::actors {

using query_atom = caf::atom_constant<caf::atom("query")>;
using report_atom = caf::atom_constant<caf::atom("report")>;

// What a consumer has received so far.
struct ConsumerStats {
  std::string name;
  uint64_t predictions = 0;
  uint64_t metrics = 0;
  uint64_t samples = 0;  // samples, not counting end-of-stream markers
  uint64_t batches = 0;
  uint64_t end_markers = 0;
  uint64_t errors = 0;  // deliveries the logic failed on
  std::string last_error;

  uint64_t received() const {
    return predictions + metrics + samples + batches + end_markers;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ConsumerStats& x) {
  return f(caf::meta::type_name("trainbus.ConsumerStats"), x.name,
           x.predictions, x.metrics, x.samples, x.batches, x.end_markers,
           x.errors, x.last_error);
}

// One line: "jsonl: 4000 predictions, 24 metrics, 0 samples, 0 errors".
std::string FormatConsumerStats(const ConsumerStats& stats);

// What a consumer does with each message. Called on the consumer actor's
// thread only, one message at a time. Every method may fail; the failure is
// counted and the stream continues.
class ConsumerLogic {
 public:
  virtual ~ConsumerLogic() = default;

  virtual absl::Status OnPrediction(uint64_t offset, const bus::Prediction& p) {
    return absl::OkStatus();
  }
  virtual absl::Status OnMetric(uint64_t offset, const bus::Metric& m) {
    return absl::OkStatus();
  }
  // Also called for end-of-stream markers (s.end_of_stream()).
  virtual absl::Status OnSample(uint64_t offset, const bus::Sample& s) {
    return absl::OkStatus();
  }
  virtual absl::Status OnBatch(uint64_t offset, const bus::SampleBatch& b) {
    return absl::OkStatus();
  }
  // Makes everything so far durable/visible (files); also called at exit.
  virtual absl::Status Flush() { return absl::OkStatus(); }
  // The answer to (report_atom); empty by default.
  virtual caf::message Report() { return caf::make_message(); }

  // The actor running this logic (set before the first call).
  caf::event_based_actor* self() const { return self_; }
  void set_self(caf::event_based_actor* self) { self_ = self; }

 private:
  caf::event_based_actor* self_ = nullptr;
};

struct ConsumerOptions {
  std::string name = "consumer";   // subscription name in bus metrics
  std::vector<bus::resource_actor> inputs;  // resources to subscribe to
  uint32_t credit = 64;            // in flight per input
  bus::Filter filter;              // which samples (others always pass)
  bus::Policy policy = bus::Policy::kBlock;
  uint32_t max_queue = 0;  // 0: the resource's default
  // A thread of its own, for a logic that blocks (e.g. network I/O).
  bool detached = false;
};

// Spawns the consumer; it subscribes to every input at once. A refused
// subscription is printed and ends the consumer with that error.
caf::actor SpawnConsumer(caf::actor_system& sys, ConsumerOptions options,
                         std::unique_ptr<ConsumerLogic> logic);

// Registers ConsumerStats with CAF (AddAggregatorTypes: the aggregator).
void AddConsumerTypes(caf::actor_system_config& cfg);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_CONSUMER_CONSUMER_H_
