#!/usr/bin/python3
"""Side-by-side benchmark of h2rpc and grpc++ (issue #7); driven by bench/compare.sh.

Every client x server figure follows shared/bench/CONTRACT.md: each run starts a fresh server
(--port 0), runs one bench client against it, stops the server with SIGTERM and checks its
"exit" counters against the client's JSON line. h2rpc and grpc++ runs are interleaved
(A B A B ...) and each figure is the median of RUNS runs. The result is ONE markdown table
(printed, and written to --out).

  SMOKE=1 (--smoke): correctness only, for CI: every scenario once for about a second, every
  client x server pair, h2load verified, footprint helpers exercised; exits non-zero on any
  failure. No timing is asserted.

Needs /usr/bin/python3 with python3-h2 (footprint helper), h2load and nghttpd (nghttp2-client,
nghttp2-server), valgrind (callgrind), GNU time (/usr/bin/time) is optional.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import queue
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

IMPLS = ("h2rpc", "grpcpp")
LABEL = {"h2rpc": "h2rpc", "grpcpp": "grpc++", "grpcjs": "grpc-js", "grpcgo": "grpc-go"}
# Further servers, each when its --<impl>-server is given, driven by the h2rpc client next to
# the h2rpc server (a figure beside grpc++, not a target).
THIRD_SERVER_NOTE = {"grpcjs": "grpc-js (Node.js)",
                     "grpcgo": "grpc-go (Debian's golang-google-grpc-dev, Go 1.19)"}
# One gRPC message: flag 0, length 0x42, Payload{body = 64 x 'x'} (0A 40 + 64 bytes): 71 bytes,
# and the server answers the same 71 bytes.
UNARY_BODY = b"\x00\x00\x00\x00\x42\x0a\x40" + b"x" * 64
UNARY_PATH = "/bench.Bench/Unary"
ECHO_PATH = "/bench.Bench/Echo"

_live = []  # every process we started and have not reaped yet: killed on any exit


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def _kill_live():
    for p in list(_live):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:  # noqa: BLE001 -- best effort on the way out
                pass
    _live.clear()


def _on_signal(signum, _frame):
    _kill_live()
    sys.exit(128 + signum)


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    _live.append(p)
    return p


def reap(p):
    if p in _live:
        _live.remove(p)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid):
    """utime + stime of a whole process (all threads) from /proc/PID/stat, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def switches_of_children():
    """Voluntary + involuntary context switches of every child reaped so far (all threads)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_nvcsw + ru.ru_nivcsw


def proc_rss_kb(pid, field="VmRSS:"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def proc_mem_kb(pid):
    """VmRSS, its anonymous part (heap, stacks: what the process itself made) and PSS (shared
    library pages divided among the processes mapping them)."""
    mem = {"rss": proc_rss_kb(pid), "anon": proc_rss_kb(pid, "RssAnon:"), "pss": None}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    mem["pss"] = int(line.split()[1])
    except OSError:
        pass
    return mem


class Server:
    """A bench server started with --port 0; its stdout lines arrive on a queue."""

    def __init__(self, exe, wrapper=(), start_timeout=20.0, errlog=None):
        self.cmd = list(wrapper) + [exe, "--port", "0"]
        self.err = errlog or tempfile.TemporaryFile(mode="w+")
        self.p = spawn(self.cmd, stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self._line(start_timeout)
        if first is None or first.get("event") != "listening":
            self.kill()
            raise RuntimeError(f"{exe}: no 'listening' line ({self.stderr_tail()})")
        self.port = int(first["port"])
        self.target = f"127.0.0.1:{self.port}"

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    continue

    @property
    def pid(self):
        return self.p.pid

    def stats(self, timeout=10.0):
        os.kill(self.p.pid, signal.SIGUSR1)
        return self._line(timeout)

    def stop(self, timeout=30.0):
        """SIGTERM; returns the 'exit' line (None if the server did not shut down cleanly)."""
        if self.p.poll() is not None:
            reap(self.p)
            return None
        os.kill(self.p.pid, signal.SIGTERM)
        line = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self._line(deadline - time.monotonic())
            if line is None or line.get("event") == "exit":
                break
        try:
            rc = self.p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        reap(self.p)
        if rc != 0 or line is None or line.get("event") != "exit":
            return None
        return line

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        reap(self.p)

    def stderr_tail(self, n=400):
        try:
            self.err.flush()
            self.err.seek(0)
            return self.err.read()[-n:].strip().replace("\n", " | ")
        except Exception:  # noqa: BLE001
            return ""


def run_client(exe, target, mode, threads=1, channels=1, concurrency=1, size=64, seconds=2.0,
               warmup=0.5, wrapper=(), extra_timeout=30.0):
    cmd = list(wrapper) + [exe, "--target", target, "--mode", mode, "--threads", str(threads),
                           "--channels", str(channels), "--concurrency", str(concurrency),
                           "--size", str(size), "--seconds", str(seconds), "--warmup", str(warmup)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=warmup + seconds + extra_timeout)
    except subprocess.TimeoutExpired:
        return {"rc": None, "json": None, "stderr": "timed out", "cmd": cmd}
    js = None
    for line in reversed(r.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                js = json.loads(line)
            except ValueError:
                pass
            break
    return {"rc": r.returncode, "json": js, "stderr": r.stderr.strip()[-600:], "cmd": cmd}


def verify(scen, client, exit_line):
    """Problems (empty = good) of one client run against the server's exit counters."""
    problems = []
    js = client["json"]
    callers = scen["threads"] * scen.get("concurrency", 1)
    if client["rc"] != 0:
        problems.append(f"client exit {client['rc']}: {client['stderr'][-300:]}")
    if js is None:
        problems.append("client printed no JSON line")
        return problems
    if js.get("errors", 1) != 0:
        problems.append(f"client errors={js.get('errors')}")
    if js.get("ops", 0) <= 0:
        problems.append("nothing measured")
    if exit_line is None:
        problems.append("server did not exit cleanly with its exit line")
        return problems
    mode = scen["mode"]
    ops_total, calls_total = js.get("ops_total", -1), js.get("calls_total", -1)
    if mode == "unary":
        if exit_line["unary"] != calls_total:
            problems.append(f"server unary={exit_line['unary']} != client calls_total={calls_total}")
    elif mode == "stream_out":
        if exit_line["stream_out_calls"] != callers or calls_total != callers:
            problems.append(f"stream_out_calls={exit_line['stream_out_calls']}, client calls_total="
                            f"{calls_total}, expected {callers}")
        # A message may be delivered while the server's Write() already reports the cancel.
        if exit_line["stream_out_msgs"] + callers < ops_total:
            problems.append(f"server stream_out_msgs={exit_line['stream_out_msgs']} < client "
                            f"ops_total={ops_total}")
    elif mode == "stream_in":
        if exit_line["stream_in_calls"] != callers or exit_line["stream_in_msgs"] != ops_total:
            problems.append(f"server stream_in {exit_line['stream_in_calls']} calls/"
                            f"{exit_line['stream_in_msgs']} msgs, client {callers}/{ops_total}")
    elif mode == "echo":
        if exit_line["echo_calls"] != callers or exit_line["echo_msgs"] != ops_total:
            problems.append(f"server echo {exit_line['echo_calls']} calls/{exit_line['echo_msgs']} "
                            f"msgs, client {callers}/{ops_total}")
    return problems


