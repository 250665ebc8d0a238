// h2rpc-floor-idle: the idle RSS floor of a server program, with no RPC in it. It links what
// every protobuf server on this machine links (libprotobuf, libstdc++, libc), checks the protobuf
// version (so the library is loaded and initialised, as in any program using it), starts one
// thread, prints "ready" and waits for stdin to close.
//
// Whatever a dynamically linked server does, its idle RSS includes the pages of these shared
// libraries that loading and initialising them maps; bench/compare.py reports this program's
// RSS next to the servers' so that the part each RPC stack adds can be read off.

#include <google/protobuf/stubs/common.h>

#include <cstdio>
#include <thread>

int main() {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  std::thread waiter([] {
    while (std::fgetc(stdin) != EOF) {
    }
  });
  std::puts("ready");
  std::fflush(stdout);
  waiter.join();
  return 0;
}
