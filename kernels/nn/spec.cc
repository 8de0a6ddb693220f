// ParseModelSpec / FormatModelSpec: "arch[:key=value,...]" <-> ModelSpec.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "kernels/nn/arch.h"
#include "kernels/nn/model.h"

namespace trainbus::nn {
namespace {

constexpr char kAcceptedKeys[] =
    "hidden, opt, lr, momentum, wd, batch, seed, avg, halflife, dropout, "
    "hflip, shift, bn, bn_momentum, sched, steps, warmup, smooth, tta, conv, "
    "kernel, padding, input, classes, max_params";

absl::Status BadValue(absl::string_view key, absl::string_view value,
                      absl::string_view text, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad value '", value, "' for key '", key,
                   "' in model spec '", text, "': expected ", expected));
}

// "256x128" -> {256, 128}; every width in [1, max].
bool ParseDims(absl::string_view value, uint32_t max,
               std::vector<uint32_t>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(value, 'x')) {
    uint32_t v = 0;
    if (!absl::SimpleAtoi(part, &v) || v == 0 || v > max) return false;
    out->push_back(v);
  }
  return !out->empty();
}

bool ParseFloat(absl::string_view value, float* out) {
  return absl::SimpleAtof(value, out) && std::isfinite(*out);
}

// Shortest text that parses back to exactly the same float.
std::string FloatText(float v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

}  // namespace

