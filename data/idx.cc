#include "data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace trainbus::data {
namespace {

// gzread transparently reads uncompressed files too, so one code path serves
// both; gzdirect() afterwards says which one it was.
struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Upper bound on the data bytes we will believe a header about. Fashion-MNIST
// train is 47 MB; anything past 16 GiB is a corrupt header, not a dataset.
constexpr uint64_t kMaxDataBytes = uint64_t{16} << 30;
// First allocation for the data when the file gives no reliable size hint;
// it doubles only as bytes actually arrive, so a lying header cannot make us
// allocate gigabytes for a small file.
constexpr size_t kInitialChunk = size_t{1} << 20;
constexpr unsigned kGzBufferBytes = 256 << 10;

std::string Describe(uint32_t magic) {
  return absl::StrFormat("0x%08x", magic);
}

std::string WhatMagicIs(uint32_t magic) {
  if (magic == kIdxImagesMagic) return "an IDX images file (N x rows x cols)";
  if (magic == kIdxLabelsMagic) return "an IDX labels file (N)";
  if ((magic >> 16) == 0) {
    return absl::StrFormat("an IDX file of type 0x%02x with %d dimensions",
                           (magic >> 8) & 0xff, magic & 0xff);
  }
  return "not an IDX file";
}

// The uncompressed size mod 2^32 that a gzip file records in its last four
// bytes (little-endian), or 0 if it cannot be read. Only a hint: a
// truncated file ends in arbitrary bytes.
uint32_t GzipSizeHint(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return 0;
  uint8_t b[4] = {0, 0, 0, 0};
  const bool ok =
      std::fseek(f, -4, SEEK_END) == 0 && std::fread(b, 1, 4, f) == 4;
  std::fclose(f);
  if (!ok) return 0;
  return uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) |
         (uint32_t{b[3]} << 24);
}

struct IdxContents {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
  bool gzip = false;
};

