#include "bus/filter.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/hash.h"

namespace trainbus::bus {
namespace {

constexpr char kGrammar[] =
    "expected a kind (all, labelled, unlabelled) optionally followed by "
    "';labels=0,1,...' and ';ratio=0.5'";

}  // namespace

bool Filter::Accepts(int32_t label, uint64_t seq) const {
  const bool labelled = label != kNoLabel;
  if (kind == Kind::kLabelled && !labelled) return false;
  if (kind == Kind::kUnlabelled && labelled) return false;
  if (!labels.empty() &&
      std::find(labels.begin(), labels.end(), label) == labels.end()) {
    return false;
  }
  if (ratio < 1.0) {
    // The top 53 bits of a hash of seq as a uniform double in [0, 1): a
    // ratio filter keeps the same samples on every run and replay.
    const double u =
        static_cast<double>(base::SplitMix64(seq) >> 11) * 0x1.0p-53;
    if (u >= ratio) return false;
  }
  return true;
}

absl::StatusOr<Filter> ParseFilter(absl::string_view text) {
  Filter filter;
  std::vector<absl::string_view> parts = absl::StrSplit(text, ';');
  absl::string_view kind = absl::StripAsciiWhitespace(parts[0]);
  if (kind == "all" || kind.empty()) {
    filter.kind = Filter::Kind::kAll;
  } else if (kind == "labelled" || kind == "labeled") {
    filter.kind = Filter::Kind::kLabelled;
  } else if (kind == "unlabelled" || kind == "unlabeled") {
    filter.kind = Filter::Kind::kUnlabelled;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("filter '", text, "': unknown kind '", kind, "'; ",
                     kGrammar));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(parts[i], absl::MaxSplits('=', 1));
    absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (key == "labels") {
      for (absl::string_view item : absl::StrSplit(value, ',')) {
        int32_t label;
        if (!absl::SimpleAtoi(item, &label) || label < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "filter '", text, "': label '", item,
              "' is not a non-negative integer; ", kGrammar));
        }
        filter.labels.push_back(label);
      }
    } else if (key == "ratio") {
      double ratio;
      if (!absl::SimpleAtod(value, &ratio) || !(ratio > 0.0 && ratio <= 1.0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "filter '", text, "': ratio '", value, "' must be in (0, 1]"));
      }
      filter.ratio = ratio;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter '", text, "': unknown option '", key, "'; ", kGrammar));
    }
  }
  if (filter.kind == Filter::Kind::kUnlabelled && !filter.labels.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filter '", text, "': 'unlabelled' cannot also select labels"));
  }
  return filter;
}

std::string FormatFilter(const Filter& filter) {
  std::string out;
  switch (filter.kind) {
    case Filter::Kind::kAll: out = "all"; break;
    case Filter::Kind::kLabelled: out = "labelled"; break;
    case Filter::Kind::kUnlabelled: out = "unlabelled"; break;
  }
  if (!filter.labels.empty()) {
    absl::StrAppend(&out, ";labels=", absl::StrJoin(filter.labels, ","));
  }
  if (filter.ratio < 1.0) absl::StrAppend(&out, ";ratio=", filter.ratio);
  return out;
}

SampleBatch FilterBatch(const Filter& filter, const SampleBatch& batch) {
  if (filter.PassesEverything()) return batch;
  std::vector<uint32_t> keep;
  keep.reserve(batch.count);
  for (uint32_t i = 0; i < batch.count; ++i) {
    if (filter.Accepts(batch.labels[i], batch.first_seq + i)) keep.push_back(i);
  }
  if (keep.size() == batch.count) return batch;
  SampleBatch out;
  out.first_seq = batch.first_seq;
  out.source = batch.source;
  out.shape = batch.shape;
  out.publish_ns = batch.publish_ns;
  out.count = static_cast<uint32_t>(keep.size());
  const size_t size = batch.SampleSize();
  std::vector<uint8_t> pixels(keep.size() * size);
  out.labels.reserve(keep.size());
  for (size_t j = 0; j < keep.size(); ++j) {
    std::memcpy(pixels.data() + j * size, batch.pixels.data() + keep[j] * size,
                size);
    out.labels.push_back(batch.labels[keep[j]]);
  }
  out.pixels = Bytes(std::move(pixels));
  return out;
}

}  // namespace trainbus::bus