absl::StatusOr<ModelSpec> ParseModelSpec(std::string_view std_text) {
  const absl::string_view text(std_text.data(), std_text.size());
  ModelSpec spec;
  const size_t colon = text.find(':');
  const absl::string_view arch_name = text.substr(0, colon);
  const std::optional<Arch> arch = ArchFromName(arch_name);
  if (!arch.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown arch '", arch_name, "' in model spec '", text,
                     "'; use ", ArchNameList(), ", e.g. \"mlp:hidden=256\""));
  }
  spec.arch = *arch;
  const internal::ArchPlanner& planner = *internal::FindPlanner(*arch);
  const std::string name(ArchName(*arch));
  std::vector<std::string> seen;
  if (colon != absl::string_view::npos) {
    for (absl::string_view item : absl::StrSplit(text.substr(colon + 1), ',')) {
      const size_t eq = item.find('=');
      if (eq == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "expected key=value, got '", item, "' in model spec '", text,
            "'; accepted keys: ", kAcceptedKeys));
      }
      const absl::string_view key = item.substr(0, eq);
      const absl::string_view value = item.substr(eq + 1);
      for (const std::string& s : seen) {
        if (s == key) {
          return absl::InvalidArgumentError(absl::StrCat(
              "key '", key, "' given twice in model spec '", text, "'"));
        }
      }
      seen.emplace_back(key);
      if (key == "hidden") {
        if (!planner.takes_hidden()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "key 'hidden' does not apply to arch '", name,
              "' in model spec '", text, "'; use arch ",
              internal::ArchNamesWhere(&internal::ArchPlanner::takes_hidden),
              " for hidden layers"));
        }
        if (!ParseDims(value, 1 << 16, &spec.hidden)) {
          return BadValue(key, value, text,
                          "widths in [1, 65536] joined by 'x', e.g. 256x128");
        }
      } else if (key == "conv" || key == "kernel" || key == "padding") {
        if (!planner.takes_conv()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "key '", key, "' applies only to arch ",
              internal::ArchNamesWhere(&internal::ArchPlanner::takes_conv),
              " (model spec '", text, "')"));
        }
        if (key == "conv") {
          if (!ParseDims(value, 1024, &spec.conv)) {
            return BadValue(
                key, value, text,
                "channel counts in [1, 1024] joined by 'x', e.g. 8x16");
          }
        } else if (key == "kernel") {
          if (!absl::SimpleAtoi(value, &spec.kernel) || spec.kernel % 2 == 0 ||
              spec.kernel > 15) {
            return BadValue(key, value, text, "an odd size in [1, 15], e.g. 3");
          }
        } else if (value == "same" || value == "valid") {
          spec.same_padding = value == "same";
        } else {
          return BadValue(key, value, text, "valid or same");
        }
      } else if (key == "opt") {
        if (value != "sgd" && value != "momentum" && value != "adam") {
          return BadValue(key, value, text, "sgd, momentum or adam");
        }
        spec.optimizer = std::string(value);
      } else if (key == "lr") {
        if (!ParseFloat(value, &spec.learning_rate) ||
            spec.learning_rate <= 0.0f) {
          return BadValue(key, value, text, "a positive number, e.g. 0.01");
        }
      } else if (key == "momentum") {
        if (!ParseFloat(value, &spec.momentum) || spec.momentum < 0.0f ||
            spec.momentum >= 1.0f) {
          return BadValue(key, value, text, "a number in [0, 1), e.g. 0.9");
        }
      } else if (key == "wd") {
        if (!ParseFloat(value, &spec.weight_decay) ||
            spec.weight_decay < 0.0f) {
          return BadValue(key, value, text, "a number >= 0, e.g. 0.0001");
        }
      } else if (key == "avg") {
        if (!ParseFloat(value, &spec.average) || spec.average < 0.0f ||
            spec.average >= 1.0f) {
          return BadValue(key, value, text,
                          "a decay in [0, 1), e.g. 0.999 (0 turns it off)");
        }
      } else if (key == "dropout") {
        if (!ParseFloat(value, &spec.dropout) || spec.dropout < 0.0f ||
            spec.dropout >= 1.0f) {
          return BadValue(key, value, text, "a rate in [0, 1), e.g. 0.25");
        }
        if (!planner.takes_hidden() && spec.dropout > 0.0f) {
          return absl::InvalidArgumentError(absl::StrCat(
              "key 'dropout' needs hidden features; arch '", name,
              "' has none (model spec '", text, "')"));
        }
      } else if (key == "hflip") {
        if (!ParseFloat(value, &spec.hflip) || spec.hflip < 0.0f ||
            spec.hflip > 1.0f) {
          return BadValue(key, value, text, "a probability in [0, 1], e.g. 0.5");
        }
      } else if (key == "shift") {
        if (!absl::SimpleAtoi(value, &spec.shift) || spec.shift > 64) {
          return BadValue(key, value, text, "pixels in [0, 64], e.g. 2");
        }
      } else if (key == "bn") {
        if (value != "0" && value != "1") {
          return BadValue(key, value, text, "1 (batch norm) or 0 (none)");
        }
        spec.batch_norm = value == "1";
      } else if (key == "bn_momentum") {
        if (!ParseFloat(value, &spec.bn_momentum) ||
            !(spec.bn_momentum > 0.0f) || spec.bn_momentum > 1.0f) {
          return BadValue(key, value, text, "a number in (0, 1], e.g. 0.1");
        }
      } else if (key == "sched") {
        if (value != "constant" && value != "onecycle" && value != "cosine") {
          return BadValue(key, value, text, "constant, onecycle or cosine");
        }
        spec.schedule = std::string(value);
      } else if (key == "steps") {
        if (!absl::SimpleAtoi(value, &spec.schedule_steps)) {
          return BadValue(key, value, text,
                          "the run's total training steps, e.g. 2500");
        }
      } else if (key == "warmup") {
        if (!ParseFloat(value, &spec.warmup) || spec.warmup < 0.0f ||
            spec.warmup >= 1.0f) {
          return BadValue(key, value, text,
                          "a fraction of the steps in [0, 1), e.g. 0.25");
        }
      } else if (key == "smooth") {
        if (!ParseFloat(value, &spec.label_smoothing) ||
            spec.label_smoothing < 0.0f || spec.label_smoothing >= 1.0f) {
          return BadValue(key, value, text, "an epsilon in [0, 1), e.g. 0.1");
        }
      } else if (key == "tta") {
        if (value != "flip" && value != "none") {
          return BadValue(key, value, text, "flip or none");
        }
        spec.tta_flip = value == "flip";
      } else if (key == "halflife") {
        if (!absl::SimpleAtoi(value, &spec.lr_halflife)) {
          return BadValue(key, value, text,
                          "a step count, e.g. 5000 (0 keeps lr constant)");
        }
      } else if (key == "batch") {
        if (!absl::SimpleAtoi(value, &spec.batch_size) ||
            spec.batch_size == 0 || spec.batch_size > 65536) {
          return BadValue(key, value, text, "an integer in [1, 65536]");
        }
      } else if (key == "seed") {
        if (!absl::SimpleAtoi(value, &spec.seed)) {
          return BadValue(key, value, text, "an unsigned 64-bit integer");
        }
      } else if (key == "input") {
        std::vector<uint32_t> dims;
        if (!ParseDims(value, 4096, &dims) || dims.size() != 3) {
          return BadValue(key, value, text, "CxHxW, e.g. 1x28x28");
        }
        spec.channels = dims[0];
        spec.height = dims[1];
        spec.width = dims[2];
      } else if (key == "classes") {
        if (!absl::SimpleAtoi(value, &spec.classes) || spec.classes < 2 ||
            spec.classes > 65536) {
          return BadValue(key, value, text, "an integer in [2, 65536]");
        }
      } else if (key == "max_params") {
        if (!absl::SimpleAtoi(value, &spec.max_params) ||
            spec.max_params == 0) {
          return BadValue(key, value, text,
                          "a positive parameter count, e.g. 200000000");
        }
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown key '", key, "' in model spec '", text,
                         "'; accepted keys: ", kAcceptedKeys));
      }
    }
  }
  planner.ApplyDefaults(&spec);
  return spec;
}

