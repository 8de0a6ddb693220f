// RabbitMQ fan-out throughput with the C client (librabbitmq), the peer for
// //bus:fanout_benchmark. One publisher sends 784-byte messages to a fanout
// exchange bound to N queues; N consumers (one thread and one connection
// each) receive and ack. Reports delivered messages per second, summed over
// all queues. Needs a running broker; tools/bench/rabbitmq/run.sh starts a
// private one on loopback and runs this against it.
//
//   bazel run -c opt //tools/bench/rabbitmq:rabbitmq_fanout_benchmark --
//       --port=5672 --subscribers=1,4,16 --batches=1,64 --confirms=off,on
//
// Batching (b > 1): the publisher sends b messages back to back and, with
// publisher confirms on, then waits until the broker has confirmed all of
// them; consumers ack once per b deliveries (basic.ack multiple=true). With
// --packed, b > 1 also runs a variant that packs the b samples into one AMQP
// message of b*784 bytes (counted as b deliveries per queue).
//
// Each run lasts --seconds of publishing; then an end marker is published and
// each consumer stops when it sees it. Rate = deliveries / (time from the
// first publish until the last consumer has drained its queue).
//
// Output: one "RESULT key=value ..." line per run (parsed by
// tools/bench/bus_vs_rabbitmq.sh), then a table.
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "broker address");
ABSL_FLAG(int, port, 5672, "broker AMQP port");
ABSL_FLAG(std::string, user, "guest", "AMQP user");
ABSL_FLAG(std::string, password, "guest", "AMQP password");
ABSL_FLAG(std::string, subscribers, "1,4,16", "queue/consumer counts to run");
ABSL_FLAG(std::string, batches, "1,64", "publish/ack batch sizes to run");
ABSL_FLAG(std::string, confirms, "off,on", "publisher confirms: off, on, or both");
ABSL_FLAG(bool, packed, true, "for batch > 1 also run one-message-per-batch");
ABSL_FLAG(int, message_bytes, 784, "bytes per sample (an MNIST image)");
ABSL_FLAG(double, seconds, 2.0, "publishing time per run");
ABSL_FLAG(double, timeout_seconds, 120.0, "give up on a run after this long");

namespace trainbus::bench {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "rabbitmq_fanout_benchmark: %s\n", what.c_str());
  std::exit(1);
}

std::string ReplyText(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return absl::StrCat("server closed the connection: ", m->reply_code, " ",
                            std::string(static_cast<char*>(m->reply_text.bytes),
                                        m->reply_text.len));
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return absl::StrCat("server closed the channel: ", m->reply_code, " ",
                            std::string(static_cast<char*>(m->reply_text.bytes),
                                        m->reply_text.len));
      }
      return absl::StrFormat("server exception, method 0x%08x", reply.reply.id);
  }
  return "unknown reply";
}

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

// One AMQP connection with channel 1 open.
class Connection {
 public:
  Connection() {
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr) Die("cannot create a TCP socket");
    const std::string host = absl::GetFlag(FLAGS_host);
    const int port = absl::GetFlag(FLAGS_port);
    const int rc = amqp_socket_open(socket, host.c_str(), port);
    if (rc != AMQP_STATUS_OK) {
      Die(absl::StrCat("cannot connect to ", host, ":", port, ": ",
                       amqp_error_string2(rc),
                       "; is the broker running? (tools/bench/rabbitmq/run.sh starts one)"));
    }
    Check(amqp_login(conn_, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                     absl::GetFlag(FLAGS_user).c_str(),
                     absl::GetFlag(FLAGS_password).c_str()),
          "login");
    amqp_channel_open(conn_, 1);
    Check(amqp_get_rpc_reply(conn_), "channel.open");
  }
  ~Connection() {
    amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  amqp_connection_state_t get() const { return conn_; }

  void Check(const amqp_rpc_reply_t& reply, const std::string& what) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      Die(absl::StrCat(what, " failed: ", ReplyText(reply)));
    }
  }
  void CheckRpc(const std::string& what) { Check(amqp_get_rpc_reply(conn_), what); }

 private:
  amqp_connection_state_t conn_;
};

struct RunConfig {
  int subscribers = 1;
  int batch = 1;
  bool packed = false;  // one AMQP message carries the whole batch
  bool confirms = false;
};

struct RunResult {
  uint64_t published = 0;   // AMQP messages
  uint64_t delivered = 0;   // samples received, summed over consumers
  double seconds = 0;
  bool ok = true;
};

constexpr char kEndMarker = 'E';