// Reads up to `n` bytes; returns the count read, or an error for a corrupt
// gzip stream. A short count means end of file. `file_size`: the compressed
// size, so an error can say where the damage shows.
absl::StatusOr<size_t> ReadFully(gzFile f, absl::string_view path, uint8_t* dst,
                                 size_t n, uint64_t file_size) {
  size_t done = 0;
  while (done < n) {
    unsigned want =
        static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
    int got = gzread(f, dst + done, want);
    if (got < 0) {
      int errnum = 0;
      // gzerror's text is "<path>: <what>".
      const std::string msg(absl::StripPrefix(
          gzerror(f, &errnum), absl::StrCat(path, ": ")));
      // zlib checks the trailer (CRC-32, then the length mod 2^32) after
      // the last block; zlib may inflate ahead of our reads, so the error
      // can arrive early, but it is about the whole stream.
      const bool crc = msg == "incorrect data check";
      if (crc || msg == "incorrect length check") {
        const uint64_t at = file_size - (crc ? 8 : 4);
        return absl::DataLossError(absl::StrCat(
            "'", path, "': gzip ", crc ? "CRC-32" : "length",
            " mismatch: the stream decompresses, but its data does not match "
            "the ", crc ? "CRC-32" : "length", " in the gzip trailer (bytes ",
            at, "..", at + 3, " of the ", file_size,
            "-byte file), so the file is damaged; re-download it or check it "
            "with `gzip -t`"));
      }
      return absl::DataLossError(absl::StrCat(
          "'", path, "': corrupt gzip data within the first ", gzoffset(f),
          " of ", file_size, " compressed bytes (zlib: ", msg,
          "); re-download the file or check it with `gzip -t`"));
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

// After the last byte: zlib reports a stream that ends before its 8-byte
// trailer (CRC-32 and length) only as Z_BUF_ERROR, with a clean EOF.
absl::Status CheckGzipEnd(gzFile f, absl::string_view path, uint64_t bytes) {
  int errnum = Z_OK;
  gzerror(f, &errnum);
  if (errnum == Z_BUF_ERROR) {
    return absl::DataLossError(absl::StrCat(
        "IDX file '", path, "' is truncated: the gzip stream ends after ",
        bytes, " decompressed bytes without its 8-byte trailer (CRC-32 and "
        "length), so the data cannot be checked; re-download the file"));
  }
  return absl::OkStatus();
}

// Reads a whole unsigned-byte IDX file whose magic must be `expected_magic`.
absl::StatusOr<IdxContents> ReadIdx(absl::string_view path,
                                    uint32_t expected_magic) {
  const std::string p(path);
  struct stat st;
  if (stat(p.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot open IDX file '", path,
                                            "': ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a regular file; pass an IDX file"));
  }
  if (st.st_size == 0) {
    return absl::DataLossError(
        absl::StrCat("IDX file '", path,
                     "' is empty (0 bytes); re-download or regenerate it"));
  }
  GzFile f(gzopen(p.c_str(), "rb"));
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open IDX file '", path,
                                            "': ", std::strerror(errno)));
  }
  gzbuffer(f.get(), kGzBufferBytes);

  IdxContents out;
  uint8_t head[4];
  TB_ASSIGN_OR_RETURN(size_t got, ReadFully(f.get(), path, head, 4, st.st_size));
  out.gzip = gzdirect(f.get()) == 0;
  if (got < 4) {
    return absl::DataLossError(
        absl::StrCat("IDX file '", path, "' is too short for a header: ", got,
                     " bytes, need at least 4; re-download or regenerate it"));
  }
  const uint32_t magic = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) |
                         (uint32_t{head[2]} << 8) | head[3];
  if (magic != expected_magic) {
    std::string hint = "check that the path points at the right file";
    if (magic == kIdxImagesMagic || magic == kIdxLabelsMagic) {
      hint = "the images and labels paths look swapped";
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "IDX file '", path, "' has magic ", Describe(magic), " (",
        WhatMagicIs(magic), "), expected ", Describe(expected_magic), " (",
        WhatMagicIs(expected_magic), "); ", hint));
  }

  const int ndims = static_cast<int>(magic & 0xff);
  std::vector<uint8_t> dim_bytes(4 * ndims);
  TB_ASSIGN_OR_RETURN(
      got, ReadFully(f.get(), path, dim_bytes.data(), dim_bytes.size(),
                     st.st_size));
  if (got < dim_bytes.size()) {
    return absl::DataLossError(absl::StrCat(
        "IDX file '", path, "' is truncated inside its header: ", 4 + got,
        " bytes, the header needs ", 4 + dim_bytes.size(),
        "; re-download or regenerate it"));
  }
  uint64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* b = &dim_bytes[4 * i];
    uint32_t d = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                 (uint32_t{b[2]} << 8) | b[3];
    out.dims.push_back(d);
    total *= d;
    if (total > kMaxDataBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "IDX file '", path, "' declares dimensions ",
          absl::StrJoin(out.dims, " x "), "... = more than ", kMaxDataBytes,
          " bytes; the header is corrupt, re-download the file"));
    }
  }

  const size_t expected = static_cast<size_t>(total);
  const uint64_t file_bytes = 4 + dim_bytes.size() + total;
  size_t initial = std::min(expected, kInitialChunk);
  if (!out.gzip) {
    // The exact size is known: report truncation without reading.
    if (static_cast<uint64_t>(st.st_size) < file_bytes) {
      return absl::DataLossError(absl::StrCat(
          "IDX file '", path, "' is truncated: its header declares ",
          absl::StrJoin(out.dims, " x "), " = ", expected,
          " data bytes but the file holds only ",
          static_cast<uint64_t>(st.st_size) - 4 - dim_bytes.size(),
          "; re-download or regenerate it"));
    }
    initial = expected;
  } else if (GzipSizeHint(p) == static_cast<uint32_t>(file_bytes)) {
    initial = expected;  // gzip's trailer agrees with the header
  }
  out.data.resize(initial);
  size_t have = 0;
  while (true) {
    TB_ASSIGN_OR_RETURN(got, ReadFully(f.get(), path, out.data.data() + have,
                                       out.data.size() - have, st.st_size));
    have += got;
    if (have < out.data.size() || have == expected) break;
    out.data.resize(std::min(expected, out.data.size() * 2));
  }
  const std::string shape = absl::StrJoin(out.dims, " x ");
  if (have < expected) {
    int errnum = Z_OK;
    gzerror(f.get(), &errnum);
    return absl::DataLossError(absl::StrCat(
        "IDX file '", path, "' is truncated: its header declares ", shape,
        " = ", expected, " data bytes but the ",
        out.gzip ? "decompressed " : "", "file holds only ", have,
        errnum == Z_BUF_ERROR ? " (the gzip stream also ends early)" : "",
        "; re-download or regenerate it"));
  }
  uint8_t extra[4096];
  size_t trailing = 0;
  while (true) {
    TB_ASSIGN_OR_RETURN(
        got, ReadFully(f.get(), path, extra, sizeof(extra), st.st_size));
    if (got == 0) break;
    trailing += got;
  }
  if (trailing > 0) {
    return absl::DataLossError(absl::StrCat(
        "IDX file '", path, "' has ", trailing, " bytes after the ", expected,
        " data bytes its header declares (", shape,
        "); the header does not match the data, regenerate the file"));
  }
  if (out.gzip) TB_RETURN_IF_ERROR(CheckGzipEnd(f.get(), path, file_bytes));
  return out;
}

}  // namespace

