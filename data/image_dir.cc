#include "data/image_dir.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::data {
namespace {

namespace fs = std::filesystem;

bool HasImageExtension(const fs::path& p) {
  const std::string ext = absl::AsciiStrToLower(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".pgm";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ListImageFiles(absl::string_view dir) {
  std::error_code ec;
  fs::directory_iterator it(fs::path(std::string(dir)), ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list image directory '", dir, "': ", ec.message(),
                     "; pass an existing directory of PNG, JPEG or PGM files"));
  }
  std::vector<std::pair<std::string, std::string>> found;  // (name, path)
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || !HasImageExtension(it->path())) {
      continue;
    }
    found.emplace_back(it->path().filename().string(), it->path().string());
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("listing image directory '", dir,
                                               "' failed: ", ec.message()));
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  paths.reserve(found.size());
  for (auto& f : found) paths.push_back(std::move(f.second));
  return paths;
}

absl::StatusOr<std::vector<uint8_t>> ReadFileBytes(absl::string_view path) {
  const std::string p(path);
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(p.c_str(), "rb"));
  if (f == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot open '", path, "': ", std::strerror(errno)));
  }
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  while (true) {
    size_t got = std::fread(buf, 1, sizeof(buf), f.get());
    bytes.insert(bytes.end(), buf, buf + got);
    if (bytes.size() > kMaxImageFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", path, "' is larger than ", kMaxImageFileBytes,
          " bytes; no accepted image needs that much, scale it down"));
    }
    if (got < sizeof(buf)) break;
  }
  if (std::ferror(f.get())) {
    return absl::DataLossError(
        absl::StrCat("reading '", path, "' failed: ", std::strerror(errno)));
  }
  return bytes;
}

absl::StatusOr<Image> LoadImageFile28(absl::string_view path,
                                      const MnistOptions& options) {
  TB_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadFileBytes(path));
  absl::StatusOr<Image> image = DecodeToMnist28(bytes, options);
  if (!image.ok()) {
    return absl::Status(
        image.status().code(),
        absl::StrCat("'", path, "': ", image.status().message()));
  }
  return image;
}

absl::StatusOr<ImageDirReader> ImageDirReader::Open(
    absl::string_view dir, const MnistOptions& options) {
  TB_ASSIGN_OR_RETURN(std::vector<std::string> paths, ListImageFiles(dir));
  return ImageDirReader(std::move(paths), options);
}

ImageDirEntry ImageDirReader::Next() {
  if (done()) {
    return {"", absl::OutOfRangeError(absl::StrCat(
                    "ImageDirReader: all ", paths_.size(),
                    " files were read; check done() before Next()"))};
  }
  const std::string& path = paths_[next_++];
  return {path, LoadImageFile28(path, options_)};
}

absl::StatusOr<std::vector<ImageDirEntry>> LoadImageDir(
    absl::string_view dir, const MnistOptions& options) {
  TB_ASSIGN_OR_RETURN(ImageDirReader reader, ImageDirReader::Open(dir, options));
  std::vector<ImageDirEntry> entries;
  entries.reserve(reader.size());
  while (!reader.done()) entries.push_back(reader.Next());
  return entries;
}

}  // namespace trainbus::data
