#include "registry/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

using ::trainbus::registry::testing::NewTempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = NewTempDir("registry");
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<Store> OpenStore() {
    StoreOptions options;
    options.root = root_;
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  int64_t SaveModel(const std::string& name, double accuracy,
                    const std::string& bytes = "weights") {
    absl::StatusOr<int64_t> v = store_->SaveModel(
        "mnist", name, "mlp:784-64-10", bytes,
        {{"test_accuracy", FormatNumber(accuracy)}, {"description", "d"}});
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  }

  std::string root_;
  base::FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST(StoreDefaultRootTest, EnvironmentOrder) {
  setenv("TRAINBUS_REGISTRY_DIR", "/a/reg", 1);
  EXPECT_EQ(Store::DefaultRoot(), "/a/reg");
  unsetenv("TRAINBUS_REGISTRY_DIR");
  setenv("XDG_DATA_HOME", "/x", 1);
  EXPECT_EQ(Store::DefaultRoot(), "/x/trainbus/registry");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/h", 1);
  EXPECT_EQ(Store::DefaultRoot(), "/h/.local/share/trainbus/registry");
}

TEST_F(StoreTest, WalModeAndSchemaVersion) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(store_->database_path().c_str(), &db), SQLITE_OK);
  auto pragma = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    sqlite3_step(stmt);
    std::string out =
        reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_EQ(pragma("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma("PRAGMA user_version"),
            absl::StrCat(Store::kSchemaVersion));
  sqlite3_close(db);
  // Reopening an existing registry works.
  EXPECT_NE(OpenStore(), nullptr);
}