absl::StatusOr<Dataset> LoadIdxPair(absl::string_view images_path,
                                    absl::string_view labels_path,
                                    int num_classes) {
  if (num_classes < 1 || num_classes > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_classes is ", num_classes, "; byte labels need 1..256"));
  }
  TB_ASSIGN_OR_RETURN(Dataset images, LoadIdxImages(images_path));
  TB_ASSIGN_OR_RETURN(IdxContents labels,
                      ReadIdx(labels_path, kIdxLabelsMagic));
  const uint32_t d[3] = {static_cast<uint32_t>(images.count), images.rows,
                         images.cols};
  if (labels.dims[0] != d[0]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "count mismatch: images file '", images_path, "' has ", d[0],
        " images of ", d[1], " x ", d[2], " but labels file '", labels_path,
        "' has ", labels.dims[0],
        " labels; use images and labels from the same split"));
  }
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "IDX labels file '", labels_path, "': label ", int{labels.data[i]},
          " at index ", i, " is outside [0, ", num_classes,
          "); the file is corrupt or has more classes (pass ", "num_classes)"));
    }
  }
  images.labels = std::move(labels.data);
  return images;
}

absl::StatusOr<Dataset> LoadIdxImages(absl::string_view images_path) {
  TB_ASSIGN_OR_RETURN(IdxContents images,
                      ReadIdx(images_path, kIdxImagesMagic));
  const std::vector<uint32_t>& d = images.dims;
  if (d[1] == 0 || d[2] == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IDX images file '", images_path, "' declares images of ", d[1], " x ",
        d[2], " pixels; both must be positive, regenerate the file"));
  }
  if (d[0] == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("IDX images file '", images_path,
                     "' holds no images (count 0); use a non-empty split"));
  }
  Dataset out;
  out.count = d[0];
  out.rows = d[1];
  out.cols = d[2];
  out.pixels = std::move(images.data);
  return out;
}

namespace {

// Returns the first of `dir/name`, `dir/name.gz`, `dir/alt`, `dir/alt.gz`
// that exists, or "" if none does.
std::string FindFile(const std::string& dir, absl::string_view name,
                     absl::string_view alt) {
  for (absl::string_view base : {name, alt}) {
    for (absl::string_view ext : {"", ".gz"}) {
      std::string path = absl::StrCat(dir, "/", base, ext);
      struct stat st;
      if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
    }
  }
  return "";
}

constexpr absl::string_view kTrainImages = "train-images-idx3-ubyte";
constexpr absl::string_view kTrainLabels = "train-labels-idx1-ubyte";
constexpr absl::string_view kTestImages = "t10k-images-idx3-ubyte";
constexpr absl::string_view kTestLabels = "t10k-labels-idx1-ubyte";

std::string HowToGetData() {
  return absl::StrCat(
      "pass --data_dir=DIR pointing at a directory with ", kTrainImages,
      "[.gz], ", kTrainLabels, "[.gz], ", kTestImages, "[.gz] and ",
      kTestLabels, "[.gz], or run tools/setup.sh to install the Debian ",
      "package dataset-fashion-mnist (into ", kDefaultMnistDir, ")");
}

}  // namespace

absl::StatusOr<MnistSplits> LoadMnistDir(absl::string_view dir,
                                         int num_classes) {
  std::string d(dir);
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  struct stat st;
  if (stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(
        "data directory '", dir, "' does not exist or is not a directory; ",
        HowToGetData()));
  }
  struct Want {
    absl::string_view name, alt;
    std::string path;
  };
  Want want[4] = {{kTrainImages, "train-images.idx3-ubyte", ""},
                  {kTrainLabels, "train-labels.idx1-ubyte", ""},
                  {kTestImages, "t10k-images.idx3-ubyte", ""},
                  {kTestLabels, "t10k-labels.idx1-ubyte", ""}};
  std::vector<std::string> missing;
  for (Want& w : want) {
    w.path = FindFile(d, w.name, w.alt);
    if (w.path.empty()) missing.push_back(absl::StrCat(w.name, "[.gz]"));
  }
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat("data directory '", dir, "' lacks ",
                                            absl::StrJoin(missing, ", "), "; ",
                                            HowToGetData()));
  }
  MnistSplits out;
  out.dir = d;
  TB_ASSIGN_OR_RETURN(out.train,
                      LoadIdxPair(want[0].path, want[1].path, num_classes));
  TB_ASSIGN_OR_RETURN(out.test,
                      LoadIdxPair(want[2].path, want[3].path, num_classes));
  const Dataset& train = out.train;
  const Dataset& test = out.test;
  if (train.rows != test.rows || train.cols != test.cols) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dimension mismatch in '", dir, "': train images are ", train.rows,
        " x ", train.cols, " but test images are ", test.rows, " x ",
        test.cols, "; both splits must come from the same dataset"));
  }
  return out;
}

