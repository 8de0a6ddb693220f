// Writes the seed corpora under DIR/<target>/ (DIR is fuzz/corpus in the
// tree), each seed made with the project's own writers so it is valid, plus
// the edge cases next to it. Rerun after a format change:
//   bazel run //fuzz:make_seeds -- $PWD/fuzz/corpus
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "bus/log/log.h"
#include "data/idx.h"
#include "data/image.h"
#include "fuzz/fuzz_util.h"
#include "kernels/nn/model.h"
#include "topology/manifest.h"

namespace trainbus::fuzz {
namespace {

std::string g_root;

void Seed(const std::string& target, const std::string& name,
          absl::string_view bytes) {
  const std::string dir = g_root + "/" + target;
  ::mkdir(dir.c_str(), 0755);
  WriteOrDie(dir + "/" + name, bytes);
}

std::string Str(const std::vector<uint8_t>& v) {
  return std::string(v.begin(), v.end());
}

std::string ReadOrDie(const std::string& path) {
  return OrDie(base::ReadFile(path));
}

data::Image Gradient(uint32_t w, uint32_t h) {
  data::Image im(w, h, 250);
  for (uint32_t y = h / 4; y < h - h / 4; ++y) {
    for (uint32_t x = w / 4; x < w - w / 4; ++x) im.at(x, y) = (x * 7 + y * 3) % 200;
  }
  return im;
}

// The idx target's input: images length (2 bytes LE), images, labels.
std::string IdxInput(const std::string& images, const std::string& labels) {
  std::string s;
  s.push_back(static_cast<char>(images.size() & 0xff));
  s.push_back(static_cast<char>(images.size() >> 8));
  return s + images + labels;
}

void IdxSeeds() {
  data::Dataset d;
  d.rows = 4;
  d.cols = 3;
  d.count = 3;
  for (size_t i = 0; i < 36; ++i) d.pixels.push_back(i * 7);
  d.labels = {0, 9, 4};
  const std::string images = ScratchDir() + "/i", labels = ScratchDir() + "/l";
  for (auto c : {data::IdxCompression::kRaw, data::IdxCompression::kGzip}) {
    if (!data::WriteIdxPair(images, labels, d, c).ok()) std::abort();
    const std::string i = ReadOrDie(images), l = ReadOrDie(labels);
    const std::string tag = c == data::IdxCompression::kRaw ? "raw" : "gzip";
    Seed("idx", tag + "-valid", IdxInput(i, l));
    Seed("idx", tag + "-truncated-images", IdxInput(i.substr(0, i.size() - 5), l));
    Seed("idx", tag + "-swapped", IdxInput(l, i));
    Seed("idx", tag + "-images-twice", IdxInput(i, i));
  }
  d.labels = {0, 12, 255};
  if (!data::WriteIdxPair(images, labels, d).ok()) std::abort();
  Seed("idx", "bad-labels", IdxInput(ReadOrDie(images), ReadOrDie(labels)));
  Seed("idx", "empty", IdxInput("", ""));
  // A header promising 2^32-1 images of 2^16 x 2^16 in a few bytes.
  Seed("idx", "huge-header",
       IdxInput(std::string("\0\0\x08\x03\xff\xff\xff\xff\0\1\0\0\0\1\0\0", 16),
                std::string("\0\0\x08\x01\xff\xff\xff\xff", 8)));
}

void ImageSeeds() {
  const data::Image small = Gradient(28, 28), wide = Gradient(60, 20);
  Seed("png", "gray-28", Str(OrDie(data::EncodePng(small))));
  Seed("png", "gray-60x20", Str(OrDie(data::EncodePng(wide))));
  Seed("png", "gray-1x1", Str(OrDie(data::EncodePng(data::Image(1, 1, 7)))));
  std::vector<uint8_t> rgba(8 * 6 * 3);  // 5x3x4 = 5x4x3 = 60 of them for PNG
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = i * 13;
  const absl::Span<const uint8_t> sixty(rgba.data(), 60);
  Seed("png", "rgba-5x3", Str(OrDie(data::EncodePng(5, 3, 4, sixty))));
  Seed("png", "rgb-5x4", Str(OrDie(data::EncodePng(5, 4, 3, sixty))));
  std::string png = Str(OrDie(data::EncodePng(wide)));
  Seed("png", "truncated", png.substr(0, png.size() / 2));

  Seed("jpeg", "gray-28", Str(OrDie(data::EncodeJpeg(small, 80))));
  Seed("jpeg", "rgb-8x6", Str(OrDie(data::EncodeJpeg(8, 6, 3, rgba, 50))));
  std::string jpeg = Str(OrDie(data::EncodeJpeg(Gradient(300, 240), 30)));
  Seed("jpeg", "gray-300x240", jpeg);
  Seed("jpeg", "gray-300x240-odd", jpeg + "x");  // takes the scaled decode
  Seed("jpeg", "truncated", jpeg.substr(0, jpeg.size() / 3));

  Seed("pgm", "binary-28", Str(data::EncodePgm(small)));
  Seed("pgm", "plain-60x20", Str(data::EncodePgm(wide, /*plain=*/true)));
  Seed("pgm", "comments", "P2\n# a comment\n3 2 # more\n15\n0 1 2\n3 4 15\n");
  Seed("pgm", "16-bit", std::string("P5 2 1 65535\n\x01\x02\xff\xff", 17));
  Seed("pgm", "short-data", "P5 4 4 255\nabc");
  Seed("pgm", "huge-size", "P5 99999999 99999999 255\n");
  Seed("pgm", "zero-maxval", "P2 1 1 0\n0\n");
}

const char* const kSpecs[] = {
    "softmax",
    "softmax:opt=sgd,lr=0.05,batch=1,avg=0.9999",
    "mlp:hidden=100x50,lr=0.05,batch=32",
    "mlp:hidden=256x128,opt=adam,lr=0.001,momentum=0.8,wd=0.0001,batch=64,",
    "mlp:halflife=5000,avg=0.99",
    "cnn:conv=16x32,hidden=128,opt=momentum,lr=0.02,seed=3",
    "cnn:conv=32x64,kernel=3,padding=same,hidden=256",
    "cnn:conv=8x16,dropout=0.25,hflip=0.5,shift=2",
    "mlp:hidden=65536x65536",
    "mlp:lr=0.1,lr=0.2",
    "cnn:conv=1024x1024",
    "mlp:hidden=12xx",
};

void ModelSeeds() {
  for (size_t i = 0; i < sizeof(kSpecs) / sizeof(kSpecs[0]); ++i) {
    Seed("model_spec", absl::StrCat("spec-", i), kSpecs[i]);
  }
  // Checkpoints: flag byte 0 = as saved; 1 = without the checksum, which the
  // target appends.
  for (const char* text : {"softmax", "mlp:hidden=8x4", "cnn:conv=2x2,hidden=4"}) {
    nn::ModelSpec spec = OrDie(nn::ParseModelSpec(text));
    const std::string ckpt = OrDie(nn::MakeModel(spec))->SaveCheckpoint();
    const std::string name = std::string(text).substr(0, 3);
    Seed("checkpoint", name + "-sealed", std::string(1, '\0') + ckpt);
    Seed("checkpoint", name + "-unsealed",
         std::string(1, '\1') + ckpt.substr(0, ckpt.size() - 8));
    Seed("checkpoint", name + "-truncated",
         std::string(1, '\1') + ckpt.substr(0, ckpt.size() / 2));
  }
  Seed("checkpoint", "magic-only", std::string("\0TBNNCKPT", 9));
}

void LogSeeds() {
  const std::string dir = ScratchDir() + "/seedlog";
  std::string segment;
  {
    bus::LogOptions options;
    auto log = OrDie(bus::Log::Open(dir, options));
    for (int i = 0; i < 4; ++i) {
      const std::string payload(i * 5, static_cast<char>('a' + i));
      (void)OrDie(log->Append(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(payload.data()), payload.size())));
    }
    segment = ReadOrDie(dir + "/00000000000000000000.log");
  }
  RemoveFlatDir(dir);
  // Flags: 1 seal CRCs, 2 skip corruption, 4 append after recovery.
  for (int flags : {0, 2, 4, 6}) {
    Seed("log", absl::StrCat("valid-", flags), std::string(1, flags) + segment);
  }
  Seed("log", "torn-tail", std::string(1, 4) + segment.substr(0, segment.size() - 3));
  std::string flipped = segment;
  flipped[segment.size() - 2] ^= 0x40;  // in the last record's payload
  Seed("log", "corrupt-last-skip", std::string(1, 6) + flipped);
  Seed("log", "corrupt-last-stop", std::string(1, 4) + flipped);
  Seed("log", "resealed", std::string(1, 7) + flipped);
  Seed("log", "header-only", std::string(1, 4) + segment.substr(0, 32));
  Seed("log", "empty", std::string(1, 4));
}

void TextSeeds() {
  const char* const filters[] = {
      "name=mlp,test_accuracy>0.8",
      "name==\"a, \\\"quoted\\\" \\\\ name\",version!=3",
      "hyper.lr<=0.01,x>=1e309,y<-0,z= spaced value ",
      "test_accuracy desc,name asc,version",
      "=x",
      "a=\"unterminated",
      ",,",
  };
  for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); ++i) {
    Seed("filter", absl::StrCat("filter-", i), filters[i]);
  }
}