struct ConsumerState {
  uint64_t samples = 0;
  Clock::time_point done;
  std::string error;
};

void Consume(const std::string& queue, const RunConfig& config,
             absl::BlockingCounter* ready, ConsumerState* state) {
  Connection c;
  const int ack_every = config.packed ? 1 : config.batch;
  amqp_basic_qos(c.get(), 1, 0, static_cast<uint16_t>(std::max(256, 4 * ack_every)), 0);
  c.CheckRpc("basic.qos");
  amqp_basic_consume(c.get(), 1, Bytes(queue), amqp_empty_bytes, 0, /*no_ack=*/0,
                     0, amqp_empty_table);
  c.CheckRpc("basic.consume");
  ready->DecrementCount();
  const size_t sample_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_message_bytes));
  const auto deadline = Clock::now() + std::chrono::duration<double>(
                                           absl::GetFlag(FLAGS_timeout_seconds));
  uint64_t unacked = 0;
  uint64_t last_tag = 0;
  while (true) {
    if (Clock::now() > deadline) {
      state->error = "timed out waiting for messages";
      break;
    }
    amqp_maybe_release_buffers(c.get());
    amqp_envelope_t envelope;
    struct timeval timeout = {1, 0};
    amqp_rpc_reply_t reply = amqp_consume_message(c.get(), &envelope, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      continue;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      amqp_frame_t frame;  // not a delivery (e.g. connection.blocked): skip it
      if (amqp_simple_wait_frame(c.get(), &frame) != AMQP_STATUS_OK) {
        state->error = "connection lost";
        break;
      }
      continue;
    }
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      state->error = ReplyText(reply);
      break;
    }
    const size_t len = envelope.message.body.len;
    const bool end = len == 1 &&
                     static_cast<const char*>(envelope.message.body.bytes)[0] == kEndMarker;
    last_tag = envelope.delivery_tag;
    amqp_destroy_envelope(&envelope);
    ++unacked;
    if (!end) state->samples += config.packed ? len / sample_bytes : 1;
    if (end || unacked >= static_cast<uint64_t>(ack_every)) {
      amqp_basic_ack(c.get(), 1, last_tag, /*multiple=*/ack_every > 1 ? 1 : 0);
      unacked = 0;
    }
    if (end) break;
  }
  state->done = Clock::now();
}

// Waits until the broker has confirmed every message up to `published`.
bool AwaitConfirms(Connection& c, uint64_t published, uint64_t* confirmed) {
  while (*confirmed < published) {
    amqp_frame_t frame;
    struct timeval timeout = {30, 0};
    const int rc = amqp_simple_wait_frame_noblock(c.get(), &frame, &timeout);
    if (rc != AMQP_STATUS_OK) {
      std::fprintf(stderr, "waiting for publisher confirms: %s\n", amqp_error_string2(rc));
      return false;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      *confirmed = std::max<uint64_t>(*confirmed, ack->delivery_tag);
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      std::fprintf(stderr, "broker nacked a publish\n");
      return false;
    }
  }
  return true;
}

