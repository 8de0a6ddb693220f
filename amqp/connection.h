// One AMQP 0-9-1 connection to a RabbitMQ broker (librabbitmq, rabbitmq-c
// 0.11), with channel 1 open: the few operations the bridges need, each
// returning a Status whose text names the broker and what to check.
//
//   TB_ASSIGN_OR_RETURN(auto conn, Connection::Open(url));
//   TB_RETURN_IF_ERROR(conn->DeclareQueue("train", /*durable=*/true));
//   TB_RETURN_IF_ERROR(conn->Consume("train", /*prefetch=*/64));
//   TB_ASSIGN_OR_RETURN(std::optional<Delivery> d, conn->Next(10ms));
//   if (d) { ...; TB_RETURN_IF_ERROR(conn->Ack(d->tag)); }
//
// A connection is used by one thread at a time (librabbitmq is not
// thread-safe per connection). Heartbeats are off: a broker that goes away
// closes the socket, and the next call fails. Once a call has failed the
// connection is broken and every later call fails at once: open a new one.
#ifndef TRAINBUS_AMQP_CONNECTION_H_
#define TRAINBUS_AMQP_CONNECTION_H_

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "amqp/url.h"

namespace trainbus::amqp {

// A header value as AMQP field tables carry it (integers of every width
// become int64_t; floats double; arrays of numbers a vector).
using HeaderValue =
    std::variant<bool, int64_t, double, std::string, std::vector<double>>;
using Headers = std::map<std::string, HeaderValue>;

// A message the broker delivered.
struct Delivery {
  uint64_t tag = 0;  // for Ack; valid on this connection only
  bool redelivered = false;
  std::string body;
  Headers headers;
  std::string message_id;  // empty when the publisher set none
};

// A message to publish.
struct Message {
  std::string body;
  Headers headers;
  std::string message_id;
  std::string content_type;
  bool persistent = true;  // delivery_mode 2: survives a broker restart
};

// `status` with "WHO: " in front of its message (the code kept); OK stays OK.
absl::Status Prefixed(const std::string& who, const absl::Status& status);

class Connection {
 public:
  // Connects, logs in and opens channel 1; `timeout` bounds the connect and
  // every later RPC.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const BrokerUrl& url,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Declares a queue (idempotent; an existing queue with other settings is
  // an error that says so). durable: it survives a broker restart.
  absl::Status DeclareQueue(const std::string& queue, bool durable);
  // The number of ready messages in an existing queue (NotFound if none).
  absl::StatusOr<uint32_t> QueueDepth(const std::string& queue);
  // Declares an exchange of `type` (direct, fanout, topic, headers), or with
  // declare = false checks that it exists.
  absl::Status DeclareExchange(const std::string& exchange,
                               const std::string& type, bool durable,
                               bool declare = true);

  // Starts consuming `queue` with manual acks and at most `prefetch`
  // unacknowledged deliveries.
  absl::Status Consume(const std::string& queue, uint16_t prefetch);
  // The next delivery, or nullopt when none came within `timeout` (0: only
  // what has already arrived).
  absl::StatusOr<std::optional<Delivery>> Next(
      std::chrono::milliseconds timeout);
  absl::Status Ack(uint64_t tag, bool multiple = false);

  // Publisher confirms (confirm.select) for every later Publish.
  absl::Status EnableConfirms();
  // Publishes through `exchange` ("" is the default exchange, which routes
  // to the queue named by the key). With confirms on, returns the message's
  // sequence number for WaitConfirmed; else 0.
  absl::StatusOr<uint64_t> Publish(const std::string& exchange,
                                   const std::string& routing_key,
                                   const Message& message);
  // Waits until the broker has confirmed every message up to `seq`; a nack
  // or the deadline passing is an error.
  absl::Status WaitConfirmed(uint64_t seq, std::chrono::milliseconds timeout);

  bool broken() const { return broken_; }
  const std::string& where() const { return where_; }

 private:
  Connection(amqp_connection_state_t conn, std::string where,
             std::chrono::milliseconds timeout);
  // The error of a failed call (and the connection marked broken).
  absl::Status Fail(const std::string& what, const amqp_rpc_reply_t& reply);
  absl::Status Fail(const std::string& what, int status);
  absl::Status Rpc(const std::string& what);
  absl::Status CheckUsable() const;

  amqp_connection_state_t conn_;
  std::string where_;  // the redacted URL
  std::chrono::milliseconds timeout_;
  bool broken_ = false;
  bool confirms_ = false;
  uint64_t published_ = 0;  // sequence number of the last confirmed publish
  uint64_t confirmed_ = 0;
};

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_CONNECTION_H_