TEST_F(StoreTest, DatasetsVersionsAndBlobs) {
  absl::StatusOr<int64_t> v1 = store_->SaveDataset(
      "mnist", "fashion", {{"train-images", "AAAA"}, {"train-labels", "BB"}},
      {{"samples", "60000"}});
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1);
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<int64_t> v2 = store_->SaveDataset(
      "mnist", "fashion", {{"train-images", "CCCC"}}, {{"samples", "100"}});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*v2, 2);
  // Another project counts its own versions.
  EXPECT_EQ(OrFail(store_->SaveDataset("other", "fashion", {}, {})), 1);

  absl::StatusOr<DatasetRecord> latest = store_->FindDataset("mnist", "fashion");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->kv.at("samples"), "100");
  ASSERT_EQ(latest->files.size(), 1u);
  EXPECT_EQ(OrFail(store_->LoadBlob(latest->files[0].sha256)), "CCCC");

  absl::StatusOr<DatasetRecord> first =
      store_->FindDataset("mnist", "fashion", 1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->files.size(), 2u);
  EXPECT_EQ(first->files[1].name, "train-labels");
  EXPECT_EQ(first->files[1].size, 2);
  EXPECT_EQ(OrFail(store_->LoadBlob(first->files[1].sha256)), "BB");

  absl::StatusOr<std::vector<DatasetRecord>> versions =
      store_->ListDatasetVersions("mnist", "fashion");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, 1);
  EXPECT_EQ((*versions)[1].version, 2);

  EXPECT_EQ(store_->FindDataset("mnist", "nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindDataset("mnist", "fashion", 9).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<DatasetRecord>> big =
      store_->FindDatasets({"samples>1000", "", 0});
  ASSERT_TRUE(big.ok());
  ASSERT_EQ(big->size(), 1u);
  EXPECT_EQ((*big)[0].version, 1);
}

TEST_F(StoreTest, DatasetFromIdxFiles) {
  std::string path = NewTempDir("idx") + "-t10k-labels-idx1-ubyte";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string("\0\0\x08\x01\0\0\0\x02\x07\x02", 10);
  }
  absl::StatusOr<int64_t> v =
      store_->SaveDatasetFromPaths("", "mnist-test", {path}, {});
  ASSERT_TRUE(v.ok()) << v.status();
  absl::StatusOr<DatasetRecord> d = store_->FindDataset("", "mnist-test");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->project, "default");
  ASSERT_EQ(d->files.size(), 1u);
  EXPECT_EQ(d->files[0].size, 10);
  EXPECT_EQ(store_->SaveDatasetFromPaths("", "x", {path + ".missing"}, {})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ModelsFilterSortLimit) {
  SaveModel("mlp", 0.9);
  clock_.Advance(absl::Seconds(1));
  SaveModel("mlp", 0.10);  // numerically smaller though "0.1" > "0.09" as text
  clock_.Advance(absl::Seconds(1));
  SaveModel("cnn", 0.95);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(store_->SaveModel("mnist", "softmax", "softmax", "w", {}).ok());

  absl::StatusOr<std::vector<ModelRecord>> best =
      store_->FindModels({"", "test_accuracy desc", 0});
  ASSERT_TRUE(best.ok()) << best.status();
  ASSERT_EQ(best->size(), 4u);
  EXPECT_EQ((*best)[0].name, "cnn");
  EXPECT_EQ((*best)[1].name, "mlp");
  EXPECT_EQ((*best)[1].version, 1);
  EXPECT_EQ((*best)[2].version, 2);
  EXPECT_EQ((*best)[3].name, "softmax");  // missing key sorts last

  absl::StatusOr<std::vector<ModelRecord>> mlp =
      store_->FindModels({"name=mlp,test_accuracy>0.5", "", 0});
  ASSERT_TRUE(mlp.ok());
  ASSERT_EQ(mlp->size(), 1u);
  EXPECT_EQ((*mlp)[0].version, 1);
  EXPECT_EQ((*mlp)[0].arch, "mlp:784-64-10");
  EXPECT_EQ((*mlp)[0].kv.at("description"), "d");

  absl::StatusOr<std::vector<ModelRecord>> newest =
      store_->FindModels({"", "time desc", 2});
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].name, "softmax");
  EXPECT_EQ((*newest)[1].name, "cnn");

  EXPECT_EQ(OrFail(store_->FindModels({"version>=2", "", 0})).size(), 1u);
  EXPECT_EQ(OrFail(store_->FindModels({"test_accuracy!=0.9", "", 0})).size(), 3u);
  EXPECT_EQ(OrFail(store_->FindModels({"description=d", "", 0})).size(), 3u);
  // A hostile value is only a value.
  absl::StatusOr<std::vector<ModelRecord>> none =
      store_->FindModels({"name=x' OR '1'='1", "", 0});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  absl::StatusOr<std::vector<ModelRecord>> bad =
      store_->FindModels({"version>two", "", 0});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->FindModels({"a=>1", "", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->FindModels({"", "acc sideways", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ModelBlobsAliasesAndRefs) {
  std::string checkpoint(100000, '\0');
  for (size_t i = 0; i < checkpoint.size(); ++i) checkpoint[i] = char(i * 7);
  int64_t v1 = SaveModel("mlp", 0.8, checkpoint);
  int64_t v2 = SaveModel("mlp", 0.9, "other");
  EXPECT_EQ(v1, 1);
  EXPECT_EQ(v2, 2);
  absl::StatusOr<std::string> bytes = store_->LoadModelBlob("mnist", "mlp", 1);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, checkpoint);
  EXPECT_EQ(OrFail(store_->LoadModelBlob("mnist", "mlp")), "other");  // latest

  TB_ASSERT_OK(store_->SetAlias("mnist", "mlp", "production", 1));
  EXPECT_EQ(OrFail(store_->ResolveAlias("mnist", "mlp", "production")), 1);
  TB_ASSERT_OK(store_->SetAlias("mnist", "mlp", "production", 2));
  EXPECT_EQ(OrFail(store_->ResolveAlias("mnist", "mlp", "production")), 2);
  EXPECT_EQ(store_->SetAlias("mnist", "mlp", "best", 7).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ResolveAlias("mnist", "mlp", "nope").status().code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<ModelRecord> by_alias =
      store_->GetModelByRef("mnist", "mlp@production");
  ASSERT_TRUE(by_alias.ok()) << by_alias.status();
  EXPECT_EQ(by_alias->version, 2);
  EXPECT_EQ(by_alias->aliases, std::vector<std::string>{"production"});
  EXPECT_EQ(OrFail(store_->GetModelByRef("mnist", "mlp:1")).version, 1);
  EXPECT_EQ(OrFail(store_->GetModelByRef("mnist", "mlp")).version, 2);
  EXPECT_EQ(store_->GetModelByRef("mnist", "mlp:x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SaveModel("mnist", "bad:name", "", "", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, CorruptCheckpointIsAClearError) {
  SaveModel("mlp", 0.8, std::string(4096, 'q'));
  absl::StatusOr<ModelRecord> m = store_->GetModel("mnist", "mlp");
  ASSERT_TRUE(m.ok());
  std::string path = store_->blobs().PathFor(m->checkpoint.sha256);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('Z');
  }
  absl::StatusOr<std::string> bytes = store_->LoadModelBlob("mnist", "mlp");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bytes.status().message().find(path), absl::string_view::npos);
}

TEST_F(StoreTest, DeleteModelsKeepsSharedBlobsAndNeverReusesVersions) {
  SaveModel("mlp", 0.5, "shared");
  SaveModel("mlp", 0.6, "only-mlp-2");
  SaveModel("cnn", 0.7, "shared");
  TB_ASSERT_OK(store_->SetAlias("mnist", "mlp", "best", 2));
  std::string shared = BlobStore::Sha256Hex("shared");
  std::string only = BlobStore::Sha256Hex("only-mlp-2");

  EXPECT_EQ(store_->DeleteModels("").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<int64_t> deleted = store_->DeleteModels("name=mlp");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  EXPECT_TRUE(store_->blobs().Contains(shared));  // cnn still uses it
  EXPECT_FALSE(store_->blobs().Contains(only));
  EXPECT_EQ(store_->ResolveAlias("mnist", "mlp", "best").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(OrFail(store_->FindModels({"", "", 0})).size(), 1u);
  // Versions are never reused after a delete.
  EXPECT_EQ(SaveModel("mlp", 0.9, "new"), 3);
  // The blob comes back if a new model stores the same bytes.
  SaveModel("again", 0.1, "only-mlp-2");
  EXPECT_EQ(OrFail(store_->LoadModelBlob("mnist", "again")), "only-mlp-2");
}

TEST_F(StoreTest, LogsAppendQueryDelete) {
  LogEntry e;
  e.project = "mnist";
  e.kind = LogKind::kTrain;
  e.model = "mlp";
  e.model_version = 1;
  e.step = 0;
  e.metrics = {{"loss", "2.3"}};
  TB_ASSERT_OK(store_->AppendLog(e));
  std::vector<LogEntry> batch;
  for (int step = 1; step <= 10; ++step) {
    e.step = step;
    e.kind = step % 5 == 0 ? LogKind::kTest : LogKind::kTrain;
    e.metrics = {{"loss", FormatNumber(2.3 / (step + 1))},
                 {"accuracy", FormatNumber(step / 10.0)}};
    batch.push_back(e);
  }
  TB_ASSERT_OK(store_->AppendLogs(batch));

  absl::StatusOr<std::vector<LogEntry>> all = store_->QueryLogs({"", "", 0});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 11u);
  EXPECT_EQ((*all)[0].metrics.at("loss"), "2.3");
  EXPECT_EQ((*all)[0].time_ns, clock_.NowNanos());

  absl::StatusOr<std::vector<LogEntry>> tests =
      store_->QueryLogs({"kind=test,model=mlp", "step desc", 0});
  ASSERT_TRUE(tests.ok()) << tests.status();
  ASSERT_EQ(tests->size(), 2u);
  EXPECT_EQ((*tests)[0].step, 10);
  EXPECT_EQ((*tests)[0].kind, LogKind::kTest);
  EXPECT_EQ((*tests)[0].metrics.at("accuracy"), "1");

  EXPECT_EQ(OrFail(store_->QueryLogs({"accuracy>=0.5", "", 3})).size(), 3u);

  EXPECT_EQ(store_->DeleteLogs("").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<int64_t> deleted = store_->DeleteLogs("kind=train,step<5");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 5);  // steps 0..4
  EXPECT_EQ(OrFail(store_->QueryLogs({"", "", 0})).size(), 6u);

  // A bad batch commits nothing.
  std::vector<LogEntry> bad = batch;
  bad.back().model = "";
  EXPECT_FALSE(store_->AppendLogs(bad).ok());
  EXPECT_EQ(OrFail(store_->QueryLogs({"", "", 0})).size(), 6u);
}

TaskSpec Spec(const std::string& name, int max_attempts = 3) {
  return testing::TestTask(name, max_attempts,
                           {{"lr", "0.01"}, {"hidden", "64"}});
}

TEST_F(StoreTest, TaskLifecycle) {
  absl::StatusOr<int64_t> id = store_->CreateTask(Spec("t1"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(OrFail(store_->CheckUnfinished()), 1);

  absl::StatusOr<std::optional<Task>> claimed =
      store_->ClaimTask("runner-a", absl::Seconds(30));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_TRUE(claimed->has_value());
  const Task& task = **claimed;
  EXPECT_EQ(task.id, *id);
  EXPECT_EQ(task.state, TaskState::kRunning);
  EXPECT_EQ(task.attempts, 1);
  EXPECT_EQ(task.runner, "runner-a");
  EXPECT_EQ(task.lease_expiry_ns, clock_.NowNanos() + 30'000'000'000);
  EXPECT_EQ(task.hyperparameters.at("lr"), "0.01");
  EXPECT_EQ(task.result_keys, std::vector<std::string>{"test_accuracy"});

  // Nothing else to claim.
  absl::StatusOr<std::optional<Task>> none =
      store_->ClaimTask("runner-b", absl::Seconds(30));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  clock_.Advance(absl::Seconds(20));
  TB_ASSERT_OK(store_->Heartbeat(*id, "runner-a"));
  EXPECT_EQ(store_->Heartbeat(*id, "runner-b").code(),
            absl::StatusCode::kFailedPrecondition);
  clock_.Advance(absl::Seconds(20));  // 40 s after the claim, 20 s after beat
  TB_ASSERT_OK(store_->Heartbeat(*id, "runner-a"));

  EXPECT_EQ(store_->FinishTask(*id, "runner-b", {}).code(),
            absl::StatusCode::kFailedPrecondition);
  TB_ASSERT_OK(store_->FinishTask(
      *id, "runner-a", {{"test_accuracy", "0.91"}, {"junk", "x"}}, "mlp", 4));
  absl::StatusOr<Task> done = store_->GetTask(*id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, TaskState::kDone);
  EXPECT_EQ(done->results, (KeyValues{{"test_accuracy", "0.91"}}));
  EXPECT_EQ(done->model_name, "mlp");
  EXPECT_EQ(done->model_version, 4);
  EXPECT_EQ(OrFail(store_->CheckUnfinished()), 0);
  EXPECT_EQ(store_->Heartbeat(*id, "runner-a").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetTask(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ExpiredLeaseReturnsTaskToPending) {
  int64_t id = OrFail(store_->CreateTask(Spec("t")));
  ASSERT_TRUE((OrFail(store_->ClaimTask("a", absl::Seconds(10)))).has_value());
  clock_.Advance(absl::Seconds(9));
  EXPECT_FALSE((OrFail(store_->ClaimTask("b", absl::Seconds(10)))).has_value());
  clock_.Advance(absl::Seconds(1));  // exactly at expiry: expired
  EXPECT_EQ(store_->Heartbeat(id, "a").code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::vector<Task>> listed =
      store_->ListTasks({"state=pending", "", 0});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  absl::StatusOr<std::optional<Task>> again =
      store_->ClaimTask("b", absl::Seconds(10));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->id, id);
  EXPECT_EQ((*again)->attempts, 2);
  EXPECT_EQ((*again)->runner, "b");
  // The first runner lost it for good.
  EXPECT_EQ(store_->FinishTask(id, "a", {}).code(),
            absl::StatusCode::kFailedPrecondition);
  TB_EXPECT_OK(store_->FinishTask(id, "b", {{"test_accuracy", "0.5"}}));
}

TEST_F(StoreTest, MaxAttemptsThenFailed) {
  int64_t id = OrFail(store_->CreateTask(Spec("t", /*max_attempts=*/2)));
  ASSERT_TRUE((OrFail(store_->ClaimTask("a", absl::Seconds(5)))).has_value());
  clock_.Advance(absl::Seconds(6));
  ASSERT_TRUE((OrFail(store_->ClaimTask("b", absl::Seconds(5)))).has_value());
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(OrFail(store_->CheckUnfinished()), 0);
  absl::StatusOr<Task> task = store_->GetTask(id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, TaskState::kFailed);
  EXPECT_EQ(task->attempts, 2);
  EXPECT_NE(task->error.find("expired on attempt 2 of 2"), std::string::npos)
      << task->error;
  EXPECT_FALSE((OrFail(store_->ClaimTask("c", absl::Seconds(5)))).has_value());
}

TEST_F(StoreTest, FailTaskRetriesThenFails) {
  int64_t id = OrFail(store_->CreateTask(Spec("t", 2)));
  ASSERT_TRUE((OrFail(store_->ClaimTask("a", absl::Seconds(5)))).has_value());
  TB_ASSERT_OK(store_->FailTask(id, "a", "out of memory"));
  EXPECT_EQ(OrFail(store_->GetTask(id)).state, TaskState::kPending);
  EXPECT_EQ(OrFail(store_->GetTask(id)).error, "out of memory");
  ASSERT_TRUE((OrFail(store_->ClaimTask("a", absl::Seconds(5)))).has_value());
  TB_ASSERT_OK(store_->FailTask(id, "a", "out of memory again"));
  EXPECT_EQ(OrFail(store_->GetTask(id)).state, TaskState::kFailed);
  EXPECT_EQ(store_->FailTask(id, "a", "x").code(),
            absl::StatusCode::kFailedPrecondition);

  int64_t id2 = OrFail(store_->CreateTask(Spec("t2", 5)));
  ASSERT_TRUE((OrFail(store_->ClaimTask("a", absl::Seconds(5)))).has_value());
  TB_ASSERT_OK(store_->FailTask(id2, "a", "bad hyperparameters", false));
  EXPECT_EQ(OrFail(store_->GetTask(id2)).state, TaskState::kFailed);
  EXPECT_EQ(store_->CreateTask(Spec("t3", 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ListTasksFilters) {
  for (int i = 0; i < 4; ++i) {
    TaskSpec spec = Spec(absl::StrCat("t", i));
    spec.hyperparameters["lr"] = FormatNumber(0.1 * (i + 1));
    ASSERT_TRUE(store_->CreateTask(spec).ok());
  }
  ASSERT_TRUE((OrFail(store_->ClaimTask("a", absl::Seconds(5)))).has_value());
  EXPECT_EQ(OrFail(store_->ListTasks({"state=running", "", 0})).size(), 1u);
  EXPECT_EQ(OrFail(store_->ListTasks({"state=pending", "", 0})).size(), 3u);
  absl::StatusOr<std::vector<Task>> big =
      store_->ListTasks({"lr>0.25", "lr desc", 0});
  ASSERT_TRUE(big.ok()) << big.status();
  ASSERT_EQ(big->size(), 2u);
  EXPECT_EQ((*big)[0].name, "t3");
  EXPECT_EQ(OrFail(store_->ListTasks({"runner=a", "", 0})).size(), 1u);
}

TEST_F(StoreTest, ConcurrentClaimsFromThreadsEachTaskOnce) {
  constexpr int kTasks = 60;
  constexpr int kThreads = 6;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(store_->CreateTask(Spec(absl::StrCat("t", i))).ok());
  }
  absl::Mutex mu;
  std::map<int64_t, int> claims;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share the fixture's connection, half open their own.
      std::unique_ptr<Store> own = t % 2 == 0 ? OpenStore() : nullptr;
      Store* store = own != nullptr ? own.get() : store_.get();
      std::string runner = absl::StrCat("r", t);
      while (true) {
        absl::StatusOr<std::optional<Task>> task =
            store->ClaimTask(runner, absl::Seconds(60));
        if (!task.ok()) {
          ++errors;
          ADD_FAILURE() << task.status();
          return;
        }
        if (!task->has_value()) return;
        {
          absl::MutexLock lock(&mu);
          ++claims[(*task)->id];
        }
        if (!store->FinishTask((*task)->id, runner, {}).ok()) ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claims.size(), static_cast<size_t>(kTasks));
  for (const auto& [id, count] : claims) EXPECT_EQ(count, 1) << "task " << id;
  EXPECT_EQ(OrFail(store_->CheckUnfinished()), 0);
}

TEST(StoreOpenTest, CorruptDatabaseIsAClearError) {
  std::string root = NewTempDir("corrupt");
  {
    StoreOptions options;
    options.root = root;
    ASSERT_TRUE(Store::Open(options).ok());
  }
  std::string db = root + "/registry.db";
  // Drop the WAL so the corruption below is what SQLite reads.
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("this is no sqlite header", 16);
  }
  StoreOptions options;
  options.root = root;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find(db), absl::string_view::npos)
      << store.status();
  EXPECT_NE(store.status().message().find("move it away or restore it from "
                                          "backup"),
            absl::string_view::npos)
      << store.status();
}

TEST(StoreOpenTest, ForeignSqliteDatabaseIsRefused) {
  std::string root = NewTempDir("foreign");
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((root + "/registry.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE songs(title TEXT)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  StoreOptions options;
  options.root = root;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find("not a trainbus registry"),
            absl::string_view::npos)
      << store.status();
}

TEST(StoreOpenTest, CrashedBlobWriteIsCleanedOnNextOpen) {
  std::string root = NewTempDir("crash");
  {
    StoreOptions options;
    options.root = root;
    options.blob_fault_hook = [](BlobStore::FaultPoint p) {
      return p == BlobStore::FaultPoint::kAfterTempFsync;
    };
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->SaveModel("p", "m", "a", "bytes", {}).status().code(),
              absl::StatusCode::kAborted);
    EXPECT_TRUE(OrFail((*store)->FindModels({"", "", 0})).empty());
    EXPECT_FALSE((*store)->blobs().Contains(BlobStore::Sha256Hex("bytes")));
  }
  StoreOptions options;
  options.root = root;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->blobs().removed_temp_files(), 1);
}

TEST(StoreOpenTest, ConcurrentFirstOpensAllSucceed) {
  std::string root = testing::NewTempDir("race");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      StoreOptions options;
      options.root = root;
      absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
      EXPECT_TRUE(store.ok()) << store.status();
      if (store.ok() && (*store)->SaveModel("", "m", "a", "x", {}).ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
}

// Statements whose SQL comes from user filters are not cached; hundreds of
// distinct ones must still give the right rows, in the right order.
TEST(StoreOpenTest, ManyDistinctUserQueriesStayCorrect) {
  StoreOptions options;
  options.root = testing::NewTempDir("queries");
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, Store::Open(options));
  for (int v = 1; v <= 3; ++v) {
    TB_ASSERT_OK(store->SaveModel("", "m", "a", absl::StrCat("x", v),
                                  {{"k0", "1"}, {"rank", absl::StrCat(v)}})
                     .status());
  }
  for (int i = 0; i < 300; ++i) {
    std::string filter = "k0=1";
    for (int j = 0; j < i % 7; ++j) filter += ",version>=0";
    const int64_t limit = i % 5;
    TB_ASSERT_OK_AND_ASSIGN(
        std::vector<ModelRecord> found,
        store->FindModels({filter, i % 2 ? "rank desc" : "", limit}));
    const size_t want = limit == 0 ? 3 : std::min<size_t>(limit, 3);
    ASSERT_EQ(found.size(), want) << filter;
    // Descending by rank: versions 3, 2, 1; else by id: 1, 2, 3.
    for (size_t r = 0; r < found.size(); ++r) {
      const int64_t row = static_cast<int64_t>(r);
      EXPECT_EQ(found[r].version, i % 2 ? 3 - row : 1 + row)
          << filter << " row " << r;
      EXPECT_EQ(found[r].kv.at("k0"), "1");
    }
    LogEntry e;
    e.model = "m";
    e.step = i;
    e.metrics = {{absl::StrCat("m", i), "1"}};
    TB_ASSERT_OK(store->AppendLogs({e, e}));
  }
  TB_ASSERT_OK_AND_ASSIGN(std::vector<LogEntry> logs,
                          store->QueryLogs({"", "", 0}));
  ASSERT_EQ(logs.size(), 600u);
  for (size_t i = 0; i < logs.size(); ++i) {
    EXPECT_EQ(logs[i].step, static_cast<int64_t>(i / 2));
    EXPECT_EQ(logs[i].metrics, (KeyValues{{absl::StrCat("m", i / 2), "1"}}));
  }
  TB_ASSERT_OK_AND_ASSIGN(std::vector<LogEntry> one,
                          store->QueryLogs({"m299=1", "", 0}));
  EXPECT_EQ(one.size(), 2u);
}

TEST(StoreOpenTest, ReadOnlyNeedsAnExistingRegistryAndCreatesNothing) {
  const std::string root = testing::NewTempDir("ro");
  StoreOptions options;
  options.root = root;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<Store>> missing = Store::Open(options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no registry at '" + root + "'"),
            absl::string_view::npos)
      << missing.status();
  struct stat st;
  EXPECT_NE(::stat(root.c_str(), &st), 0) << "a read-only open created it";
  // create_if_missing=false refuses the same way, also for a writer.
  options.read_only = false;
  options.create_if_missing = false;
  EXPECT_EQ(Store::Open(options).status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(::stat(root.c_str(), &st), 0);

  options.create_if_missing = true;
  {
    TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> writer,
                            Store::Open(options));
    TB_ASSERT_OK(writer->SaveModel("", "m", "a", "w", {}).status());
  }
  // Nobody has the database open now (no -wal or -shm files).
  options.read_only = true;
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> reader, Store::Open(options));
  EXPECT_TRUE(reader->read_only());
  TB_ASSERT_OK_AND_ASSIGN(std::vector<ModelRecord> models,
                          reader->FindModels({"", "", 0}));
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(OrFail(reader->LoadModelBlob("", "m")), "w");
  absl::StatusOr<int64_t> write = reader->SaveModel("", "m", "a", "w2", {});
  EXPECT_FALSE(write.ok());
  EXPECT_NE(write.status().message().find("read-only"), absl::string_view::npos)
      << write.status();
}

TEST(StoreOpenTest, ReadOnlyTaskListingDoesNotReclaimLeases) {
  base::FakeClock clock;
  StoreOptions options;
  options.root = testing::NewTempDir("ro-tasks");
  options.clock = &clock;
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> writer, Store::Open(options));
  TaskSpec spec;
  spec.name = "t";
  spec.max_attempts = 2;
  TB_ASSERT_OK(writer->CreateTask(spec).status());
  TB_ASSERT_OK(writer->ClaimTask("r", absl::Seconds(5)).status());
  clock.Advance(absl::Seconds(10));  // the lease has expired
  options.read_only = true;
  TB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> reader, Store::Open(options));
  TB_ASSERT_OK_AND_ASSIGN(std::vector<Task> seen,
                          reader->ListTasks({"", "", 0}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].state, TaskState::kRunning);  // shown as it is
  // Still unfinished: an attempt is left, so the next claim retries it.
  EXPECT_EQ(OrFail(reader->CheckUnfinished()), 1);
  EXPECT_EQ(OrFail(writer->CheckUnfinished()), 1);
  TB_ASSERT_OK_AND_ASSIGN(std::vector<Task> reaped,
                          writer->ListTasks({"", "", 0}));
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].state, TaskState::kPending);
}

TEST(StoreOpenTest, RegistryPathThatIsNotADirectorySaysWhatIsThere) {
  const std::string root = testing::NewTempDir("file");
  std::ofstream(root) << "not a registry";
  StoreOptions options;
  options.root = root;
  for (bool read_only : {false, true}) {
    options.read_only = read_only;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(store.status().message().find("is a regular file of 14 bytes"),
              absl::string_view::npos)
        << store.status();
  }
  // registry.db that is a directory.
  const std::string other = testing::NewTempDir("dbdir");
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((other + "/registry.db").c_str(), 0755), 0);
  options.root = other;
  options.read_only = false;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_NE(store.status().message().find("is a directory, not a file"),
            absl::string_view::npos)
      << store.status();
}

TEST_F(StoreTest, VerifyBlobsNamesTheOwnersOfDamagedBlobs) {
  SaveModel("mlp", 0.9, "weights-a");
  SaveModel("cnn", 0.8, "weights-a");  // shares the blob
  TB_ASSERT_OK(
      store_->SaveDataset("mnist", "digits", {{"train", "pixels"}}, {})
          .status());
  TB_ASSERT_OK_AND_ASSIGN(BlobReport clean, store_->VerifyBlobs());
  EXPECT_EQ(clean.blobs_checked, 2);
  EXPECT_TRUE(clean.problems.empty());
  std::ofstream(store_->blobs().PathFor(BlobStore::Sha256Hex("weights-a")),
                std::ios::trunc)
      << "weights";
  TB_ASSERT_OK_AND_ASSIGN(BlobReport bad, store_->VerifyBlobs());
  ASSERT_EQ(bad.problems.size(), 1u);
  std::vector<std::string> owners = bad.problems[0].owners;
  std::sort(owners.begin(), owners.end());
  EXPECT_EQ(owners, (std::vector<std::string>{"model mnist/cnn:1",
                                              "model mnist/mlp:1"}));
  EXPECT_NE(bad.problems[0].problem.find("truncated: it holds 7 bytes, the "
                                         "record says 9"),
            std::string::npos)
      << bad.problems[0].problem;
}

}  // namespace
}  // namespace trainbus::registry