def pair_run(bins, client_impl, server_impl, scen, seconds, warmup):
    try:
        srv = Server(bins[server_impl]["server"])
    except RuntimeError as e:
        return {"client": None, "server": None, "problems": [str(e)]}
    # Context switches of the client (all threads) and of the server, from the rusage of each
    # child as it is reaped: wake-ups are what single-call latency is made of on this machine.
    before = switches_of_children()
    try:
        client = run_client(bins[client_impl]["client"], srv.target, scen["mode"],
                            threads=scen["threads"], concurrency=scen.get("concurrency", 1),
                            size=scen.get("size", 64), seconds=seconds, warmup=warmup)
    finally:
        after_client = switches_of_children()
        exit_line = srv.stop()
        after_server = switches_of_children()
    problems = verify(scen, client, exit_line)
    js = client["json"]
    if js and js.get("ops_total", 0) > 0:  # ops_total counts the warm-up too, like rusage
        js["client_switches_per_op"] = (after_client - before) / js["ops_total"]
        js["server_switches_per_op"] = (after_server - after_client) / js["ops_total"]
        # The server's whole life (start-up included, a few ms): what polling before sleeping
        # costs shows here, next to the latency it buys.
        if exit_line and exit_line.get("cpu_s") is not None:
            js["server_cpu_us_per_op"] = exit_line["cpu_s"] * 1e6 / js["ops_total"]
    if problems and exit_line is None:
        problems.append("server stderr: " + srv.stderr_tail())
    return {"client": client["json"], "server": exit_line, "problems": problems}


# ---------------------------------------------------------------- h2load and nghttpd

def h2load(port, n, c=4, m=100, body_file=None, timeout=300):
    cmd = ["h2load", "-n", str(n), "-c", str(c), "-m", str(m), "-t", "1", "-d", body_file,
           "-H", "content-type: application/grpc", "-H", "te: trailers",
           f"http://127.0.0.1:{port}{UNARY_PATH}"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "problems": ["h2load timed out"]}
    out = r.stdout
    res = {"cmd": " ".join(shlex.quote(x) for x in cmd), "problems": []}
    m_fin = re.search(r"finished in ([\d.]+)(?:s|ms|us), ([\d.]+) req/s", out)
    m_req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", out)
    m_data = re.search(r"\((\d+)\) data", out)
    if r.returncode != 0 or not (m_fin and m_req and m_data):
        res["problems"].append(f"h2load rc={r.returncode}: {(out + r.stderr)[-300:]}")
        return res
    res["req_per_s"] = float(m_fin.group(2))
    res["succeeded"] = int(m_req.group(4))
    res["data_bytes"] = int(m_data.group(1))
    if res["succeeded"] != n:
        res["problems"].append(f"h2load: {res['succeeded']} of {n} succeeded")
    if res["data_bytes"] != n * len(UNARY_BODY):
        res["problems"].append(f"h2load: DATA bytes {res['data_bytes']} != {n} x {len(UNARY_BODY)}")
    return res


def h2load_server(bins, impl, n, body_file, c=4, m=100):
    """h2load against a fresh server; verified by DATA bytes and the server's own counter;
    server CPU per call from /proc/PID/stat around the run."""
    try:
        srv = Server(bins[impl]["server"])
    except RuntimeError as e:
        return {"problems": [str(e)]}
    try:
        before = srv.stats()
        cpu0 = proc_cpu_s(srv.pid)
        res = h2load(srv.port, n, c=c, m=m, body_file=body_file)
        cpu1 = proc_cpu_s(srv.pid)
        after = srv.stats()
    finally:
        exit_line = srv.stop()
    if before is None or after is None:
        res["problems"].append("server did not answer SIGUSR1 with a stats line")
    elif after["unary"] - before["unary"] != n:
        res["problems"].append(f"server unary counter moved by {after['unary'] - before['unary']}, "
                               f"not {n}")
    if exit_line is None:
        res["problems"].append("server did not exit cleanly")
    elif exit_line["unary"] != n:
        res["problems"].append(f"server exit unary={exit_line['unary']} != {n}")
    res["server_cpu_us_per_call"] = (cpu1 - cpu0) * 1e6 / n
    return res


def nghttpd_floor(n, body_file, tmpdir):
    root = os.path.join(tmpdir, "nghttpd-root")
    os.makedirs(os.path.join(root, "bench.Bench"), exist_ok=True)
    with open(os.path.join(root, "bench.Bench", "Unary"), "wb") as f:
        f.write(UNARY_BODY)
    port = free_port()
    p = spawn(["nghttpd", "--no-tls", "-d", root, str(port)], stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or p.poll() is not None:
                    return {"problems": ["nghttpd did not start"]}
                time.sleep(0.05)
        return h2load(port, n, body_file=body_file)
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        reap(p)


# ---------------------------------------------------------------- footprint helpers (python3-h2)

class H2Client:
    """A plain-h2c connection driven by the h2 library, for holding connections and streams."""

    def __init__(self, port):
        import h2.config
        import h2.connection
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.data = {}
        self.ended = set()
        self.status = {}
        self.got_settings = False
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def headers(self, path):
        return [(":method", "POST"), (":scheme", "http"), (":authority", f"127.0.0.1:{self.port}"),
                (":path", path), ("content-type", "application/grpc"), ("te", "trailers")]

    def pump(self, done, timeout=20.0):
        import h2.events
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError("h2 helper: timed out waiting for the server")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("h2 helper: server closed the connection")
            for ev in self.conn.receive_data(chunk):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    self.got_settings = True
                elif isinstance(ev, h2.events.DataReceived):
                    self.data[ev.stream_id] = self.data.get(ev.stream_id, 0) + len(ev.data)
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.TrailersReceived):
                    self.status[ev.stream_id] = dict(ev.headers).get("grpc-status")
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    self.ended.add(ev.stream_id)
            self.flush()

    def unary(self):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, self.headers(UNARY_PATH))
        self.conn.send_data(sid, UNARY_BODY, end_stream=True)
        self.flush()
        self.pump(lambda: sid in self.ended)
        if self.data.get(sid) != len(UNARY_BODY) or self.status.get(sid) != "0":
            raise RuntimeError(f"h2 helper: unary got {self.data.get(sid)} bytes, "
                               f"grpc-status {self.status.get(sid)}")

    def open_echo_streams(self, n):
        """Opens n Echo streams, each with one message written and its echo read back; the
        streams stay open (no half-close), so n handlers are blocked in Read() afterwards."""
        limit = self.conn.remote_settings.max_concurrent_streams
        if limit < n:
            raise RuntimeError(f"server allows {limit} concurrent streams, need {n}")
        sids = []
        for i in range(n):
            sid = self.conn.get_next_available_stream_id()
            self.conn.send_headers(sid, self.headers(ECHO_PATH))
            self.conn.send_data(sid, UNARY_BODY)
            sids.append(sid)
            if i % 50 == 49:
                self.flush()
        self.flush()
        want = len(UNARY_BODY)
        self.pump(lambda: all(self.data.get(s, 0) >= want for s in sids), timeout=60)
        if any(s in self.ended for s in sids):
            raise RuntimeError("h2 helper: a held echo stream ended early")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def static_server(build, tmpdir, protobuf="protobuf", name="h2rpc-bench-server-static"):
    """The h2rpc bench server's objects linked again with -static (glibc, libstdc++, protobuf,
    nghttp2, zlib from Debian's .a files): what a constrained program that links statically
    maps. `protobuf` is the library to link ("protobuf-lite" for a -Dprotobuf_runtime=lite
    build). Returns its path, or None if the link failed (the reason on stderr)."""
    objs = sorted(glob.glob(os.path.join(build, "bench", "h2rpc-bench-server.p", "*.o")))
    archives = [os.path.join(build, "bench", "libh2rpc_bench_proto.a"),
                os.path.join(build, "libh2rpc.a"), os.path.join(build, "codec", "libh2rpc_codec.a")]
    if not objs or not all(os.path.exists(a) for a in archives):
        return None
    return link_static(os.path.join(tmpdir, name), objs,
                       archives + ["-l" + protobuf, "-lnghttp2", "-lz"], "the h2rpc server")


