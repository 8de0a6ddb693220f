// A model actor: trains one model on the stream of a bus resource and
// reports how it is doing.
//
// For each labelled sample it first scores the sample with the current
// weights (prequential, "test-then-train" accuracy), then learns from it, one
// step per sample (batch 1, online SGD) or per mini-batch. Every eval_every
// steps it measures accuracy on held-out data, prints one line
//
//   model1 step 1200 test_acc 0.8123 prequential_acc 0.7900 samples/s 123456
//
// and publishes a Metric to its metrics resource. An unlabelled sample is
// predicted and published, with its predicted label, as a Prediction.
// At the end of the stream it evaluates on the whole held-out set and sends a
// ModelSummary to its listener.
//
// What it refuses: SpawnModelActor fails (CheckModelInput) when the held-out
// set's sample shape does not fit the model's input (see ShapeFits) or holds
// labels >= classes. At run time a sample whose shape or size does not fit,
// or whose label is out of range, is counted (rejected_shape,
// rejected_label, in every Metric and the summary) and never trained on.
//
// It warns once (printed, a Metric with split "warning", and
// ModelSummary::warnings) when prequential accuracy over a block of
// kChanceBlockSamples labelled samples, after the first such block, is
// not above chance (1 / classes) by three standard errors: a learning rate
// that wrecks training without a NaN otherwise ends silently at ~0.1.
//
// Population training (actors/population) steers a live model actor:
//   (checkpoint_atom)              -> ModelCheckpoint: weights, optimizer
//                                     state and step count, as of now
//   (checkpoint_atom, bytes)       -> samples so far: continue from these
//                                     weights and optimizer state
//   (hyper_atom, spec)             -> the spec now in force: same layers,
//                                     new hyperparameters (lr, momentum, ...)
//   (stop_atom, why)               sends the summary (ModelSummary::stopped
//                                  says why) and quits, before its stream ends
// Each is handled between two samples, in mailbox order with the stream.
//
// The training math is not run on CAF's scheduler threads: the actor is
// spawned detached (its own thread), so N models use N cores' worth of
// threads while the bus keeps routing.
#ifndef TRAINBUS_ACTORS_MODEL_MODEL_ACTOR_H_
#define TRAINBUS_ACTORS_MODEL_MODEL_ACTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/model/eval_set.h"
#include "bus/protocol.h"
#include "bus/sequence.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "caf/meta/type_name.hpp"
#include "kernels/nn/model.h"

