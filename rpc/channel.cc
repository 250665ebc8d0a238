#include "rpc/channel.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include <google/protobuf/message_lite.h>

#include "codec/compression.h"
#include "codec/framing.h"
#include "codec/metadata.h"
#include "codec/timeout.h"
#include "rpc/client_call_state.h"
#include "rpc/pieces_parse.h"
#include "rpc/serialization.h"
#include "transport/client_transport.h"
#include "transport/payload_pieces.h"
#include "transport/unix_address.h"

namespace h2rpc {

namespace {

/// "h2rpc-cpp/<version>", then the application's own product token if it gave one.
constexpr char kUserAgent[] = "h2rpc-cpp/0.1.0";

transport::ClientTransportOptions TransportOptions(
    const ChannelOptions& options, const std::shared_ptr<ChannelCredentials>& credentials) {
  transport::ClientTransportOptions out;
  if (credentials && credentials->is_secure()) {
    out.tls = credentials->internal_tls();
    out.tls_target_name_override = options.ssl_target_name_override;
  }
  // HTTP/2 windows are 31-bit; below 64 KiB (the protocol's default) nothing is gained.
  auto window = [](uint32_t w) { return std::clamp<uint32_t>(w, 65535, 0x7fffffff); };
  out.stream_window = window(options.stream_window);
  out.connection_window = window(options.connection_window);
  out.connect_timeout = options.connect_timeout;
  out.backoff_initial = options.backoff_initial;
  out.backoff_multiplier = options.backoff_multiplier;
  out.backoff_jitter = options.backoff_jitter;
  out.backoff_max = options.backoff_max;
  out.keepalive.time = options.keepalive_time;
  out.keepalive.timeout = options.keepalive_timeout;
  out.keepalive.permit_without_calls = options.keepalive_permit_without_calls;
  out.authority = options.default_authority;
  out.poll_before_sleep = options.poll_before_sleep;
  out.user_agent = kUserAgent;
  if (!options.user_agent_prefix.empty()) out.user_agent += " " + options.user_agent_prefix;
  return out;
}

/// Fills the parts of a call's state that come from the context and the channel. Fails (and
/// nothing is sent) on invalid metadata or an expired deadline.
/// A context cancelled before its call started: the call ends here and nothing goes on the
/// wire (starting it and cancelling after would race the I/O thread's HEADERS). A TryCancel
/// that comes later is caught by the bind-then-check after Start.
Status CancelledBeforeStart(const ClientContext& context) {
  if (context.internal_cancel_requested()) {
    return Status(StatusCode::kCancelled, "call cancelled by the client");
  }
  return Status();
}

Status PrepareCall(ClientContext& context, const ChannelOptions& options,
                   internal::ClientCallState& call) {
  if (!context.internal_setup_error().ok()) return context.internal_setup_error();
  const Metadata& metadata = context.client_metadata();
  if (!metadata.empty()) {
    call.metadata.reserve(metadata.size());
    for (const auto& [key, value] : metadata) {
      // AddMetadata validated already; a context filled some other way is checked here too.
      if (Status s = codec::ValidateMetadataKey(key); !s.ok()) return s;
      if (Status s = codec::ValidateMetadataValue(key, value); !s.ok()) return s;
      call.metadata.emplace_back(key, codec::EncodeMetadataValue(key, value));
    }
  }
  if (const auto deadline = context.deadline()) {
    const auto left = *deadline - std::chrono::system_clock::now();
    if (left <= std::chrono::system_clock::duration::zero()) {
      return Status(StatusCode::kDeadlineExceeded, "deadline exceeded before the call started");
    }
    // The I/O thread's timers run on the steady clock; a deadline this far away is none.
    if (left < codec::kMaxTimeout) {
      call.deadline = std::chrono::steady_clock::now() +
                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
    }
  }
  call.wait_for_ready = context.wait_for_ready();
  call.send_compression = context.compression_algorithm().value_or(options.default_compression);
  call.max_receive_message_size = options.max_receive_message_size;
  call.max_send_message_size = options.max_send_message_size;
  call.send_budget = options.stream_send_budget;
  // Give window back at once while at most half a window is unread: readers that keep up
  // never cost a command; a slow one holds the server to window + this much.
  call.consume_threshold = std::clamp<uint32_t>(options.stream_window, 65535, 0x7fffffff) / 2;
  return Status();
}

/// Sizes the call's request frame. A large one reuses a buffer from the channel's pool (the I/O
/// thread gives it back once the stream is gone), so it is neither zero-filled nor faulted in.
void SizeRequestFrame(internal::ClientCallState& call, size_t framed_size) {
  if (framed_size > codec::kDeframerInitialReserve) {
    call.first_message = call.queue->large_buffers()->TakeOrEmpty();
  }
  call.first_message.resize(framed_size);
}

/// The unary request, framed (and compressed) into the call state itself.
Status FrameRequest(std::string_view request, uint32_t max_send_message_size,
                    internal::ClientCallState& call) {
  if (request.size() > max_send_message_size) {
    return Status(StatusCode::kResourceExhausted,
                  "trying to send a message of " + std::to_string(request.size()) +
                      " bytes, larger than the maximum send size of " +
                      std::to_string(max_send_message_size) + " bytes");
  }
  StatusOr<std::string> compressed = std::string();
  const bool compress = call.send_compression != codec::Compression::kIdentity;
  if (compress) {
    compressed = codec::Compress(call.send_compression, request);
    if (!compressed.ok()) return compressed.status();
    request = *compressed;
  }
  SizeRequestFrame(call, codec::kFramePrefixSize + request.size());
  codec::EncodeFramePrefix(compress, static_cast<uint32_t>(request.size()),
                           reinterpret_cast<uint8_t*>(call.first_message.data()));
  if (!request.empty()) {
    std::memcpy(call.first_message.data() + codec::kFramePrefixSize, request.data(),
                request.size());
  }
  call.has_first_message = true;
  call.half_close_at_start = true;
  return Status();
}

/// FrameRequest for a protobuf request (`message` is a MessageLite: Channel::FrameRequestFn's
/// shape): serialized straight into the call state's frame unless the call compresses (then it
/// needs the serialized bytes first).
Status FrameMessageRequest(const void* message, uint32_t max_send_message_size,
                           internal::ClientCallState& call) {
  const auto& request = *static_cast<const google::protobuf::MessageLite*>(message);
  const size_t size = request.ByteSizeLong();  // caches sizes for the serializer below
  if (call.send_compression != codec::Compression::kIdentity ||
      size > static_cast<size_t>(INT_MAX)) {
    std::string bytes;
    if (Status s = internal::Serialize(request, &bytes); !s.ok()) return s;
    return FrameRequest(bytes, max_send_message_size, call);
  }
  if (size > max_send_message_size) {
    return Status(StatusCode::kResourceExhausted,
                  "trying to send a message of " + std::to_string(size) +
                      " bytes, larger than the maximum send size of " +
                      std::to_string(max_send_message_size) + " bytes");
  }
  SizeRequestFrame(call, codec::kFramePrefixSize + size);
  auto* data = reinterpret_cast<uint8_t*>(call.first_message.data());
  codec::EncodeFramePrefix(false, static_cast<uint32_t>(size), data);
  request.SerializeWithCachedSizesToArray(data + codec::kFramePrefixSize);
  call.has_first_message = true;
  call.half_close_at_start = true;
  return Status();
}

}  // namespace

std::shared_ptr<Channel> Channel::Create(const std::string& target, const ChannelOptions& options) {
  return std::shared_ptr<Channel>(new Channel(target, options, nullptr));
}

std::shared_ptr<Channel> Channel::Create(const std::string& target,
                                         const std::shared_ptr<ChannelCredentials>& credentials,
                                         const ChannelOptions& options) {
  return std::shared_ptr<Channel>(new Channel(target, options, credentials));
}

Channel::Channel(std::string target, ChannelOptions options,
                 const std::shared_ptr<ChannelCredentials>& credentials)
    : target_(std::move(target)),
      options_(std::move(options)),
      transport_(std::make_unique<internal::ClientTransport>(
          target_, TransportOptions(options_, credentials))) {
  if (credentials && !credentials->status().ok()) {
    config_error_ = Status(credentials->status().code(),
                           "invalid channel credentials: " + credentials->status().message());
  }
  if (config_error_.ok() &&
      std::any_of(options_.default_authority.begin(), options_.default_authority.end(),
                  [](char c) { return c <= 0x20 || c >= 0x7f; })) {
    config_error_ = Status(StatusCode::kInvalidArgument,
                           "invalid default_authority: visible ASCII characters only");
  }
  // A bad unix path (too long, empty) is the caller's error, not a connection failure worth
  // retrying with backoff.
  if (config_error_.ok() && transport::IsUnixAddress(target_)) {
    StatusOr<transport::SocketAddress> parsed = transport::ParseUnixAddress(target_);
    if (!parsed.ok()) {
      config_error_ =
          Status(StatusCode::kInvalidArgument, "invalid target: " + parsed.status().message());
    }
  }
}

Channel::~Channel() = default;  // the transport ends outstanding calls and joins its thread

namespace {

using transport::Connectivity;
static_assert(static_cast<int>(Connectivity::kIdle) == static_cast<int>(ConnectivityState::kIdle) &&
              static_cast<int>(Connectivity::kReady) ==
                  static_cast<int>(ConnectivityState::kReady) &&
              static_cast<int>(Connectivity::kShutdown) ==
                  static_cast<int>(ConnectivityState::kShutdown));

/// A system_clock deadline on the steady clock the waits use (far ones stay far).
std::chrono::steady_clock::time_point SteadyDeadline(
    std::chrono::system_clock::time_point deadline) {
  const auto left = deadline - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24 * 365)) {
    return std::chrono::steady_clock::now() + std::chrono::hours(24 * 365);
  }
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
}

}  // namespace

