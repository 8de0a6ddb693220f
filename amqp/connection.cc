#include "amqp/connection.h"

#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trainbus::amqp {
namespace {

constexpr amqp_channel_t kChannel = 1;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

amqp_bytes_t View(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string Text(amqp_bytes_t b) {
  return b.bytes == nullptr ? std::string()
                            : std::string(static_cast<char*>(b.bytes), b.len);
}

std::string ServerText(const amqp_rpc_reply_t& reply) {
  if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
    return absl::StrCat("the broker closed the connection: ", m->reply_code,
                        " ", Text(m->reply_text));
  }
  if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
    return absl::StrCat("the broker closed the channel: ", m->reply_code, " ",
                        Text(m->reply_text));
  }
  return absl::StrFormat("the broker answered method 0x%08x", reply.reply.id);
}

// Integers of every width and sign, widened (u64 wraps above INT64_MAX).
// clang-format off
std::optional<int64_t> Integer(const amqp_field_value_t& v) {
  const auto& x = v.value;
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8: return x.i8;
    case AMQP_FIELD_KIND_U8: return x.u8;
    case AMQP_FIELD_KIND_I16: return x.i16;
    case AMQP_FIELD_KIND_U16: return x.u16;
    case AMQP_FIELD_KIND_I32: return x.i32;
    case AMQP_FIELD_KIND_U32: return x.u32;
    case AMQP_FIELD_KIND_I64: return x.i64;
    case AMQP_FIELD_KIND_U64: return static_cast<int64_t>(x.u64);
    default: return std::nullopt;
  }
}
// clang-format on

// Numbers of every width, strings, booleans and arrays of numbers; other
// kinds (tables, decimals, timestamps) are left out.
std::optional<HeaderValue> Decode(const amqp_field_value_t& v) {
  if (std::optional<int64_t> i = Integer(v)) return HeaderValue(*i);
  switch (v.kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
      return HeaderValue(v.value.boolean != 0);
    case AMQP_FIELD_KIND_F32:
      return HeaderValue(double{v.value.f32});
    case AMQP_FIELD_KIND_F64:
      return HeaderValue(v.value.f64);
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      return HeaderValue(Text(v.value.bytes));
    case AMQP_FIELD_KIND_ARRAY: {
      std::vector<double> out;
      for (int i = 0; i < v.value.array.num_entries; ++i) {
        std::optional<HeaderValue> e = Decode(v.value.array.entries[i]);
        if (e && std::holds_alternative<int64_t>(*e)) {
          out.push_back(static_cast<double>(std::get<int64_t>(*e)));
        } else if (e && std::holds_alternative<double>(*e)) {
          out.push_back(std::get<double>(*e));
        } else {
          return std::nullopt;
        }
      }
      return HeaderValue(std::move(out));
    }
    default:
      return std::nullopt;
  }
}

Headers DecodeTable(const amqp_table_t& table) {
  Headers out;
  for (int i = 0; i < table.num_entries; ++i) {
    std::optional<HeaderValue> v = Decode(table.entries[i].value);
    if (v) out[Text(table.entries[i].key)] = std::move(*v);
  }
  return out;
}

// The field table of `headers`; it points into `headers` and into `arrays`,
// which must outlive its use.
class EncodedTable {
 public:
  explicit EncodedTable(const Headers& headers) {
    arrays_.reserve(headers.size());
    for (const auto& [key, value] : headers) {
      amqp_table_entry_t e;
      e.key = View(key);
      e.value = Encode(value);
      entries_.push_back(e);
    }
  }
  amqp_table_t table() {
    return amqp_table_t{static_cast<int>(entries_.size()), entries_.data()};
  }

