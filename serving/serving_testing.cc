#include "serving/serving_testing.h"

#include <thread>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/test_dir.h"
#include "gtest/gtest.h"

namespace trainbus::serving::testing {

data::Image Pattern(int c) {
  data::Image image(28, 28, 0);
  for (uint32_t y = 2 * c + 4; y < 2 * static_cast<uint32_t>(c) + 6; ++y) {
    for (uint32_t x = 4; x < 24; ++x) image.at(x, y) = 255;
  }
  return image;
}

std::vector<float> Floats(const data::Image& image) {
  std::vector<float> x;
  for (uint8_t p : image.pixels) x.push_back(p / 255.0f);
  return x;
}

std::string Png(int c) {
  absl::StatusOr<std::vector<uint8_t>> png = data::EncodePng(Pattern(c));
  EXPECT_TRUE(png.ok()) << png.status();
  return png.ok() ? std::string(png->begin(), png->end()) : "";
}

std::string B64(const std::string& bytes) { return absl::Base64Escape(bytes); }

void Train(nn::Model& model, int steps) {
  std::vector<float> x;
  std::vector<int32_t> labels;
  for (int c = 0; c < kClasses; ++c) {
    std::vector<float> f = Floats(Pattern(c));
    x.insert(x.end(), f.begin(), f.end());
    labels.push_back(c);
  }
  for (int i = 0; i < steps; ++i) {
    ASSERT_TRUE(model.TrainStep(x.data(), labels.data(), kClasses).ok());
  }
}

std::unique_ptr<nn::Model> TrainedModel(const std::string& arch, int steps) {
  auto spec = nn::ParseModelSpec(arch);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return nullptr;
  auto model = nn::MakeModel(*spec);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return nullptr;
  Train(**model, steps);
  return *std::move(model);
}

int64_t SaveTrainedSoftmax(registry::Store& store, const std::string& project,
                           const std::string& name, int steps) {
  std::unique_ptr<nn::Model> model = TrainedModel("softmax:lr=0.5", steps);
  if (model == nullptr) return 0;
  auto version = store.SaveModel(project, name,
                                 nn::FormatModelSpec(model->spec()),
                                 model->SaveCheckpoint(), {});
  EXPECT_TRUE(version.ok()) << version.status();
  return version.ok() ? *version : 0;
}

std::unique_ptr<registry::Store> NewStore(const std::string& name) {
  registry::StoreOptions options;
  options.root = base::NewTestDir(name);
  auto store = registry::Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

void Gate::Close() {
  absl::MutexLock lock(&mu_);
  open_ = false;
}

void Gate::Open() {
  absl::MutexLock lock(&mu_);
  open_ = true;
}

void Gate::Pass() {
  absl::MutexLock lock(&mu_);
  ++waiting_;
  mu_.Await(absl::Condition(&open_));
  --waiting_;
}

int Gate::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

namespace {

class GatedReplica : public Replica {
 public:
  GatedReplica(std::unique_ptr<Replica> inner, Gate* gate, BatchLog* batches)
      : inner_(std::move(inner)), gate_(gate), batches_(batches) {}
  absl::Status Predict(const float* x, size_t batch, float* probs) override {
    gate_->Pass();
    {
      absl::MutexLock lock(&batches_->mu);
      batches_->rows.push_back(batch);
    }
    return inner_->Predict(x, batch, probs);
  }
  std::string Describe() const override { return "gated " + inner_->Describe(); }

 private:
  std::unique_ptr<Replica> inner_;
  Gate* gate_;
  BatchLog* batches_;
};

}  // namespace

ReplicaFactory GatedReplicas(Gate* gate, BatchLog* batches) {
  return [gate, batches](absl::string_view checkpoint, int index)
             -> absl::StatusOr<std::unique_ptr<Replica>> {
    auto inner = LocalReplicas()(checkpoint, index);
    if (!inner.ok()) return inner.status();
    return std::make_unique<GatedReplica>(*std::move(inner), gate, batches);
  };
}

Reply Parse(const httplib::Result& result) {
  Reply reply;
  if (!result) {
    ADD_FAILURE() << "no HTTP response: " << httplib::to_string(result.error());
    return reply;
  }
  reply.status = result->status;
  reply.headers = result->headers;
  reply.json = Json::parse(result->body, nullptr, false);
  EXPECT_FALSE(reply.json.is_discarded()) << "not JSON: " << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  return reply;
}

std::string ErrorOf(const Reply& reply, int status) {
  EXPECT_EQ(reply.status, status) << reply.json.dump();
  if (!reply.json.is_object() || !reply.json.contains("error") ||
      !reply.json["error"].is_string()) {
    ADD_FAILURE() << "no {\"error\": ...} body: " << reply.json.dump();
    return "";
  }
  return reply.json["error"].get<std::string>();
}

bool WaitFor(const std::function<bool()>& condition, const std::string& what,
             double timeout_s) {
  const absl::Time deadline = absl::Now() + absl::Seconds(timeout_s);
  while (!condition()) {
    if (absl::Now() > deadline) {
      ADD_FAILURE() << "timed out after " << timeout_s << " s waiting for "
                    << what;
      return false;
    }
    absl::SleepFor(absl::Milliseconds(1));  // a poll with a deadline
  }
  return true;
}

}  // namespace trainbus::serving::testing
