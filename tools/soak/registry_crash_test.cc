#include "tools/soak/registry_crash.h"

#include <sqlite3.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "base/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/store.h"

namespace trainbus::soak {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class RegistryCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::NewTestDir("registry_crash");
    w_.registry_dir = dir_ + "/registry";
    w_.journal = dir_ + "/journal";
    w_.max_ops = 120;
  }

  CheckReport Check(bool final = false) {
    absl::StatusOr<CheckReport> r = CheckRegistry(w_.registry_dir, w_.journal, final);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CheckReport{};
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((w_.registry_dir + "/registry.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  void AppendJournal(const std::string& line) {
    std::ofstream(w_.journal, std::ios::app) << line << "\n";
  }

  std::string dir_;
  WriterOptions w_;
};

TEST_F(RegistryCrashTest, WritersThenDrainLeaveEverythingIntact) {
  ASSERT_TRUE(RunWriter(w_).ok());
  w_.seed = 2;
  ASSERT_TRUE(RunWriter(w_).ok());
  CheckReport r = Check();
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_GT(r.models, 0);
  EXPECT_GT(r.log_batches, 0);
  EXPECT_GT(r.prediction_batches, 0);
  EXPECT_GT(r.tasks_done_first_claim, 0);
  EXPECT_EQ(r.unjournaled, 0);
  EXPECT_EQ(r.blobs, r.models);  // random checkpoints: one blob each
  ASSERT_TRUE(DrainTasks(w_, absl::Seconds(10)).ok());
  r = Check(/*final=*/true);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.tasks_open, 0);
  EXPECT_EQ(r.tasks, r.tasks_done_first_claim);
}

// A claim whose writer died before finishing: the lease expires, the drain
// re-runs it, and the check counts it as re-run, not as claimed twice.
TEST_F(RegistryCrashTest, AnAbandonedClaimIsRerunAfterItsLease) {
  ASSERT_TRUE(RunWriter(w_).ok());
  ASSERT_TRUE(DrainTasks(w_, absl::Seconds(10)).ok());
  registry::TaskSpec spec;
  spec.name = "abandoned";
  spec.max_attempts = 5;
  {
    registry::StoreOptions o;
    o.root = w_.registry_dir;
    auto store = registry::Store::Open(o);
    ASSERT_TRUE(store.ok());
    auto id = (*store)->CreateTask(spec);
    ASSERT_TRUE(id.ok());
    AppendJournal("create " + std::to_string(*id) + " $");
    auto task = (*store)->ClaimTask("killed", absl::Milliseconds(20));
    ASSERT_TRUE(task.ok() && task->has_value());
    AppendJournal("claim " + std::to_string(*id) + " 1 $");
  }
  EXPECT_EQ(Check().tasks_open, 1);
  EXPECT_THAT(Check(/*final=*/true).problems,
              ElementsAre(HasSubstr("is still running after the drain")));
  ASSERT_TRUE(DrainTasks(w_, absl::Seconds(10)).ok());
  CheckReport r = Check(/*final=*/true);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.tasks_done_rerun, 1);
}

TEST_F(RegistryCrashTest, FindsATruncatedBlob) {
  ASSERT_TRUE(RunWriter(w_).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((w_.registry_dir + "/registry.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT blob FROM records LIMIT 1", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const std::string sha = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  ASSERT_EQ(::truncate((w_.registry_dir + "/blobs/" + sha).c_str(), 10), 0);
  CheckReport r = Check();
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("partial or corrupt blob")));
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("record's blob " + sha)));
}

TEST_F(RegistryCrashTest, FindsTornBatchesAndLostCommits) {
  ASSERT_TRUE(RunWriter(w_).ok());
  Sql("DELETE FROM predictions WHERE id = (SELECT max(id) FROM predictions)");
  Sql("DELETE FROM logs WHERE id = (SELECT max(id) FROM logs)");
  Sql("DELETE FROM records WHERE id = (SELECT max(id) FROM records)");
  CheckReport r = Check();
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("rows")));
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("entries")));
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("is gone")));
}

TEST_F(RegistryCrashTest, FindsADoubleClaimAndADoubleFinish) {
  ASSERT_TRUE(RunWriter(w_).ok());
  ASSERT_TRUE(DrainTasks(w_, absl::Seconds(10)).ok());
  AppendJournal("claim 1 1 $");
  AppendJournal("finish 1 1 $");
  CheckReport r = Check();
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("claimed twice")));
  EXPECT_THAT(r.problems, testing::Contains(HasSubstr("finished 2 times")));
}

// A kill can cut a journal write short anywhere (found by the crash loop:
// "logs 63700003claim 2751 1", a line cut at a page boundary and the next
// writer's line after it). The next writer ends the torn line, and the
// checker skips it, even where what is left would parse as a shorter number.
TEST_F(RegistryCrashTest, SkipsALineCutShortAndRefusesAForeignOne) {
  ASSERT_TRUE(RunWriter(w_).ok());
  std::ofstream(w_.journal, std::ios::app) << "logs 100000";
  w_.seed = 2;
  ASSERT_TRUE(RunWriter(w_).ok());
  CheckReport r = Check();
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.torn_journal_lines, 1);
  std::ofstream(w_.journal, std::ios::app) << "hello $\n";
  absl::StatusOr<CheckReport> bad = CheckRegistry(w_.registry_dir, w_.journal, false);
  EXPECT_THAT(bad.status().message(), HasSubstr("is not a journal line"));
}

TEST_F(RegistryCrashTest, NoRegistryAndNoJournalIsNothingLost) {
  EXPECT_THAT(Check().problems, IsEmpty());
  std::ofstream(w_.journal) << "logs 1000000 $\n";
  absl::StatusOr<CheckReport> r = CheckRegistry(w_.registry_dir, w_.journal, false);
  EXPECT_THAT(r.status().message(), HasSubstr("no registry"));
}

TEST_F(RegistryCrashTest, RefusesABadSeed) {
  w_.seed = 0;
  EXPECT_THAT(RunWriter(w_).message(), HasSubstr("pass 1..999999"));
}

}  // namespace
}  // namespace trainbus::soak
