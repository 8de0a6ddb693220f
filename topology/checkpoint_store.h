// The hub's checkpoints of placed models on disk: each ModelCheckpoint a
// node relays is written atomically to DIR/<model>.ckpt (the latest per
// model), so restarting a model on the hub (or, later, a new hub) reads it
// back from the file rather than from memory.
//
//   CheckpointStore store("/data/log/checkpoints");
//   TB_RETURN_IF_ERROR(store.Save(checkpoint));
//   absl::StatusOr<std::optional<actors::ModelCheckpoint>> c =
//       store.Load("worker1/model1");  // nullopt: none saved yet
//
// A file is "TBCKPT1\n", the sha256 of the rest (64 hex digits and "\n"),
// then the checkpoint in CAF's binary format; a file that fails the check
// is DataLoss naming it, never a half-read model.
#ifndef TRAINBUS_TOPOLOGY_CHECKPOINT_STORE_H_
#define TRAINBUS_TOPOLOGY_CHECKPOINT_STORE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/model/model_actor.h"

namespace trainbus::topology {

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string dir) : dir_(std::move(dir)) {}

  // Replaces the model's file (write to a temporary, fsync, rename).
  absl::Status Save(const actors::ModelCheckpoint& checkpoint) const;
  // The model's latest checkpoint; nullopt when it has no file.
  absl::StatusOr<std::optional<actors::ModelCheckpoint>> Load(
      const std::string& model) const;
  // DIR/<model with '/' as "__">.ckpt
  std::string PathOf(const std::string& model) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_CHECKPOINT_STORE_H_
