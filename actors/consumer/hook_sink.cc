#include "actors/consumer/hook_sink.h"

#include <utility>

namespace trainbus::actors {
namespace {

class HookSink : public ConsumerLogic {
 public:
  explicit HookSink(HookSinkOptions options) : options_(std::move(options)) {}

  absl::Status OnPrediction(uint64_t, const bus::Prediction& p) override {
    return options_.on_prediction ? options_.on_prediction(p)
                                  : absl::OkStatus();
  }
  absl::Status OnMetric(uint64_t, const bus::Metric& m) override {
    return options_.on_metric ? options_.on_metric(m) : absl::OkStatus();
  }
  absl::Status OnSample(uint64_t, const bus::Sample& s) override {
    return options_.on_sample ? options_.on_sample(s) : absl::OkStatus();
  }
  absl::Status Flush() override {
    return options_.on_flush ? options_.on_flush() : absl::OkStatus();
  }

 private:
  HookSinkOptions options_;
};

}  // namespace

std::unique_ptr<ConsumerLogic> MakeHookSinkLogic(HookSinkOptions options) {
  return std::make_unique<HookSink>(std::move(options));
}

caf::actor SpawnHookSink(caf::actor_system& sys, HookSinkOptions options) {
  ConsumerOptions consumer = options.consumer;
  return SpawnConsumer(sys, std::move(consumer),
                       MakeHookSinkLogic(std::move(options)));
}

}  // namespace trainbus::actors