def link_static(out, objs, libs, what):
    """Links objs and libs with g++ -static -Wl,--gc-sections into out; None if that failed."""
    cmd = (["g++", "-static", "-pthread", "-o", out] + objs
           + ["-Wl,--gc-sections", "-Wl,--start-group"] + libs + ["-Wl,--end-group"])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        log(f"compare: static link of {what} failed: {r.stderr.strip()[-400:]}")
        return None
    return out


def static_grpcpp_server(build, tmpdir):
    """The grpc++ bench server linked again with -static from Debian's .a files (the closure
    pkg-config --static names), the same way as the h2rpc variant: idle RSS with equal linkage."""
    objs = sorted(glob.glob(os.path.join(build, "peers", "grpcpp", "grpcpp-bench-server.p", "*.o")))
    archive = os.path.join(build, "peers", "grpcpp", "libgrpcpp_bench_proto.a")
    if not objs or not os.path.exists(archive):
        return None
    libs = subprocess.run(["pkg-config", "--static", "--libs", "grpc++", "protobuf"],
                          capture_output=True, text=True)
    if libs.returncode != 0:
        log(f"compare: pkg-config --static grpc++ failed: {libs.stderr.strip()[-300:]}")
        return None
    return link_static(os.path.join(tmpdir, "grpcpp-bench-server-static"), objs,
                       [archive] + libs.stdout.split(), "the grpc++ server")


def static_floor_idle(build, tmpdir):
    """h2rpc-floor-idle linked again with -static, the floor of the -static server variants."""
    objs = sorted(glob.glob(os.path.join(build, "bench", "h2rpc-floor-idle.p", "*.o")))
    if not objs:
        return None
    return link_static(os.path.join(tmpdir, "h2rpc-floor-idle-static"), objs, ["-lprotobuf"],
                       "the idle floor program")


def floor_idle_footprint(exe, settle=0.5):
    """Idle RSS of h2rpc-floor-idle: libprotobuf, libstdc++ and libc loaded, one thread, no RPC."""
    res = {"problems": []}
    proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"expected 'ready', got {line!r}")
        time.sleep(settle)
        res["idle"] = proc_mem_kb(proc.pid)
    except Exception as e:  # noqa: BLE001
        res["problems"].append(f"{os.path.basename(exe)}: {e}")
    finally:
        proc.stdin.close()
        try:
            if proc.wait(timeout=10) != 0:
                res["problems"].append(f"{os.path.basename(exe)}: exit {proc.returncode}")
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            res["problems"].append(f"{os.path.basename(exe)}: did not exit when stdin closed")
    return res


def idle_footprint(exe, settle=0.5):
    """Idle RSS of a variant of the h2rpc bench server (static, protobuf-lite), verified by one
    call through it."""
    res = {"problems": []}
    srv = Server(exe)
    try:
        time.sleep(settle)
        res["idle"] = proc_mem_kb(srv.pid)
        c = H2Client(srv.port)
        c.unary()
        c.close()
    except Exception as e:  # noqa: BLE001
        res["problems"].append(f"{os.path.basename(exe)}: {e}")
    finally:
        exit_line = srv.stop()
    if exit_line is None or exit_line["unary"] != 1:
        res["problems"].append(f"{os.path.basename(exe)}: exit line {exit_line}")
    return res


def footprint(bins, impl, conns=100, streams=1000, settle=0.5):
    res = {"problems": []}
    srv = Server(bins[impl]["server"])
    clients = []
    try:
        time.sleep(settle)
        res["idle"] = proc_mem_kb(srv.pid)
        for _ in range(conns):
            c = H2Client(srv.port)
            clients.append(c)
            c.unary()
        time.sleep(settle)
        res["conns"] = proc_mem_kb(srv.pid)
    except Exception as e:  # noqa: BLE001
        res["problems"].append(f"{conns} connections: {e}")
    finally:
        for c in clients:
            c.close()
        exit_line = srv.stop()
    if exit_line is None or exit_line["unary"] != conns:
        res["problems"].append(f"{conns} connections: server exit line {exit_line}")
    srv = Server(bins[impl]["server"])
    holder = None
    try:
        holder = H2Client(srv.port)
        holder.pump(lambda: holder.got_settings)
        holder.open_echo_streams(streams)
        time.sleep(settle)
        res["streams"] = proc_mem_kb(srv.pid)
    except Exception as e:  # noqa: BLE001
        res["problems"].append(f"{streams} streams: {e}")
    finally:
        if holder:
            holder.close()
        exit_line = srv.stop()
    if exit_line is None or exit_line["echo_calls"] != streams or exit_line["echo_msgs"] != streams:
        res["problems"].append(f"{streams} streams: server exit line {exit_line}")
    return res


# ---------------------------------------------------------------- sizes and compile cost

def stripped_size(path, tmpdir):
    dst = os.path.join(tmpdir, "strip-" + os.path.basename(path))
    shutil.copyfile(path, dst)
    subprocess.run(["strip", "--strip-unneeded", dst], check=True, capture_output=True)
    size = os.path.getsize(dst)
    os.unlink(dst)
    return size


