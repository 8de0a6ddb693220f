#include "serving/model_set.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace trainbus::serving {
namespace {

// A softmax row: finite, in [0, 1], summing to 1.
bool IsDistribution(const float* probs, uint32_t classes) {
  double sum = 0;
  for (uint32_t c = 0; c < classes; ++c) {
    if (!std::isfinite(probs[c]) || probs[c] < 0 || probs[c] > 1) return false;
    sum += probs[c];
  }
  return std::fabs(sum - 1.0) < 1e-3;
}

// The checkpoint must be the model its record says (arch, input, classes).
absl::Status CheckAgainstRecord(const nn::ModelSpec& loaded,
                                const registry::ModelRecord& record) {
  absl::StatusOr<nn::ModelSpec> recorded = nn::ParseModelSpec(record.arch);
  if (!recorded.ok()) return absl::OkStatus();  // free-form arch text
  if (recorded->arch != loaded.arch ||
      recorded->InputSize() != loaded.InputSize() ||
      recorded->classes != loaded.classes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint holds '", nn::FormatModelSpec(loaded),
        "' but the record says '", record.arch,
        "'; save the version again with its own checkpoint"));
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<const ServedVersion> ServedVersion::Load(
    registry::ModelRecord record, absl::StatusOr<std::string> checkpoint,
    const LoadOptions& options) {
  std::shared_ptr<ServedVersion> v(new ServedVersion(std::move(record)));
  v->status_ = v->Prepare(std::move(checkpoint), options);
  if (!v->status_.ok()) v->pool_.reset();
  return v;
}

absl::Status ServedVersion::Prepare(absl::StatusOr<std::string> checkpoint,
                                    const LoadOptions& options) {
  TB_RETURN_IF_ERROR(checkpoint.status());
  TB_ASSIGN_OR_RETURN(std::unique_ptr<nn::Model> model,
                      nn::LoadModel(*checkpoint));
  spec_ = model->spec();
  parameter_count_ = model->ParameterCount();
  TB_RETURN_IF_ERROR(CheckAgainstRecord(spec_, record_));
  const ReplicaFactory factory =
      options.replica_factory ? options.replica_factory : LocalReplicas();
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int i = 0; i < std::max(options.replicas, 1); ++i) {
    absl::StatusOr<std::unique_ptr<Replica>> replica = factory(*checkpoint, i);
    if (!replica.ok()) {
      return absl::Status(replica.status().code(),
                          absl::StrCat("replica ", i, ": ",
                                       replica.status().message()));
    }
    replicas.push_back(*std::move(replica));
  }
  pool_ = std::make_unique<ReplicaPool>(std::move(replicas), options.on_retry);
  return Warm(std::max<size_t>(options.warm_batch, 3));
}

