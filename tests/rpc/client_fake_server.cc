#include "tests/rpc/client_fake_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "codec/framing.h"

namespace h2rpc::testing {

struct FakeServer::Connection {
  FakeServer* server = nullptr;
  int fd = -1;
  nghttp2_session* session = nullptr;
  std::string out;  // bytes produced by nghttp2, not yet written
  bool dead = false;
  std::map<int32_t, Stream*> streams;
};

namespace {

using Connection = FakeServer::Connection;

Connection& ConnectionOf(void* user_data) { return *static_cast<Connection*>(user_data); }

int BeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  Connection& c = ConnectionOf(user_data);
  return c.server->OnBeginHeaders(c, frame);
}

int Header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
           const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  Connection& c = ConnectionOf(user_data);
  return c.server->OnHeader(c, frame,
                            std::string_view(reinterpret_cast<const char*>(name), namelen),
                            std::string_view(reinterpret_cast<const char*>(value), valuelen));
}

int FrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  Connection& c = ConnectionOf(user_data);
  return c.server->OnFrameRecv(c, frame);
}

int DataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
              void* user_data) {
  Connection& c = ConnectionOf(user_data);
  return c.server->OnDataChunk(c, stream_id, data, len);
}

int StreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  Connection& c = ConnectionOf(user_data);
  return c.server->OnStreamClose(c, stream_id, error_code);
}

int FrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  Connection& c = ConnectionOf(user_data);
  return c.server->OnFrameSend(c, frame);
}

std::vector<nghttp2_nv> ToNv(const codec::HeaderList& headers) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                  value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

}  // namespace

std::string Frame(std::string_view payload, bool compressed) {
  std::string out(codec::kFramePrefixSize + payload.size(), '\0');
  codec::EncodeFramePrefix(compressed, static_cast<uint32_t>(payload.size()),
                           reinterpret_cast<uint8_t*>(out.data()));
  std::memcpy(out.data() + codec::kFramePrefixSize, payload.data(), payload.size());
  return out;
}

std::string FakeServer::Stream::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

std::vector<std::string> FakeServer::Stream::TakeMessages(std::vector<bool>* compressed_flags) {
  std::vector<std::string> out;
  size_t offset = 0;
  while (body.size() - offset >= codec::kFramePrefixSize) {
    const auto* p = reinterpret_cast<const uint8_t*>(body.data() + offset);
    const uint32_t length =
        (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
    if (body.size() - offset - codec::kFramePrefixSize < length) break;
    out.emplace_back(body.substr(offset + codec::kFramePrefixSize, length));
    if (compressed_flags != nullptr) compressed_flags->push_back(p[0] != 0);
    offset += codec::kFramePrefixSize + length;
  }
  body.erase(0, offset);
  return out;
}

FakeServer::FakeServer() : FakeServer(Options()) {}

FakeServer::FakeServer(Options options) : options_(std::move(options)) {
  const bool v6 = options_.host.find(':') != std::string::npos;
  listen_fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage storage{};
  socklen_t length;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(options_.port));
    inet_pton(AF_INET6, options_.host.c_str(), &in6->sin6_addr);
    length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(options_.port));
    inet_pton(AF_INET, options_.host.c_str(), &in->sin_addr);
    length = sizeof *in;
  }
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(listen_fd_, 1024) != 0) {
    std::perror("FakeServer: bind/listen");
    std::abort();
  }
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&storage), &length);
  port_ = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port)
             : ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { Run(); });
}

FakeServer::~FakeServer() {
  stop_.store(true);
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
  thread_.join();
  for (auto& c : connections_) {
    if (c->session != nullptr) nghttp2_session_del(c->session);
    if (c->fd >= 0) close(c->fd);
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  close(wake_fd_);
}

std::string FakeServer::target() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  return (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port_);
}

void FakeServer::Post(std::function<void()> action) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    posted_.push_back(std::move(action));
  }
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
}

void FakeServer::PostAfter(std::chrono::milliseconds delay, std::function<void()> action) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    timers_.push_back({std::chrono::steady_clock::now() + delay, std::move(action)});
  }
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
}