namespace trainbus::actors {

struct ModelCheckpoint;

struct ModelActorOptions {
  std::string name;                 // e.g. "model1"
  nn::ModelSpec spec;
  uint32_t version = 1;             // stamped on predictions
  uint32_t eval_every = 100;        // training steps between evaluations
  uint32_t eval_subset = 1000;      // held-out samples per periodic eval (0: all)
  uint32_t credit = 0;              // in-flight window; 0: 4 mini-batches
  bool print = true;                // print the progress line
  bool detached = true;             // own thread (false in deterministic tests)
  bool quit_at_end = true;          // stop after the last end-of-stream marker
  // How many end-of-stream markers end the run: one per source that feeds
  // the model (e.g. 3 for a training stream and two production sources).
  uint32_t end_markers = 1;
  bus::resource_actor input;        // the resource it trains on
  bus::resource_actor metrics;      // where Metric messages go (may be null)
  bus::resource_actor predictions;  // where Predictions go (may be null)
  caf::actor listener;              // receives the ModelSummary (may be null)
  std::shared_ptr<const EvalSet> eval;  // held-out data (may be null)
  // Start from these weights instead of a fresh initialisation.
  std::shared_ptr<const nn::Model> initial;
  // Every this many labelled samples (at the end of a mini-batch), send the
  // listener a ModelCheckpoint with the offsets trained up to: where the
  // model resumes if its node dies. 0: never.
  uint64_t checkpoint_every = 0;
  // Resume from this checkpoint (weights, optimizer state, counters): a
  // replayed sample at or below its offsets is a duplicate and is dropped.
  std::shared_ptr<const ModelCheckpoint> resume;
};

// Labelled samples per block of the at-chance check; the first block is a
// warm-up and is not judged.
inline constexpr uint64_t kChanceBlockSamples = 1000;

// Whether `eval` can be used to evaluate a model of `spec`: its sample shape
// fits the model's input (ShapeFits), its pixels match that shape, and its
// labels lie in [0, classes). The error names both sides and what to change.
absl::Status CheckModelInput(const std::string& name,
                             const nn::ModelSpec& spec, const EvalSet& eval);

// One point of a model's accuracy curve.
struct CurvePoint {
  uint64_t step = 0;
  uint64_t samples = 0;
  double test_accuracy = 0;
  double prequential_accuracy = 0;
  double loss = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, CurvePoint& x) {
  return f(caf::meta::type_name("trainbus.CurvePoint"), x.step, x.samples,
           x.test_accuracy, x.prequential_accuracy, x.loss);
}

// What a model actor reports when its stream ends.
struct ModelSummary {
  std::string name;
  std::string spec;                 // nn::FormatModelSpec
  std::string arch;
  uint64_t parameters = 0;
  uint64_t steps = 0;
  uint64_t samples = 0;             // labelled samples trained on
  uint64_t predictions = 0;         // unlabelled samples predicted
  double test_accuracy = 0;         // on the whole held-out set
  double prequential_accuracy = 0;  // over the whole stream
  double train_seconds = 0;         // time spent in the training math
  double samples_per_second = 0;    // samples / wall time from first to last
  std::string error;                // non-empty if training stopped early
  std::vector<CurvePoint> curve;
  std::string checkpoint;           // nn::Model::SaveCheckpoint at the end
  uint64_t rejected_shape = 0;      // samples whose shape did not fit
  uint64_t rejected_label = 0;      // samples with a label >= classes
  std::vector<std::string> warnings;  // e.g. accuracy stuck at chance
  std::string stopped;  // why it was stopped before its stream ended, or ""
  uint64_t duplicates = 0;    // replayed samples dropped (bus/sequence.h)
  uint64_t resumed_at = 0;    // samples in the checkpoint it resumed from
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ModelSummary& x) {
  return f(caf::meta::type_name("trainbus.ModelSummary"), x.name, x.spec,
           x.arch, x.parameters, x.steps, x.samples, x.predictions,
           x.test_accuracy, x.prequential_accuracy, x.train_seconds,
           x.samples_per_second, x.error, x.curve, x.checkpoint,
           x.rejected_shape, x.rejected_label, x.warnings, x.stopped,
           x.duplicates, x.resumed_at);
}

// The population controller's messages (see the top of this file).
using checkpoint_atom = caf::atom_constant<caf::atom("checkpoint")>;
using hyper_atom = caf::atom_constant<caf::atom("hyper")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// A live model's state, as (checkpoint_atom) replies it and as the periodic
// checkpoints (ModelActorOptions::checkpoint_every) report it.
struct ModelCheckpoint {
  std::string model;
  uint64_t samples = 0;  // labelled samples it had trained on
  uint64_t steps = 0;
  std::string bytes;     // nn::Model::SaveCheckpoint
  // The last offset trained on, per stamped source resource, and the
  // prequential counts so far (periodic checkpoints only).
  bus::Offsets offsets;
  uint64_t correct = 0;
  uint64_t scored = 0;
  uint32_t markers_seen = 0;  // end markers already past those offsets
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ModelCheckpoint& x) {
  return f(caf::meta::type_name("trainbus.ModelCheckpoint"), x.model,
           x.samples, x.steps, x.bytes, x.offsets, x.correct, x.scored,
           x.markers_seen);
}

// What every model actor of a topology (or a test) shares: how it evaluates, whether it
// prints, where its metrics go and who hears its summary.
ModelActorOptions SharedModelOptions(uint32_t eval_every, uint32_t eval_subset,
                                     bool print, bus::resource_actor metrics,
                                     caf::actor listener,
                                     std::shared_ptr<const EvalSet> eval);

absl::StatusOr<caf::actor> SpawnModelActor(caf::actor_system& sys,
                                           ModelActorOptions options);

void AddModelActorTypes(caf::actor_system_config& cfg);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_MODEL_MODEL_ACTOR_H_
