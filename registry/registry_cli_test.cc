#include "registry/registry_cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "registry/store.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

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

  int Run(std::vector<std::string> args) { return RunIn(root_, args); }
  int RunIn(const std::string& dir, std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    args.push_back("--registry_dir=" + dir);
    return RunRegistryCli(args, out_, err_);
  }
  // The output parsed as JSON; a null value (and a failure) if it is not.
  nlohmann::json OutJson() {
    nlohmann::json j = nlohmann::json::parse(out_.str(), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << out_.str();
    return j.is_discarded() ? nlohmann::json() : j;
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
  nlohmann::json best = OutJson();
  EXPECT_EQ(best.value("name", ""), "cnn");
  EXPECT_EQ(best.value("version", 0), 1);
  ASSERT_TRUE(best["fields"]["test_accuracy"].is_number()) << best;
  EXPECT_DOUBLE_EQ(best["fields"]["test_accuracy"].get<double>(), 0.97);
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
  nlohmann::json sets = OutJson();
  ASSERT_TRUE(sets.is_array() && sets.size() == 1) << sets;
  EXPECT_EQ(sets[0].value("project", ""), "default");
  EXPECT_EQ(sets[0]["files"][0].value("name", ""), "train");
  EXPECT_EQ(sets[0]["files"][0].value("bytes", 0), 3);
  ASSERT_EQ(Run({"ls", "logs", "--json"}), 0);
  nlohmann::json logs = OutJson();
  ASSERT_TRUE(logs.is_array() && logs.size() == 1) << logs;
  EXPECT_EQ(logs[0].value("kind", ""), "train");
  EXPECT_EQ(logs[0].value("step", 0), 7);
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
  nlohmann::json tasks = OutJson();
  ASSERT_TRUE(tasks.is_array() && tasks.size() == 1) << tasks;
  EXPECT_EQ(tasks[0].value("runner", ""), "r9");
  EXPECT_EQ(tasks[0].value("state", ""), "running");
  EXPECT_EQ(tasks[0]["hyperparameters"].value("lr", 0.0), 0.05);
  ASSERT_EQ(Run({"unfinished"}), 0);
  EXPECT_EQ(out_.str(), "1\n");
  ASSERT_EQ(Run({"unfinished", "--json"}), 0);
  EXPECT_EQ(OutJson().value("unfinished", -1), 1);
  ASSERT_EQ(Run({"show", "task", "1"}), 0);
  EXPECT_TRUE(absl::StrContains(out_.str(), "expires in"));
}

TEST_F(CliTest, DeleteNeedsFilterAndYes) {
  EXPECT_EQ(Run({"delete"}), 2);
  EXPECT_EQ(Run({"delete", "--filter", "name=mlp"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "would delete 1 models"));
  EXPECT_EQ(store_->FindModels({"name=mlp", "", 0}).value_or(std::vector<ModelRecord>()).size(), 1u);
  ASSERT_EQ(Run({"delete", "--filter", "name=mlp", "--yes"}), 0);
  EXPECT_EQ(out_.str(), "deleted 1 models\n");
  TB_ASSERT_OK_AND_ASSIGN(std::vector<ModelRecord> left,
                          store_->FindModels({"name=mlp", "", 0}));
  EXPECT_TRUE(left.empty());
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
  for (std::vector<std::string> help :
       {std::vector<std::string>{"help"}, {"ls", "--help"}, {"ls", "help"},
        {"verify", "-h"}, {"help", "show"}}) {
    EXPECT_EQ(Run(help), 0) << help[0];
    EXPECT_TRUE(absl::StrContains(out_.str(), "usage: trainbus registry"));
    EXPECT_TRUE(absl::StrContains(out_.str(), "verify"));
  }
}

// No command creates a registry: a mistyped path says that none is there.
TEST_F(CliTest, MistypedRegistryDirIsNotCreated) {
  const std::string typo = root_ + "-typo";
  for (std::vector<std::string> command :
       {std::vector<std::string>{"ls"}, {"ls", "tasks"}, {"tasks"},
        {"unfinished"}, {"show", "mlp"}, {"best"}, {"verify"},
        {"alias", "mlp", "prod", "1"}, {"delete", "--filter", "name=x"},
        {"delete", "--filter", "name=x", "--yes"}}) {
    EXPECT_EQ(RunIn(typo, command), 1) << command[0];
    EXPECT_TRUE(absl::StrContains(err_.str(), "no registry at '" + typo + "'"))
        << err_.str();
    EXPECT_TRUE(absl::StrContains(err_.str(), "check --registry_dir"));
    EXPECT_EQ(out_.str(), "");
    struct stat st;
    EXPECT_NE(::stat(typo.c_str(), &st), 0) << command[0] << " created it";
  }
  // A directory without registry.db is not a registry either.
  ASSERT_EQ(::mkdir(typo.c_str(), 0755), 0);
  EXPECT_EQ(RunIn(typo, {"ls"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "has no registry.db")) << err_.str();
  struct stat st;
  EXPECT_NE(::stat((typo + "/registry.db").c_str(), &st), 0);
}

TEST_F(CliTest, RegistryDirThatIsAFileSaysWhatIsThere) {
  const std::string file = root_ + "-file";
  std::ofstream(file) << "hello";
  EXPECT_EQ(RunIn(file, {"ls"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "is a regular file of 5 bytes"))
      << err_.str();
  EXPECT_FALSE(absl::StrContains(err_.str(), "unable to open database file"));
  // Passing the database file itself is a common slip: say so.
  EXPECT_EQ(RunIn(root_ + "/registry.db", {"ls"}), 1);
  EXPECT_TRUE(absl::StrContains(err_.str(), "an SQLite database; pass the "
                                            "directory"))
      << err_.str();
}

TEST_F(CliTest, VerifyFindsTruncatedAndCorruptBlobsAndWhoOwnsThem) {
  ASSERT_EQ(Run({"verify"}), 0) << err_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "checked 4 blobs")) << out_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "all blobs intact"));
  TB_ASSERT_OK_AND_ASSIGN(ModelRecord mlp, store_->GetModel("", "mlp"));
  TB_ASSERT_OK_AND_ASSIGN(DatasetRecord fashion,
                          store_->FindDataset("", "fashion"));
  // The model's 1-byte blob is cut to 0 bytes; the dataset's 3 bytes change.
  ASSERT_EQ(::truncate(store_->blobs().PathFor(mlp.checkpoint.sha256).c_str(),
                       0),
            0);
  std::ofstream(store_->blobs().PathFor(fashion.files[0].sha256),
                std::ios::trunc)
      << "XYZ";
  ASSERT_EQ(Run({"verify"}), 1);
  EXPECT_TRUE(absl::StrContains(out_.str(), "model default/mlp:1"))
      << out_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "truncated: it holds 0 bytes, "
                                            "the record says 1"));
  EXPECT_TRUE(absl::StrContains(out_.str(),
                                "dataset default/fashion:1 file train"));
  EXPECT_TRUE(absl::StrContains(out_.str(), "is corrupt"));
  EXPECT_TRUE(absl::StrContains(err_.str(), "2 of 4 blobs"));
  ASSERT_EQ(Run({"verify", "--json"}), 1);
  nlohmann::json report = OutJson();
  EXPECT_EQ(report.value("blobs_checked", 0), 4);
  ASSERT_EQ(report["problems"].size(), 2u) << report;
  // A missing blob too.
  ASSERT_EQ(::unlink(store_->blobs().PathFor(mlp.checkpoint.sha256).c_str()),
            0);
  ASSERT_EQ(Run({"verify"}), 1);
  EXPECT_TRUE(absl::StrContains(out_.str(), "is missing")) << out_.str();
}

}  // namespace
}  // namespace trainbus::registry