ConnectivityState Channel::GetState(bool try_to_connect) {
  return static_cast<ConnectivityState>(transport_->GetState(try_to_connect));
}

bool Channel::WaitForStateChange(ConnectivityState last,
                                 std::chrono::system_clock::time_point deadline) {
  return transport_->WaitForStateChange(static_cast<Connectivity>(last), SteadyDeadline(deadline));
}

bool Channel::WaitForConnected(std::chrono::system_clock::time_point deadline) {
  for (;;) {
    const ConnectivityState state = GetState(/*try_to_connect=*/true);
    if (state == ConnectivityState::kReady) return true;
    if (state == ConnectivityState::kShutdown || !WaitForStateChange(state, deadline)) return false;
  }
}

Status Channel::UnaryCall(ClientContext& context, std::string_view method, std::string_view request,
                          std::string* response) {
  return RunUnary(
      context, method,
      [](const void* bytes, uint32_t max_send, internal::ClientCallState& call) {
        return FrameRequest(*static_cast<const std::string_view*>(bytes), max_send, call);
      },
      &request, response, nullptr);
}

Status Channel::UnaryCall(ClientContext& context, std::string_view method,
                          const google::protobuf::MessageLite& request, std::string* response) {
  return RunUnary(context, method, FrameMessageRequest, &request, response, nullptr);
}

