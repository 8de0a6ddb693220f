#include "amqp/url.h"

#include <amqp.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trainbus::amqp {

std::string BrokerUrl::Redacted() const {
  // The default vhost "/" is written %2f, as amqp_parse_url reads it back.
  const std::string path = vhost == "/" ? "%2f" : vhost;
  return absl::StrCat("amqp://", user, "@", host, ":", port, "/", path);
}

absl::StatusOr<BrokerUrl> ParseBrokerUrl(absl::string_view text) {
  if (absl::StartsWith(text, "amqps://")) {
    return absl::InvalidArgumentError(
        "amqps:// (TLS) is not supported; use amqp:// to a broker on a "
        "trusted network, or put a TLS tunnel in front of it");
  }
  if (!absl::StartsWith(text, "amqp://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker URL '", text,
        "' must start with amqp:// (amqp://USER:PASS@HOST:PORT/VHOST)"));
  }
  const absl::string_view rest = text.substr(7);
  if (rest.empty() || rest[0] == '/' || rest[0] == ':' ||
      absl::StrContains(rest, "@/") || absl::StrContains(rest, "@:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker URL '", text,
                     "' names no host; expected "
                     "amqp://USER:PASS@HOST:PORT/VHOST"));
  }
  // amqp_parse_url writes into its argument and points into it.
  std::vector<char> buffer(text.begin(), text.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK ||
      info.host == nullptr || info.host[0] == '\0' || info.vhost == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker URL '", text,
        "' is not an AMQP URL; expected amqp://USER:PASS@HOST:PORT/VHOST"));
  }
  if (info.port <= 0 || info.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker URL '", text, "': the port must be in [1, 65535]"));
  }
  BrokerUrl url;
  url.host = info.host;
  url.port = info.port;
  url.user = info.user;
  url.password = info.password;
  // "amqp://host/" names the empty vhost, which RabbitMQ does not have;
  // read it as the default one, as pika does.
  url.vhost = info.vhost[0] == '\0' ? "/" : info.vhost;
  return url;
}

}  // namespace trainbus::amqp
