#include "registry/registry_cli.h"

#include <sstream>

#include "absl/strings/match.h"
#include "registry/store.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::NewTempDir("cli");
    StoreOptions options;
    options.root = root_;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->SaveModel("", "mlp", "mlp:784-64-10", "a",
                                  {{"test_accuracy", "0.91"}, {"lr", "0.1"}})
                    .ok());
    ASSERT_TRUE(store_->SaveModel("", "cnn", "cnn:small", "b",
                                  {{"test_accuracy", "0.97"}})
                    .ok());
    ASSERT_TRUE(store_->SaveModel("", "softmax", "softmax", "c", {}).ok());
    ASSERT_TRUE(
        store_->SaveDataset("", "fashion", {{"train", "xyz"}}, {}).ok());
    TaskSpec spec;
    spec.name = "sweep-0";
    spec.experiment = "parallel_models";
    spec.hyperparameters = {{"lr", "0.05"}};
    ASSERT_TRUE(store_->CreateTask(spec).ok());
    LogEntry log;
    log.model = "mlp";
    log.model_version = 1;
    log.step = 7;
    log.metrics = {{"loss", "0.3"}};
    ASSERT_TRUE(store_->AppendLog(log).ok());
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    args.push_back("--registry_dir=" + root_);
    return RunRegistryCli(args, out_, err_);
  }

  std::string root_;
  std::unique_ptr<Store> store_;
  std::ostringstream out_, err_;
};

TEST_F(CliTest, LsModelsIsAnAlignedTable) {
  ASSERT_EQ(Run({"ls", "--sort", "test_accuracy desc"}), 0) << err_.str();
  std::string text = out_.str();
  EXPECT_TRUE(absl::StartsWith(text, "PROJECT")) << text;
  EXPECT_LT(text.find("cnn"), text.find("mlp")) << text;
  EXPECT_LT(text.find("mlp"), text.find("softmax")) << text;
  // Columns line up: "NAME" and every name start at the same offset.
  std::istringstream lines(text);
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  EXPECT_EQ(header.find("NAME"), first.find("cnn"));
  EXPECT_NE(header.find("test_accuracy"), std::string::npos);
}

TEST_F(CliTest, BestReturnsTheWinner) {
  ASSERT_EQ(Run({"best", "--sort", "test_accuracy"}), 0) << err_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "default/cnn:1")) << out_.str();
  ASSERT_EQ(Run({"best", "--sort", "test_accuracy", "--json"}), 0);
  EXPECT_TRUE(absl::StrContains(out_.str(), "\"name\":\"cnn\"")) << out_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "\"test_accuracy\":0.97"));
  ASSERT_EQ(Run({"best", "--filter", "name=mlp"}), 0) << err_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "default/mlp:1"));
  EXPECT_EQ(Run({"best", "--sort", "f1"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "no model has a numeric 'f1'"));
}

TEST_F(CliTest, ShowAliasAndDatasets) {
  ASSERT_EQ(Run({"alias", "mlp", "production", "1"}), 0) << err_.str();
  ASSERT_EQ(Run({"show", "mlp@production"}), 0) << err_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "production"));
  EXPECT_TRUE(absl::StrContains(out_.str(), "mlp:784-64-10"));
  EXPECT_EQ(Run({"show", "mlp@nope"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "has no alias 'nope'"));
  ASSERT_EQ(Run({"show", "dataset", "fashion"}), 0) << err_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "train"));
  ASSERT_EQ(Run({"ls", "datasets", "--json"}), 0);
  EXPECT_TRUE(absl::StartsWith(out_.str(), "[{\"project\":\"default\""));
  ASSERT_EQ(Run({"ls", "logs", "--filter", "model=mlp"}), 0);
  EXPECT_TRUE(absl::StrContains(out_.str(), "loss=0.3"));
}

TEST_F(CliTest, TasksAndUnfinished) {
  ASSERT_EQ(Run({"tasks"}), 0) << err_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "sweep-0"));
  EXPECT_TRUE(absl::StrContains(out_.str(), "pending"));
  EXPECT_TRUE(absl::StrContains(out_.str(), "0/3"));
  ASSERT_TRUE(store_->ClaimTask("r9", absl::Seconds(60)).ok());
  ASSERT_EQ(Run({"tasks", "--json"}), 0);
  EXPECT_TRUE(absl::StrContains(out_.str(), "\"runner\":\"r9\""));
  ASSERT_EQ(Run({"unfinished"}), 0);
  EXPECT_EQ(out_.str(), "1\n");
  ASSERT_EQ(Run({"show", "task", "1"}), 0);
  EXPECT_TRUE(absl::StrContains(out_.str(), "expires in"));
}

TEST_F(CliTest, DeleteNeedsFilterAndYes) {
  EXPECT_EQ(Run({"delete"}), 2);
  EXPECT_EQ(Run({"delete", "--filter", "name=mlp"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "would delete 1 models"));
  EXPECT_EQ(store_->FindModels({"name=mlp", "", 0})->size(), 1u);
  ASSERT_EQ(Run({"delete", "--filter", "name=mlp", "--yes"}), 0);
  EXPECT_EQ(out_.str(), "deleted 1 models\n");
  EXPECT_TRUE(store_->FindModels({"name=mlp", "", 0})->empty());
  ASSERT_EQ(Run({"delete", "logs", "--filter", "step=7", "--yes"}), 0);
  EXPECT_EQ(out_.str(), "deleted 1 logs\n");
}

TEST_F(CliTest, ErrorsAreClear) {
  EXPECT_EQ(Run({"frobnicate"}), 2);
  EXPECT_TRUE(absl::StrContains(err_.str(), "unknown command 'frobnicate'"));
  EXPECT_EQ(Run({"ls", "--filter", "test_accuracy=>0.8"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "unknown operator '=>'"));
  EXPECT_EQ(Run({"ls", "--bogus"}), 2);
  EXPECT_EQ(Run({"ls", "--limit", "x"}), 2);
  EXPECT_EQ(Run({"ls", "widgets"}), 2);
  EXPECT_EQ(Run({"help"}), 0);
  EXPECT_TRUE(absl::StrContains(out_.str(), "usage: trainbus registry"));
}

}  // namespace
}  // namespace trainbus::registry
