#include "actors/model/model_actor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/atoms.h"
#include "bus/message.h"
#include "bus/options.h"
#include "bus/subscribe.h"
#include "bus/subscriber.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

using Clock = std::chrono::steady_clock;

struct ModelState {
  ModelActorOptions options;
  std::unique_ptr<nn::Model> model;
  size_t input_size = 0;
  size_t classes = 0;
  size_t batch = 1;
  // The last sample shape that fit the model: the same shape again needs no
  // ShapeFits (which builds vectors) on every sample.
  std::vector<uint32_t> fitting_shape;

  // The mini-batch being filled.
  std::vector<float> x;
  std::vector<int32_t> y;
  size_t filled = 0;
  std::vector<float> probs;       // (batch, classes), reused
  std::vector<float> eval_probs;  // (kEvalChunk, classes), reused
  std::vector<float> predict_x;   // one unlabelled sample, reused

  // Prequential accuracy: whole stream and since the last report.
  uint64_t correct = 0, scored = 0;
  uint64_t window_correct = 0, window_scored = 0;
  uint64_t samples = 0;
  uint64_t predictions = 0;
  uint64_t rejected_shape = 0, rejected_label = 0, failed_predictions = 0;
  // The current block of the at-chance check.
  uint64_t block_correct = 0, block_scored = 0, blocks = 0;
  std::vector<std::string> warnings;
  double last_loss = 0;
  double train_seconds = 0;
  bool started = false;
  Clock::time_point first_sample, window_start;
  uint64_t window_samples = 0;

  bus::CreditReturner credit;
  bus::DuplicateFilter seen;  // stamped offsets taken so far
  std::vector<CurvePoint> curve;
  std::string error;
  uint32_t markers_seen = 0;
  bool finishing = false;  // the summary carries the last checkpoint

  static inline const char* name = "trainbus.model";
};

using Self = caf::stateful_actor<ModelState>;

constexpr size_t kEvalChunk = 256;

size_t ArgMax(const float* p, size_t n) {
  return static_cast<size_t>(std::max_element(p, p + n) - p);
}

