// Tests of codec/status_mapping: HTTP status and HTTP/2 error code → gRPC code.
#include "codec/status_mapping.h"

#include <doctest/doctest.h>

#include <string>

namespace h2rpc::codec {
namespace {

TEST_CASE("HttpStatusToGrpc follows gRPC's http-grpc-status-mapping table") {
  struct Case {
    int http;
    StatusCode want;
  };
  const Case cases[] = {
      {400, StatusCode::kInternal},         {401, StatusCode::kUnauthenticated},
      {403, StatusCode::kPermissionDenied}, {404, StatusCode::kUnimplemented},
      {429, StatusCode::kUnavailable},      {502, StatusCode::kUnavailable},
      {503, StatusCode::kUnavailable},      {504, StatusCode::kUnavailable},
      {200, StatusCode::kUnknown},          {100, StatusCode::kUnknown},
      {302, StatusCode::kUnknown},          {405, StatusCode::kUnknown},
      {415, StatusCode::kUnknown},          {500, StatusCode::kUnknown},
      {505, StatusCode::kUnknown},          {0, StatusCode::kUnknown},
      {-1, StatusCode::kUnknown},           {999, StatusCode::kUnknown},
  };
  for (const Case& c : cases) {
    CAPTURE(c.http);
    CHECK(HttpStatusToGrpc(c.http) == c.want);
  }
}

TEST_CASE("Http2ErrorToGrpc maps RST_STREAM codes as the client reports them") {
  struct Case {
    uint32_t code;
    StatusCode want;
    const char* name;
  };
  const Case cases[] = {
      {kHttp2NoError, StatusCode::kInternal, "NO_ERROR"},
      {kHttp2ProtocolError, StatusCode::kInternal, "PROTOCOL_ERROR"},
      {kHttp2InternalError, StatusCode::kInternal, "INTERNAL_ERROR"},
      {kHttp2FlowControlError, StatusCode::kInternal, "FLOW_CONTROL_ERROR"},
      {kHttp2SettingsTimeout, StatusCode::kInternal, "SETTINGS_TIMEOUT"},
      {kHttp2StreamClosed, StatusCode::kInternal, "STREAM_CLOSED"},
      {kHttp2FrameSizeError, StatusCode::kInternal, "FRAME_SIZE_ERROR"},
      {kHttp2RefusedStream, StatusCode::kUnavailable, "REFUSED_STREAM"},
      {kHttp2Cancel, StatusCode::kCancelled, "CANCEL"},
      {kHttp2CompressionError, StatusCode::kInternal, "COMPRESSION_ERROR"},
      {kHttp2ConnectError, StatusCode::kInternal, "CONNECT_ERROR"},
      {kHttp2EnhanceYourCalm, StatusCode::kResourceExhausted, "ENHANCE_YOUR_CALM"},
      {kHttp2InadequateSecurity, StatusCode::kPermissionDenied, "INADEQUATE_SECURITY"},
      {kHttp2Http11Required, StatusCode::kInternal, "HTTP_1_1_REQUIRED"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.code);
    CHECK(Http2ErrorToGrpc(c.code) == c.want);
    CHECK(std::string(Http2ErrorName(c.code)) == c.name);
    CHECK(Http2ErrorString(c.code) == c.name);
  }
}

TEST_CASE("Unknown HTTP/2 error codes") {
  for (const uint32_t code : {0xeu, 0x1fu, 0xffffffffu}) {
    CAPTURE(code);
    CHECK(Http2ErrorToGrpc(code) == StatusCode::kInternal);
    CHECK(std::string(Http2ErrorName(code)) == "UNKNOWN_HTTP2_ERROR");
  }
  CHECK(Http2ErrorString(0xe) == "0xe");
  CHECK(Http2ErrorString(0x1f) == "0x1f");
  CHECK(Http2ErrorString(0xffffffff) == "0xffffffff");
}

}  // namespace
}  // namespace h2rpc::codec