RunResult RunFanout(const RunConfig& config, int run_id) {
  const std::string exchange = absl::StrCat("trainbus.bench.fanout.", run_id);
  std::vector<std::string> queues;
  Connection admin;
  amqp_exchange_declare(admin.get(), 1, Bytes(exchange), amqp_cstring_bytes("fanout"),
                        0, /*durable=*/0, /*auto_delete=*/0, 0, amqp_empty_table);
  admin.CheckRpc("exchange.declare");
  for (int i = 0; i < config.subscribers; ++i) {
    queues.push_back(absl::StrCat(exchange, ".q", i));
    amqp_queue_declare(admin.get(), 1, Bytes(queues.back()), 0, /*durable=*/0,
                       /*exclusive=*/0, /*auto_delete=*/0, amqp_empty_table);
    admin.CheckRpc("queue.declare");
    amqp_queue_bind(admin.get(), 1, Bytes(queues.back()), Bytes(exchange),
                    amqp_empty_bytes, amqp_empty_table);
    admin.CheckRpc("queue.bind");
  }

  std::vector<ConsumerState> states(config.subscribers);
  std::vector<std::thread> consumers;
  absl::BlockingCounter ready(config.subscribers);
  for (int i = 0; i < config.subscribers; ++i) {
    consumers.emplace_back(Consume, queues[i], config, &ready, &states[i]);
  }
  ready.Wait();

  RunResult result;
  {
    Connection pub;
    if (config.confirms) {
      amqp_confirm_select(pub.get(), 1);
      pub.CheckRpc("confirm.select");
    }
    const size_t sample_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_message_bytes));
    std::string body(config.packed ? sample_bytes * config.batch : sample_bytes, '\0');
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 13 + 1);
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = 1;  // transient: the in-process bus keeps no copy either
    const int per_round = config.packed ? 1 : config.batch;
    uint64_t confirmed = 0;
    const auto start = Clock::now();
    const auto stop = start + std::chrono::duration<double>(absl::GetFlag(FLAGS_seconds));
    while (Clock::now() < stop) {
      for (int k = 0; k < per_round; ++k) {
        const int rc = amqp_basic_publish(pub.get(), 1, Bytes(exchange), amqp_empty_bytes,
                                          0, 0, &props, Bytes(body));
        if (rc != AMQP_STATUS_OK) Die(absl::StrCat("publish: ", amqp_error_string2(rc)));
        ++result.published;
      }
      if (config.confirms && !AwaitConfirms(pub, result.published, &confirmed)) {
        result.ok = false;
        break;
      }
    }
    const std::string end(1, kEndMarker);
    amqp_basic_publish(pub.get(), 1, Bytes(exchange), amqp_empty_bytes, 0, 0, &props,
                       Bytes(end));
    if (config.confirms) AwaitConfirms(pub, result.published + 1, &confirmed);
    for (auto& t : consumers) t.join();
    Clock::time_point last = start;
    for (const ConsumerState& s : states) {
      if (!s.error.empty()) {
        std::fprintf(stderr, "consumer: %s\n", s.error.c_str());
        result.ok = false;
      }
      result.delivered += s.samples;
      last = std::max(last, s.done);
    }
    result.seconds = std::chrono::duration<double>(last - start).count();
  }
  for (const std::string& q : queues) {
    amqp_queue_delete(admin.get(), 1, Bytes(q), 0, 0);
    admin.CheckRpc("queue.delete");
  }
  amqp_exchange_delete(admin.get(), 1, Bytes(exchange), 0);
  admin.CheckRpc("exchange.delete");
  return result;
}

std::vector<int> IntList(const std::string& flag) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v <= 0) {
      Die(absl::StrCat("bad list element '", part, "'; want positive integers like 1,4,16"));
    }
    out.push_back(v);
  }
  return out;
}

int Main() {
  std::vector<bool> confirm_modes;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_confirms), ',', absl::SkipEmpty())) {
    if (part == "on") {
      confirm_modes.push_back(true);
    } else if (part == "off") {
      confirm_modes.push_back(false);
    } else {
      Die(absl::StrCat("--confirms takes off, on or off,on; got '", part, "'"));
    }
  }
  std::vector<RunConfig> runs;
  for (bool confirms : confirm_modes) {
    for (int batch : IntList(absl::GetFlag(FLAGS_batches))) {
      for (int n : IntList(absl::GetFlag(FLAGS_subscribers))) {
        runs.push_back({n, batch, false, confirms});
        if (batch > 1 && absl::GetFlag(FLAGS_packed)) runs.push_back({n, batch, true, confirms});
      }
    }
  }
  std::printf("%-11s %-6s %-9s %-8s %14s %12s %8s\n", "subscribers", "batch", "mode",
              "confirms", "delivered/s", "published", "seconds");
  bool all_ok = true;
  int run_id = 0;
  for (const RunConfig& run : runs) {
    RunResult r = RunFanout(run, run_id++);
    all_ok = all_ok && r.ok;
    const double rate = r.seconds > 0 ? static_cast<double>(r.delivered) / r.seconds : 0;
    const char* mode = run.packed ? "packed" : "messages";
    std::printf("%-11d %-6d %-9s %-8s %14.0f %12llu %8.2f%s\n", run.subscribers,
                run.batch, mode, run.confirms ? "on" : "off", rate,
                static_cast<unsigned long long>(r.published), r.seconds,
                r.ok ? "" : "  (FAILED)");
    std::printf(
        "RESULT subscribers=%d batch=%d mode=%s confirms=%s delivered_per_s=%.0f "
        "delivered=%llu published=%llu seconds=%.3f ok=%d\n",
        run.subscribers, run.batch, mode, run.confirms ? "on" : "off", rate,
        static_cast<unsigned long long>(r.delivered),
        static_cast<unsigned long long>(r.published), r.seconds, r.ok ? 1 : 0);
    std::fflush(stdout);
  }
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace trainbus::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return trainbus::bench::Main();
}
