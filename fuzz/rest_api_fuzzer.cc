// serving::RestApi::Handle (JSON, base64 and image bodies, the routes) on any
// request, over a registry holding model "m" version 1 (an untrained
// softmax). Input: "METHOD PATH\nCONTENT_TYPE\nBODY". Kept to the request
// shape of serving/rest_api.h so an API change there is a small change here.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "fuzz/fuzz_util.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "serving/model_set.h"
#include "serving/rest_api.h"

namespace {

namespace serving = trainbus::serving;

const serving::RestApi& Api() {
  static const serving::RestApi* api = [] {
    trainbus::registry::StoreOptions options;
    options.root = trainbus::fuzz::ScratchDir() + "/registry";
    auto store = trainbus::registry::Store::Open(options);
    auto spec = trainbus::nn::ParseModelSpec("softmax");
    if (!store.ok() || !spec.ok()) std::abort();
    auto model = trainbus::nn::MakeModel(*spec);
    if (!model.ok() ||
        !(*store)->SaveModel("", "m", trainbus::nn::FormatModelSpec(*spec),
                             (*model)->SaveCheckpoint(), {})
             .ok()) {
      std::abort();
    }
    auto set = serving::ModelSet::Load(**store, "m");
    if (!set.ok()) std::abort();
    return new serving::RestApi(set->release());
  }();
  return *api;
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