void FakeServer::RunOnServer(std::function<void()> action) {
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  Post([&] {
    action();
    std::lock_guard<std::mutex> lock(done_mutex);
    done = true;
    done_cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(done_mutex);
  done_cv.wait(lock, [&] { return done; });
}

void FakeServer::RunPosted() {
  std::vector<std::function<void()>> actions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    actions.swap(posted_);
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < timers_.size();) {
      if (timers_[i].when <= now) {
        actions.push_back(std::move(timers_[i].action));
        timers_.erase(timers_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  for (auto& action : actions) action();
}

void FakeServer::Run() {
  while (!stop_.load()) {
    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
    std::vector<Connection*> polled;
    for (auto& c : connections_) {
      if (c->dead) continue;
      fds.push_back({c->fd, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
      polled.push_back(c.get());
    }
    int timeout_ms = 100;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      for (const Timer& t : timers_) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.when - now).count();
        timeout_ms = std::clamp<int>(static_cast<int>(ms) + 1, 0, timeout_ms);
      }
    }
    poll(fds.data(), fds.size(), timeout_ms);
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t n = read(wake_fd_, &count, sizeof count);
      (void)n;
    }
    RunPosted();
    size_t index = 1;
    if (listen_fd_ >= 0) {
      if (index < fds.size() && fds[index].fd == listen_fd_ && fds[index].revents != 0) Accept();
      ++index;
    }
    for (Connection* c : polled) {
      const short revents = fds[index++].revents;
      if (!c->dead && revents != 0) HandleConnection(*c, revents);
    }
    for (auto& c : connections_) {
      if (!c->dead) Pump(*c);
    }
  }
}

void FakeServer::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto connection = std::make_unique<Connection>();
    connection->server = this;
    connection->fd = fd;
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, BeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, Header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, FrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, DataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, StreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, FrameSend);
    nghttp2_option* option;
    nghttp2_option_new(&option);
    if (!options_.return_window) nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_server_new2(&connection->session, callbacks, connection.get(), option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    std::vector<nghttp2_settings_entry> settings;
    if (options_.max_concurrent_streams != 0) {
      settings.push_back(
          {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams});
    }
    settings.push_back({NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.initial_window_size});
    if (options_.max_header_list_size != 0) {
      settings.push_back({NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options_.max_header_list_size});
    }
    nghttp2_submit_settings(connection->session, NGHTTP2_FLAG_NONE, settings.data(),
                            settings.size());
    connections_.push_back(std::move(connection));
    connections_accepted_.fetch_add(1);
  }
}

void FakeServer::HandleConnection(Connection& c, short revents) {
  if ((revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
    uint8_t buf[64 * 1024];
    for (;;) {
      ssize_t n = read(c.fd, buf, sizeof buf);
      if (n > 0) {
        if (nghttp2_session_mem_recv(c.session, buf, static_cast<size_t>(n)) < 0) {
          CloseConnection(c);
          return;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      CloseConnection(c);  // EOF or error
      return;
    }
  }
}

void FakeServer::Pump(Connection& c) {
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(c.session, &data);
    if (n < 0) {
      CloseConnection(c);
      return;
    }
    if (n == 0) break;
    c.out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    if (c.out.size() > 1024 * 1024) break;
  }
  size_t written = 0;
  while (written < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + written, c.out.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    CloseConnection(c);
    return;
  }
  c.out.erase(0, written);
  if (!nghttp2_session_want_read(c.session) && !nghttp2_session_want_write(c.session) &&
      c.out.empty()) {
    CloseConnection(c);
  }
}

void FakeServer::CloseConnection(Connection& c) {
  if (c.dead) return;
  c.dead = true;
  close(c.fd);
  c.fd = -1;
  for (auto& [id, stream] : c.streams) {
    if (!stream->closed) {
      stream->closed = true;
      open_streams_.fetch_sub(1);
      if (on_close) on_close(*stream);
    }
  }
}

void FakeServer::DropConnections() {
  for (auto& c : connections_) {
    if (c->dead) continue;
    linger hard{1, 0};  // RST instead of FIN: the peer "vanishes"
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    CloseConnection(*c);
  }
}

void FakeServer::StopListening() {
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

int FakeServer::OnBeginHeaders(Connection& c, const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto stream = std::make_unique<Stream>();
  stream->connection = &c;
  stream->id = frame->hd.stream_id;
  c.streams[stream->id] = stream.get();
  nghttp2_session_set_stream_user_data(c.session, stream->id, stream.get());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stream_ids_.push_back(stream->id);
    streams_.push_back(std::move(stream));
  }
  const int open = open_streams_.fetch_add(1) + 1;
  int seen = max_open_streams_.load();
  while (open > seen && !max_open_streams_.compare_exchange_weak(seen, open)) {
  }
  return 0;
}

int FakeServer::OnHeader(Connection& c, const nghttp2_frame* frame, std::string_view name,
                         std::string_view value) {
  auto it = c.streams.find(frame->hd.stream_id);
  if (it == c.streams.end()) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  it->second->headers.emplace_back(std::string(name), std::string(value));
  return 0;
}

int FakeServer::OnFrameRecv(Connection& c, const nghttp2_frame* frame) {
  auto it = c.streams.find(frame->hd.stream_id);
  if (it == c.streams.end()) return 0;
  Stream& stream = *it->second;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (on_headers) on_headers(stream);
  }
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    std::lock_guard<std::mutex> lock(mutex_);
    stream.reset_by_client = true;
    stream.client_reset_code = frame->rst_stream.error_code;
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stream.ended = true;
    }
    if (on_end) on_end(stream);
  }
  return 0;
}

