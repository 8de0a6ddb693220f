#include "amqp/outbound.h"

#include <algorithm>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "actors/consumer/consumer.h"
#include "amqp/connection.h"
#include "amqp/message.h"
#include "base/status_macros.h"

namespace trainbus::amqp {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kConfirmTimeout{10000};

absl::StatusOr<std::unique_ptr<Connection>> Connect(const OutboundOptions& o) {
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                      Connection::Open(o.url));
  const OutboundSettings& s = o.settings;
  if (!s.exchange.empty()) {
    TB_RETURN_IF_ERROR(
        conn->DeclareExchange(s.exchange, s.exchange_type, true, s.declare));
  }
  TB_RETURN_IF_ERROR(conn->EnableConfirms());
  return conn;
}

class OutboundLogic : public actors::ConsumerLogic {
 public:
  explicit OutboundLogic(OutboundOptions options)
      : options_(std::move(options)) {}

  absl::Status OnPrediction(uint64_t, const bus::Prediction& p) override {
    const Message m = FromPrediction(p, options_.settings.persistent);
    const Clock::time_point deadline = Clock::now() + options_.settings.give_up;
    std::chrono::milliseconds backoff = options_.backoff.min;
    absl::Status last;
    while (true) {
      last = PublishOnce(m);
      if (last.ok()) return absl::OkStatus();
      if (Clock::now() + backoff >= deadline) break;
      std::this_thread::sleep_for(backoff);  // the broker's restart, capped
      backoff = std::min(backoff * 2, options_.backoff.max);
    }
    ++options_.counters->failed;
    return absl::UnavailableError(absl::StrCat(
        "amqp out '", options_.name, "': gave up on a prediction after ",
        options_.settings.give_up.count(), " ms: ", last.message()));
  }

 private:
  absl::Status PublishOnce(const Message& m) {
    BridgeCounters& c = *options_.counters;
    if (!conn_) {
      absl::StatusOr<std::unique_ptr<Connection>> conn = Connect(options_);
      if (!conn.ok()) {
        ++c.connect_failures;
        return conn.status();
      }
      conn_ = std::move(*conn);
      c.connected = true;
      if (lost_before_) {
        ++c.reconnects;
        std::cout << "amqp out '" << options_.name << "': reconnected to "
                  << conn_->where() << "\n";
      }
    }
    absl::StatusOr<uint64_t> seq = conn_->Publish(
        options_.settings.exchange, options_.settings.routing_key, m);
    absl::Status s = seq.status();
    if (s.ok()) {
      ++c.published;
      s = conn_->WaitConfirmed(*seq, kConfirmTimeout);
    }
    if (s.ok()) {
      ++c.confirmed;
      return s;
    }
    std::cout << "amqp out '" << options_.name << "': " << s.message()
              << "; reconnecting\n";
    conn_.reset();
    c.connected = false;
    lost_before_ = true;
    return s;
  }

  OutboundOptions options_;
  std::unique_ptr<Connection> conn_;
  bool lost_before_ = false;
};

}  // namespace

absl::Status PrepareOutbound(const OutboundOptions& options) {
  return Prefixed(absl::StrCat("amqp outbound '", options.name, "'"),
                  Connect(options).status());
}

caf::actor SpawnOutboundBridge(caf::actor_system& sys,
                               OutboundOptions options) {
  if (!options.counters) options.counters = std::make_shared<BridgeCounters>();
  options.counters->name = options.name;
  options.counters->inbound = false;
  actors::ConsumerOptions c;
  c.name = options.name;
  c.inputs = {options.input};
  c.credit = options.credit;
  c.detached = true;  // librabbitmq blocks
  return actors::SpawnConsumer(
      sys, std::move(c), std::make_unique<OutboundLogic>(std::move(options)));
}

}  // namespace trainbus::amqp