Dataset SliceRange(const Dataset& d, size_t begin, size_t n) {
  Dataset out;
  out.rows = d.rows;
  out.cols = d.cols;
  begin = std::min(begin, d.count);
  out.count = std::min(n, d.count - begin);
  const size_t sz = d.image_size();
  out.pixels.assign(d.pixels.begin() + begin * sz,
                    d.pixels.begin() + (begin + out.count) * sz);
  out.labels.assign(d.labels.begin() + begin,
                    d.labels.begin() + begin + out.count);
  return out;
}

Dataset Slice(const Dataset& d, size_t n) { return SliceRange(d, 0, n); }

std::vector<size_t> LabelHistogram(const Dataset& d, int num_classes) {
  std::vector<size_t> hist(std::max(num_classes, 0), 0);
  for (uint8_t label : d.labels) {
    if (label < hist.size()) ++hist[label];
  }
  return hist;
}

absl::Status WriteIdx(absl::string_view path, absl::Span<const uint32_t> dims,
                      absl::Span<const uint8_t> data,
                      IdxCompression compression) {
  if (dims.empty() || dims.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteIdx('", path, "'): ", dims.size(),
                     " dimensions; an IDX file needs 1..255"));
  }
  uint64_t total = 1;
  for (uint32_t d : dims) total *= d;
  if (total != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WriteIdx('", path, "'): dimensions ", absl::StrJoin(dims, " x "),
        " need ", total, " bytes but data has ", data.size()));
  }
  std::vector<uint8_t> header = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      header.push_back(static_cast<uint8_t>(d >> shift));
    }
  }
  const std::string p(path);
  // "T" writes the bytes through unchanged, so both forms share gzwrite.
  GzFile f(
      gzopen(p.c_str(), compression == IdxCompression::kGzip ? "wb6" : "wbT"));
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create '", path, "': ", std::strerror(errno),
                     "; check that the directory exists and is writable"));
  }
  auto write = [&](const uint8_t* bytes, size_t n) {
    while (n > 0) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
      if (gzwrite(f.get(), bytes, chunk) != static_cast<int>(chunk)) {
        return false;
      }
      bytes += chunk;
      n -= chunk;
    }
    return true;
  };
  bool ok =
      write(header.data(), header.size()) && write(data.data(), data.size());
  ok = (gzclose(f.release()) == Z_OK) && ok;
  if (!ok) {
    return absl::DataLossError(
        absl::StrCat("writing '", path, "' failed; check free disk space"));
  }
  return absl::OkStatus();
}

absl::Status WriteIdxPair(absl::string_view images_path,
                          absl::string_view labels_path, const Dataset& d,
                          IdxCompression compression) {
  if (d.pixels.size() != d.count * d.image_size() ||
      d.labels.size() != d.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteIdxPair: dataset of ", d.count, " x ", d.rows, " x ",
                     d.cols, " has ", d.pixels.size(), " pixel bytes and ",
                     d.labels.size(), " labels; make them agree"));
  }
  const uint32_t n = static_cast<uint32_t>(d.count);
  const uint32_t image_dims[3] = {n, d.rows, d.cols};
  TB_RETURN_IF_ERROR(WriteIdx(images_path, image_dims, d.pixels, compression));
  const uint32_t label_dims[1] = {n};
  return WriteIdx(labels_path, label_dims, d.labels, compression);
}

absl::Status WriteMnistDir(absl::string_view dir, const Dataset& train,
                           const Dataset& test, IdxCompression compression) {
  const absl::string_view ext =
      compression == IdxCompression::kGzip ? ".gz" : "";
  TB_RETURN_IF_ERROR(WriteIdxPair(absl::StrCat(dir, "/", kTrainImages, ext),
                                  absl::StrCat(dir, "/", kTrainLabels, ext),
                                  train, compression));
  return WriteIdxPair(absl::StrCat(dir, "/", kTestImages, ext),
                      absl::StrCat(dir, "/", kTestLabels, ext), test,
                      compression);
}

}  // namespace trainbus::data