namespace trainbus::registry {
namespace {

using ::trainbus::registry::testing::NewTempDir;

TEST_F(StoreTest, RunsRecordManifestsAndKeepTheirCheckpointBlobs) {
  const int64_t id = OrFail(store_->CreateRun("", "tiny", "{\"state\":1}"));
  EXPECT_EQ(id, 1);
  RunRecord running = OrFail(store_->GetRun(id));
  EXPECT_EQ(running.state, RunState::kRunning);
  EXPECT_EQ(running.project, Store::kDefaultProject);
  EXPECT_EQ(running.manifest, "{\"state\":1}");
  EXPECT_TRUE(running.blobs.empty());

  std::vector<BlobRef> refs = OrFail(store_->FinishRun(
      id, RunState::kFinished, "{\"state\":2}", {{"model1", "weights"}}));
  ASSERT_EQ(refs.size(), 1u);
  RunRecord done = OrFail(store_->GetRun(id));
  EXPECT_EQ(done.state, RunState::kFinished);
  EXPECT_EQ(done.manifest, "{\"state\":2}");
  ASSERT_EQ(done.blobs.size(), 1u);
  EXPECT_EQ(done.blobs[0].name, "model1");
  EXPECT_EQ(OrFail(store_->LoadBlob(done.blobs[0].sha256)), "weights");

  // A model that shares the bytes is deleted: the run still holds the blob.
  SaveModel("mlp", 0.5, "weights");
  EXPECT_EQ(OrFail(store_->DeleteModels("name=mlp")), 1);
  EXPECT_EQ(OrFail(store_->LoadBlob(done.blobs[0].sha256)), "weights");
  BlobReport report = OrFail(store_->VerifyBlobs());
  EXPECT_EQ(report.blobs_checked, 1);
  EXPECT_TRUE(report.problems.empty());

  absl::Status twice =
      store_->FinishRun(id, RunState::kFailed, "{}", {}).status();
  EXPECT_EQ(twice.code(), absl::StatusCode::kFailedPrecondition) << twice;
  EXPECT_EQ(OrFail(store_->ListRuns()).size(), 1u);
}

TEST_F(StoreTest, UnknownRunIsNotFoundAndNamesTheRegistry) {
  absl::Status s = store_->GetRun(42).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no run 42"), std::string::npos) << s;
  EXPECT_NE(s.message().find(root_), std::string::npos) << s;
  EXPECT_EQ(store_->FinishRun(42, RunState::kFinished, "{}", {}).status().code(),
            absl::StatusCode::kNotFound);
}

// A registry made before the runs tables existed: read-only it has no runs;
// the first writable open adds the tables and keeps everything else.
TEST(StoreOpenTest, RegistryWithoutRunTablesGainsThemOnAWritableOpen) {
  const std::string root = NewTempDir("old-registry");
  auto open = [&root](bool read_only) {
    StoreOptions options;
    options.root = root;
    options.read_only = read_only;
    return OrFail(Store::Open(options));
  };
  {
    std::unique_ptr<Store> fresh = open(false);
    ASSERT_NE(fresh, nullptr);
    ASSERT_TRUE(fresh->SaveModel("", "m", "softmax", "w", {}).ok());
  }
  // As a build from before the runs tables left it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((root + "/registry.db").c_str(), &db), SQLITE_OK);
  const int dropped = sqlite3_exec(db, "DROP TABLE run_blobs; DROP TABLE runs",
                                   nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_EQ(dropped, SQLITE_OK);
  {
    std::unique_ptr<Store> reader = open(true);
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->GetRun(1).status().code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(OrFail(reader->ListRuns()).empty());
    EXPECT_TRUE(OrFail(reader->VerifyBlobs()).problems.empty());
  }
  std::unique_ptr<Store> writer = open(false);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(OrFail(writer->CreateRun("", "spec", "{}")), 1);
  EXPECT_EQ(OrFail(writer->GetModel("", "m")).version, 1);
}

}  // namespace
}  // namespace trainbus::registry
