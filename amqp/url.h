// A RabbitMQ broker's address, from an AMQP URL:
//
//   absl::StatusOr<BrokerUrl> url =
//       ParseBrokerUrl("amqp://guest:guest@127.0.0.1:5672/%2f");
//   url->host == "127.0.0.1", url->vhost == "/"
//
// The grammar is rabbitmq-c's (amqp_parse_url): amqp://[USER[:PASS]@]HOST
// [:PORT][/VHOST], missing parts default to guest, guest, localhost, 5672
// and "/". TLS (amqps://) is not built, so it is refused by name.
#ifndef TRAINBUS_AMQP_URL_H_
#define TRAINBUS_AMQP_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::amqp {

struct BrokerUrl {
  std::string host = "localhost";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";

  // "amqp://user@host:port/vhost": the URL without its password, for logs
  // and error messages.
  std::string Redacted() const;
};

absl::StatusOr<BrokerUrl> ParseBrokerUrl(absl::string_view text);

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_URL_H_
