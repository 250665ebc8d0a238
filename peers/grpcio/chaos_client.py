"""A grpcio client that treats a bench.Bench server (shared/bench/bench.proto) the way a busy
real client does, as peers/grpcgo/chaos_client and peers/grpcjs/chaos_client.js do: many calls in
flight over two connections, all four call kinds, message sizes from 0 B to 4 MiB, deadlines of
5 ms, 50 ms and 5 s, and random cancels, through gRPC's C core as Python programs use it. Every
call must end OK, CANCELLED or DEADLINE_EXCEEDED, and every OK reply must carry exactly what was
sent; anything else fails the run, and so does a call still open 30 s after it started.
With --server_stops=true calls may also end UNAVAILABLE (the server is stopped during the run);
with --server_goaways=true (a server with max_connection_age) only with details that name the
GOAWAY: a call the client chose not to retry elsewhere. A reset or a broken pipe still fails.

  grpcio-chaos-client --target=HOST:PORT [--calls=N] [--seed=N] [--server_stops=true]
                      [--server_goaways=true]

Prints one JSON line of outcome counts; exit status 1 on any unexpected outcome.
"""

import json
import os
import sys
import threading
import time
from collections import Counter
from concurrent import futures

import grpc
import bench_pb2
import bench_pb2_grpc

from interop_common import parse_flags

IN_FLIGHT = 100
MAX_MESSAGE = 8 << 20
STUCK_AFTER_S = 30
SIZES = (0, 1, 64, 1000, 70000, 1 << 20, 4 << 20)
DEADLINES_S = (0.005, 0.05, 5.0)
KINDS = ("unary", "stream_out", "stream_in", "echo")
MASK64 = (1 << 64) - 1


