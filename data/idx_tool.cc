// idx_tool: dataset statistics and image export for an MNIST-layout directory.
//
//   bazel run //data:idx_tool --
//   --data_dir=/usr/share/datasets/fashion-mnist bazel run
//   //data:idx_tool -- --export_png=/tmp/fm_png --n=20
//
// Input for the production source's demo, mixed formats plus files that must
// go to the dead-letter resource:
//   bazel run //data:idx_tool -- --export_png=/tmp/live --n=30
//       --format=mixed --broken=3
//
// Exported files are named <split>_<index>_<label>_<class>.<ext> (e.g.
// t10k_00000_9_ankle-boot.png), so demos of the production source and the
// serving gateway can check predictions against the file name.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "data/idx.h"
#include "data/image.h"

ABSL_FLAG(std::string, data_dir, std::string(trainbus::data::kDefaultMnistDir),
          "MNIST-layout directory (train-images-idx3-ubyte[.gz], ...)");
ABSL_FLAG(std::string, export_png, "",
          "if set, write the first --n images of --split as PNG files here");
ABSL_FLAG(int, n, 20, "how many images to export");
ABSL_FLAG(std::string, split, "test", "split to export: test or train");
ABSL_FLAG(int, num_classes, 10, "labels must lie in [0, num_classes)");
ABSL_FLAG(std::string, format, "png",
          "export format: png, jpeg, pgm, or mixed (cycles through them)");
ABSL_FLAG(int, broken, 0,
          "also write this many undecodable files (truncated PNG/JPEG, bad "
          "PGM) for dead-letter demos");

namespace trainbus::data {
namespace {

std::string ClassSlug(int label, int num_classes) {
  if (num_classes != 10 || label < 0 || label >= 10) return "class";
  std::string slug;
  for (char c : kFashionMnistClassNames[label]) {
    slug += absl::ascii_isalnum(c) ? absl::ascii_tolower(c) : '-';
  }
  return slug;
}

void PrintStats(const MnistSplits& s, int num_classes, double load_ms) {
  std::printf("data_dir %s (loaded in %.0f ms)\n", s.dir.c_str(), load_ms);
  for (const auto* d : {&s.train, &s.test}) {
    uint64_t sum = 0;
    for (uint8_t p : d->pixels) sum += p;
    std::printf("%-5s %6zu images of %u x %u, mean pixel %.1f\n",
                d == &s.train ? "train" : "test", d->count, d->rows, d->cols,
                d->pixels.empty() ? 0.0 : double(sum) / d->pixels.size());
  }
  std::vector<size_t> train = LabelHistogram(s.train, num_classes);
  std::vector<size_t> test = LabelHistogram(s.test, num_classes);
  std::printf("%-5s %-12s %7s %7s\n", "label", "class", "train", "test");
  for (int c = 0; c < num_classes; ++c) {
    std::string name =
        num_classes == 10 ? std::string(kFashionMnistClassNames[c]) : "-";
    std::printf("%-5d %-12s %7zu %7zu\n", c, name.c_str(), train[c], test[c]);
  }
}

absl::Status WriteFile(const std::string& path,
                       const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create '", path, "'; check the directory"));
  }
  const bool wrote =
      std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !wrote) {
    return absl::DataLossError(
        absl::StrCat("writing '", path, "' failed; check free disk space"));
  }
  return absl::OkStatus();
}

// `format`: png, jpeg, pgm, or mixed (cycles through the three).
absl::Status Export(const Dataset& d, absl::string_view split,
                    const std::string& dir, int n, absl::string_view format,
                    int broken, int num_classes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create --export_png directory '", dir, "': ", ec.message()));
  }
  static constexpr absl::string_view kFormats[] = {"png", "jpeg", "pgm"};
  const size_t count = std::min<size_t>(d.count, n < 0 ? 0 : n);
  const absl::string_view prefix = split == "train" ? "train" : "t10k";
  for (size_t i = 0; i < count; ++i) {
    Image img(d.cols, d.rows);
    std::copy(d.image(i), d.image(i) + d.image_size(), img.pixels.begin());
    const absl::string_view f = format == "mixed" ? kFormats[i % 3] : format;
    TB_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                        f == "png"    ? EncodePng(img)
                        : f == "jpeg" ? EncodeJpeg(img, 95)
                                      : EncodePgm(img));
    TB_RETURN_IF_ERROR(WriteFile(
        absl::StrFormat("%s/%s_%05d_%d_%s.%s", dir, prefix, i, d.labels[i],
                        ClassSlug(d.labels[i], num_classes),
                        f == "jpeg" ? "jpg" : f),
        bytes));
  }
  // Files that must fail to decode, for dead-letter demos: a truncated PNG,
  // a truncated JPEG and a PGM with a bad header, in turn.
  for (int i = 0; i < broken; ++i) {
    Image img(d.cols, d.rows);
    std::copy(d.image(0), d.image(0) + d.image_size(), img.pixels.begin());
    std::vector<uint8_t> bytes;
    absl::string_view ext;
    if (i % 3 == 0) {
      bytes = *EncodePng(img);
      bytes.resize(bytes.size() / 2);
      ext = "png";
    } else if (i % 3 == 1) {
      bytes = *EncodeJpeg(img, 95);
      bytes.resize(bytes.size() / 2);
      ext = "jpg";
    } else {
      const std::string text = "P5\n28 x\n255\n";
      bytes.assign(text.begin(), text.end());
      ext = "pgm";
    }
    TB_RETURN_IF_ERROR(
        WriteFile(absl::StrFormat("%s/broken_%03d.%s", dir, i, ext), bytes));
  }
  std::printf(
      "wrote %zu %s files (%s split)%s to %s\n", count,
      std::string(format).c_str(), std::string(split).c_str(),
      broken > 0 ? absl::StrCat(" and ", broken, " broken ones").c_str() : "",
      dir.c_str());
  return absl::OkStatus();
}

int Main() {
  const int num_classes = absl::GetFlag(FLAGS_num_classes);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<MnistSplits> splits =
      LoadMnistDir(absl::GetFlag(FLAGS_data_dir), num_classes);
  if (!splits.ok()) {
    std::fprintf(stderr, "idx_tool: %s\n", splits.status().ToString().c_str());
    return 1;
  }
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  PrintStats(*splits, num_classes, ms);
  const std::string dir = absl::GetFlag(FLAGS_export_png);
  if (!dir.empty()) {
    const std::string split = absl::GetFlag(FLAGS_split);
    if (split != "test" && split != "train") {
      std::fprintf(stderr, "idx_tool: --split=%s; use test or train\n",
                   split.c_str());
      return 1;
    }
    const std::string format = absl::GetFlag(FLAGS_format);
    if (format != "png" && format != "jpeg" && format != "pgm" &&
        format != "mixed") {
      std::fprintf(stderr,
                   "idx_tool: --format=%s; use png, jpeg, pgm or mixed\n",
                   format.c_str());
      return 1;
    }
    absl::Status s = Export(split == "train" ? splits->train : splits->test,
                            split, dir, absl::GetFlag(FLAGS_n), format,
                            absl::GetFlag(FLAGS_broken), num_classes);
    if (!s.ok()) {
      std::fprintf(stderr, "idx_tool: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace trainbus::data

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Prints statistics of an MNIST-layout dataset and exports images as "
      "PNG, JPEG or PGM.\n  idx_tool --data_dir=DIR [--export_png=OUT --n=20 "
      "--split=test --format=png|jpeg|pgm|mixed --broken=0]");
  absl::ParseCommandLine(argc, argv);
  return trainbus::data::Main();
}