 private:
  amqp_field_value_t Encode(const HeaderValue& value) {
    amqp_field_value_t f;
    if (const bool* b = std::get_if<bool>(&value)) {
      f.kind = AMQP_FIELD_KIND_BOOLEAN;
      f.value.boolean = *b;
    } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
      // 32 bits when it fits: what pika and most clients send for an int.
      if (*i >= INT32_MIN && *i <= INT32_MAX) {
        f.kind = AMQP_FIELD_KIND_I32;
        f.value.i32 = static_cast<int32_t>(*i);
      } else {
        f.kind = AMQP_FIELD_KIND_I64;
        f.value.i64 = *i;
      }
    } else if (const double* d = std::get_if<double>(&value)) {
      f.kind = AMQP_FIELD_KIND_F64;
      f.value.f64 = *d;
    } else if (const std::string* s = std::get_if<std::string>(&value)) {
      f.kind = AMQP_FIELD_KIND_UTF8;
      f.value.bytes = View(*s);
    } else {
      const auto& numbers = std::get<std::vector<double>>(value);
      std::vector<amqp_field_value_t>& items = arrays_.emplace_back();
      for (double x : numbers) {
        amqp_field_value_t item;
        item.kind = AMQP_FIELD_KIND_F64;
        item.value.f64 = x;
        items.push_back(item);
      }
      f.kind = AMQP_FIELD_KIND_ARRAY;
      f.value.array =
          amqp_array_t{static_cast<int>(items.size()), items.data()};
    }
    return f;
  }

  std::vector<amqp_table_entry_t> entries_;
  std::vector<std::vector<amqp_field_value_t>> arrays_;
};

}  // namespace

absl::Status Prefixed(const std::string& who, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(who, ": ", status.message()));
}

Connection::Connection(amqp_connection_state_t conn, std::string where,
                       std::chrono::milliseconds timeout)
    : conn_(conn), where_(std::move(where)), timeout_(timeout) {}

Connection::~Connection() {
  if (!broken_) {
    // Polite close; a broker that is gone makes these fail fast.
    amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn_);
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const BrokerUrl& url, std::chrono::milliseconds timeout) {
  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate an AMQP connection");
  }
  // Owned from here: the destructor frees it whatever happens below.
  std::unique_ptr<Connection> conn(
      new Connection(state, url.Redacted(), timeout));
  conn->broken_ = true;  // until logged in: nothing to close politely
  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (socket == nullptr) {
    return absl::ResourceExhaustedError("cannot create a TCP socket for AMQP");
  }
  timeval tv = ToTimeval(timeout);
  const int rc =
      amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
  if (rc != AMQP_STATUS_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to ", conn->where_, ": ", amqp_error_string2(rc),
        "; is the broker running and listening there?"));
  }
  amqp_set_rpc_timeout(state, &tv);
  amqp_rpc_reply_t login = amqp_login(state, url.vhost.c_str(), 0, 131072,
                                      /*heartbeat=*/0, AMQP_SASL_METHOD_PLAIN,
                                      url.user.c_str(), url.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    absl::Status s = conn->Fail("login", login);
    return absl::UnauthenticatedError(absl::StrCat(
        s.message(), "; check the user, password and vhost in the URL"));
  }
  conn->broken_ = false;
  amqp_channel_open(state, kChannel);
  if (absl::Status s = conn->Rpc("channel.open"); !s.ok()) return s;
  return conn;
}

absl::Status Connection::Fail(const std::string& what,
                              const amqp_rpc_reply_t& reply) {
  broken_ = true;
  std::string why;
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      why = "ok";
      break;
    case AMQP_RESPONSE_NONE:
      why = "no reply";
      break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      why = amqp_error_string2(reply.library_error);
      break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      why = ServerText(reply);
      break;
  }
  return absl::UnavailableError(
      absl::StrCat("AMQP ", what, " on ", where_, " failed: ", why));
}

absl::Status Connection::Fail(const std::string& what, int status) {
  broken_ = true;
  return absl::UnavailableError(absl::StrCat(
      "AMQP ", what, " on ", where_, " failed: ", amqp_error_string2(status)));
}

absl::Status Connection::Rpc(const std::string& what) {
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn_);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return absl::OkStatus();
  return Fail(what, reply);
}

absl::Status Connection::CheckUsable() const {
  if (!broken_) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the AMQP connection to ", where_, " failed earlier; open a new one"));
}

absl::Status Connection::DeclareQueue(const std::string& queue, bool durable) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  amqp_queue_declare(conn_, kChannel, View(queue), 0, durable, 0, 0,
                     amqp_empty_table);
  return Rpc(absl::StrCat("queue.declare '", queue, "' (durable ",
                          durable ? "true" : "false",
                          "; an existing queue must have the same setting)"));
}

absl::StatusOr<uint32_t> Connection::QueueDepth(const std::string& queue) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(
      conn_, kChannel, View(queue), /*passive=*/1, 0, 0, 0, amqp_empty_table);
  if (absl::Status s = Rpc(absl::StrCat("queue.declare (passive) '", queue,
                                        "'; declare the queue first"));
      !s.ok()) {
    return absl::NotFoundError(s.message());
  }
  return ok->message_count;
}

