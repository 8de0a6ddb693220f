#include "topology/checkpoint_store.h"

#include <sys/stat.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "registry/blob_store.h"

namespace trainbus::topology {
namespace {

constexpr char kMagic[] = "TBCKPT1\n";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kHeaderSize = kMagicSize + 64 + 1;

}  // namespace

std::string CheckpointStore::PathOf(const std::string& model) const {
  return absl::StrCat(dir_, "/", absl::StrReplaceAll(model, {{"/", "__"}}),
                      ".ckpt");
}

absl::Status CheckpointStore::Save(
    const actors::ModelCheckpoint& checkpoint) const {
  std::vector<char> body;
  caf::binary_serializer sink{nullptr, body};
  // Our own struct (no actor handles): serializing cannot fail.
  (void)sink(const_cast<actors::ModelCheckpoint&>(checkpoint));
  const std::string bytes(body.begin(), body.end());
  return base::WriteFileAtomically(
      PathOf(checkpoint.model),
      absl::StrCat(kMagic, registry::BlobStore::Sha256Hex(bytes), "\n", bytes));
}

absl::StatusOr<std::optional<actors::ModelCheckpoint>> CheckpointStore::Load(
    const std::string& model) const {
  const std::string path = PathOf(model);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  TB_ASSIGN_OR_RETURN(std::string text, base::ReadFile(path));
  const absl::string_view view(text);
  if (view.size() < kHeaderSize || !absl::StartsWith(view, kMagic) ||
      view[kHeaderSize - 1] != '\n' ||
      view.substr(kMagicSize, 64) !=
          registry::BlobStore::Sha256Hex(view.substr(kHeaderSize))) {
    return absl::DataLossError(absl::StrCat(
        "the checkpoint file ", path, " is truncated or corrupt (its sha256 "
        "does not match); delete it to restart ", model, " from scratch"));
  }
  actors::ModelCheckpoint c;
  caf::binary_deserializer source{nullptr, text.data() + kHeaderSize,
                                  text.size() - kHeaderSize};
  if (auto err = source(c); err || source.remaining() != 0 || c.model != model) {
    return absl::DataLossError(absl::StrCat(
        "the checkpoint file ", path, " does not hold a checkpoint of ", model));
  }
  return c;
}

}  // namespace trainbus::topology