std::string FormatModelSpec(const ModelSpec& given) {
  // Defaults are written out, so the text means the same to every version.
  ModelSpec spec = given;
  const internal::ArchPlanner* planner = internal::FindPlanner(spec.arch);
  if (planner != nullptr) planner->ApplyDefaults(&spec);
  const std::string out(ArchName(spec.arch));
  std::vector<std::string> items;
  if (planner != nullptr && planner->takes_conv()) {
    items.push_back(absl::StrCat("conv=", absl::StrJoin(spec.conv, "x")));
    if (spec.kernel != 5) items.push_back(absl::StrCat("kernel=", spec.kernel));
    if (spec.same_padding) items.push_back("padding=same");
  }
  if (!spec.hidden.empty()) {
    items.push_back(absl::StrCat("hidden=", absl::StrJoin(spec.hidden, "x")));
  }
  items.push_back(absl::StrCat("opt=", spec.optimizer));
  items.push_back(absl::StrCat("lr=", FloatText(spec.learning_rate)));
  items.push_back(absl::StrCat("momentum=", FloatText(spec.momentum)));
  items.push_back(absl::StrCat("wd=", FloatText(spec.weight_decay)));
  items.push_back(absl::StrCat("batch=", spec.batch_size));
  items.push_back(absl::StrCat("seed=", spec.seed));
  if (spec.lr_halflife != 0) {
    items.push_back(absl::StrCat("halflife=", spec.lr_halflife));
  }
  if (spec.dropout != 0.0f) {
    items.push_back(absl::StrCat("dropout=", FloatText(spec.dropout)));
  }
  if (spec.hflip != 0.0f) {
    items.push_back(absl::StrCat("hflip=", FloatText(spec.hflip)));
  }
  if (spec.shift != 0) items.push_back(absl::StrCat("shift=", spec.shift));
  if (spec.batch_norm) {
    items.push_back("bn=1");
    items.push_back(absl::StrCat("bn_momentum=", FloatText(spec.bn_momentum)));
  }
  if (spec.schedule != "constant") {
    items.push_back(absl::StrCat("sched=", spec.schedule));
    items.push_back(absl::StrCat("steps=", spec.schedule_steps));
    items.push_back(absl::StrCat("warmup=", FloatText(spec.warmup)));
  }
  if (spec.label_smoothing != 0.0f) {
    items.push_back(absl::StrCat("smooth=", FloatText(spec.label_smoothing)));
  }
  if (spec.tta_flip) items.push_back("tta=flip");
  if (spec.average != 0.0f) {
    items.push_back(absl::StrCat("avg=", FloatText(spec.average)));
  }
  if (spec.channels != 1 || spec.height != 28 || spec.width != 28) {
    items.push_back(absl::StrCat("input=", spec.channels, "x", spec.height,
                                 "x", spec.width));
  }
  if (spec.classes != 10) items.push_back(absl::StrCat("classes=", spec.classes));
  if (spec.max_params != kDefaultMaxParams) {
    items.push_back(absl::StrCat("max_params=", spec.max_params));
  }
  return absl::StrCat(out, ":", absl::StrJoin(items, ","));
}

float LearningRateAt(const ModelSpec& s, uint64_t step) {
  const double lr = s.learning_rate;
  if (s.schedule == "constant" || s.schedule_steps == 0) {
    if (s.lr_halflife == 0) return s.learning_rate;
    return static_cast<float>(
        lr * std::exp2(-static_cast<double>(step) /
                       static_cast<double>(s.lr_halflife)));
  }
  const double t =
      std::min(1.0, static_cast<double>(step) /
                        static_cast<double>(s.schedule_steps));
  const double w = s.warmup;
  const bool onecycle = s.schedule == "onecycle";
  if (t < w) {
    const double start = onecycle ? 1.0 / 25.0 : 0.0;
    return static_cast<float>(lr * (start + (1.0 - start) * t / w));
  }
  const double down = (t - w) / (1.0 - w);  // 0 -> 1 after the warm-up
  if (onecycle) return static_cast<float>(lr * (1.0 - down));
  return static_cast<float>(lr * 0.5 * (1.0 + std::cos(M_PI * down)));
}

float Model::CurrentLearningRate() const {
  return LearningRateAt(spec(), steps());
}

}  // namespace trainbus::nn