class CallRandom:
    """One call's choices (splitmix64 over seed and call index, as the Go client), so the mix
    does not depend on how the threads interleave."""

    def __init__(self, seed, index):
        self.state = (seed * 0x100000001b3 + index) & MASK64

    def next(self, n):
        self.state = (self.state + 0x9e3779b97f4a7c15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK64
        z ^= z >> 31
        return z % n


class Chaos:
    def __init__(self, target, seed, server_stops, server_goaways=False):
        options = [("grpc.max_send_message_length", MAX_MESSAGE),
                   ("grpc.max_receive_message_length", MAX_MESSAGE),
                   ("grpc.use_local_subchannel_pool", 1)]  # two channels, two connections
        self.channels = [grpc.insecure_channel(target, options) for _ in range(2)]
        self.stubs = [bench_pb2_grpc.BenchStub(c) for c in self.channels]
        self.seed = seed
        self.expected = {grpc.StatusCode.OK, grpc.StatusCode.CANCELLED,
                         grpc.StatusCode.DEADLINE_EXCEEDED}
        if server_stops:
            self.expected.add(grpc.StatusCode.UNAVAILABLE)
        self.server_goaways = server_goaways
        self.lock = threading.Lock()
        self.counts = Counter()
        self.unexpected = []
        self.open = {}  # call index -> (description, start time)

    def record(self, kind, code, details, content_ok):
        name = f"{kind} {code.name}" + ("" if content_ok else " (wrong content)")
        expected = code in self.expected or (
            self.server_goaways and code == grpc.StatusCode.UNAVAILABLE and "GOAWAY" in details)
        with self.lock:
            self.counts[name] += 1
            if (not expected or not content_ok) and len(self.unexpected) < 10:
                self.unexpected.append(f"{name}: {details}")

    def one_call(self, i):
        r = CallRandom(self.seed, i)
        stub = self.stubs[i % len(self.stubs)]
        size = SIZES[r.next(len(SIZES))]
        deadline = DEADLINES_S[r.next(len(DEADLINES_S))]
        cancel_after_ms = r.next(5) if r.next(4) == 0 else -1  # a quarter get cancelled
        kind = KINDS[r.next(4)]
        sent = bytes([ord("a") + i % 26]) * size
        with self.lock:
            self.open[i] = (f"{kind} size={size} deadline={deadline}s "
                            f"cancel_after_ms={cancel_after_ms}", time.monotonic())
        call = None
        timer = None
        try:
            if kind == "unary":
                call = stub.Unary.future(bench_pb2.Payload(body=sent), timeout=deadline)
                timer = self.cancel_later(call, cancel_after_ms)
                reply = call.result()
                self.record(kind, grpc.StatusCode.OK, "", reply.body == sent)
            elif kind == "stream_out":
                count = 1 + r.next(20)
                each = min(size, 100000)
                call = stub.StreamOut(bench_pb2.StreamRequest(count=count, size=each),
                                      timeout=deadline)
                timer = self.cancel_later(call, cancel_after_ms)
                lengths = [len(m.body) for m in call]
                self.record(kind, grpc.StatusCode.OK, "",
                            len(lengths) == count and all(n == each for n in lengths))
            elif kind == "stream_in":
                messages = 1 + r.next(10)
                each = min(size, 200000)
                requests = (bench_pb2.Payload(body=sent[:each]) for _ in range(messages))
                call = stub.StreamIn.future(requests, timeout=deadline)
                timer = self.cancel_later(call, cancel_after_ms)
                summary = call.result()
                self.record(kind, grpc.StatusCode.OK, "",
                            summary.count == messages and summary.bytes == messages * each)
            else:
                messages = 1 + r.next(10)
                echo = sent[:min(size, 300000)]
                # grpcio sends from its own thread while this one reads: the server echoes while
                # it reads, and one call may send more than both flow-control windows hold.
                requests = (bench_pb2.Payload(body=echo) for _ in range(messages))
                call = stub.Echo(requests, timeout=deadline)
                timer = self.cancel_later(call, cancel_after_ms)
                echoed = [m.body for m in call]
                self.record(kind, grpc.StatusCode.OK, "",
                            len(echoed) == messages and all(b == echo for b in echoed))
        except grpc.FutureCancelledError:
            self.record(kind, grpc.StatusCode.CANCELLED, "cancelled", True)
        except grpc.RpcError as e:
            self.record(kind, e.code(), e.details(), True)
        finally:
            if timer is not None:
                timer.cancel()
            with self.lock:
                del self.open[i]

    @staticmethod
    def cancel_later(call, after_ms):
        if after_ms < 0:
            return None
        timer = threading.Timer(after_ms / 1000, call.cancel)
        timer.start()
        return timer

    def watch(self, done):
        """Fails the run, naming the stuck calls, if any call outlives every deadline by far."""
        while not done.wait(5):
            now = time.monotonic()
            with self.lock:
                stuck = sorted(i for i, (_, t) in self.open.items() if now - t > STUCK_AFTER_S)
                if stuck:
                    print(f"grpcio-chaos-client: {len(stuck)} call(s) open for over "
                          f"{STUCK_AFTER_S} s, e.g.", file=sys.stderr)
                    for i in stuck[:5]:
                        print(f"  call {i}: {self.open[i][0]}", file=sys.stderr)
                    os._exit(1)


def main():
    flags = parse_flags("grpcio-chaos-client", sys.argv[1:], {
        "target": "", "calls": 3000, "seed": 1, "server_stops": False, "server_goaways": False})
    if not flags["target"]:
        sys.exit("usage: grpcio-chaos-client --target=HOST:PORT [--calls=N] [--seed=N] "
                 "[--server_stops=BOOL] [--server_goaways=BOOL]")
    chaos = Chaos(flags["target"], flags["seed"], flags["server_stops"], flags["server_goaways"])
    started = time.monotonic()
    done = threading.Event()
    threading.Thread(target=chaos.watch, args=(done,), daemon=True).start()
    with futures.ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        # one_call records every outcome; list() re-raises here any exception that is a bug.
        list(pool.map(chaos.one_call, range(flags["calls"])))
    done.set()
    print(json.dumps({"calls": flags["calls"], "ms": int((time.monotonic() - started) * 1000),
                      "counts": dict(sorted(chaos.counts.items()))}, separators=(",", ":")))
    if chaos.unexpected:
        print("grpcio-chaos-client: unexpected outcomes:\n  " + "\n  ".join(chaos.unexpected),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
