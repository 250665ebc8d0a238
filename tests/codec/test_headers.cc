// Tests of codec/headers: request and response header block validation.
#include "codec/headers.h"

#include <doctest/doctest.h>

#include <string>

#include "codec/metadata.h"

namespace h2rpc::codec {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

HeaderList GoodRequest() {
  return {
      {":method", "POST"},
      {":scheme", "http"},
      {":path", "/helloworld.Greeter/SayHello"},
      {":authority", "localhost:50051"},
      {"content-type", "application/grpc"},
      {"te", "trailers"},
      {"user-agent", "grpc-go/1.56"},
      {"grpc-timeout", "250m"},
      {"grpc-encoding", "gzip"},
      {"grpc-accept-encoding", "identity,gzip"},
      {"x-user", "alice"},
      {"trace-bin", "AAEC"},
      {"grpc-trace-bin", "AAEC"},
  };
}

/// GoodRequest with header `name` replaced by `value` (or removed if `value` is nullptr).
HeaderList With(HeaderList headers, const std::string& name, const char* value) {
  for (auto it = headers.begin(); it != headers.end(); ++it) {
    if (it->first != name) continue;
    if (value == nullptr) {
      headers.erase(it);
    } else {
      it->second = value;
    }
    return headers;
  }
  if (value != nullptr) headers.emplace_back(name, value);
  return headers;
}

RequestError ExpectError(const HeaderList& headers) {
  const auto result = ValidateRequestHeaders(headers);
  REQUIRE(std::holds_alternative<RequestError>(result));
  const RequestError& error = std::get<RequestError>(result);
  CHECK_FALSE(error.status.ok());
  CHECK_FALSE(error.status.message().empty());
  // The server's in-place form decides the same way.
  RequestHead head;
  const std::optional<RequestError> in_place = ValidateRequestHeaders(headers, head);
  REQUIRE(in_place.has_value());
  CHECK(in_place->http_status == error.http_status);
  CHECK(in_place->status.code() == error.status.code());
  CHECK(in_place->status.message() == error.status.message());
  return error;
}

TEST_CASE("HeaderListSize sums name + value + 32 per field") {
  CHECK(HeaderListSize({}) == 0);
  CHECK(HeaderListSize({{"a", "bc"}, {":path", "/x"}}) == 35 + 39);
}

TEST_CASE("ParsePath") {
  struct Good {
    const char* path;
    const char* service;
    const char* method;
  };
  const Good good[] = {
      {"/helloworld.Greeter/SayHello", "helloworld.Greeter", "SayHello"},
      {"/S/M", "S", "M"},
      {"/a.b.c.D/e_f", "a.b.c.D", "e_f"},
  };
  for (const Good& g : good) {
    CAPTURE(g.path);
    const auto parts = ParsePath(g.path);
    REQUIRE(parts.ok());
    CHECK(parts->first == g.service);
    CHECK(parts->second == g.method);
  }
  for (const char* bad : {"", "/", "//", "Svc/M", "//Svc/M", "/Svc/", "/Svc/M/x", "/Svc", "/Svc//M",
                          "///", "/S/M/", "S/M/"}) {
    CAPTURE(bad);
    const auto parts = ParsePath(bad);
    REQUIRE_FALSE(parts.ok());
    CHECK(parts.status().code() == StatusCode::kUnimplemented);
    CHECK(parts.status().message().find("\"" + std::string(bad) + "\"") != std::string::npos);
  }
  CHECK(ParsePath("//Svc/M").status().message() ==
        "malformed method name: \"//Svc/M\" (expected \"/package.Service/Method\")");
}

TEST_CASE("IsGrpcContentType") {
  for (const char* yes : {"application/grpc", "application/grpc+proto", "application/grpc+json",
                          "application/grpc;charset=utf-8", "Application/GRPC", "application/grpc+",
                          "application/grpc;"}) {
    CAPTURE(yes);
    CHECK(IsGrpcContentType(yes));
  }
  for (const char* no :
       {"", "application/json", "application/grpc-web", "application/grp", "application/grpcx",
        " application/grpc", "text/html", "application/grpc-web+proto"}) {
    CAPTURE(no);
    CHECK_FALSE(IsGrpcContentType(no));
  }
}

TEST_CASE("A good request yields its head") {
  const auto result = ValidateRequestHeaders(GoodRequest());
  REQUIRE(std::holds_alternative<RequestHead>(result));
  const RequestHead& head = std::get<RequestHead>(result);
  CHECK(head.path == "/helloworld.Greeter/SayHello");
  CHECK(head.service == "helloworld.Greeter");
  CHECK(head.method == "SayHello");
  REQUIRE(head.timeout.has_value());
  CHECK(*head.timeout == milliseconds(250));
  CHECK(head.encoding == Compression::kGzip);
  CHECK(head.accept_encoding == "identity,gzip");
  CHECK(head.authority == "localhost:50051");
  CHECK(head.user_agent == "grpc-go/1.56");
  const HeaderList want_metadata = {
      {"x-user", "alice"}, {"trace-bin", "AAEC"}, {"grpc-trace-bin", "AAEC"}};
  CHECK(head.metadata == want_metadata);

  RequestHead in_place;
  REQUIRE_FALSE(ValidateRequestHeaders(GoodRequest(), in_place).has_value());
  CHECK(in_place.path == head.path);
  CHECK(in_place.service == head.service);
  CHECK(in_place.method == head.method);
  CHECK(in_place.timeout == head.timeout);
  CHECK(in_place.encoding == head.encoding);
  CHECK(in_place.accept_encoding == head.accept_encoding);
  CHECK(in_place.authority == head.authority);
  CHECK(in_place.user_agent == head.user_agent);
  CHECK(in_place.metadata == head.metadata);
}

TEST_CASE("A minimal request: no authority, te, timeout or encoding") {
  const HeaderList headers = {{":method", "POST"},
                              {":scheme", "https"},
                              {":path", "/S/M"},
                              {"content-type", "application/grpc+proto"}};
  const auto result = ValidateRequestHeaders(headers);
  REQUIRE(std::holds_alternative<RequestHead>(result));
  const RequestHead& head = std::get<RequestHead>(result);
  CHECK_FALSE(head.timeout.has_value());
  CHECK_FALSE(head.encoding.has_value());
  CHECK(head.authority.empty());
  CHECK(head.metadata.empty());
}

TEST_CASE("Request field details") {
  SUBCASE("identity encoding is no encoding") {
    const auto result = ValidateRequestHeaders(With(GoodRequest(), "grpc-encoding", "identity"));
    REQUIRE(std::holds_alternative<RequestHead>(result));
    CHECK_FALSE(std::get<RequestHead>(result).encoding.has_value());
  }
  SUBCASE("deflate") {
    const auto result = ValidateRequestHeaders(With(GoodRequest(), "grpc-encoding", "deflate"));
    REQUIRE(std::holds_alternative<RequestHead>(result));
    CHECK(std::get<RequestHead>(result).encoding == Compression::kDeflate);
  }
  SUBCASE("0n is a zero timeout, for the caller to treat as expired") {
    const auto result = ValidateRequestHeaders(With(GoodRequest(), "grpc-timeout", "0n"));
    REQUIRE(std::holds_alternative<RequestHead>(result));
    CHECK(std::get<RequestHead>(result).timeout == nanoseconds(0));
  }
  SUBCASE("repeated grpc-accept-encoding and user-agent are joined") {
    HeaderList headers = GoodRequest();
    headers.emplace_back("grpc-accept-encoding", "deflate");
    headers.emplace_back("user-agent", "extra/1");
    const auto result = ValidateRequestHeaders(headers);
    REQUIRE(std::holds_alternative<RequestHead>(result));
    CHECK(std::get<RequestHead>(result).accept_encoding == "identity,gzip,deflate");
    CHECK(std::get<RequestHead>(result).user_agent == "grpc-go/1.56, extra/1");
  }
  SUBCASE("reserved headers that mean nothing in a request are not metadata") {
    HeaderList headers = GoodRequest();
    headers.emplace_back("grpc-status", "0");
    headers.emplace_back("grpc-message", "hi");
    const auto result = ValidateRequestHeaders(headers);
    REQUIRE(std::holds_alternative<RequestHead>(result));
    CHECK(std::get<RequestHead>(result).metadata.size() == 3);
  }
  SUBCASE("-bin metadata may carry several comma-separated values") {
    const auto result = ValidateRequestHeaders(With(GoodRequest(), "trace-bin", "AAEC,AQ=="));
    REQUIRE(std::holds_alternative<RequestHead>(result));
  }
}

TEST_CASE("te policy: missing or wrong te is accepted") {
  for (const char* te : {static_cast<const char*>(nullptr), "gzip", "", "trailers, deflate"}) {
    CAPTURE((te ? te : "(missing)"));
    const auto result = ValidateRequestHeaders(With(GoodRequest(), "te", te));
    CHECK(std::holds_alternative<RequestHead>(result));
  }
}

TEST_CASE("Request errors: status code, HTTP status and message") {
  struct Case {
    const char* name;
    HeaderList headers;
    int http_status;
    StatusCode code;
    const char* message;
  };
  HeaderList pseudo_late = GoodRequest();
  pseudo_late.emplace_back(":extra", "x");
  HeaderList path_late = With(GoodRequest(), ":path", nullptr);
  path_late.emplace_back(":path", "/S/M");
  HeaderList dup_method = GoodRequest();
  dup_method.insert(dup_method.begin(), {":method", "POST"});
  HeaderList unknown_pseudo = GoodRequest();
  unknown_pseudo.insert(unknown_pseudo.begin(), {":protocol", "websocket"});
  HeaderList dup_content_type = GoodRequest();
  dup_content_type.emplace_back("content-type", "application/grpc");
  HeaderList dup_timeout = GoodRequest();
  dup_timeout.emplace_back("grpc-timeout", "1S");
  const Case cases[] = {
      {"GET", With(GoodRequest(), ":method", "GET"), 405, StatusCode::kInternal,
       "method \"GET\" not allowed: gRPC uses POST"},
      {"lower-case post", With(GoodRequest(), ":method", "post"), 405, StatusCode::kInternal,
       "method \"post\" not allowed: gRPC uses POST"},
      {"missing :method", With(GoodRequest(), ":method", nullptr), 400, StatusCode::kInternal,
       "missing :method"},
      {"missing :scheme", With(GoodRequest(), ":scheme", nullptr), 400, StatusCode::kInternal,
       "missing :scheme"},
      {"bad :scheme", With(GoodRequest(), ":scheme", "ftp"), 400, StatusCode::kInternal,
       "unsupported :scheme \"ftp\""},
      {"missing :path", With(GoodRequest(), ":path", nullptr), 400, StatusCode::kInternal,
       "missing :path"},
      {"pseudo-header after regular", pseudo_late, 400, StatusCode::kInternal,
       "pseudo-header \":extra\" after a regular header"},
      {":path after regular", path_late, 400, StatusCode::kInternal,
       "pseudo-header \":path\" after a regular header"},
      {"repeated :method", dup_method, 400, StatusCode::kInternal,
       "repeated pseudo-header :method"},
      {"unknown pseudo-header", unknown_pseudo, 400, StatusCode::kInternal,
       "unexpected pseudo-header \":protocol\" in a request"},
      {"repeated content-type", dup_content_type, 400, StatusCode::kInternal,
       "repeated header content-type"},
      {"repeated grpc-timeout", dup_timeout, 400, StatusCode::kInternal,
       "repeated header grpc-timeout"},
      {"connection", With(GoodRequest(), "connection", "keep-alive"), 400, StatusCode::kInternal,
       "connection-specific header \"connection\" is not allowed in HTTP/2"},
      {"keep-alive", With(GoodRequest(), "keep-alive", "5"), 400, StatusCode::kInternal,
       "connection-specific header \"keep-alive\" is not allowed in HTTP/2"},
      {"proxy-connection", With(GoodRequest(), "proxy-connection", "x"), 400, StatusCode::kInternal,
       "connection-specific header \"proxy-connection\" is not allowed in HTTP/2"},
      {"transfer-encoding", With(GoodRequest(), "transfer-encoding", "chunked"), 400,
       StatusCode::kInternal,
       "connection-specific header \"transfer-encoding\" is not allowed in HTTP/2"},
      {"upgrade", With(GoodRequest(), "upgrade", "h2c"), 400, StatusCode::kInternal,
       "connection-specific header \"upgrade\" is not allowed in HTTP/2"},
      {"missing content-type", With(GoodRequest(), "content-type", nullptr), 415,
       StatusCode::kInternal, "missing content-type"},
      {"json content-type", With(GoodRequest(), "content-type", "application/json"), 415,
       StatusCode::kInternal, "invalid gRPC request content-type \"application/json\""},
      {"grpc-web", With(GoodRequest(), "content-type", "application/grpc-web"), 415,
       StatusCode::kInternal, "invalid gRPC request content-type \"application/grpc-web\""},
      {"+json subtype", With(GoodRequest(), "content-type", "application/grpc+json"), 200,
       StatusCode::kInternal, "unsupported content-subtype \"json\" (only proto)"},
      {"empty :path", With(GoodRequest(), ":path", ""), 200, StatusCode::kUnimplemented,
       "malformed method name: \"\" (expected \"/package.Service/Method\")"},
      {"/ :path", With(GoodRequest(), ":path", "/"), 200, StatusCode::kUnimplemented,
       "malformed method name: \"/\" (expected \"/package.Service/Method\")"},
      {"Svc/M", With(GoodRequest(), ":path", "Svc/M"), 200, StatusCode::kUnimplemented,
       "malformed method name: \"Svc/M\" (expected \"/package.Service/Method\")"},
      {"//Svc/M", With(GoodRequest(), ":path", "//Svc/M"), 200, StatusCode::kUnimplemented,
       "malformed method name: \"//Svc/M\" (expected \"/package.Service/Method\")"},
      {"unsupported grpc-encoding", With(GoodRequest(), "grpc-encoding", "br"), 200,
       StatusCode::kUnimplemented,
       "grpc-encoding \"br\" is not supported; supported: identity,deflate,gzip"},
      {"malformed grpc-timeout", With(GoodRequest(), "grpc-timeout", "1x"), 200,
       StatusCode::kInternal, "invalid grpc-timeout \"1x\": unknown unit (expected H M S m u n)"},
      {"empty grpc-timeout", With(GoodRequest(), "grpc-timeout", ""), 200, StatusCode::kInternal,
       "invalid grpc-timeout \"\": empty value"},
      {"upper-case metadata key", With(GoodRequest(), "X-User", "bob"), 200, StatusCode::kInternal,
       "metadata key \"X-User\" has an illegal character at offset 0 (allowed: 0-9 a-z _ - .)"},
      {"non-ASCII metadata value", With(GoodRequest(), "x-user", "\xC3\xA9"), 200,
       StatusCode::kInternal,
       "metadata value of \"x-user\" has a non-printable or non-ASCII byte at offset 0 (use a "
       "-bin key for binary values)"},
      {"bad base64 in -bin", With(GoodRequest(), "trace-bin", "A"), 200, StatusCode::kInternal,
       "metadata value of \"trace-bin\": invalid base64: length 1 is impossible (element 0)"},
      {"empty header name", With(GoodRequest(), "", "x"), 200, StatusCode::kInternal,
       "metadata key is empty"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const RequestError error = ExpectError(c.headers);
    CHECK(error.http_status == c.http_status);
    CHECK(error.status.code() == c.code);
    CHECK(error.status.message() == c.message);
  }
}

TEST_CASE("Request error precedence: HTTP-level problems win over gRPC-level ones") {
  HeaderList headers = With(GoodRequest(), ":method", "GET");
  headers = With(headers, "content-type", "text/html");
  headers = With(headers, ":path", "bad");
  CHECK(ExpectError(headers).http_status == 405);
  headers = With(headers, ":method", "POST");
  CHECK(ExpectError(headers).http_status == 415);
  headers = With(headers, "content-type", "application/grpc");
  const RequestError path_error = ExpectError(With(headers, "x-Bad", "v"));
  CHECK(path_error.http_status == 200);
  CHECK(path_error.status.code() == StatusCode::kUnimplemented);
  headers = With(headers, ":path", "/S/M");
  const RequestError metadata_error = ExpectError(With(headers, "x-Bad", "v"));
  CHECK(metadata_error.status.code() == StatusCode::kInternal);
  CHECK(metadata_error.status.message().find("x-Bad") != std::string::npos);
}

TEST_CASE("Hostile values are quoted and truncated in messages") {
  const std::string long_path = "/" + std::string(1000, 'a');
  const RequestError error = ExpectError(With(GoodRequest(), ":path", long_path.c_str()));
  CHECK(error.status.code() == StatusCode::kUnimplemented);
  CHECK(error.status.message().size() < 200);
  const RequestError binary = ExpectError(With(GoodRequest(), ":method", "G\nET"));
  CHECK(binary.status.message() == "method \"G\\x0AET\" not allowed: gRPC uses POST");
}

// ---- Responses ----

HeaderList GoodResponseHeaders() {
  return {{":status", "200"},        {"content-type", "application/grpc"},
          {"grpc-encoding", "gzip"}, {"grpc-accept-encoding", "identity,deflate"},
          {"x-server", "h2rpc"},     {"blob-bin", "AAEC"}};
}

TEST_CASE("Response headers") {
  const auto head = ValidateResponseHeaders(GoodResponseHeaders(), false);
  REQUIRE(head.ok());
  CHECK(head->http_status == 200);
  CHECK(head->encoding == Compression::kGzip);
  CHECK(head->accept_encoding == "identity,deflate");
  CHECK_FALSE(head->status.has_value());
  const HeaderList want = {{"x-server", "h2rpc"}, {"blob-bin", "AAEC"}};
  CHECK(head->metadata == want);
  const auto identity = ValidateResponseHeaders(
      {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-encoding", "identity"}},
      false);
  REQUIRE(identity.ok());
  CHECK_FALSE(identity->encoding.has_value());
}

TEST_CASE("Trailers carry the status; grpc-message is percent-decoded") {
  const auto trailers = ValidateResponseHeaders(
      {{"grpc-status", "5"}, {"grpc-message", "not%20found: caf%C3%A9 %zz"}, {"x-t", "1"}}, true);
  REQUIRE(trailers.ok());
  REQUIRE(trailers->status.has_value());
  CHECK(trailers->status->code() == StatusCode::kNotFound);
  CHECK(trailers->status->message() == "not found: caf\xC3\xA9 %zz");
  CHECK(trailers->status->details().empty());
  CHECK(trailers->http_status == 0);
  CHECK(trailers->metadata == HeaderList{{"x-t", "1"}});
  const auto ok = ValidateResponseHeaders({{"grpc-status", "0"}}, true);
  REQUIRE(ok.ok());
  CHECK(*ok->status == Status::Ok());
}

TEST_CASE("grpc-status-details-bin is base64-decoded into the status details") {
  for (const char* encoded : {"CAUSBm5vcGUh", "CAUSBm5vcGUh"}) {
    const auto trailers = ValidateResponseHeaders(
        {{"grpc-status", "5"}, {"grpc-message", "nope!"}, {"grpc-status-details-bin", encoded}},
        true);
    REQUIRE(trailers.ok());
    CHECK(trailers->status->details() == "\x08\x05\x12\x06nope!");
  }
  const auto padded =
      ValidateResponseHeaders({{"grpc-status", "3"}, {"grpc-status-details-bin", "Zg=="}}, true);
  REQUIRE(padded.ok());
  CHECK(padded->status->details() == "f");
  const auto bad =
      ValidateResponseHeaders({{"grpc-status", "3"}, {"grpc-status-details-bin", "!!!"}}, true);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInternal);
  CHECK(bad.status().message().find("grpc-status-details-bin") != std::string::npos);
}

TEST_CASE("Malformed or missing grpc-status is UNKNOWN") {
  struct Case {
    const char* value;
    StatusCode code;
  };
  const Case cases[] = {
      {"", StatusCode::kUnknown},           {"abc", StatusCode::kUnknown},
      {"-1", StatusCode::kUnknown},         {"+1", StatusCode::kUnknown},
      {" 1", StatusCode::kUnknown},         {"1.0", StatusCode::kUnknown},
      {"17", StatusCode::kUnknown},         {"99999999999999999999999", StatusCode::kUnknown},
      {"16", StatusCode::kUnauthenticated}, {"007", StatusCode::kPermissionDenied},
  };
  for (const Case& c : cases) {
    CAPTURE(c.value);
    const auto trailers = ValidateResponseHeaders({{"grpc-status", c.value}}, true);
    REQUIRE(trailers.ok());
    REQUIRE(trailers->status.has_value());
    CHECK(trailers->status->code() == c.code);
  }
  const auto malformed =
      ValidateResponseHeaders({{"grpc-status", "abc"}, {"grpc-message", "boom"}}, true);
  CHECK(malformed->status->message() == "malformed grpc-status \"abc\": boom");
  const auto missing = ValidateResponseHeaders({{"x-only", "metadata"}}, true);
  REQUIRE(missing.ok());
  CHECK(missing->status->code() == StatusCode::kUnknown);
  CHECK(missing->status->message() == "trailers without grpc-status");
}

TEST_CASE("Trailers-Only responses") {
  const auto head = ValidateResponseHeaders({{":status", "200"},
                                             {"content-type", "application/grpc"},
                                             {"grpc-status", "12"},
                                             {"grpc-message", "unknown method"}},
                                            false);
  REQUIRE(head.ok());
  REQUIRE(head->status.has_value());
  CHECK(head->status->code() == StatusCode::kUnimplemented);
  CHECK(head->status->message() == "unknown method");
  // A non-200 status with grpc-status: the server said what happened, trust it.
  const auto with_415 = ValidateResponseHeaders(
      {{":status", "415"}, {"grpc-status", "13"}, {"grpc-message", "bad content-type"}}, false);
  REQUIRE(with_415.ok());
  CHECK(with_415->http_status == 415);
  CHECK(with_415->status->code() == StatusCode::kInternal);
}

TEST_CASE("Non-200 without grpc-status maps through HttpStatusToGrpc") {
  struct Case {
    const char* status;
    StatusCode code;
  };
  const Case cases[] = {
      {"503", StatusCode::kUnavailable},     {"502", StatusCode::kUnavailable},
      {"429", StatusCode::kUnavailable},     {"404", StatusCode::kUnimplemented},
      {"401", StatusCode::kUnauthenticated}, {"403", StatusCode::kPermissionDenied},
      {"400", StatusCode::kInternal},        {"500", StatusCode::kUnknown},
      {"302", StatusCode::kUnknown},
  };
  for (const Case& c : cases) {
    CAPTURE(c.status);
    const auto head =
        ValidateResponseHeaders({{":status", c.status}, {"content-type", "text/html"}}, false);
    REQUIRE_FALSE(head.ok());
    CHECK(head.status().code() == c.code);
    CHECK(head.status().message() ==
          std::string("unexpected HTTP status code received from server: ") + c.status);
  }
}

TEST_CASE("Response header errors") {
  struct Case {
    const char* name;
    HeaderList headers;
    bool trailers;
    StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {"missing :status",
       {{"content-type", "application/grpc"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: missing :status"},
      {"bad :status",
       {{":status", "2000"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: :status \"2000\""},
      {"non-digit :status",
       {{":status", "2x0"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: :status \"2x0\""},
      {"repeated :status",
       {{":status", "200"}, {":status", "200"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: repeated :status"},
      {"request pseudo-header",
       {{":status", "200"}, {":path", "/x"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: unexpected pseudo-header \":path\" in a response"},
      {"pseudo after regular",
       {{"content-type", "application/grpc"}, {":status", "200"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: pseudo-header \":status\" after a regular header"},
      {"pseudo-header in trailers",
       {{"grpc-status", "0"}, {":status", "200"}},
       true,
       StatusCode::kInternal,
       "malformed response headers: pseudo-header \":status\" in trailers"},
      {"connection-specific",
       {{":status", "200"}, {"connection", "close"}},
       false,
       StatusCode::kInternal,
       "malformed response headers: connection-specific header \"connection\""},
      {"repeated grpc-status",
       {{"grpc-status", "0"}, {"grpc-status", "1"}},
       true,
       StatusCode::kInternal,
       "malformed response headers: repeated grpc-status"},
      {"missing content-type",
       {{":status", "200"}},
       false,
       StatusCode::kUnknown,
       "response has no content-type"},
      {"wrong content-type",
       {{":status", "200"}, {"content-type", "text/html"}},
       false,
       StatusCode::kUnknown,
       "unexpected response content-type \"text/html\""},
      {"unsupported grpc-encoding",
       {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-encoding", "br"}},
       false,
       StatusCode::kInternal,
       "response grpc-encoding \"br\" is not supported; supported: identity,deflate,gzip"},
      {"bad metadata key",
       {{"grpc-status", "0"}, {"Bad", "x"}},
       true,
       StatusCode::kInternal,
       "metadata key \"Bad\" has an illegal character at offset 0 (allowed: 0-9 a-z _ - .)"},
      {"bad -bin value",
       {{"grpc-status", "0"}, {"x-bin", "@@@@"}},
       true,
       StatusCode::kInternal,
       "metadata value of \"x-bin\": invalid base64: illegal character at offset 0 (element 0)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto head = ValidateResponseHeaders(c.headers, c.trailers);
    REQUIRE_FALSE(head.ok());
    CHECK(head.status().code() == c.code);
    CHECK(head.status().message() == c.message);
  }
}

TEST_CASE("Round trip: metadata encoded for sending validates on receipt") {
  const HeaderList user = {{"x-a", "plain value"}, {"x-b-bin", std::string("\0\xFF\n,", 4)}};
  HeaderList wire = {{":status", "200"}, {"content-type", "application/grpc"}};
  for (const auto& [key, value] : user) {
    REQUIRE(ValidateMetadataKey(key).ok());
    REQUIRE(ValidateMetadataValue(key, value).ok());
    wire.emplace_back(key, EncodeMetadataValue(key, value));
  }
  const auto head = ValidateResponseHeaders(wire, false);
  REQUIRE(head.ok());
  REQUIRE(head->metadata.size() == 2);
  CHECK(head->metadata[0].second == "plain value");
  CHECK(*DecodeBinaryHeader(head->metadata[1].second) ==
        std::vector<std::string>{std::string("\0\xFF\n,", 4)});
}

}  // namespace
}  // namespace h2rpc::codec
