// The HTTP adapter's side of the bus, as an interface the gateway calls
// (the run implements it on its bus; gateway/ knows no actors):
//   POST /v1/resources/{name}:publish   one sample (ParsePublishBody)
//   GET  /v1/resources/{name}:subscribe what the resource accepts from now
//
//   absl::StatusOr<AdapterSample> s = ParsePublishBody(request);
//   absl::StatusOr<uint64_t> offset = adapter->Publish("mnist", *s);
#ifndef TRAINBUS_GATEWAY_ADAPTER_H_
#define TRAINBUS_GATEWAY_ADAPTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "serving/http_message.h"

namespace trainbus::gateway {

// A sample from outside: 28x28 gray bytes, a label or none (-1).
struct AdapterSample {
  std::vector<uint8_t> pixels;
  std::vector<uint32_t> shape;  // {28, 28}
  int32_t label = -1;
};

class AdapterSubscription {
 public:
  virtual ~AdapterSubscription() = default;
  // What was delivered since the last call, as JSON objects, waiting up to
  // `wait` for something; an error once the subscription has ended.
  virtual absl::StatusOr<std::vector<nlohmann::json>> Next(
      absl::Duration wait) = 0;
};

class ResourceAdapter {
 public:
  virtual ~ResourceAdapter() = default;
  // The offset the resource gave the sample (after its log append when it
  // is durable). NotFound for an unknown resource.
  virtual absl::StatusOr<uint64_t> Publish(const std::string& resource,
                                           AdapterSample sample) = 0;
  virtual absl::StatusOr<std::unique_ptr<AdapterSubscription>> Subscribe(
      const std::string& resource) = 0;
};

// A :publish body: JSON {"image": [784 numbers 0..255] | "BASE64", "label":
// L} (base64 of a PNG, a JPEG or 784 raw bytes; "label" optional), or a raw
// image/png, image/jpeg or 784-byte application/octet-stream body with
// ?label=L. Images of other sizes are scaled to 28x28 (data/mnist28.h).
absl::StatusOr<AdapterSample> ParsePublishBody(
    const serving::HttpRequest& request);

}  // namespace trainbus::gateway

#endif  // TRAINBUS_GATEWAY_ADAPTER_H_
