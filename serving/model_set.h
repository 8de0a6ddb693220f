// The versions of one registry model that a server serves, loaded at start.
//
//   auto set = serving::ModelSet::Load(*store, "fashion/mlp");  // or "mlp"
//   absl::StatusOr<const serving::ServedVersion*> v = (*set)->ByLabel("best");
//   (*v)->Predict(x, batch, probs);
//
// Every version of the model is loaded; one whose checkpoint fails to load
// stays in the set with its error (TF Serving's state END), so the status
// endpoint can say why. Labels are the registry's aliases. The set does not
// change after Load (hot swap is a later slice).
#ifndef TRAINBUS_SERVING_MODEL_SET_H_
#define TRAINBUS_SERVING_MODEL_SET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "kernels/nn/model.h"
#include "registry/records.h"
#include "registry/store.h"

namespace trainbus::serving {

class ServedVersion {
 public:
  ServedVersion(registry::ModelRecord record,
                absl::StatusOr<std::unique_ptr<nn::Model>> model);

  int64_t version() const { return record_.version; }
  const registry::ModelRecord& record() const { return record_; }
  // OK when the model is loaded; else why it is not.
  const absl::Status& status() const { return status_; }
  bool available() const { return model_ != nullptr; }
  // Only when available().
  const nn::ModelSpec& spec() const { return model_->spec(); }
  size_t parameter_count() const { return model_->ParameterCount(); }

  // x (batch, spec().InputSize()) -> probs (batch, spec().classes).
  // Thread-safe: a model's Predict reuses its activation buffers, so calls
  // on one version take turns.
  absl::Status Predict(const float* x, size_t batch, float* probs) const;

 private:
  registry::ModelRecord record_;
  absl::Status status_;
  std::unique_ptr<nn::Model> model_;
  mutable absl::Mutex mu_;
};

class ModelSet {
 public:
  // ref: "project/name" or "name" (the default project). NotFound when the
  // registry has no such model; a version that fails to load is not an
  // error (see the banner).
  static absl::StatusOr<std::unique_ptr<ModelSet>> Load(registry::Store& store,
                                                        absl::string_view ref);

  const std::string& project() const { return project_; }
  const std::string& name() const { return name_; }
  // Ascending by version.
  const std::vector<std::unique_ptr<ServedVersion>>& versions() const {
    return versions_;
  }
  // alias -> version.
  const std::map<std::string, int64_t>& labels() const { return labels_; }

  // The highest available version; NotFound when none loaded.
  absl::StatusOr<const ServedVersion*> Latest() const;
  // The version, loaded or not; NotFound listing the known versions.
  absl::StatusOr<const ServedVersion*> Find(int64_t version) const;
  // An available version by number or label; NotFound naming the known
  // versions or labels, or why the version did not load.
  absl::StatusOr<const ServedVersion*> ByVersion(int64_t version) const;
  absl::StatusOr<const ServedVersion*> ByLabel(absl::string_view label) const;
  // "1, 2, 3" and "best -> 3, production -> 2", for messages.
  std::string VersionList() const;
  std::string LabelList() const;

 private:
  ModelSet() = default;
  absl::StatusOr<const ServedVersion*> Available(
      const ServedVersion* version) const;

  std::string project_;
  std::string name_;
  std::vector<std::unique_ptr<ServedVersion>> versions_;
  std::map<std::string, int64_t> labels_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_MODEL_SET_H_