// Accuracy on the first `limit` held-out samples (all when 0).
double Evaluate(Self* self, size_t limit) {
  auto& st = self->state;
  const EvalSet* eval = st.options.eval.get();
  if (eval == nullptr || eval->count == 0) return 0;
  const size_t n = limit == 0 ? eval->count : std::min(limit, eval->count);
  size_t correct = 0;
  for (size_t i = 0; i < n; i += kEvalChunk) {
    const size_t m = std::min(kEvalChunk, n - i);
    absl::Status s = st.model->Predict(eval->x.data() + i * st.input_size, m,
                                       st.eval_probs.data());
    if (!s.ok()) {
      st.error = absl::StrCat("evaluation failed: ", s.message());
      return 0;
    }
    for (size_t j = 0; j < m; ++j) {
      correct += static_cast<int32_t>(ArgMax(
                     st.eval_probs.data() + j * st.classes, st.classes)) ==
                 eval->labels[i + j];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Publish(Self* self, const bus::resource_actor& to, bus::Metric metric) {
  if (to) self->send(to, bus::publish_atom::value, std::move(metric));
}

// Warns once when a block of prequential accuracy, after the warm-up block,
// is within three standard errors of guessing.
void CheckChance(Self* self) {
  auto& st = self->state;
  if (st.block_scored < kChanceBlockSamples) return;
  const double n = static_cast<double>(st.block_scored);
  const double acc = static_cast<double>(st.block_correct) / n;
  st.block_correct = st.block_scored = 0;
  if (st.blocks++ == 0 || !st.warnings.empty()) return;  // warm-up, or said
  const double chance = 1.0 / static_cast<double>(st.classes);
  if (acc > chance + 3 * std::sqrt(chance * (1 - chance) / n)) return;
  std::string warning = absl::StrFormat(
      "training accuracy %.4f after %d samples is no better than chance "
      "(%.4f for %d classes); the model is not learning: lower the learning "
      "rate (lr=) or check the labels",
      acc, st.samples, chance, st.classes);
  caf::aout(self) << st.options.name << " warning: " << warning << "\n";
  bus::Metric metric;
  metric.model = st.options.name;
  metric.split = "warning";
  metric.step = st.model->steps();
  metric.values = {{"prequential_accuracy", acc},
                   {"chance_accuracy", chance},
                   {"samples", static_cast<double>(st.samples)}};
  metric.time_ns = WallNs();
  Publish(self, st.options.metrics, std::move(metric));
  st.warnings.push_back(std::move(warning));
}

void Report(Self* self) {
  auto& st = self->state;
  const double test_acc = Evaluate(self, st.options.eval_subset);
  const double preq = st.window_scored == 0
                          ? 0
                          : static_cast<double>(st.window_correct) /
                                static_cast<double>(st.window_scored);
  const Clock::time_point now = Clock::now();
  const double seconds =
      std::chrono::duration<double>(now - st.window_start).count();
  const double rate = seconds > 0 ? st.window_samples / seconds : 0;
  const uint64_t step = st.model->steps();
  st.curve.push_back(CurvePoint{step, st.samples, test_acc, preq, st.last_loss});
  if (st.options.print) {
    caf::aout(self) << absl::StrFormat(
                           "%s step %d test_acc %.4f prequential_acc %.4f "
                           "loss %.4f samples/s %.0f\n",
                           st.options.name, step, test_acc, preq,
                           st.last_loss, rate);
  }
  bus::Metric metric;
  metric.model = st.options.name;
  metric.split = "test";
  metric.step = step;
  metric.values = {{"test_accuracy", test_acc},
                   {"prequential_accuracy", preq},
                   {"loss", st.last_loss},
                   {"samples_per_second", rate},
                   {"samples", static_cast<double>(st.samples)},
                   {"rejected_shape", static_cast<double>(st.rejected_shape)},
                   {"rejected_label", static_cast<double>(st.rejected_label)}};
  metric.time_ns = WallNs();
  Publish(self, st.options.metrics, std::move(metric));
  st.window_correct = st.window_scored = st.window_samples = 0;
  st.window_start = now;
}

void Fail(Self* self, std::string why) {
  auto& st = self->state;
  st.error = std::move(why);
  caf::aout(self) << st.options.name << " stopped training: " << st.error
                  << "\n";
  bus::Metric metric;
  metric.model = st.options.name;
  metric.split = "error";
  metric.step = st.model->steps();
  Publish(self, st.options.metrics, std::move(metric));
}

// Sends the listener a checkpoint when the samples trained just passed a
// multiple of checkpoint_every. Called with the mini-batch trained, so the
// offsets admitted are the offsets trained.
void MaybeCheckpoint(Self* self, uint64_t before) {
  auto& st = self->state;
  const uint64_t every = st.options.checkpoint_every;
  // At the end the summary holds the final weights; a checkpoint then
  // would also hold the end marker's offset, and a model resumed from it
  // would wait for a marker that is never replayed.
  if (every == 0 || !st.options.listener || st.finishing ||
      before / every == st.samples / every) {
    return;
  }
  self->send(st.options.listener,
             ModelCheckpoint{st.options.name, st.samples, st.model->steps(),
                             st.model->SaveCheckpoint(), st.seen.last(),
                             st.correct, st.scored, st.markers_seen});
}

// Test-then-train on the filled mini-batch.
void TrainFilled(Self* self) {
  auto& st = self->state;
  if (st.filled == 0 || !st.error.empty()) return;
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<float> loss = st.model->TrainStepWithPredictions(
      st.x.data(), st.y.data(), st.filled, st.probs.data());
  st.train_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  if (!loss.ok()) {
    Fail(self, std::string(loss.status().message()));
    return;
  }
  st.last_loss = *loss;
  for (size_t i = 0; i < st.filled; ++i) {
    const bool hit = static_cast<int32_t>(ArgMax(
                         st.probs.data() + i * st.classes, st.classes)) ==
                     st.y[i];
    st.correct += hit;
    st.window_correct += hit;
    st.block_correct += hit;
  }
  st.scored += st.filled;
  st.window_scored += st.filled;
  st.block_scored += st.filled;
  const uint64_t before = st.samples;
  st.samples += st.filled;
  st.window_samples += st.filled;
  st.filled = 0;
  MaybeCheckpoint(self, before);
  CheckChance(self);
  if (st.options.eval_every > 0 &&
      st.model->steps() % st.options.eval_every == 0) {
    Report(self);
  }
}

// One sample, whether it came alone or inside a SampleBatch (no copy).
struct SampleView {
  uint64_t seq;
  const std::string& source;
  const std::vector<uint32_t>& shape;
  int32_t label;
  const uint8_t* pixels;
  size_t size;
  int64_t publish_ns;
  const std::string* origin;  // meta[kOriginKey], or null
};

void PredictOne(Self* self, const SampleView& s, const float* x) {
  auto& st = self->state;
  std::vector<float> scores(st.classes);
  absl::Status status = st.model->Predict(x, 1, scores.data());
  if (!status.ok()) {
    ++st.failed_predictions;
    return;
  }
  ++st.predictions;
  if (!st.options.predictions) return;
  bus::Prediction p;
  p.sample_seq = s.seq;
  p.source = s.source;
  if (s.origin != nullptr) p.origin = *s.origin;
  p.model = st.options.name;
  p.model_version = st.options.version;
  p.label = static_cast<int32_t>(ArgMax(scores.data(), st.classes));
  p.scores = std::move(scores);
  p.publish_ns = s.publish_ns;
  p.predicted_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       Clock::now().time_since_epoch())
                       .count();  // steady clock, like publish_ns
  self->send(st.options.predictions, bus::publish_atom::value, std::move(p));
}

ModelSummary Summarize(Self* self) {
  auto& st = self->state;
  ModelSummary s;
  s.name = st.options.name;
  s.spec = nn::FormatModelSpec(st.model->spec());
  s.arch = std::string(nn::ArchName(st.model->spec().arch));
  s.parameters = st.model->ParameterCount();
  s.steps = st.model->steps();
  s.samples = st.samples;
  s.predictions = st.predictions;
  s.test_accuracy = Evaluate(self, 0);
  s.prequential_accuracy =
      st.scored == 0 ? 0 : static_cast<double>(st.correct) / st.scored;
  s.train_seconds = st.train_seconds;
  const double wall =
      st.started
          ? std::chrono::duration<double>(Clock::now() - st.first_sample).count()
          : 0;
  s.samples_per_second = wall > 0 ? st.samples / wall : 0;
  s.error = st.error;
  s.curve = st.curve;
  s.checkpoint = st.model->SaveCheckpoint();
  s.rejected_shape = st.rejected_shape;
  s.rejected_label = st.rejected_label;
  s.warnings = st.warnings;
  s.duplicates = st.seen.duplicates();
  s.resumed_at = st.options.resume ? st.options.resume->samples : 0;
  return s;
}

// Replaces the model (a PBT copy or new hyperparameters). A mini-batch being
// filled stays for the new model unless the batch size changes; then the old
// model trains on it first.
caf::error Adopt(Self* self, absl::StatusOr<std::unique_ptr<nn::Model>> model) {
  auto& st = self->state;
  if (!model.ok()) {
    return base::ToCafError(absl::InvalidArgumentError(absl::StrCat(
        "model '", st.options.name, "': ", model.status().message())));
  }
  const nn::ModelSpec& spec = (*model)->spec();
  if (spec.InputSize() != st.input_size || spec.classes != st.classes) {
    return base::ToCafError(absl::InvalidArgumentError(absl::StrFormat(
        "model '%s' reads %d inputs into %d classes; the new model '%s' "
        "does not: copy between models of the same input and classes",
        st.options.name, st.input_size, st.classes, FormatModelSpec(spec))));
  }
  const size_t batch = std::max<uint32_t>(spec.batch_size, 1);
  if (batch != st.batch) {
    TrainFilled(self);
    st.batch = batch;
    st.x.resize(batch * st.input_size);
    st.y.resize(batch);
    st.probs.resize(batch * st.classes);
  }
  st.model = std::move(*model);
  st.fitting_shape.clear();
  return caf::none;
}

caf::result<uint64_t> SetCheckpoint(Self* self, const std::string& bytes) {
  if (caf::error err = Adopt(self, nn::LoadModel(bytes))) return err;
  return self->state.samples;
}

caf::result<std::string> SetHyperparameters(Self* self,
                                            const std::string& text) {
  auto& st = self->state;
  absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(text);
  if (!spec.ok()) return base::ToCafError(spec.status());
  if (caf::error err =
          Adopt(self, nn::LoadModel(st.model->SaveCheckpoint(), *spec))) {
    return err;
  }
  return nn::FormatModelSpec(st.model->spec());
}

// At the end of the stream, or when stopped (`why` then says why).
void Finish(Self* self, std::string why = "") {
  auto& st = self->state;
  const bool stopped = !why.empty();
  st.finishing = true;
  TrainFilled(self);
  // A last report for the partial window, and one for a stream that was all
  // refused, so its rejected_* counts reach the metrics too.
  const bool refused = st.rejected_shape + st.rejected_label > 0;
  if (st.options.eval_every > 0 && (st.window_scored > 0 || refused)) {
    Report(self);
  }
  ModelSummary summary = Summarize(self);
  summary.stopped = std::move(why);
  if (st.options.print) {
    caf::aout(self) << absl::StrFormat(
                           "%s done: %d steps, test_acc %.4f, %.0f samples/s\n",
                           summary.name, summary.steps, summary.test_accuracy,
                           summary.samples_per_second);
  }
  if (st.options.listener) {
    self->send(st.options.listener, std::move(summary));
  }
  if (st.options.quit_at_end || stopped) self->quit();
}

// Whether samples of `shape` and `size` bytes fit the model's input.
bool Fits(Self* self, const std::vector<uint32_t>& shape, size_t size) {
  auto& st = self->state;
  if (size != st.input_size) return false;
  // fitting_shape is empty until a shape fit (and an empty shape never fits).
  if (!shape.empty() && shape == st.fitting_shape) return true;
  const nn::ModelSpec& spec = st.model->spec();
  if (!ShapeFits(shape, spec.channels, spec.height, spec.width)) return false;
  st.fitting_shape = shape;
  return true;
}

// Whether the sample may reach the model; a refused one is counted, and the
// first of each kind is printed.
bool Admit(Self* self, const SampleView& s) {
  auto& st = self->state;
  const nn::ModelSpec& spec = st.model->spec();
  if (!Fits(self, s.shape, s.size)) {
    if (st.rejected_shape++ == 0) {
      caf::aout(self) << absl::StrFormat(
          "%s: sample %d from '%s' has shape %s (%d bytes) but the model "
          "takes %dx%dx%d; skipping such samples (counted as "
          "rejected_shape)\n",
          st.options.name, s.seq, s.source, FormatShape(s.shape), s.size,
          spec.channels, spec.height, spec.width);
    }
    return false;
  }
  if (s.label != bus::kNoLabel &&
      (s.label < 0 || static_cast<size_t>(s.label) >= st.classes)) {
    if (st.rejected_label++ == 0) {
      caf::aout(self) << absl::StrFormat(
          "%s: sample %d from '%s' has label %d but the model has %d "
          "classes; skipping such samples (counted as rejected_label)\n",
          st.options.name, s.seq, s.source, s.label, st.classes);
    }
    return false;
  }
  return true;
}

void Consume(Self* self, const SampleView& s) {
  auto& st = self->state;
  if (!Admit(self, s)) return;
  if (!st.started) {
    st.started = true;
    st.first_sample = st.window_start = Clock::now();
  }
  if (s.label != bus::kNoLabel) {
    if (!st.error.empty()) return;
    BytesToUnitFloats(s.pixels, st.input_size,
                      st.x.data() + st.filled * st.input_size);
    st.y[st.filled++] = s.label;
    if (st.filled == st.batch) TrainFilled(self);
  } else {
    st.predict_x.resize(st.input_size);
    BytesToUnitFloats(s.pixels, st.input_size, st.predict_x.data());
    PredictOne(self, s, st.predict_x.data());
  }
}

void OnSample(Self* self, const bus::Sample& s) {
  // A replayed duplicate (its end marker too) is never seen twice.
  if (!self->state.seen.Admit(s)) return;
  if (s.end_of_stream()) {
    if (++self->state.markers_seen == self->state.options.end_markers) {
      Finish(self);
    }
    return;
  }
  auto origin = s.meta.find(bus::kOriginKey);
  Consume(self, SampleView{s.seq, s.source, s.shape, s.label, s.pixels.data(),
                           s.pixels.size(), s.publish_ns,
                           origin == s.meta.end() ? nullptr : &origin->second});
}

void OnBatch(Self* self, const bus::SampleBatch& b) {
  const size_t size = b.SampleSize();
  if (b.pixels.size() != size * b.count || b.labels.size() != b.count) {
    caf::aout(self) << self->state.options.name << ": malformed batch from '"
                    << b.source << "' (" << b.count << " samples, "
                    << b.pixels.size() << " bytes, " << b.labels.size()
                    << " labels); skipped\n";
    return;
  }
  for (uint32_t i = 0; i < b.count; ++i) {
    Consume(self, SampleView{b.first_seq + i, b.source, b.shape, b.labels[i],
                             b.pixels.data() + i * size, size, b.publish_ns,
                             nullptr});
  }
}

// Messages in flight towards the model: four mini-batches, at least 16.
uint32_t CreditWindow(const ModelActorOptions& options, uint32_t batch) {
  return options.credit > 0 ? options.credit : std::max<uint32_t>(4 * batch, 16);
}

caf::behavior ModelActor(Self* self, ModelActorOptions options,
                         std::shared_ptr<std::unique_ptr<nn::Model>> model) {
  auto& st = self->state;
  st.options = std::move(options);
  st.model = std::move(*model);
  const nn::ModelSpec& spec = st.model->spec();
  st.input_size = spec.InputSize();
  st.classes = spec.classes;
  st.batch = std::max<uint32_t>(spec.batch_size, 1);
  st.x.resize(st.batch * st.input_size);
  st.y.resize(st.batch);
  st.probs.resize(st.batch * st.classes);
  st.eval_probs.resize(kEvalChunk * st.classes);
  st.credit = bus::CreditReturner(
      CreditWindow(st.options, static_cast<uint32_t>(st.batch)) / 4);
  if (const ModelCheckpoint* resume = st.options.resume.get()) {
    st.samples = resume->samples;
    st.correct = resume->correct;
    st.scored = resume->scored;
    st.seen = bus::DuplicateFilter(resume->offsets);
    st.markers_seen = resume->markers_seen;
  }
  // The subscription made by SpawnModelActor may be refused.
  bus::QuitOnSubscribeError(self, st.options.name);
  return {
      [=](bus::deliver_atom, uint64_t, const bus::Sample& s) {
        OnSample(self, s);
        self->state.credit.Consumed(self, self->state.options.input);
      },
      [=](bus::deliver_atom, uint64_t, const bus::SampleBatch& b) {
        OnBatch(self, b);
        self->state.credit.Consumed(self, self->state.options.input);
      },
      [=](checkpoint_atom) {
        auto& st = self->state;
        return ModelCheckpoint{st.options.name, st.samples, st.model->steps(),
                               st.model->SaveCheckpoint()};
      },
      [=](checkpoint_atom, const std::string& bytes) {
        return SetCheckpoint(self, bytes);
      },
      [=](hyper_atom, const std::string& spec) {
        return SetHyperparameters(self, spec);
      },
      [=](stop_atom, std::string& why) { Finish(self, std::move(why)); },
  };
}

}  // namespace

absl::Status CheckModelInput(const std::string& name,
                             const nn::ModelSpec& spec, const EvalSet& eval) {
  if (!ShapeFits(eval.shape, spec.channels, spec.height, spec.width)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model '%s' takes %dx%dx%d inputs but the data has %s samples; set "
        "input= in the model spec to the data's shape (e.g. input=1x%s for "
        "grayscale images) or use a dataset of %dx%d images",
        name, spec.channels, spec.height, spec.width, FormatShape(eval.shape),
        FormatShape(eval.shape), spec.height, spec.width));
  }
  if (eval.input_size != ShapeSize(eval.shape) ||
      eval.x.size() != eval.count * eval.input_size ||
      eval.labels.size() != eval.count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model '%s': the held-out set is malformed (%d samples of %s, but "
        "%d values and %d labels); build it with EvalSet::FromBytes",
        name, eval.count, FormatShape(eval.shape), eval.x.size(),
        eval.labels.size()));
  }
  const auto [lo, hi] =
      std::minmax_element(eval.labels.begin(), eval.labels.end());
  if (lo != eval.labels.end() &&
      (*lo < 0 || static_cast<uint32_t>(*hi) >= spec.classes)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model '%s' has classes=%d but the data has labels from %d to %d; "
        "set classes=%d in the model spec",
        name, spec.classes, *lo, *hi, *hi + 1));
  }
  return absl::OkStatus();
}

