// serving::RestApi::Handle (the routes; JSON, base64 and image bodies; the
// :feedback body) on any request, over a registry holding model "m"
// version 1 (an untrained softmax) with the label "production", with
// /metrics and :feedback on (feedback goes to a counter, not a bus).
// Input: "METHOD PATH\nCONTENT_TYPE\nBODY". Kept to the request shape of
// serving/rest_api.h so an API change there is a small change here.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "fuzz/fuzz_util.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "serving/feedback.h"
#include "serving/metrics.h"
#include "serving/rest_api.h"
#include "serving/watcher.h"

namespace {

namespace serving = trainbus::serving;
namespace registry = trainbus::registry;
using trainbus::fuzz::OrDie;

// Everything the API points at; made once, never freed (the fuzzer's
// process ends with it).
struct Server {
  std::unique_ptr<registry::Store> store;
  std::unique_ptr<serving::ModelWatcher> watcher;
  std::unique_ptr<serving::ServingMetrics> metrics;
  serving::RecentPredictions recent{64};
  std::atomic<uint64_t> published{0};
  std::unique_ptr<serving::Feedback> feedback;
  std::unique_ptr<serving::RestApi> api;
};

const serving::RestApi& Api() {
  static Server* server = [] {
    auto* s = new Server;
    registry::StoreOptions options;
    options.root = trainbus::fuzz::ScratchDir() + "/registry";
    s->store = OrDie(registry::Store::Open(options));
    const auto spec = OrDie(trainbus::nn::ParseModelSpec("softmax"));
    const auto model = OrDie(trainbus::nn::MakeModel(spec));
    const int64_t v = OrDie(s->store->SaveModel(
        "", "m", trainbus::nn::FormatModelSpec(spec), model->SaveCheckpoint(),
        {}));
    if (!s->store->SetAlias("", "m", "production", v).ok()) std::abort();
    serving::WatcherOptions watch;
    watch.poll_interval = absl::ZeroDuration();  // no thread
    s->watcher = OrDie(serving::ModelWatcher::Start(s->store.get(), "m", watch));
    s->metrics = OrDie(serving::ServingMetrics::Create());
    s->feedback = std::make_unique<serving::Feedback>(
        &s->recent, [s](serving::LabelledExample) -> absl::StatusOr<uint64_t> {
          return s->published++;
        });
    s->api = std::make_unique<serving::RestApi>(serving::RestApiParts{
        s->watcher.get(), nullptr, s->metrics.get(), s->feedback.get()});
    return s;
  }();
  return *server->api;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<absl::string_view> parts = absl::StrSplit(
      trainbus::fuzz::AsText(data, size), absl::MaxSplits('\n', 2));
  parts.resize(3);
  std::pair<absl::string_view, absl::string_view> line =
      absl::StrSplit(parts[0], absl::MaxSplits(' ', 1));
  serving::HttpRequest request;
  request.method = std::string(line.first);
  request.path = std::string(line.second);
  request.content_type = std::string(parts[1]);
  request.body = std::string(parts[2]);
  const serving::HttpResponse response = Api().Handle(request);
  if (response.status < 100 || response.status > 599) {
    std::fprintf(stderr, "status %d\n", response.status);
    std::abort();
  }
  return 0;
}
