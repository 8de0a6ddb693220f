// A content-addressed blob directory: each blob is a file named by the
// sha256 of its bytes. Writes go to a locked temporary file in the same
// directory, are fsynced, renamed into place and the directory is fsynced,
// so a crash never leaves a partial blob under a final name. Reads verify the
// hash, so a corrupt blob is an error, never silently wrong bytes.
//
//   absl::StatusOr<BlobStore> blobs = BlobStore::Open(root + "/blobs");
//   absl::StatusOr<std::string> sha = blobs->Put(checkpoint_bytes);
//   absl::StatusOr<std::string> bytes = blobs->Get(*sha);
#ifndef TRAINBUS_REGISTRY_BLOB_STORE_H_
#define TRAINBUS_REGISTRY_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::registry {

class BlobStore {
 public:
  // Points in Put where a test can simulate a crash: the hook returns true
  // and Put stops there (closing, but neither renaming nor removing, the
  // temporary file), as if the process had died.
  enum class FaultPoint { kAfterTempWrite, kAfterTempFsync };
  using FaultHook = std::function<bool(FaultPoint)>;

  // Creates `dir` if needed and removes temporary files left by writers that
  // died (a live writer holds a lock on its file, so it is never touched).
  // `read_only`: touches nothing; the directory need not exist.
  static absl::StatusOr<BlobStore> Open(std::string dir,
                                        FaultHook fault_hook = nullptr,
                                        bool read_only = false);

  // Stores `data` and returns its sha256 (64 lowercase hex digits). Storing
  // bytes that are already present costs only the hash.
  absl::StatusOr<std::string> Put(absl::string_view data) const;
  // The blob's bytes, after checking that they still hash to `sha256`.
  absl::StatusOr<std::string> Get(absl::string_view sha256) const;
  // OK when the blob is present, holds `expected_size` bytes and hashes to
  // `sha256`; else NotFound or DataLoss saying which (truncated, corrupt).
  absl::Status Check(absl::string_view sha256, int64_t expected_size) const;
  bool Contains(absl::string_view sha256) const;
  absl::Status Remove(absl::string_view sha256) const;

  std::string PathFor(absl::string_view sha256) const;
  const std::string& dir() const { return dir_; }
  // How many orphaned temporary files Open removed.
  int removed_temp_files() const { return removed_temp_files_; }

  static std::string Sha256Hex(absl::string_view data);
  static bool IsSha256Hex(absl::string_view text);
  static constexpr absl::string_view kTempPrefix = ".tmp-";

 private:
  BlobStore(std::string dir, FaultHook hook)
      : dir_(std::move(dir)), fault_hook_(std::move(hook)) {}
  absl::Status WriteNew(absl::string_view sha256, absl::string_view data) const;
  // The blob's bytes, unverified; NotFound naming the file when missing.
  absl::StatusOr<std::string> ReadRaw(absl::string_view sha256) const;
  absl::Status CheckHash(absl::string_view sha256, absl::string_view data) const;

  std::string dir_;
  FaultHook fault_hook_;
  int removed_temp_files_ = 0;
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_BLOB_STORE_H_
