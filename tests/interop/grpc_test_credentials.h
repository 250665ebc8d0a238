// Where to find gRPC's interop test credentials: the CA every gRPC interop client trusts with
// --use_test_ca (ca.pem, "testca") and the server pair signed by it (server1.pem, server1.key;
// *.test.google.fr and more), which every gRPC interop server presents for a bare
// --use_tls=true. Interop drivers start servers and clients with just those flags.
//
// They are gRPC's files, not ours to ship: they are looked up in $H2RPC_INTEROP_TEST_CREDS (a
// directory), then where Debian's golang-google-grpc-dev installs grpc-go's copy.
// Header-only and dependency-free, so the grpc++ peers use it too.
#pragma once

#include <sys/stat.h>
#include <cstdlib>
#include <string>
#include <utility>

namespace grpc_test_credentials {

inline constexpr const char* kDebianDir = "/usr/share/gocode/src/google.golang.org/grpc/testdata";

/// The directories searched, in order, as one string for messages.
inline std::string SearchedDirs() {
  const char* env = std::getenv("H2RPC_INTEROP_TEST_CREDS");
  return (env != nullptr && *env != '\0' ? std::string(env) + ", " : std::string()) + kDebianDir;
}

/// The path of `file` ("ca.pem", "server1.pem", "server1.key") in the first directory that has
/// it, or "" when none does.
inline std::string Find(const std::string& file) {
  const char* env = std::getenv("H2RPC_INTEROP_TEST_CREDS");
  for (std::string dir : {std::string(env != nullptr ? env : ""), std::string(kDebianDir)}) {
    if (dir.empty()) continue;
    const std::string path = dir + "/" + file;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
  }
  return "";
}

/// The server's certificate and key files: the flags' (both or neither), or else gRPC's test
/// pair. Empty, with `why`, when the flags disagree or the pair is not found.
inline std::pair<std::string, std::string> ServerPair(const std::string& cert_flag,
                                                      const std::string& key_flag,
                                                      std::string* why) {
  if (cert_flag.empty() != key_flag.empty()) {
    *why = "--tls_cert_file and --tls_key_file go together";
    return {};
  }
  if (!cert_flag.empty()) return {cert_flag, key_flag};
  std::pair<std::string, std::string> pair{Find("server1.pem"), Find("server1.key")};
  if (pair.first.empty() || pair.second.empty()) {
    *why =
        "--use_tls=true without --tls_cert_file/--tls_key_file uses gRPC's test pair "
        "(server1.pem, server1.key), not found in " +
        SearchedDirs() + " (Debian: apt-get install golang-google-grpc-dev)";
    return {};
  }
  return pair;
}

}  // namespace grpc_test_credentials
