// Shared pieces of the cross-package bus tests: a tiny learnable dataset and
// a subscriber that stalls until told to go on.
#ifndef TRAINBUS_TESTS_TEST_TOPOLOGY_H_
#define TRAINBUS_TESTS_TEST_TOPOLOGY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/program_testing.h"
#include "data/idx.h"
#include "actors/model/eval_set.h"
#include "actors/model/model_actor.h"
#include "bus/protocol.h"
#include "bus/message.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::testing {

// `n` images of `rows` x `cols` pixels, label i % classes: the pixels for
// which lit(row, col, label) holds are bright (lit_base + a share of the
// noise), the rest carry a deterministic speckle below `noise_mod`, so
// models have something to learn beyond one pixel.
template <class Lit>
data::Dataset Synthetic(size_t n, uint32_t rows, uint32_t cols,
                        uint32_t classes, uint32_t seed, uint32_t noise_mod,
                        uint32_t lit_base, uint32_t lit_noise_div, Lit lit) {
  data::Dataset d;
  d.rows = rows;
  d.cols = cols;
  d.count = n;
  uint32_t state = seed;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t label = static_cast<uint8_t>(i % classes);
    for (uint32_t p = 0; p < rows * cols; ++p) {
      state = state * 1664525u + 1013904223u;
      const uint32_t noise = (state >> 24) % noise_mod;
      d.pixels.push_back(static_cast<uint8_t>(
          lit(p / cols, p % cols, label) ? lit_base + noise / lit_noise_div
                                         : noise));
    }
    d.labels.push_back(label);
  }
  return d;
}

// `n` 4x4 images of 4 classes: class c lights row c.
inline std::shared_ptr<data::Dataset> RowsDataset(size_t n, uint32_t salt = 0) {
  return std::make_shared<data::Dataset>(Synthetic(
      n, 4, 4, 4, 12345 + salt, 64, 191, 1,
      [](uint32_t row, uint32_t, uint8_t label) { return row == label; }));
}

// `n` 28x28 images of 10 classes, the size the default models take: class
// c brightens the band of rows [3c, 3c + 3).
inline data::Dataset BandsDataset(size_t n, uint32_t salt) {
  return Synthetic(n, 28, 28, 10, 7 + salt, 40, 200, 2,
                   [](uint32_t row, uint32_t col, uint8_t label) {
                     return row / 3 == label && col > 4 && col < 24;
                   });
}

inline std::shared_ptr<const actors::EvalSet> EvalOf(const data::Dataset& d) {
  return std::make_shared<actors::EvalSet>(actors::EvalSet::FromBytes(
      d.pixels.data(), d.labels.data(), d.count, {d.rows, d.cols}));
}

using resume_atom = caf::atom_constant<caf::atom("resume")>;

struct Stalled {
  std::vector<bus::Sample> samples;
};

// Subscribes to `resource` with no credit and grants none until it gets
// (resume_atom, n): an application that has stopped reading.
inline caf::behavior StalledSubscriber(caf::event_based_actor* self,
                                       bus::resource_actor resource,
                                       std::shared_ptr<Stalled> out) {
  bus::SubscribeOptions sub;
  sub.name = "stalled";
  self->request(resource, caf::infinite, bus::subscribe_atom::value,
                bus::AsSubscriber(caf::actor_cast<caf::actor>(self)), sub)
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

// The program-under-test helpers (argv[1], a main, runs with deadlines).
using base::ProgramUnderTest;
using base::RunTestsWithProgram;

}  // namespace trainbus::testing

#endif  // TRAINBUS_TESTS_TEST_TOPOLOGY_H_