// One manifest with every field set (as JSON, put through the parser and the
// writer so it is what the writer makes now), then the ways a stored one
// goes wrong.
constexpr char kManifest[] = R"json({
  "run_id": 12, "reproduces": 4, "state": "finished", "error": "",
  "started_ns": 1700000000000000000, "finished_ns": 1700000000500000000,
  "spec": {"name": "fashion", "origin": "experiments/fashion.yaml",
           "text": "name: fashion\nsources: []\n",
           "args": ["--epochs=1", "--seed=9"]},
  "seeds": {"model mlp": 9, "source train": 18446744073709551615},
  "inputs": [{"source": "train", "path": "/d/train-images-idx3-ubyte",
              "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
              "size": 47040016}],
  "environment": {
    "cpu_model": "AMD EPYC", "highway_target": "AVX3_ZEN4",
    "packages": {"libcaf-dev": "0.17.6-2", "libhwy-dev": "unknown"},
    "packages_note": "not installed according to dpkg: libhwy-dev",
    "source": {"dir": "/src", "commit": "0123456789abcdef0123456789abcdef01234567",
               "dirty": true, "note": ""}},
  "checkpoints": {"mlp": {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                          "size": 12345}}
})json";

void ManifestSeeds() {
  const std::string json =
      topology::ManifestToJson(OrDie(topology::ParseManifest(kManifest)));
  Seed("manifest", "full", json);
  Seed("manifest", "empty-object", "{}");
  Seed("manifest", "array", "[1, 2]");
  Seed("manifest", "truncated", json.substr(0, json.size() / 2));
  std::string typed = json;
  const size_t at = typed.find("\"run_id\":");
  if (at != std::string::npos) typed.replace(at, 9, "\"run_id\":\"x\",\"_\":");
  Seed("manifest", "wrong-type", typed);
}