int FakeServer::OnDataChunk(Connection& c, int32_t stream_id, const uint8_t* data, size_t length) {
  auto it = c.streams.find(stream_id);
  if (it == c.streams.end()) return 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    it->second->body.append(reinterpret_cast<const char*>(data), length);
    it->second->body_bytes += length;
  }
  if (on_data) on_data(*it->second);
  return 0;
}

int FakeServer::OnStreamClose(Connection& c, int32_t stream_id, uint32_t error_code) {
  auto it = c.streams.find(stream_id);
  if (it == c.streams.end()) return 0;
  Stream& stream = *it->second;
  if (stream.closed) return 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stream.closed = true;
    stream.close_code = error_code;
  }
  open_streams_.fetch_sub(1);
  if (on_close) on_close(stream);
  return 0;
}

int FakeServer::OnFrameSend(Connection& c, const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_DATA) return 0;
  auto it = c.streams.find(frame->hd.stream_id);
  total_data_bytes_sent_.fetch_add(frame->hd.length);
  if (it == c.streams.end()) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  it->second->data_bytes_sent += frame->hd.length;
  return 0;
}

ssize_t FakeServer::OnRead(Connection& c, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags) {
  auto it = c.streams.find(stream_id);
  if (it == c.streams.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Stream& stream = *it->second;
  if (stream.pending_offset == stream.pending.size()) {
    stream.pending.clear();
    stream.pending_offset = 0;
    if (stream.trailers_pending) {
      stream.trailers_pending = false;
      std::vector<nghttp2_nv> nv = ToNv(stream.trailers);
      *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_submit_trailer(c.session, stream_id, nv.data(), nv.size());
      return 0;
    }
    if (stream.end_pending) {
      stream.end_pending = false;
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    stream.data_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (options_.max_data_frame != 0) length = std::min(length, options_.max_data_frame);
  const size_t n = std::min(length, stream.pending.size() - stream.pending_offset);
  std::memcpy(buf, stream.pending.data() + stream.pending_offset, n);
  stream.pending_offset += n;
  return static_cast<ssize_t>(n);
}

namespace {
ssize_t ReadBodyCallback(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                         uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  (void)session;
  Connection& c = ConnectionOf(user_data);
  return c.server->OnRead(c, stream_id, buf, length, data_flags);
}
}  // namespace

void FakeServer::SendHeaders(Stream& stream, codec::HeaderList headers, bool end_stream) {
  Connection& c = *stream.connection;
  if (c.dead || stream.closed) return;
  std::vector<nghttp2_nv> nv = ToNv(headers);
  stream.response_started = true;
  if (end_stream) {
    nghttp2_submit_response(c.session, stream.id, nv.data(), nv.size(), nullptr);
  } else {
    nghttp2_data_provider provider{};
    provider.read_callback = ReadBodyCallback;
    nghttp2_submit_response(c.session, stream.id, nv.data(), nv.size(), &provider);
  }
}

void FakeServer::SendOkHeaders(Stream& stream, codec::HeaderList extra) {
  codec::HeaderList headers = {{":status", "200"}, {"content-type", "application/grpc"}};
  for (auto& h : extra) headers.push_back(std::move(h));
  SendHeaders(stream, std::move(headers));
}

void FakeServer::Resume(Stream& stream) {
  if (stream.data_deferred && !stream.closed && !stream.connection->dead) {
    stream.data_deferred = false;
    nghttp2_session_resume_data(stream.connection->session, stream.id);
  }
}

void FakeServer::SendMessage(Stream& stream, std::string_view payload, bool compressed_flag) {
  SendRaw(stream, Frame(payload, compressed_flag));
}

void FakeServer::SendRaw(Stream& stream, std::string_view bytes) {
  if (!stream.response_started) SendOkHeaders(stream);
  stream.pending.append(bytes);
  Resume(stream);
}

void FakeServer::SendTrailers(Stream& stream, codec::HeaderList trailers) {
  if (!stream.response_started) SendOkHeaders(stream);
  stream.trailers = std::move(trailers);
  stream.trailers_pending = true;
  Resume(stream);
}

void FakeServer::EndWithoutTrailers(Stream& stream) {
  if (!stream.response_started) SendOkHeaders(stream);
  stream.end_pending = true;
  Resume(stream);
}

void FakeServer::SendStatus(Stream& stream, int code, std::string_view message) {
  codec::HeaderList trailers = {{"grpc-status", std::to_string(code)}};
  if (!message.empty()) trailers.emplace_back("grpc-message", std::string(message));
  SendTrailers(stream, std::move(trailers));
}

void FakeServer::Reset(Stream& stream, uint32_t error_code) {
  if (stream.connection->dead || stream.closed) return;
  nghttp2_submit_rst_stream(stream.connection->session, NGHTTP2_FLAG_NONE, stream.id, error_code);
}

void FakeServer::Goaway(Connection& c, uint32_t error_code, int32_t last_stream_id) {
  if (c.dead) return;
  nghttp2_submit_goaway(c.session, NGHTTP2_FLAG_NONE, last_stream_id, error_code, nullptr, 0);
}

}  // namespace h2rpc::testing
