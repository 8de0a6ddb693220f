// Shared pieces of the cross-package bus tests: a tiny learnable dataset and
// a subscriber that stalls until told to go on.
#ifndef TRAINBUS_TESTS_TEST_TOPOLOGY_H_
#define TRAINBUS_TESTS_TEST_TOPOLOGY_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/idx.h"
#include "actors/model/eval_set.h"
#include "actors/model/model_actor.h"
#include "bus/atoms.h"
#include "bus/message.h"
#include "caf/all.hpp"

namespace trainbus::testing {

// `n` 4x4 images of 4 classes: class c lights row c, plus a deterministic
// speckle so the models have something to learn beyond one pixel.
inline std::shared_ptr<data::Dataset> RowsDataset(size_t n, uint32_t salt = 0) {
  auto d = std::make_shared<data::Dataset>();
  d->rows = 4;
  d->cols = 4;
  d->count = n;
  uint32_t state = 12345 + salt;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t label = static_cast<uint8_t>(i % 4);
    for (uint32_t p = 0; p < 16; ++p) {
      state = state * 1664525u + 1013904223u;
      const uint8_t noise = static_cast<uint8_t>((state >> 24) % 64);
      d->pixels.push_back(p / 4 == label ? static_cast<uint8_t>(191 + noise)
                                         : noise);
    }
    d->labels.push_back(label);
  }
  return d;
}

inline std::shared_ptr<const actors::EvalSet> EvalOf(const data::Dataset& d) {
  return std::make_shared<actors::EvalSet>(actors::EvalSet::FromBytes(
      d.pixels.data(), d.labels.data(), d.count, d.image_size()));
}

using resume_atom = caf::atom_constant<caf::atom("resume")>;

struct Stalled {
  std::vector<bus::Sample> samples;
};

// Subscribes to `resource` with no credit and grants none until it gets
// (resume_atom, n): an application that has stopped reading.
inline caf::behavior StalledSubscriber(caf::event_based_actor* self,
                                       caf::actor resource,
                                       std::shared_ptr<Stalled> out) {
  bus::SubscribeOptions sub;
  sub.name = "stalled";
  self->request(resource, caf::infinite, bus::subscribe_atom::value,
                caf::actor_cast<caf::actor>(self), sub)
      .then([](uint64_t) {});
  return {
      [=](bus::deliver_atom, uint64_t, const bus::Sample& s) {
        out->samples.push_back(s);
      },
      [=](resume_atom, uint32_t n) {
        self->send(resource, bus::credit_atom::value, n);
      },
  };
}

inline caf::behavior SummaryListener(
    caf::event_based_actor*,
    std::shared_ptr<std::vector<actors::ModelSummary>> out) {
  return {[=](actors::ModelSummary& s) { out->push_back(std::move(s)); }};
}

struct SourceDone {
  uint64_t published = 0;
  int calls = 0;
};

inline caf::behavior DoneListener(caf::event_based_actor*,
                                  std::shared_ptr<SourceDone> out) {
  return {[=](bus::done_atom, const std::string&, uint64_t n) {
    out->published = n;
    ++out->calls;
  }};
}

// A new, empty directory `name`.XXXXXX under $TEST_TMPDIR (bazel test sets
// it; elsewhere the system's temporary directory): unique per call, so no
// test removes another's files.
inline std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir =
      (tmp != nullptr ? std::string(tmp)
                      : std::filesystem::temp_directory_path().string()) +
      "/" + name + ".XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory like %s\n", dir.c_str());
    std::abort();
  }
  return dir;
}

}  // namespace trainbus::testing

#endif  // TRAINBUS_TESTS_TEST_TOPOLOGY_H_
