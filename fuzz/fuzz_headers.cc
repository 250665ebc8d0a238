// Fuzzes request and response header validation. The header list is derived from the bytes as
// text: one field per line, the name up to the first space, the value after it (so seeds are
// readable, e.g. ":method POST"). Invariants: no crash; a rejection has a non-OK status with a
// bounded, non-empty message and one of the documented HTTP statuses; an accepted request has a
// well-formed path split and only valid, non-reserved metadata; accepted trailers always carry a
// status with a defined code.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "codec/headers.h"
#include "codec/metadata.h"
#include "codec/timeout.h"
#include "fuzz_check.h"

namespace {

using h2rpc::Status;
using h2rpc::StatusCode;
using namespace h2rpc::codec;

/// Messages quote peer values truncated, so they stay small whatever the input.
constexpr size_t kMaxMessage = 1024;

HeaderList Parse(std::string_view text) {
  HeaderList headers;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      headers.emplace_back(std::string(line), std::string());
    } else {
      headers.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return headers;
}

void CheckError(const Status& status) {
  FUZZ_CHECK(!status.ok());
  FUZZ_CHECK(!status.message().empty());
  FUZZ_CHECK(status.message().size() <= kMaxMessage);
}

void CheckMetadata(const HeaderList& metadata) {
  for (const auto& [key, value] : metadata) {
    FUZZ_CHECK(ValidateMetadataKey(key, /*allow_reserved=*/true).ok());
    FUZZ_CHECK(ValidateMetadataValue(key, value).ok());
    FUZZ_CHECK(!IsReservedHeader(key));
    FUZZ_CHECK(!IsConnectionSpecificHeader(key));
    if (IsBinaryKey(key)) FUZZ_CHECK(DecodeBinaryHeader(value).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const HeaderList headers = Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  FUZZ_CHECK(HeaderListSize(headers) >= headers.size() * kHeaderFieldOverhead);

  const auto request = ValidateRequestHeaders(headers);
  if (const auto* error = std::get_if<RequestError>(&request)) {
    CheckError(error->status);
    const int http = error->http_status;
    FUZZ_CHECK(http == 200 || http == 400 || http == 405 || http == 415);
    if (http != 200) FUZZ_CHECK(error->status.code() == StatusCode::kInternal);
  } else {
    const RequestHead& head = std::get<RequestHead>(request);
    FUZZ_CHECK(!head.service.empty() && !head.method.empty());
    FUZZ_CHECK(head.service.find('/') == std::string::npos);
    FUZZ_CHECK(head.method.find('/') == std::string::npos);
    FUZZ_CHECK(head.path == "/" + head.service + "/" + head.method);
    FUZZ_CHECK(ParsePath(head.path).ok());
    if (head.timeout) FUZZ_CHECK(head.timeout->count() >= 0 && *head.timeout <= kMaxTimeout);
    if (head.encoding) FUZZ_CHECK(*head.encoding != Compression::kIdentity);
    CheckMetadata(head.metadata);
    bool post = false;
    for (const auto& [name, value] : headers) post = post || (name == ":method" && value == "POST");
    FUZZ_CHECK(post);
  }

  for (const bool trailers : {false, true}) {
    const auto response = ValidateResponseHeaders(headers, trailers);
    if (!response.ok()) {
      CheckError(response.status());
      continue;
    }
    if (trailers) {
      FUZZ_CHECK(response->status.has_value());
      FUZZ_CHECK(response->http_status == 0);
    } else {
      FUZZ_CHECK(response->http_status >= 0 && response->http_status <= 999);
      if (!response->status) FUZZ_CHECK(response->http_status == 200);
    }
    if (response->status) {
      FUZZ_CHECK(response->status->error_code() >= 0 && response->status->error_code() <= 16);
    }
    CheckMetadata(response->metadata);
  }
  return 0;
}