void RestSeeds() {
  const std::string png = Str(OrDie(data::EncodePng(Gradient(28, 28))));
  const std::string b64 = absl::Base64Escape(png);
  std::vector<std::string> floats(784, "0.5");
  const std::string flat = absl::StrCat("[", absl::StrJoin(floats, ","), "]");
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"live", "GET /v2/health/live\n\n"},
      {"ready", "GET /v2/health/ready\n\n"},
      {"status", "GET /v1/models/m\n\n"},
      {"version-status", "GET /v1/models/m/versions/1\n\n"},
      {"label-missing", "GET /v1/models/m/labels/best/metadata\n\n"},
      {"metadata", "GET /v1/models/m/metadata\n\n"},
      {"unknown-model", "GET /v1/models/zz\n\n"},
      {"wrong-method", "PUT /v1/models/m:predict\napplication/json\n{}"},
      {"classify-b64", "POST /v1/models/m:classify\napplication/json\n"
                       "{\"examples\":[{\"image\":{\"b64\":\"" + b64 + "\"}}]}"},
      {"classify-raw", "POST /v1/models/m/versions/1:classify\nimage/png\n" + png},
      {"predict-b64", "POST /v1/models/m:predict\napplication/json\n"
                      "{\"instances\":[{\"b64\":\"" + b64 + "\"}]}"},
      {"predict-floats", "POST /v1/models/m:predict\napplication/json\n"
                         "{\"instances\":[" + flat + "]}"},
      {"predict-columnar", "POST /v1/models/m:predict\napplication/json\n"
                           "{\"inputs\":[" + flat + "]}"},
      {"predict-short", "POST /v1/models/m:predict\napplication/json\n"
                        "{\"instances\":[[1,2,3]]}"},
      {"bad-b64", "POST /v1/models/m:predict\napplication/json\n"
                  "{\"instances\":[{\"b64\":\"!!!=\"}]}"},
      {"bad-json", "POST /v1/models/m:predict\napplication/json\n{\"instances\":["},
      {"metrics", "GET /metrics\n\n"},
      {"label-classify", "POST /v1/models/m/labels/production:classify\n"
                         "image/png\n" + png},
      {"feedback-image", "POST /v1/models/m:feedback\napplication/json\n"
                         "{\"image\":{\"b64\":\"" + b64 + "\"},\"label\":7}"},
      {"feedback-id", "POST /v1/models/m:feedback\napplication/json\n"
                      "{\"prediction_id\":1,\"label\":3}"},
      {"feedback-bad-label", "POST /v1/models/m:feedback\napplication/json\n"
                             "{\"image\":{\"b64\":\"" + b64 + "\"},\"label\":-1}"},
  };
  for (const auto& [name, request] : requests) Seed("rest_api", name, request);
}

}  // namespace
}  // namespace trainbus::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR (fuzz/corpus)\n");
    return 2;
  }
  trainbus::fuzz::g_root = argv[1];
  trainbus::fuzz::IdxSeeds();
  trainbus::fuzz::ImageSeeds();
  trainbus::fuzz::ModelSeeds();
  trainbus::fuzz::LogSeeds();
  trainbus::fuzz::TextSeeds();
  trainbus::fuzz::RestSeeds();
  trainbus::fuzz::ManifestSeeds();
  trainbus::fuzz::RemoveFlatDir(trainbus::fuzz::ScratchDir());
  return 0;
}
