// The CAF actor replica in process: the same scores as the model itself,
// errors as Status, and a dead actor is an error, not a hang.
#include "serving/actor_replica.h"

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "base/status_error.h"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "serving/serving_testing.h"

namespace trainbus::serving {
namespace {

using testing::Floats;
using testing::kClasses;
using testing::Pattern;

class ActorReplicaTest : public ::testing::Test {
 protected:
  ActorReplicaTest() {
    base::AddStatusErrors(config_);
    system_ = std::make_unique<caf::actor_system>(config_);
  }

  void SetUp() override {
    model_ = testing::TrainedModel("mlp:hidden=16,lr=0.1", 10);
    ASSERT_NE(model_, nullptr);
    auto replica = ActorReplicas(*system_)(model_->SaveCheckpoint(), 0);
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
  }

  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  std::unique_ptr<nn::Model> model_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ActorReplicaTest, ScoresAreTheModelsOwn) {
  std::vector<float> x;
  for (int c = 0; c < 3; ++c) {
    const std::vector<float> f = Floats(Pattern(c));
    x.insert(x.end(), f.begin(), f.end());
  }
  std::vector<float> expected(3 * kClasses), actual(3 * kClasses);
  ASSERT_TRUE(model_->Predict(x.data(), 3, expected.data()).ok());
  absl::Status status = replica_->Predict(x.data(), 3, actual.data());
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(replica_->Describe(), "actor");
}

TEST_F(ActorReplicaTest, AWrongSizedRequestIsInvalidArgument) {
  auto* actor = dynamic_cast<ActorReplica*>(replica_.get());
  ASSERT_NE(actor, nullptr);
  caf::scoped_actor self{*system_};
  absl::Status status;
  self->request(actor->actor(), std::chrono::seconds(30),
                predict_rows_atom::value, std::vector<float>(5, 0.0f),
                uint64_t{1})
      .receive([&](std::vector<float>&) {},
               [&](caf::error& error) { status = base::ToStatus(error); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("5 floats for 1 rows of 784"),
            absl::string_view::npos)
      << status;
}

TEST_F(ActorReplicaTest, ADeadActorIsAnError) {
  auto* actor = dynamic_cast<ActorReplica*>(replica_.get());
  ASSERT_NE(actor, nullptr);
  caf::anon_send_exit(actor->actor(), caf::exit_reason::kill);
  const std::vector<float> x = Floats(Pattern(1));
  std::vector<float> probs(kClasses);
  absl::Status status = replica_->Predict(x.data(), 1, probs.data());
  EXPECT_FALSE(status.ok());
}

TEST_F(ActorReplicaTest, ABadCheckpointIsAnError) {
  auto replica = ActorReplicas(*system_)("not a checkpoint", 0);
  EXPECT_FALSE(replica.ok());
}

}  // namespace
}  // namespace trainbus::serving
