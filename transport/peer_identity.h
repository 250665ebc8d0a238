// PeerIdentity: who is on the other end of a TLS connection, as its verified certificate says.
//
// Plain data, installed with the public headers: rpc/server_context.h hands it to handlers.
#pragma once

#include <string>
#include <vector>

namespace h2rpc::transport {

struct PeerIdentity {
  /// True on a TLS connection (false on plaintext: every other field is then empty).
  bool tls = false;
  /// True when the peer presented a certificate and it was verified against the trusted roots.
  /// A certificate accepted without verification (a "don't verify" mode) leaves this false.
  bool authenticated = false;
  /// Negotiated protocol: "TLSv1.2" or "TLSv1.3".
  std::string tls_version;
  /// The handshake resumed an earlier session (a ticket): no certificate was sent on this
  /// connection; the fields below are those verified when the session began.
  bool session_reused = false;
  /// Subject of the peer's certificate in RFC 2253 form ("CN=client,O=example"); empty if none.
  std::string subject;
  /// Subject alternative names of the peer's certificate, by kind.
  std::vector<std::string> dns_sans;
  std::vector<std::string> uri_sans;
  std::vector<std::string> ip_sans;  // "127.0.0.1", "::1"
};

}  // namespace h2rpc::transport