Status Channel::internal_unary_call(ClientContext& context, std::string_view method,
                                    const google::protobuf::MessageLite& request,
                                    google::protobuf::MessageLite* response) {
  return RunUnary(context, method, FrameMessageRequest, &request, nullptr, response);
}

Status Channel::RunUnary(ClientContext& context, std::string_view method, FrameRequestFn frame,
                         const void* request, std::string* response,
                         google::protobuf::MessageLite* typed_response) {
  auto call = std::make_shared<internal::ClientCallState>();
  call->path = method;  // the caller blocks until the call ended: no copy needed
  call->queue = transport_->queue();
  Status setup = config_error_.ok() ? PrepareCall(context, options_, *call) : config_error_;
  if (setup.ok()) setup = frame(request, options_.max_send_message_size, *call);
  if (setup.ok()) setup = CancelledBeforeStart(context);
  context.internal_bind(call);
  if (!setup.ok()) {
    call->FinishBeforeStart(setup);
    return setup;
  }
  transport_->Start(call);
  // Pairs with ClientContext::TryCancel (see there).
  if (context.internal_cancel_requested()) {
    call->Cancel(Status(StatusCode::kCancelled, "call cancelled by the client"));
  }

  std::string reply;
  transport::PayloadPieces pieces;  // a large typed reply: parsed where it was read
  bool compressed = false;
  const bool got_reply =
      call->Read(&reply, &compressed, typed_response != nullptr ? &pieces : nullptr);
  std::string extra;
  const bool extra_reply = got_reply && call->Read(&extra);
  const Status too_many(StatusCode::kInternal,
                        "server sent more than one response message for a unary call");
  if (extra_reply) call->Cancel(too_many);
  call->WaitFinished();
  call->TakeInitialMetadata(&context.internal_initial_metadata());
  context.internal_trailing_metadata() = std::move(call->trailing_metadata());
  Status status = call->status();
  if (!status.ok()) return status;
  if (extra_reply) return too_many;
  if (!got_reply) {
    return Status(StatusCode::kInternal, "server returned OK without a response message");
  }
  context.internal_set_last_message_compressed(compressed);
  if (typed_response != nullptr) {
    status = pieces.empty() ? internal::Parse(reply, typed_response)
                            : internal::ParsePieces(pieces, typed_response);
    RecycleBuffer(std::move(reply));
    return status;
  }
  // A caller that reuses one response string for its calls gets its previous reply's buffer
  // read into by a later large call.
  RecycleBuffer(std::exchange(*response, std::move(reply)));
  return status;
}

void Channel::RecycleBuffer(std::string&& buffer) {
  transport_->queue()->large_buffers()->Give(std::move(buffer));
}

std::unique_ptr<ClientCall> Channel::StartCall(ClientContext& context, std::string_view method) {
  auto call = std::make_shared<internal::ClientCallState>();
  call->owned_path.assign(method.data(), method.size());
  call->path = call->owned_path;
  call->queue = transport_->queue();
  // The ClientCall may outlive this Channel; its commands must still find a live queue.
  call->queue_keepalive = transport_->shared_queue();
  Status setup = config_error_.ok() ? PrepareCall(context, options_, *call) : config_error_;
  if (setup.ok()) setup = CancelledBeforeStart(context);
  context.internal_bind(call);
  if (!setup.ok()) {
    call->FinishBeforeStart(std::move(setup));
  } else {
    transport_->Start(call);
    if (context.internal_cancel_requested()) {
      call->Cancel(Status(StatusCode::kCancelled, "call cancelled by the client"));
    }
  }
  return std::make_unique<ClientCall>(context, std::move(call));
}

}  // namespace h2rpc
