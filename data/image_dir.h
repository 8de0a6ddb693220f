// A directory of images as a deterministic stream of 28x28 samples.
//
// Lists the regular files named *.png, *.jpg, *.jpeg or *.pgm (any case; not
// recursive; other files are ignored) sorted by name, then reads and decodes
// them one at a time. A file that cannot be read or decoded yields its error
// instead of an image, with the path in the message, so a production source
// can send it to a dead-letter resource and carry on.
//
//   TB_ASSIGN_OR_RETURN(trainbus::data::ImageDirReader reader,
//                       trainbus::data::ImageDirReader::Open("/srv/incoming"));
//   while (!reader.done()) {
//     trainbus::data::ImageDirEntry e = reader.Next();
//     if (e.image.ok()) Publish(e.path, e.image->pixels);   // 784 bytes
//     else DeadLetter(e.path, e.image.status().ToString());
//   }
#ifndef TRAINBUS_DATA_IMAGE_DIR_H_
#define TRAINBUS_DATA_IMAGE_DIR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/image.h"
#include "data/mnist28.h"

namespace trainbus::data {

// Files larger than this are reported, not read: no image we accept needs it.
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{64} << 20;

struct ImageDirEntry {
  std::string path;
  absl::StatusOr<Image> image;  // 28x28, or why not
};

// The image files of `dir`, full paths, sorted by file name.
absl::StatusOr<std::vector<std::string>> ListImageFiles(absl::string_view dir);

// The whole file (at most kMaxImageFileBytes), with the path in any error.
absl::StatusOr<std::vector<uint8_t>> ReadFileBytes(absl::string_view path);

// Read + DecodeToMnist28, errors prefixed with the path.
absl::StatusOr<Image> LoadImageFile28(absl::string_view path,
                                      const MnistOptions& options = {});

class ImageDirReader {
 public:
  // Lists the directory now; files are read lazily by Next().
  static absl::StatusOr<ImageDirReader> Open(absl::string_view dir,
                                             const MnistOptions& options = {});

  bool done() const { return next_ >= paths_.size(); }
  size_t size() const { return paths_.size(); }
  size_t position() const { return next_; }
  const std::vector<std::string>& paths() const { return paths_; }

  // The next file, decoded. After the last one it returns an entry with an
  // empty path and an OutOfRange error.
  ImageDirEntry Next();

 private:
  ImageDirReader(std::vector<std::string> paths, const MnistOptions& options)
      : paths_(std::move(paths)), options_(options) {}

  std::vector<std::string> paths_;
  MnistOptions options_;
  size_t next_ = 0;
};

// Every file of the directory at once (small directories, tests).
absl::StatusOr<std::vector<ImageDirEntry>> LoadImageDir(
    absl::string_view dir, const MnistOptions& options = {});

}  // namespace trainbus::data

#endif  // TRAINBUS_DATA_IMAGE_DIR_H_
