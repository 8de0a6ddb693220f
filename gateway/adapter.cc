#include "gateway/adapter.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "base/status_macros.h"
#include "data/mnist28.h"

namespace trainbus::gateway {
namespace {

using Json = nlohmann::json;

constexpr size_t kRawSize = size_t{data::kMnistSide} * data::kMnistSide;

// 784 raw bytes are the pixels; anything else is an image file.
absl::StatusOr<std::vector<uint8_t>> PixelsOf(const std::string& bytes,
                                              absl::string_view what) {
  if (bytes.size() == kRawSize) {
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
  absl::StatusOr<data::Image> image = data::DecodeToMnist28(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!image.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is neither 784 raw bytes nor a readable image: ",
        image.status().message()));
  }
  return std::move(image->pixels);
}

absl::StatusOr<int32_t> LabelOf(const Json& label) {
  if (!label.is_number_integer() || label.get<int64_t>() < 0 ||
      label.get<int64_t>() > INT32_MAX) {
    return absl::InvalidArgumentError(
        "\"label\" must be a non-negative integer (or absent for "
        "unlabelled data)");
  }
  return static_cast<int32_t>(label.get<int64_t>());
}

absl::StatusOr<std::vector<uint8_t>> ImageOf(const Json& image) {
  if (image.is_string()) {
    std::string bytes;
    if (!absl::Base64Unescape(image.get_ref<const std::string&>(), &bytes)) {
      return absl::InvalidArgumentError(
          "\"image\" is a string but not base64 (RFC 4648, with padding)");
    }
    return PixelsOf(bytes, "the base64 \"image\"");
  }
  if (!image.is_array() || image.size() != kRawSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"image\" must be 784 pixel values 0..255 or a base64 string; it is ",
        image.is_array() ? absl::StrCat("an array of ", image.size())
                         : std::string(image.type_name())));
  }
  std::vector<uint8_t> pixels;
  pixels.reserve(kRawSize);
  for (const Json& p : image) {
    if (!p.is_number() || p.get<double>() < 0 || p.get<double>() > 255) {
      return absl::InvalidArgumentError(
          "\"image\" holds a value that is not a number in 0..255");
    }
    pixels.push_back(static_cast<uint8_t>(p.get<double>() + 0.5));
  }
  return pixels;
}

absl::StatusOr<AdapterSample> FromJson(const std::string& body) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(
        "the body is not a JSON object; send {\"image\": [784 values] or "
        "\"BASE64\", \"label\": L}, or a raw image with ?label=L");
  }
  auto image = json.find("image");
  if (image == json.end()) {
    return absl::InvalidArgumentError("the JSON body has no \"image\"");
  }
  AdapterSample sample;
  TB_ASSIGN_OR_RETURN(sample.pixels, ImageOf(*image));
  if (auto label = json.find("label"); label != json.end() && !label->is_null()) {
    TB_ASSIGN_OR_RETURN(sample.label, LabelOf(*label));
  }
  return sample;
}

}  // namespace

absl::StatusOr<AdapterSample> ParsePublishBody(
    const serving::HttpRequest& request) {
  AdapterSample sample;
  if (request.content_type.rfind("application/json", 0) == 0) {
    TB_ASSIGN_OR_RETURN(sample, FromJson(request.body));
  } else {
    TB_ASSIGN_OR_RETURN(sample.pixels, PixelsOf(request.body, "the body"));
    if (auto label = request.query.find("label");
        label != request.query.end()) {
      int32_t value = -1;
      if (!absl::SimpleAtoi(label->second, &value) || value < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "?label=", label->second, " is not a non-negative integer"));
      }
      sample.label = value;
    }
  }
  sample.shape = {data::kMnistSide, data::kMnistSide};
  return sample;
}

}  // namespace trainbus::gateway