absl::Status Connection::DeclareExchange(const std::string& exchange,
                                         const std::string& type, bool durable,
                                         bool declare) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  amqp_exchange_declare(conn_, kChannel, View(exchange), View(type),
                        /*passive=*/declare ? 0 : 1, durable, 0, 0,
                        amqp_empty_table);
  return Rpc(
      declare ? absl::StrCat("exchange.declare '", exchange, "' (", type, ")")
              : absl::StrCat("exchange '", exchange,
                             "' must exist (declare: false)"));
}

absl::Status Connection::Consume(const std::string& queue, uint16_t prefetch) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  amqp_basic_qos(conn_, kChannel, 0, prefetch, 0);
  if (absl::Status s = Rpc("basic.qos"); !s.ok()) return s;
  amqp_basic_consume(conn_, kChannel, View(queue), amqp_empty_bytes, 0,
                     /*no_ack=*/0, 0, amqp_empty_table);
  return Rpc(absl::StrCat("basic.consume '", queue, "'"));
}

absl::StatusOr<std::optional<Delivery>> Connection::Next(
    std::chrono::milliseconds timeout) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  amqp_maybe_release_buffers(conn_);
  timeval tv = ToTimeval(timeout);
  amqp_envelope_t envelope;
  amqp_rpc_reply_t reply = amqp_consume_message(conn_, &envelope, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_TIMEOUT) {
    return std::nullopt;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    // A method other than a delivery: a close is fatal, the rest is noise.
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return std::nullopt;
    if (rc != AMQP_STATUS_OK) return Fail("reading a frame", rc);
    if (frame.frame_type == AMQP_FRAME_METHOD &&
        (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
         frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
      amqp_rpc_reply_t closed;
      closed.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
      closed.reply = frame.payload.method;
      return Fail("consume", closed);
    }
    return std::nullopt;
  }
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) return Fail("consume", reply);
  Delivery d;
  d.tag = envelope.delivery_tag;
  d.redelivered = envelope.redelivered != 0;
  d.body = Text(envelope.message.body);
  const amqp_basic_properties_t& p = envelope.message.properties;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) d.headers = DecodeTable(p.headers);
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message_id = Text(p.message_id);
  amqp_destroy_envelope(&envelope);
  return d;
}

absl::Status Connection::Ack(uint64_t tag, bool multiple) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  const int rc = amqp_basic_ack(conn_, kChannel, tag, multiple);
  return rc == AMQP_STATUS_OK ? absl::OkStatus() : Fail("basic.ack", rc);
}

absl::Status Connection::EnableConfirms() {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  amqp_confirm_select(conn_, kChannel);
  if (absl::Status s = Rpc("confirm.select"); !s.ok()) return s;
  confirms_ = true;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Connection::Publish(const std::string& exchange,
                                             const std::string& routing_key,
                                             const Message& m) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  EncodedTable table(m.headers);
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.delivery_mode = m.persistent ? 2 : 1;
  props.headers = table.table();
  if (!m.message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = View(m.message_id);
  }
  if (!m.content_type.empty()) {
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = View(m.content_type);
  }
  const int rc =
      amqp_basic_publish(conn_, kChannel, View(exchange), View(routing_key), 0,
                         0, &props, View(m.body));
  if (rc != AMQP_STATUS_OK) {
    return Fail(absl::StrCat("basic.publish to '", exchange, "'"), rc);
  }
  return confirms_ ? ++published_ : 0;
}

absl::Status Connection::WaitConfirmed(uint64_t seq,
                                       std::chrono::milliseconds timeout) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (confirmed_ < seq) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      broken_ = true;  // a late confirm would be misread later
      return absl::DeadlineExceededError(
          absl::StrCat("the broker at ", where_, " did not confirm message ",
                       seq, " within ", timeout.count(), " ms"));
    }
    timeval tv = ToTimeval(left);
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) return Fail("waiting for a confirm", rc);
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_number_t id = frame.payload.method.id;
    if (id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirmed_ = std::max(confirmed_, ack->delivery_tag);
    } else if (id == AMQP_BASIC_NACK_METHOD) {
      broken_ = true;
      return absl::DataLossError(absl::StrCat(
          "the broker at ", where_, " refused (nacked) a published message"));
    } else if (id == AMQP_CHANNEL_CLOSE_METHOD ||
               id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_rpc_reply_t closed;
      closed.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
      closed.reply = frame.payload.method;
      return Fail("publish", closed);
    }
  }
  return absl::OkStatus();
}

}  // namespace trainbus::amqp