def ldd(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(", line)
        if m:
            libs[m.group(1)] = os.path.realpath(m.group(2))
    return libs


def sizes(bins, build, shared_build, tmpdir):
    res = {"problems": []}
    static_lib = os.path.join(build, "libh2rpc.a")
    if os.path.exists(static_lib):
        res["lib_static"] = stripped_size(static_lib, tmpdir)
    shared = []
    if shared_build and os.path.isdir(shared_build):
        shared = [os.path.join(shared_build, f) for f in os.listdir(shared_build)
                  if f.startswith("libh2rpc.so")]
        shared = [f for f in shared if os.path.isfile(f) and not os.path.islink(f)]
    if shared:
        res["lib_shared"] = stripped_size(shared[0], tmpdir)
    for impl in IMPLS:
        if impl in bins:
            res[f"server_{impl}"] = stripped_size(bins[impl]["server"], tmpdir)
    if "grpcpp" in bins and "h2rpc" in bins:
        g = ldd(bins["grpcpp"]["server"])
        h = ldd(bins["h2rpc"]["server"])
        # h2rpc's declared dependencies count as shared even where its bench server does not load
        # them yet (OpenSSL: TLS is issue #6): "minus the libraries h2rpc also uses".
        shared_deps = ("libssl.", "libcrypto.", "libz.", "libprotobuf.", "libnghttp2.")
        closure = {k: v for k, v in g.items() if k not in h and not k.startswith(shared_deps)}
        res["grpcpp_closure_libs"] = sorted(closure)
        res["grpcpp_closure"] = sum(stripped_size(v, tmpdir) for v in closure.values())
        res["h2rpc_own_deps"] = sorted(h)
        nghttp2 = [v for k, v in h.items() if k.startswith("libnghttp2")]
        if nghttp2:
            res["nghttp2"] = stripped_size(nghttp2[0], tmpdir)
    return res


def compile_cost(build, suffix, tmpdir):
    """(cpu seconds, peak RSS KiB) of compiling one generated .cc with its build's own command."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    entry = next((e for e in entries if e["file"].endswith(suffix)), None)
    if entry is None:
        return None
    args = shlex.split(entry["command"])
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("-MD", "-MMD"):
            i += 1
            continue
        if a in ("-MQ", "-MF", "-MT", "-o"):
            i += 2
            continue
        out.append(a)
        i += 1
    # A compiler launcher (ccache, sccache) would answer from its cache: time the compiler.
    while out and os.path.basename(out[0]) in ("ccache", "sccache", "distcc"):
        out.pop(0)
    out += ["-o", os.path.join(tmpdir, "compile-probe.o")]
    r = subprocess.run(["/usr/bin/time", "-v"] + out, cwd=entry["directory"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", r.stderr).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", r.stderr).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return user + system, rss


# ---------------------------------------------------------------- callgrind

def callgrind_total(path):
    total = 0
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
    return total


def callgrind_server(bins, impl, n, body_file, outdir, tag):
    out = os.path.join(outdir, f"callgrind.server.{impl}.{tag}")
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    srv = Server(bins[impl]["server"], wrapper=vg, start_timeout=180)
    try:
        res = h2load(srv.port, n, c=1, m=1, body_file=body_file, timeout=900)
    finally:
        exit_line = srv.stop(timeout=300)
    if exit_line is None or exit_line["unary"] != n:
        res["problems"].append(f"callgrind server run: exit line {exit_line}")
    res["ir"] = callgrind_total(out) if os.path.exists(out) else 0
    res["calls"] = n
    return res


def callgrind_client(bins, impl, seconds, outdir, tag):
    out = os.path.join(outdir, f"callgrind.client.{impl}.{tag}")
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    srv = Server(bins[impl]["server"])
    try:
        client = run_client(bins[impl]["client"], srv.target, "unary", seconds=seconds, warmup=0.5,
                            wrapper=vg, extra_timeout=300)
    finally:
        exit_line = srv.stop()
    res = {"problems": verify({"mode": "unary", "threads": 1}, client, exit_line)}
    res["ir"] = callgrind_total(out) if os.path.exists(out) else 0
    res["calls"] = client["json"]["calls_total"] if client["json"] else 0
    return res


def per_call_difference(a, b):
    if a["calls"] == b["calls"] or not a["ir"] or not b["ir"]:
        return None
    return (b["ir"] - a["ir"]) / (b["calls"] - a["calls"])


# ---------------------------------------------------------------- the plan

# key -> contract client flags. Every scenario runs h2rpc -> h2rpc and grpc++ -> grpc++.
SCENARIOS = {
    "unary_1": {"mode": "unary", "threads": 1},
    "unary_8": {"mode": "unary", "threads": 8},
    "unary_64": {"mode": "unary", "threads": 64},
    "unary_2x32": {"mode": "unary", "threads": 2, "concurrency": 32},
    "unary_1m": {"mode": "unary", "threads": 1, "size": 1 << 20},
    "so_64": {"mode": "stream_out", "threads": 1, "size": 64},
    "so_1k": {"mode": "stream_out", "threads": 1, "size": 1024},
    "so_1m": {"mode": "stream_out", "threads": 1, "size": 1 << 20},
    "si_64": {"mode": "stream_in", "threads": 1, "size": 64},
    "si_1m": {"mode": "stream_in", "threads": 1, "size": 1 << 20},
    "echo_64": {"mode": "echo", "threads": 1, "size": 64},
}
# The scenarios a third server (THIRD_SERVER_NOTE) and the grpc-js client run.
THIRD_SCENARIOS = ("unary_1", "unary_8", "so_64", "echo_64")
GRPCJS_CLIENT_WARMUP = 2.0  # seconds, for the grpc-js client's runs in a full comparison
# Cross-driving: (scenario, client impl, server impl).
CROSS = [("unary_1", "h2rpc", "grpcpp"), ("unary_1", "grpcpp", "h2rpc"),
         ("unary_8", "h2rpc", "grpcpp"), ("unary_8", "grpcpp", "h2rpc")]
# Smoke: every client x server pair for every scenario, plus K > 1 for every streaming mode.
SMOKE_EXTRA = {
    "so_2x4": {"mode": "stream_out", "threads": 2, "concurrency": 4, "size": 64},
    "si_2x4": {"mode": "stream_in", "threads": 2, "concurrency": 4, "size": 64},
    "echo_2x4": {"mode": "echo", "threads": 2, "concurrency": 4, "size": 64},
}


def brief(run):
    """One run's headline numbers, for the log and the report's list of runs."""
    js = run.get("client")
    if run.get("problems") or not js:
        return "FAILED: " + "; ".join(run.get("problems", []))
    return (f"{js['msgs_per_s']:.0f} ops/s, p50 {js['p50_us']:.0f} µs, p99 {js['p99_us']:.0f} µs, "
            f"{js['cpu_us_per_op']:.1f} µs CPU/op")


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class Results:
    def __init__(self):
        self.runs = {}  # (scenario, client, server) -> [run]
        self.problems = []
        self.floor_notes = []  # how far below/above the TCP floor a latency target lies
        self.rss_notes = []  # where the idle RSS target lies against the idle floor program

    def add(self, key, run):
        self.runs.setdefault(key, []).append(run)
        for p in run.get("problems", []):
            self.problems.append(f"{key}: {p}")

    def fig(self, scen, client, server, field):
        runs = self.runs.get((scen, client, server), [])
        return median([r["client"].get(field) for r in runs
                       if not r["problems"] and r["client"] is not None])


def discover(build):
    bins = {}
    h = {"server": os.path.join(build, "bench", "h2rpc-bench-server"),
         "client": os.path.join(build, "bench", "h2rpc-bench-client")}
    g = {"server": os.path.join(build, "peers", "grpcpp", "grpcpp-bench-server"),
         "client": os.path.join(build, "peers", "grpcpp", "grpcpp-bench-client")}
    for impl, paths in (("h2rpc", h), ("grpcpp", g)):
        if all(os.access(p, os.X_OK) for p in paths.values()):
            bins[impl] = paths
    floor = os.path.join(build, "bench", "h2rpc-floor-tcp")
    return bins, (floor if os.access(floor, os.X_OK) else None)


def run_all(args):
    bins, floor_exe = discover(args.build)
    impls = [i for i in IMPLS if i in bins]
    log(f"compare: programs found for {', '.join(impls) or 'nothing'} in {args.build}")
    if not impls:
        raise SystemExit("compare: no bench programs built")
    thirds = [impl for impl, exe in (("grpcjs", args.grpcjs_server), ("grpcgo", args.grpcgo_server))
              if exe and not args.smoke and "h2rpc" in bins]
    # The grpc-js client drives only the h2rpc server: next to the h2rpc client in a full run,
    # every scenario in the smoke (a load test of the server by an independent implementation).
    with_grpcjs_client = bool(args.grpcjs_client) and "h2rpc" in bins
    if "grpcjs" in thirds or with_grpcjs_client:
        bins["grpcjs"] = {"server": args.grpcjs_server or None,
                          "client": args.grpcjs_client or None}
    if "grpcgo" in thirds:
        bins["grpcgo"] = {"server": args.grpcgo_server, "client": None}
    R = Results()
    fl = {"tcp": [], "nghttpd": []}
    h2l = {i: [] for i in impls + thirds}
    tmpdir = tempfile.mkdtemp(prefix="h2rpc-bench-")
    body_file = os.path.join(tmpdir, "unary-64.bin")
    with open(body_file, "wb") as f:
        f.write(UNARY_BODY)
    secs, warm = args.seconds, args.warmup
    n_h2load = args.h2load_n
    try:
        scenarios = dict(SCENARIOS)
        if args.smoke:
            scenarios.update(SMOKE_EXTRA)
        for rnd in range(args.runs):
            order = impls if rnd % 2 == 0 else list(reversed(impls))
            log(f"compare: round {rnd + 1}/{args.runs}")
            # (1) floor
            if floor_exe:
                r = subprocess.run([floor_exe, "--seconds", str(min(secs, 2.0)), "--warmup", "0.2"],
                                   capture_output=True, text=True, timeout=120)
                try:
                    fl["tcp"].append(json.loads(r.stdout.strip().splitlines()[-1]))
                except (ValueError, IndexError):
                    R.problems.append(f"floor: tcp ping-pong failed: {r.stderr[-300:]}")
            if shutil.which("nghttpd") and shutil.which("h2load"):
                res = nghttpd_floor(n_h2load, body_file, tmpdir)
                fl["nghttpd"].append(res)
                R.problems += [f"floor nghttpd: {p}" for p in res["problems"]]
            # (2)-(5) contract clients, interleaved
            for key, scen in scenarios.items():
                pairs = [(i, i) for i in order]
                if args.smoke:
                    pairs = [(c, s) for c in impls for s in impls]
                    if with_grpcjs_client:
                        pairs.append(("grpcjs", "h2rpc"))
                for c, s in pairs:
                    run = pair_run(bins, c, s, scen, secs, warm)
                    R.add((key, c, s), run)
                    log(f"compare:   {key} {c} -> {s}: ok, {brief(run)}" if not run["problems"]
                        else f"compare:   {key} {c} -> {s}: " + "; ".join(run["problems"]))
            if not args.smoke and len(impls) == 2:
                for key, c, s in CROSS:
                    run = pair_run(bins, c, s, SCENARIOS[key], secs, warm)
                    R.add((key, c, s), run)
                    log(f"compare:   {key} {c} -> {s} (cross): " +
                        (f"ok, {brief(run)}" if not run["problems"] else "; ".join(run["problems"])))
            for third in thirds:
                for key in THIRD_SCENARIOS:
                    run = pair_run(bins, "h2rpc", third, SCENARIOS[key], secs, warm)
                    R.add((key, "h2rpc", third), run)
                    log(f"compare:   {key} h2rpc -> {third}: " +
                        (f"ok, {brief(run)}" if not run["problems"] else "; ".join(run["problems"])))
            if with_grpcjs_client and not args.smoke:
                for key in THIRD_SCENARIOS:
                    # A longer warm-up: Node.js compiles the hot paths only after a while, and
                    # the figures are meant to show grpc-js at its steady pace.
                    run = pair_run(bins, "grpcjs", "h2rpc", SCENARIOS[key], secs,
                                   max(warm, GRPCJS_CLIENT_WARMUP))
                    R.add((key, "grpcjs", "h2rpc"), run)
                    log(f"compare:   {key} grpcjs -> h2rpc: " +
                        (f"ok, {brief(run)}" if not run["problems"] else "; ".join(run["problems"])))
            # (6)+(7) h2load and server CPU per call
            if shutil.which("h2load"):
                for impl in order + thirds:
                    res = h2load_server(bins, impl, n_h2load, body_file)
                    log(f"compare:   h2load -> {impl}: " + ("; ".join(res["problems"]) or "ok"))
                    h2l[impl].append(res)
                    R.problems += [f"h2load {impl}: {p}" for p in res["problems"]]
        # (8) footprint (RSS is not noisy: one run each)
        fp = {}
        for impl in impls:
            log(f"compare: footprint {impl}")
            fp[impl] = guarded(R, f"footprint {impl}",
                               lambda: footprint(bins, impl, conns=args.conns, streams=args.streams),
                               {"problems": []})
            R.problems += [f"footprint {impl}: {p}" for p in fp[impl]["problems"]]
        floor_idle = os.path.join(args.build, "bench", "h2rpc-floor-idle")
        floors = [("floor", floor_idle if os.access(floor_idle, os.X_OK) else None)]
        if not args.smoke:
            floors.append(("floor_static", static_floor_idle(args.build, tmpdir)))
        for key, exe in floors:
            if exe:
                log(f"compare: footprint {key} (h2rpc-floor-idle)")
                fp[key] = guarded(R, f"footprint {key}", lambda: floor_idle_footprint(exe),
                                  {"problems": []})
                R.problems += [f"footprint {key}: {p}" for p in fp[key]["problems"]]
        sz, cc = {}, {}
        if not args.smoke:
            variants = [("static", static_server(args.build, tmpdir))]
            if "grpcpp" in bins:
                variants.append(("grpcpp_static", static_grpcpp_server(args.build, tmpdir)))
            if args.lite_build:
                variants += [
                    ("lite", os.path.join(args.lite_build, "bench", "h2rpc-bench-server")),
                    ("lite_static", static_server(args.lite_build, tmpdir, "protobuf-lite",
                                                  "h2rpc-bench-server-lite-static"))]
            variants += [(third, bins[third]["server"]) for third in thirds]
            for key, exe in variants:
                if exe and os.path.exists(exe):
                    log(f"compare: footprint h2rpc variant {key}")
                    fp[key] = guarded(R, f"footprint {key}", lambda: idle_footprint(exe),
                                      {"problems": []})
                    R.problems += [f"footprint {key}: {p}" for p in fp[key]["problems"]]
            sz = guarded(R, "sizes", lambda: sizes(bins, args.build, args.shared_build, tmpdir), {})
            for rnd in range(args.runs):
                for impl, suffix in (("h2rpc", "bench.h2rpc.cc"), ("grpcpp", "bench.grpc.pb.cc")):
                    r = guarded(R, f"compile {suffix}",
                                lambda: compile_cost(args.build, suffix, tmpdir), None)
                    if r:
                        cc.setdefault(impl, []).append(r)
        # (9) callgrind
        cg = {}
        if not args.smoke and not args.no_callgrind and shutil.which("valgrind"):
            outdir = os.path.join(args.build, "bench-callgrind")
            os.makedirs(outdir, exist_ok=True)
            for impl in impls:
                cg[impl] = guarded(R, f"callgrind {impl}",
                                   lambda: callgrind_pair(R, bins, impl, args, body_file, outdir), {})
            cg["outdir"] = outdir
    finally:
        _kill_live()
        shutil.rmtree(tmpdir, ignore_errors=True)
    return R, fl, h2l, fp, sz, cc, cg, impls


def guarded(R, what, fn, default):
    """Runs one section; an exception becomes a reported problem instead of ending the run."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        R.problems.append(f"{what}: {type(e).__name__}: {e}")
        _kill_live()
        return default


def callgrind_pair(R, bins, impl, args, body_file, outdir):
    """Instructions per unary call of one implementation's server and client."""
    log(f"compare: callgrind server {impl}")
    a = callgrind_server(bins, impl, args.cg_calls // 4, body_file, outdir, "short")
    b = callgrind_server(bins, impl, args.cg_calls // 4 + args.cg_calls, body_file, outdir, "long")
    log(f"compare: callgrind client {impl}")
    ca = callgrind_client(bins, impl, args.cg_seconds, outdir, "short")
    cb = callgrind_client(bins, impl, 3 * args.cg_seconds, outdir, "long")
    for x in (a, b, ca, cb):
        R.problems += [f"callgrind {impl}: {p}" for p in x["problems"]]
    return {"server": per_call_difference(a, b), "client": per_call_difference(ca, cb),
            "client_calls": (ca["calls"], cb["calls"])}


# ---------------------------------------------------------------- the table

def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1e6 and unit in ("B", ""):
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def mib(v):
    return None if v is None else v / (1 << 20)


def build_table(R, fl, h2l, fp, sz, cc, cg, impls):
    rows = []

    def row(num, figure, h, g, target="", floor=None, check=None, ratio=True):
        r = (h / g) if (ratio and h is not None and g not in (None, 0)) else None
        ok = ""
        if check is not None and h is not None and (g is not None or not ratio):
            ok = " ✓" if check(h, g, r) else " ✗"
        rows.append((num, figure, fmt(h), fmt(g), f"{r:.2f}×" if r is not None else "",
                     (target + ok) if target else "", fmt(floor) if floor is not None else ""))

    f = lambda key, field, c="h2rpc", s=None: R.fig(key, c, s or c, field)  # noqa: E731
    tcp = {k: median([x[k] for x in fl["tcp"]]) for k in ("p50_us", "p99_us", "bulk_mb_per_s")} \
        if fl["tcp"] else {}
    ngd = median([x.get("req_per_s") for x in fl["nghttpd"] if not x["problems"]])
    row("1", "floor: TCP loopback ping-pong 64 B, p50 µs", None, None, floor=tcp.get("p50_us"))
    row("1", "floor: TCP loopback ping-pong 64 B, p99 µs", None, None, floor=tcp.get("p99_us"))
    row("1", "floor: TCP loopback bulk, MB/s", None, None, floor=tcp.get("bulk_mb_per_s"))
    row("1", "floor: nghttpd static 71 B POST under h2load, req/s", None, None, floor=ngd)
    le = lambda lim: (lambda h, g, r: r is not None and r <= lim)  # noqa: E731
    ge = lambda lim: (lambda h, g, r: r is not None and r >= lim)  # noqa: E731
    row("2", "unary latency p50 µs (1 thread, 64 B)", f("unary_1", "p50_us"),
        f("unary_1", "p50_us", "grpcpp"), "≤ 0.45×", tcp.get("p50_us"), le(0.45))
    ping = tcp.get("p50_us")
    over_ping = lambda v: None if v is None or not ping else v / ping  # noqa: E731

    def floor_note(what, target, g):
        # The floor program blocks in read() for every reply, so it pays the wake-up of an idle
        # CPU that a stack which polls before sleeping avoids: a target below it is reachable
        # only that way.
        if g is None or not ping:
            return
        goal = target * g
        where = ("below the floor: only a stack that polls instead of sleeping between a "
                 "request and its reply can reach it on this machine" if goal < ping
                 else f"{goal / ping:.2f}× the floor")
        R.floor_notes.append(f"the ≤ {target}× {what} target is {goal:.1f} µs against a TCP "
                             f"ping-pong p50 of {ping:.1f} µs: {where}")

    row("2", "unary latency p50 ÷ TCP ping-pong p50 (\"within 1.7× of the floor\")",
        over_ping(f("unary_1", "p50_us")), over_ping(f("unary_1", "p50_us", "grpcpp")),
        "h2rpc ≤ 1.7", None, lambda h, g, r: h <= 1.7, ratio=False)
    floor_note("unary p50", 0.45, f("unary_1", "p50_us", "grpcpp"))
    row("2", "unary latency p99 µs (1 thread, 64 B)", f("unary_1", "p99_us"),
        f("unary_1", "p99_us", "grpcpp"), "", tcp.get("p99_us"))
    row("2", "unary calls/s (1 thread)", f("unary_1", "calls_per_s"),
        f("unary_1", "calls_per_s", "grpcpp"))
    row("2", "unary calls/s (1 thread, 1 MiB each way)", f("unary_1m", "calls_per_s"),
        f("unary_1m", "calls_per_s", "grpcpp"))
    u8 = f("unary_8", "calls_per_s")
    row("3", "unary calls/s, 8 threads, one channel", u8, f("unary_8", "calls_per_s", "grpcpp"),
        "≥ 3×", None, ge(3))
    row("3", "unary calls/s, 64 threads, one channel", f("unary_64", "calls_per_s"),
        f("unary_64", "calls_per_s", "grpcpp"), "h2rpc ≥ its 8-thread figure", None,
        lambda h, g, r: u8 is not None and h >= u8)
    row("3", "unary calls/s, 2 threads × 32 in flight", f("unary_2x32", "calls_per_s"),
        f("unary_2x32", "calls_per_s", "grpcpp"))
    for key, label, tgt, chk in (("so_64", "64 B", "≥ 4×", ge(4)), ("so_1k", "1 KiB", "", None)):
        row("4", f"server streaming {label}, msgs/s", f(key, "msgs_per_s"),
            f(key, "msgs_per_s", "grpcpp"), tgt, None, chk)
        row("4", f"server streaming {label}, MB/s", f(key, "mb_per_s"), f(key, "mb_per_s", "grpcpp"))
    bulk = tcp.get("bulk_mb_per_s")
    row("4", "server streaming 1 MiB, msgs/s", f("so_1m", "msgs_per_s"),
        f("so_1m", "msgs_per_s", "grpcpp"))
    row("4", "server streaming 1 MiB, MB/s", f("so_1m", "mb_per_s"), f("so_1m", "mb_per_s", "grpcpp"),
        "≥ 1.3× and ≥ 75 % of bulk", bulk,
        lambda h, g, r: r is not None and r >= 1.3 and bulk is not None and h >= 0.75 * bulk)
    row("4", "client streaming 64 B, msgs/s", f("si_64", "msgs_per_s"),
        f("si_64", "msgs_per_s", "grpcpp"))
    row("4", "client streaming 1 MiB, MB/s", f("si_1m", "mb_per_s"), f("si_1m", "mb_per_s", "grpcpp"),
        "", bulk)
    row("5", "bidi echo round trip p50 µs (64 B)", f("echo_64", "p50_us"),
        f("echo_64", "p50_us", "grpcpp"), "≤ 0.5×", tcp.get("p50_us"), le(0.5))
    row("5", "bidi echo round trip p50 ÷ TCP ping-pong p50", over_ping(f("echo_64", "p50_us")),
        over_ping(f("echo_64", "p50_us", "grpcpp")), ratio=False)
    floor_note("echo p50", 0.5, f("echo_64", "p50_us", "grpcpp"))
    row("5", "bidi echo round trip p99 µs (64 B)", f("echo_64", "p99_us"),
        f("echo_64", "p99_us", "grpcpp"), "", tcp.get("p99_us"))
    hq = {i: median([x.get("req_per_s") for x in h2l.get(i, []) if not x["problems"]]) for i in IMPLS}
    row("6", "h2load unary req/s (-c 4 -m 100, verified)", hq["h2rpc"], hq["grpcpp"], "≥ 6×", ngd,
        ge(6))
    hc = {i: median([x.get("server_cpu_us_per_call") for x in h2l.get(i, []) if not x["problems"]])
          for i in IMPLS}
    row("7", "server CPU µs per unary call (under h2load)", hc["h2rpc"], hc["grpcpp"],
        "≤ 0.1× (≈ 7 µs)", None, le(0.1))
    row("7", "client CPU µs per unary call (1 thread)", f("unary_1", "cpu_us_per_op"),
        f("unary_1", "cpu_us_per_op", "grpcpp"))
    row("7", "client CPU µs per unary call (8 threads)", f("unary_8", "cpu_us_per_op"),
        f("unary_8", "cpu_us_per_op", "grpcpp"))
    for key, label in (("unary_1", "1 thread"), ("unary_8", "8 threads")):
        row("7", f"server CPU µs per unary call ({label}, the server's whole run)",
            f(key, "server_cpu_us_per_op"), f(key, "server_cpu_us_per_op", "grpcpp"))
    for key, label in (("unary_1", "unary call (1 thread)"), ("echo_64", "echo round trip")):
        row("7", f"context switches per {label}, client", f(key, "client_switches_per_op"),
            f(key, "client_switches_per_op", "grpcpp"))
        row("7", f"context switches per {label}, server", f(key, "server_switches_per_op"),
            f(key, "server_switches_per_op", "grpcpp"))
    fpv = lambda impl, k, m="rss": ((fp.get(impl) or {}).get(k) or {}).get(m)  # noqa: E731
    kb2mib = lambda v: None if v is None else v / 1024  # noqa: E731
    row("8", "server RSS idle, MiB (floor: h2rpc-floor-idle, libprotobuf + libstdc++, no RPC)",
        kb2mib(fpv("h2rpc", "idle")), kb2mib(fpv("grpcpp", "idle")), "≤ 0.2×",
        kb2mib(fpv("floor", "idle")), le(0.2))
    above = lambda impl: (None if fpv(impl, "idle") is None or fpv("floor", "idle") is None  # noqa: E731
                          else fpv(impl, "idle") - fpv("floor", "idle"))
    row("8", "server RSS idle above the floor program's (what the RPC stack adds), MiB",
        kb2mib(above("h2rpc")), kb2mib(above("grpcpp")))
    row("8", "server RSS idle, h2rpc server linked -static (grpc++: as above, dynamic), MiB "
        "(floor: h2rpc-floor-idle -static)",
        kb2mib(fpv("static", "idle")), kb2mib(fpv("grpcpp", "idle")), "", kb2mib(fpv("floor_static", "idle")))
    row("8", "server RSS idle, both servers linked -static, MiB (floor: h2rpc-floor-idle -static)",
        kb2mib(fpv("static", "idle")), kb2mib(fpv("grpcpp_static", "idle")), "",
        kb2mib(fpv("floor_static", "idle")))
    for link, g_key, floor_key in (("dynamic", "grpcpp", "floor"),
                                   ("-static", "grpcpp_static", "floor_static")):
        g, fl_kb = fpv(g_key, "idle"), fpv(floor_key, "idle")
        if g and fl_kb:
            R.rss_notes.append(f"{link}, 0.2 × grpc++'s {g / 1024:.2f} MiB is {0.2 * g / 1024:.2f} MiB "
                               f"against the floor program's {fl_kb / 1024:.2f} MiB "
                               f"({fl_kb / g:.2f}× grpc++)")
    row("8", "server RSS idle, h2rpc with -Dprotobuf_runtime=lite (grpc++: as above), MiB",
        kb2mib(fpv("lite", "idle")), kb2mib(fpv("grpcpp", "idle")))
    row("8", "server RSS idle, h2rpc protobuf-lite and linked -static (grpc++: as above), MiB",
        kb2mib(fpv("lite_static", "idle")), kb2mib(fpv("grpcpp", "idle")))
    row("8", "server RSS idle: anonymous part (heap, stacks), MiB",
        kb2mib(fpv("h2rpc", "idle", "anon")), kb2mib(fpv("grpcpp", "idle", "anon")))
    row("8", "server PSS idle (shared library pages divided), MiB",
        kb2mib(fpv("h2rpc", "idle", "pss")), kb2mib(fpv("grpcpp", "idle", "pss")))
    row("8", "server RSS, 100 connections (one call each), MiB", kb2mib(fpv("h2rpc", "conns")),
        kb2mib(fpv("grpcpp", "conns")))
    row("8", "server RSS, 1,000 open Echo streams on one connection, MiB",
        kb2mib(fpv("h2rpc", "streams")), kb2mib(fpv("grpcpp", "streams")), "≤ 0.5×", None, le(0.5))
    row("8", "server RSS growth per open stream (1,000 streams − idle), KiB",
        ((fpv("h2rpc", "streams") or 0) - (fpv("h2rpc", "idle") or 0)) / 1000
        if fpv("h2rpc", "streams") else None,
        ((fpv("grpcpp", "streams") or 0) - (fpv("grpcpp", "idle") or 0)) / 1000
        if fpv("grpcpp", "streams") else None)
    if sz:
        clo = sz.get("grpcpp_closure")
        row("8", "library stripped, shared: libh2rpc.so vs grpc++ closure, MiB",
            mib(sz.get("lib_shared")), mib(clo), "≤ 0.1×", None, le(0.1))
        row("8", "library stripped, static: libh2rpc.a vs grpc++ closure, MiB",
            mib(sz.get("lib_static")), mib(clo))
        row("8", "bench server stripped (grpc++: + its closure), MiB", mib(sz.get("server_h2rpc")),
            mib((sz.get("server_grpcpp") or 0) + (clo or 0)) if clo else None)
    if cc:
        t = {i: median([x[0] for x in cc.get(i, [])]) for i in IMPLS}
        m = {i: median([x[1] for x in cc.get(i, [])]) for i in IMPLS}
        row("8", "compile generated stub .cc, CPU s", t["h2rpc"], t["grpcpp"], "≤ 0.3×", None,
            le(0.3))
        row("8", "compile generated stub .cc, peak RSS MiB", kb2mib(m["h2rpc"]), kb2mib(m["grpcpp"]))
    if cg:
        kir = lambda v: None if v is None else v / 1e3  # noqa: E731
        row("9", "callgrind k instructions per unary call, server",
            kir((cg.get("h2rpc") or {}).get("server")), kir((cg.get("grpcpp") or {}).get("server")))
        row("9", "callgrind k instructions per unary call, client",
            kir((cg.get("h2rpc") or {}).get("client")), kir((cg.get("grpcpp") or {}).get("client")))
    # Cross-driving: the column names the h2rpc side; the other side is grpc++ in both columns.
    row("x", "unary p50 µs, grpc++ client → server (column = server)",
        f("unary_1", "p50_us", "grpcpp", "h2rpc"), f("unary_1", "p50_us", "grpcpp"))
    row("x", "unary p50 µs, client → grpc++ server (column = client)",
        f("unary_1", "p50_us", "h2rpc", "grpcpp"), f("unary_1", "p50_us", "grpcpp"))
    row("x", "unary calls/s 8 threads, grpc++ client → server (column = server)",
        f("unary_8", "calls_per_s", "grpcpp", "h2rpc"), f("unary_8", "calls_per_s", "grpcpp"))
    row("x", "unary calls/s 8 threads, client → grpc++ server (column = client)",
        f("unary_8", "calls_per_s", "h2rpc", "grpcpp"), f("unary_8", "calls_per_s", "grpcpp"))
    row("x", "client CPU µs/call 1 thread, → grpc++ server (column = client)",
        f("unary_1", "cpu_us_per_op", "h2rpc", "grpcpp"), f("unary_1", "cpu_us_per_op", "grpcpp"))

    lines = ["| # | figure | h2rpc | grpc++ | h2rpc ÷ grpc++ | target | floor |",
             "|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    def h2lv(impl, field):
        return median([x.get(field) for x in h2l[impl] if not x["problems"]])
    for third in (t for t in THIRD_SERVER_NOTE if t in h2l):
        name = LABEL[third]
        lines += ["", f"Another server, {THIRD_SERVER_NOTE[third]}, driven by the same h2rpc client "
                  "as the h2rpc server (medians of the same rounds):", "",
                  f"| figure | h2rpc server | {name} server | h2rpc ÷ {name} |",
                  "|---|---:|---:|---:|"]
        third_rows = [
            ("unary p50 µs (1 thread, 64 B)", f("unary_1", "p50_us"),
             f("unary_1", "p50_us", "h2rpc", third)),
            ("unary calls/s, 8 threads, one channel", f("unary_8", "calls_per_s"),
             f("unary_8", "calls_per_s", "h2rpc", third)),
            ("server streaming 64 B, msgs/s", f("so_64", "msgs_per_s"),
             f("so_64", "msgs_per_s", "h2rpc", third)),
            ("bidi echo round trip p50 µs (64 B)", f("echo_64", "p50_us"),
             f("echo_64", "p50_us", "h2rpc", third)),
            ("h2load unary req/s (-c 4 -m 100, verified)", h2lv("h2rpc", "req_per_s"),
             h2lv(third, "req_per_s")),
            ("server CPU µs per unary call (under h2load)", h2lv("h2rpc", "server_cpu_us_per_call"),
             h2lv(third, "server_cpu_us_per_call")),
            ("server RSS idle, MiB", kb2mib(fpv("h2rpc", "idle")), kb2mib(fpv(third, "idle"))),
        ]
        for figure, h, j in third_rows:
            r = f"{h / j:.2f}×" if h is not None and j not in (None, 0) else ""
            lines.append(f"| {figure} | {fmt(h)} | {fmt(j)} | {r} |")
    if any(key[1] == "grpcjs" for key in R.runs):
        lines += ["", "A third client, grpc-js (Node.js; its T threads are T concurrent callers on "
                  "Node.js's one thread; a 2 s warm-up in a full run, for Node.js's compiler), "
                  "driving the h2rpc server next to the h2rpc client (medians of the same "
                  "rounds):", "",
                  "| figure | h2rpc client | grpc-js client | h2rpc ÷ grpc-js |",
                  "|---|---:|---:|---:|"]
        client_rows = [
            ("unary p50 µs (1 thread, 64 B)", "unary_1", "p50_us"),
            ("unary calls/s, 8 threads, one channel", "unary_8", "calls_per_s"),
            ("server streaming 64 B, msgs/s", "so_64", "msgs_per_s"),
            ("bidi echo round trip p50 µs (64 B)", "echo_64", "p50_us"),
            ("client CPU µs per unary call (1 thread)", "unary_1", "cpu_us_per_op"),
            ("client CPU µs per unary call (8 threads)", "unary_8", "cpu_us_per_op"),
        ]
        for figure, scen, field in client_rows:
            h, j = f(scen, field), f(scen, field, "grpcjs", "h2rpc")
            r = f"{h / j:.2f}×" if h is not None and j not in (None, 0) else ""
            lines.append(f"| {figure} | {fmt(h)} | {fmt(j)} | {r} |")
    return "\n".join(lines)


def main():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default="build-release")
    ap.add_argument("--shared-build", default="")
    ap.add_argument("--lite-build", default="", help="a -Dprotobuf_runtime=lite build tree")
    ap.add_argument("--grpcjs-server", default="",
                    help="peers/grpcjs/grpcjs-bench-server, with grpc-js in $GRPCJS_NODE_MODULES")
    ap.add_argument("--grpcgo-server", default="",
                    help="grpcgo-bench-server (peers/grpcgo/build.sh)")
    ap.add_argument("--grpcjs-client", default="",
                    help="peers/grpcjs/grpcjs-bench-client, with grpc-js in $GRPCJS_NODE_MODULES")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SECONDS", "2") or 2))
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--h2load-n", type=int, default=100000)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--cg-calls", type=int, default=2000)
    ap.add_argument("--cg-seconds", type=float, default=2.0)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--smoke", action="store_true", default=os.environ.get("SMOKE") == "1")
    ap.add_argument("--out", default="")
    ap.add_argument("--command", default="bench/compare.sh")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
        args.seconds = min(args.seconds, 1.0)
        args.warmup = 0.2
        args.h2load_n = min(args.h2load_n, 2000)
    start = time.time()
    R, fl, h2l, fp, sz, cc, cg, impls = run_all(args)
    table = build_table(R, fl, h2l, fp, sz, cc, cg, impls)
    print(table)
    if R.problems:
        print("\nFailed checks (figures above use only the runs that passed):")
        for p in R.problems:
            print(f"- {p}")
    if args.smoke:
        print(f"\nbench smoke: {len(R.runs)} client x server scenarios, {len(R.problems)} problems, "
              f"{time.time() - start:.0f} s")
        return 1 if R.problems or len(impls) == 0 else 0
    if args.out:
        write_report(args, table, R, sz, cg, impls, time.time() - start)
    return 0


def read_text(path, default):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def write_report(args, table, R, sz, cg, impls, elapsed):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    idle = "cpuidle driver " + read_text("/sys/devices/system/cpu/cpuidle/current_driver", "unknown")
    halt_poll = read_text("/sys/module/haltpoll/parameters/guest_halt_poll_ns", "")
    if halt_poll:
        idle += f", guest_halt_poll_ns {halt_poll}"
    lines = [
        "# h2rpc vs grpc++: latest comparison",
        "",
        f"- date: {now}",
        f"- command: `{args.command}` (RUNS={args.runs}, SECONDS={args.seconds:g})",
        f"- machine: {os.cpu_count()} CPUs, Linux {platform.release()}, {gxx[0] if gxx else 'g++'}; "
        f"{idle}; load average at the end: {' '.join(load)}; run took {elapsed / 60:.1f} min",
        f"- implementations measured: {', '.join(LABEL[i] for i in impls)}"
        + "".join(f" and the {LABEL[t]} server" for t, exe in
                  (("grpcjs", args.grpcjs_server), ("grpcgo", args.grpcgo_server)) if exe),
        "",
        "Each client figure is the median of RUNS runs of a fresh server + one contract client "
        f"({args.seconds:g} s window after 0.5 s warm-up), h2rpc and grpc++ interleaved; every "
        "run is verified against the server's exit counters. Ratio = h2rpc ÷ grpc++ (lower is "
        "better for µs, CPU, RSS, sizes, compile cost and instructions; higher for rates). "
        "`floor` is what the machine itself does (raw TCP, nghttpd).",
        "",
        table,
        "",
    ]
    if R.floor_notes:
        lines += ["Latency targets against the machine's floor: " + "; ".join(R.floor_notes) + ".",
                  ""]
    if R.rss_notes:
        lines += ["The ≤ 0.2× idle RSS target against the idle floor (h2rpc-floor-idle: libprotobuf, "
                  "libstdc++ and one thread, no RPC), with both servers linked alike: "
                  + "; ".join(R.rss_notes) + ".", ""]
    lines += ["<details><summary>Every run (scenario, client → server: ops/s, p50, p99, client "
              "CPU per op), to judge the spread behind each median</summary>", ""]
    for (key, c, srv), runs in R.runs.items():
        lines.append(f"- {key}, {LABEL[c]} → {LABEL[srv]}: " + " | ".join(brief(r) for r in runs))
    lines += ["", "</details>", ""]
    if R.problems:
        lines += ["Failed checks (their runs are left out of the figures):", ""]
        lines += [f"- {p}" for p in R.problems] + [""]
    if sz.get("grpcpp_closure_libs"):
        lines += [f"grpc++ closure (ldd of grpcpp-bench-server minus the libraries h2rpc also "
                  f"uses: what the h2rpc bench server loads, plus OpenSSL, zlib, protobuf): "
                  f"{', '.join(sz['grpcpp_closure_libs'])}. libh2rpc's own "
                  f"extra dependency, libnghttp2, is {sz.get('nghttp2', 0) / 1024:.0f} KiB "
                  "stripped.", ""]
    if cg:
        lines += [f"callgrind: per-call instructions are the difference between a short and a "
                  f"long run divided by the difference in calls (start-up cancels out); server "
                  f"driven by `h2load -c 1 -m 1`, client against its own native server. Raw "
                  f"outputs: `{cg.get('outdir')}`.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    log(f"compare: wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
