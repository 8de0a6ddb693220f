#include "serving/model_set.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace trainbus::serving {

ServedVersion::ServedVersion(registry::ModelRecord record,
                             absl::StatusOr<std::unique_ptr<nn::Model>> model)
    : record_(std::move(record)) {
  if (model.ok()) {
    model_ = *std::move(model);
  } else {
    status_ = model.status();
  }
}

absl::Status ServedVersion::Predict(const float* x, size_t batch,
                                    float* probs) const {
  if (model_ == nullptr) return status_;
  absl::MutexLock lock(&mu_);
  return model_->Predict(x, batch, probs);
}

absl::StatusOr<std::unique_ptr<ModelSet>> ModelSet::Load(
    registry::Store& store, absl::string_view ref) {
  std::unique_ptr<ModelSet> set(new ModelSet());
  if (size_t slash = ref.find('/'); slash != absl::string_view::npos) {
    set->project_ = std::string(ref.substr(0, slash));
    set->name_ = std::string(ref.substr(slash + 1));
  } else {
    set->project_ = std::string(registry::Store::kDefaultProject);
    set->name_ = std::string(ref);
  }
  if (set->project_.empty() || set->name_.empty() ||
      set->name_.find_first_of("/:@") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--model '", ref,
                     "' is not a model name: give NAME or PROJECT/NAME"));
  }
  registry::Query query;
  query.filter = absl::StrCat("project=\"", set->project_, "\",name=\"",
                              set->name_, "\"");
  query.sort = "version asc";
  TB_ASSIGN_OR_RETURN(std::vector<registry::ModelRecord> records,
                      store.FindModels(query));
  if (records.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "the registry at ", store.root(), " has no model '", set->name_,
        "' in project '", set->project_,
        "'; `trainbus registry ls models` lists them"));
  }
  for (registry::ModelRecord& record : records) {
    absl::StatusOr<std::unique_ptr<nn::Model>> model = [&]()
        -> absl::StatusOr<std::unique_ptr<nn::Model>> {
      TB_ASSIGN_OR_RETURN(
          std::string checkpoint,
          store.LoadModelBlob(record.project, record.name, record.version));
      return nn::LoadModel(checkpoint);
    }();
    for (const std::string& alias : record.aliases) {
      set->labels_[alias] = record.version;
    }
    set->versions_.push_back(
        std::make_unique<ServedVersion>(std::move(record), std::move(model)));
  }
  return set;
}

absl::StatusOr<const ServedVersion*> ModelSet::Latest() const {
  for (auto it = versions_.rbegin(); it != versions_.rend(); ++it) {
    if ((*it)->available()) return it->get();
  }
  return absl::NotFoundError(
      absl::StrCat("no version of model '", name_,
                   "' is loaded (see GET /v1/models/", name_, " for why)"));
}

absl::StatusOr<const ServedVersion*> ModelSet::Find(int64_t version) const {
  for (const auto& v : versions_) {
    if (v->version() == version) return v.get();
  }
  return absl::NotFoundError(absl::StrCat("model '", name_,
                                          "' has no version ", version,
                                          "; its versions: ", VersionList()));
}

absl::StatusOr<const ServedVersion*> ModelSet::Available(
    const ServedVersion* version) const {
  if (version->available()) return version;
  return absl::NotFoundError(absl::StrCat(
      "version ", version->version(), " of model '", name_,
      "' failed to load (", version->status().message(),
      "); its versions: ", VersionList()));
}

absl::StatusOr<const ServedVersion*> ModelSet::ByVersion(
    int64_t version) const {
  TB_ASSIGN_OR_RETURN(const ServedVersion* v, Find(version));
  return Available(v);
}

absl::StatusOr<const ServedVersion*> ModelSet::ByLabel(
    absl::string_view label) const {
  auto it = labels_.find(std::string(label));
  if (it == labels_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "model '", name_, "' has no label '", label, "'; its labels: ",
        labels_.empty() ? "none (set one with `trainbus registry alias`)"
                        : LabelList()));
  }
  TB_ASSIGN_OR_RETURN(const ServedVersion* v, Find(it->second));
  return Available(v);
}

std::string ModelSet::VersionList() const {
  return absl::StrJoin(versions_, ", ", [](std::string* out, const auto& v) {
    absl::StrAppend(out, v->version(), v->available() ? "" : " (not loaded)");
  });
}

std::string ModelSet::LabelList() const {
  return absl::StrJoin(labels_, ", ", [](std::string* out, const auto& kv) {
    absl::StrAppend(out, kv.first, " -> ", kv.second);
  });
}

}  // namespace trainbus::serving
