// The predictions table: batches written whole, read back in order, listed
// by run; a schema-1 registry is read as it is and migrated on a write open;
// `trainbus registry predictions`.
#include <sqlite3.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/test_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "registry/registry_cli.h"
#include "registry/store.h"

namespace trainbus::registry {
namespace {

std::unique_ptr<Store> Open(const std::string& root, bool read_only = false) {
  StoreOptions options;
  options.root = root;
  options.read_only = read_only;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

PredictionBatch Batch(const std::string& run) {
  PredictionBatch b;
  b.run = run;
  b.project = "shop";
  b.model = "fashion";
  b.model_version = 3;
  return b;
}

std::vector<PredictionRow> Rows(int n) {
  std::vector<PredictionRow> rows(n);
  for (int i = 0; i < n; ++i) {
    rows[i].input = absl::StrCat("img", i, ".png");
    rows[i].label = i % 10;
    rows[i].scores = absl::StrCat("[0.5,", i, "]");
  }
  return rows;
}

int64_t UserVersion(const std::string& root) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open((root + "/registry.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  sqlite3_step(stmt);
  const int64_t v = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

// Turns a registry into what a schema-1 trainbus wrote.
void MakeSchemaOne(const std::string& root) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((root + "/registry.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "DROP TABLE predictions; DROP TABLE prediction_batches; "
                   "PRAGMA user_version=1;",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
}

TEST(PredictionsTest, BatchesAreWrittenWholeAndReadInOrder) {
  std::unique_ptr<Store> store = Open(base::NewTestDir("predictions"));
  absl::StatusOr<int64_t> a =
      store->AppendPredictionBatch(Batch("r1"), Rows(3));
  absl::StatusOr<int64_t> b =
      store->AppendPredictionBatch(Batch("r2"), Rows(2));
  absl::StatusOr<int64_t> c =
      store->AppendPredictionBatch(Batch("r1"), Rows(1));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_LT(*a, *b);
  EXPECT_LT(*b, *c);
  auto all = store->ListPredictionBatches();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  auto r1 = store->ListPredictionBatches("r1");
  ASSERT_TRUE(r1.ok());
  ASSERT_EQ(r1->size(), 2u);
  EXPECT_EQ((*r1)[0].rows, 3);
  EXPECT_EQ((*r1)[0].model_version, 3);
  EXPECT_EQ((*r1)[1].id, *c);
  auto rows = store->GetPredictions(*a);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[2].input, "img2.png");
  EXPECT_EQ((*rows)[2].scores, "[0.5,2]");
  EXPECT_EQ((*rows)[2].batch, *a);
  EXPECT_EQ(store->GetPredictions(99).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(store->AppendPredictionBatch(Batch("r"), {}).ok());
  PredictionBatch bad = Batch("r");
  bad.model = "a:b";
  EXPECT_FALSE(store->AppendPredictionBatch(bad, Rows(1)).ok());
}

TEST(PredictionsTest, SchemaOneIsReadAsItIsAndMigratedOnAWriteOpen) {
  const std::string root = base::NewTestDir("schema1");
  ASSERT_NE(Open(root), nullptr);
  MakeSchemaOne(root);
  {
    std::unique_ptr<Store> old = Open(root, /*read_only=*/true);
    auto batches = old->ListPredictionBatches();
    ASSERT_TRUE(batches.ok()) << batches.status();
    EXPECT_TRUE(batches->empty());
    EXPECT_EQ(UserVersion(root), 1);
  }
  std::unique_ptr<Store> store = Open(root);
  EXPECT_EQ(UserVersion(root), Store::kSchemaVersion);
  ASSERT_TRUE(store->AppendPredictionBatch(Batch("r"), Rows(2)).ok());
  auto batches = store->ListPredictionBatches();
  ASSERT_TRUE(batches.ok());
  EXPECT_EQ(batches->size(), 1u);
}

TEST(PredictionsTest, RegistryCliListsBatchesAndShowsRows) {
  const std::string root = base::NewTestDir("cli");
  std::unique_ptr<Store> store = Open(root);
  std::vector<PredictionRow> rows = Rows(2);
  rows[1].label = -1;
  rows[1].scores = "[]";
  rows[1].error = "'img1.png' is not a readable image";
  absl::StatusOr<int64_t> id = store->AppendPredictionBatch(Batch("r9"), rows);
  ASSERT_TRUE(id.ok());
  std::ostringstream out, err;
  ASSERT_EQ(RunRegistryCli({"predictions", "--registry_dir", root}, out, err),
            0)
      << err.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "shop/fashion")) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "r9")) << out.str();
  std::ostringstream rows_out, json_out;
  ASSERT_EQ(RunRegistryCli({"predictions", "--registry_dir", root, "--batch",
                            absl::StrCat(*id)},
                           rows_out, err),
            0);
  EXPECT_TRUE(absl::StrContains(rows_out.str(), "not a readable image"));
  ASSERT_EQ(RunRegistryCli({"predictions", "--registry_dir", root, "--json",
                            absl::StrCat("--batch=", *id)},
                           json_out, err),
            0);
  nlohmann::json j = nlohmann::json::parse(json_out.str());
  EXPECT_EQ(j["rows"], 2);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["predictions"][0]["scores"][1], 0);
  std::ostringstream missing_out, missing_err;
  EXPECT_EQ(
      RunRegistryCli({"predictions", "--registry_dir", root, "--batch", "77"},
                     missing_out, missing_err),
      1);
  EXPECT_TRUE(absl::StrContains(missing_err.str(), "no prediction batch 77"));
  EXPECT_EQ(
      RunRegistryCli({"predictions", "--registry_dir", root, "--batch", "x"},
                     missing_out, missing_err),
      2);
}

}  // namespace
}  // namespace trainbus::registry