void AddModelActorTypes(caf::actor_system_config& cfg) {
  cfg.add_message_type<CurvePoint>("trainbus.CurvePoint")
      .add_message_type<std::vector<CurvePoint>>("trainbus.Curve")
      .add_message_type<ModelSummary>("trainbus.ModelSummary")
      .add_message_type<ModelCheckpoint>("trainbus.ModelCheckpoint");
}

ModelActorOptions SharedModelOptions(uint32_t eval_every, uint32_t eval_subset,
                                     bool print, bus::resource_actor metrics,
                                     caf::actor listener,
                                     std::shared_ptr<const EvalSet> eval) {
  ModelActorOptions m;
  m.eval_every = eval_every;
  m.eval_subset = eval_subset;
  m.print = print;
  m.metrics = std::move(metrics);
  m.listener = std::move(listener);
  m.eval = std::move(eval);
  return m;
}

absl::StatusOr<caf::actor> SpawnModelActor(caf::actor_system& sys,
                                           ModelActorOptions options) {
  if (!options.input) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", options.name, "' needs an input resource"));
  }
  absl::StatusOr<std::unique_ptr<nn::Model>> model =
      options.resume    ? nn::LoadModel(options.resume->bytes)
      : options.initial ? nn::LoadModel(options.initial->SaveCheckpoint())
                        : nn::MakeModel(options.spec);
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", options.name, "': ", model.status().message()));
  }
  // The one place where a model meets its data: refuse a mismatch here,
  // before anything trains, rather than read past the held-out buffer.
  if (options.eval) {
    TB_RETURN_IF_ERROR(
        CheckModelInput(options.name, (*model)->spec(), *options.eval));
  }
  const uint32_t batch = std::max<uint32_t>((*model)->spec().batch_size, 1);
  bus::SubscribeOptions sub;
  sub.name = options.name;
  sub.initial_credit = CreditWindow(options, batch);
  bus::resource_actor input = options.input;
  auto holder = std::make_shared<std::unique_ptr<nn::Model>>(std::move(*model));
  caf::actor actor =
      options.detached
          ? sys.spawn<caf::detached>(ModelActor, std::move(options), holder)
          : sys.spawn(ModelActor, std::move(options), holder);
  bus::SubscribeNow(actor, input, sub);
  return actor;
}

}  // namespace trainbus::actors
