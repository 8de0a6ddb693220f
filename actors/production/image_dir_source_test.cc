// The image-directory source on a deterministic bus: good files become
// samples, bad ones dead letters, and the stream carries on to its end.
#include "actors/production/image_dir_source.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/test_dir.h"
#include "data/image.h"
#include "actors/generator/source_testing.h"
#include "bus/atoms.h"
#include "bus/bus_test_util.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors {
namespace {

using bus::testing::BusTestSystem;
using bus::testing::Received;

struct Done {
  std::string source;
  uint64_t published = 0;
  uint64_t dead = 0;
  int calls = 0;
};

caf::behavior DoneListener(caf::event_based_actor*, std::shared_ptr<Done> out) {
  return {[=](bus::done_atom, const std::string& source, uint64_t published,
              uint64_t dead) {
    out->source = source;
    out->published = published;
    out->dead = dead;
    ++out->calls;
  }};
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

data::Image Blob(uint32_t w, uint32_t h) {
  data::Image img(w, h, 0);
  for (uint32_t y = h / 4; y < 3 * h / 4; ++y) {
    for (uint32_t x = w / 4; x < 3 * w / 4; ++x) img.at(x, y) = 200;
  }
  return img;
}

class ImageDirSourceTest : public ::testing::Test {
 protected:
  std::shared_ptr<Received> Watch(const std::string& name) {
    testing::Watched w = testing::Watch(t, name, /*credit=*/1000);
    resources.push_back(w.resource);
    return w.got;
  }

  BusTestSystem t;
  std::vector<bus::resource_actor> resources;
};

TEST_F(ImageDirSourceTest, GoodFilesAreSamplesBadOnesDeadLetters) {
  const std::string dir = base::NewTestDir("images");
  WriteBytes(dir + "/a.png", *data::EncodePng(Blob(28, 28)));
  WriteBytes(dir + "/b.pgm", data::EncodePgm(Blob(56, 40)));
  WriteBytes(dir + "/c.jpg", *data::EncodeJpeg(Blob(64, 64)));
  std::vector<uint8_t> truncated = *data::EncodePng(Blob(28, 28));
  truncated.resize(truncated.size() / 2);
  WriteBytes(dir + "/d_truncated.png", truncated);
  WriteBytes(dir + "/e_notes.txt", {'h', 'i'});  // not an image name: skipped
  WriteBytes(dir + "/f_garbage.jpg", {'h', 'e', 'l', 'l', 'o'});

  auto live = Watch("live");
  auto dead = Watch("dead_letter");
  auto done = std::make_shared<Done>();
  ImageDirSourceOptions o;
  o.dir = dir;
  o.output = resources[0];
  o.dead_letter = resources[1];
  o.window = 2;
  o.listener = t.Spawn(DoneListener, done);
  ASSERT_TRUE(SpawnImageDirSource(t.system(), o).ok());
  t.Run();

  ASSERT_EQ(live->samples.size(), 4u);  // 3 images + end marker
  for (uint64_t i = 0; i < 3; ++i) {
    const bus::Sample& s = live->samples[i];
    EXPECT_EQ(s.seq, i);
    EXPECT_EQ(s.source, "images");
    EXPECT_FALSE(s.has_label());
    EXPECT_EQ(s.shape, (std::vector<uint32_t>{28, 28}));
    EXPECT_EQ(s.pixels.size(), 784u);
    EXPECT_GT(s.publish_ns, 0);
  }
  EXPECT_EQ(live->samples[0].meta.at("path"), dir + "/a.png");
  EXPECT_EQ(live->samples[2].meta.at("path"), dir + "/c.jpg");
  // The origin, which predictions carry on, is the file's own name.
  EXPECT_EQ(live->samples[0].meta.at(bus::kOriginKey), "a.png");
  EXPECT_EQ(live->samples[1].meta.at(bus::kOriginKey), "b.pgm");
  EXPECT_EQ(live->samples[2].meta.at(bus::kOriginKey), "c.jpg");
  EXPECT_TRUE(live->samples[3].end_of_stream());
  EXPECT_EQ(live->samples[3].seq, 5u);  // after five image files

  ASSERT_EQ(dead->samples.size(), 2u);
  EXPECT_EQ(dead->samples[0].seq, 3u);
  EXPECT_EQ(dead->samples[0].meta.at("path"), dir + "/d_truncated.png");
  EXPECT_EQ(dead->samples[1].meta.at("path"), dir + "/f_garbage.jpg");
  EXPECT_EQ(dead->samples[1].meta.at(bus::kOriginKey), "f_garbage.jpg");
  for (const bus::Sample& s : dead->samples) {
    EXPECT_TRUE(s.pixels.empty());
    EXPECT_FALSE(s.meta.at("error").empty());
    // The reason, without the path repeated in front of it.
    EXPECT_EQ(s.meta.at("error").find("'" + dir), std::string::npos)
        << s.meta.at("error");
  }
  EXPECT_EQ(done->calls, 1);
  EXPECT_EQ(done->source, "images");
  EXPECT_EQ(done->published, 3u);
  EXPECT_EQ(done->dead, 2u);
}

TEST_F(ImageDirSourceTest, AnEmptyDirectoryIsJustAnEndMarker) {
  auto live = Watch("live");
  ImageDirSourceOptions o;
  o.dir = base::NewTestDir("empty");
  o.output = resources[0];
  ASSERT_TRUE(SpawnImageDirSource(t.system(), o).ok());
  t.Run();
  ASSERT_EQ(live->samples.size(), 1u);
  EXPECT_TRUE(live->samples[0].end_of_stream());
}

TEST_F(ImageDirSourceTest, AMissingDirectoryIsAnErrorNotAnEmptyStream) {
  auto live = Watch("live");
  ImageDirSourceOptions o;
  o.dir = "/nonexistent/trainbus/images";
  o.output = resources[0];
  auto src = SpawnImageDirSource(t.system(), o);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find(o.dir), std::string::npos)
      << src.status();
  o.output = bus::resource_actor{};
  EXPECT_FALSE(SpawnImageDirSource(t.system(), o).ok());
}

}  // namespace
}  // namespace trainbus::actors