// Rows of all 0, all 0.5 and all 1 (repeated to `rows`) on every replica:
// allocates a full batch's buffers, and refuses weights that give NaN or
// non-distributions before any client sees them.
absl::Status ServedVersion::Warm(size_t rows) const {
  const size_t input = spec_.InputSize();
  std::vector<float> x(rows * input);
  for (size_t r = 0; r < rows; ++r) {
    std::fill_n(x.begin() + r * input, input, (r % 3) * 0.5f);
  }
  std::vector<float> probs(rows * spec_.classes);
  for (size_t i = 0; i < pool_->size(); ++i) {
    for (size_t batch : {size_t{1}, rows}) {
      absl::Status s = pool_->PredictOn(i, x.data(), batch, probs.data());
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("warm-up on replica ", i,
                                                   ": ", s.message()));
      }
      for (size_t r = 0; r < batch; ++r) {
        if (!IsDistribution(&probs[r * spec_.classes], spec_.classes)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "warm-up on replica ", i, ": an input of all ", (r % 3) * 0.5,
              " gave scores that are not probabilities (NaN, infinite or "
              "not summing to 1); the checkpoint's weights are broken, so "
              "the version is not served"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ServedVersion::Predict(const float* x, size_t batch,
                                    float* probs) const {
  if (pool_ == nullptr) return status_;
  return pool_->Predict(x, batch, probs);
}

absl::StatusOr<std::shared_ptr<const ModelSet>> ModelSet::Load(
    registry::Store& store, absl::string_view ref,
    const LoadOptions& options) {
  std::shared_ptr<ModelSet> set(new ModelSet());
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
  TB_ASSIGN_OR_RETURN(std::vector<registry::ModelRecord> records,
                      set->Records(store));
  if (records.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "the registry at ", store.root(), " has no model '", set->name_,
        "' in project '", set->project_,
        "'; `trainbus registry ls models` lists them"));
  }
  set->Fill(store, std::move(records), options, nullptr, nullptr);
  return std::shared_ptr<const ModelSet>(std::move(set));
}

absl::StatusOr<std::vector<registry::ModelRecord>> ModelSet::Records(
    registry::Store& store) const {
  registry::Query query;
  query.filter = absl::StrCat("project=\"", project_, "\",name=\"", name_, "\"");
  query.sort = "version asc";
  return store.FindModels(query);
}

absl::StatusOr<std::shared_ptr<const ModelSet>> ModelSet::Reload(
    registry::Store& store, const LoadOptions& options,
    std::vector<std::string>* changes) const {
  TB_ASSIGN_OR_RETURN(std::vector<registry::ModelRecord> records,
                      Records(store));
  std::map<int64_t, std::string> versions;
  std::map<std::string, int64_t> aliases;
  for (const registry::ModelRecord& record : records) {
    versions[record.version] = record.checkpoint.sha256;
    for (const std::string& alias : record.aliases) {
      aliases[alias] = record.version;
    }
  }
  if (versions == registry_versions_ && aliases == registry_aliases_) {
    return std::shared_ptr<const ModelSet>();
  }
  std::shared_ptr<ModelSet> set(new ModelSet());
  set->project_ = project_;
  set->name_ = name_;
  set->Fill(store, std::move(records), options, this, changes);
  return std::shared_ptr<const ModelSet>(std::move(set));
}

void ModelSet::Fill(registry::Store& store,
                    std::vector<registry::ModelRecord> records,
                    const LoadOptions& options, const ModelSet* previous,
                    std::vector<std::string>* changes) {
  auto note = [changes](std::string line) {
    if (changes != nullptr) changes->push_back(std::move(line));
  };
  for (registry::ModelRecord& record : records) {
    registry_versions_[record.version] = record.checkpoint.sha256;
    for (const std::string& alias : record.aliases) {
      registry_aliases_[alias] = record.version;
    }
    // Versions are never reused and their checkpoints never change, so one
    // loaded before is served as it is.
    if (previous != nullptr) {
      absl::StatusOr<const ServedVersion*> old = previous->Find(record.version);
      if (old.ok() && (*old)->record().checkpoint.sha256 ==
                          record.checkpoint.sha256) {
        auto it = std::find_if(
            previous->versions_.begin(), previous->versions_.end(),
            [&](const auto& v) { return v.get() == *old; });
        versions_.push_back(*it);
        continue;
      }
    }
    absl::StatusOr<std::string> checkpoint =
        store.LoadModelBlob(record.project, record.name, record.version);
    versions_.push_back(
        ServedVersion::Load(std::move(record), std::move(checkpoint), options));
    const ServedVersion& v = *versions_.back();
    note(v.available()
             ? absl::StrCat("version ", v.version(), " loaded and warmed on ",
                            v.replica_count(), " replica(s)")
             : absl::StrCat("version ", v.version(),
                            " not served: ", v.status().message()));
  }
  if (previous != nullptr) {
    for (const auto& v : previous->versions_) {
      if (!registry_versions_.count(v->version())) {
        note(absl::StrCat("version ", v->version(),
                          " left the registry; no longer served"));
      }
    }
  }
  FollowAliases(previous, note);
}

void ModelSet::FollowAliases(
    const ModelSet* previous,
    const std::function<void(std::string)>& note) {
  for (const auto& [alias, version] : registry_aliases_) {
    const int64_t before =
        previous == nullptr || !previous->labels_.count(alias)
            ? 0
            : previous->labels_.at(alias);
    absl::StatusOr<const ServedVersion*> target = Find(version);
    // Follow the alias unless it moved from a served version to one that
    // failed: then keep serving what it had (not swapped in).
    if (before != 0 && before != version && !(target.ok() && (*target)->available()) &&
        ByVersion(before).ok()) {
      labels_[alias] = before;
      note(absl::StrCat("label ", alias, " stays on version ", before,
                        ": the registry moved it to version ", version,
                        ", which is not served"));
      continue;
    }
    labels_[alias] = version;
    if (previous != nullptr && before != version) {
      note(before == 0 ? absl::StrCat("label ", alias, " -> version ", version)
                       : absl::StrCat("label ", alias, " moved from version ",
                                      before, " to ", version));
    }
  }
  if (previous != nullptr) {
    for (const auto& [alias, version] : previous->labels_) {
      if (!registry_aliases_.count(alias)) {
        note(absl::StrCat("label ", alias, " removed"));
      }
    }
  }
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
