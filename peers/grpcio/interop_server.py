"""The gRPC interop test server (doc/interop-test-descriptions.md) on grpcio, the Python
binding of gRPC's C core (Debian's python3-grpcio 1.51), with the flags of
h2rpc-interop-server so tests/interop/run_matrix.sh can start it:

  grpcio-interop-server --port=N [--bind=ADDR] [--use_tls=BOOL] [--tls_cert_file=F --tls_key_file=F]

Prints {"impl":"grpcio","event":"listening","port":N,"tls":BOOL} once it serves; stops on
SIGTERM or SIGINT. A bare --use_tls=true presents gRPC's test pair (server1.pem/.key).

grpcio compresses per call and can leave single responses uncompressed, so response_compressed
is honoured; a handler cannot see whether a request was compressed, so expect_compressed is
not, and run_matrix.sh does not run the two client_compressed_* cases against this server.
"""

import json
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_testing import empty_pb2, messages_pb2, test_pb2_grpc

from interop_common import parse_flags, read_file, test_credential

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"


def payload(context, size):
    if size < 0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"negative response size {size}")
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=bytes(size))


def echo_metadata(context):
    """Sends the initial metadata the client asked to have echoed, and sets the trailing."""
    received = context.invocation_metadata()
    initial = tuple((k, v) for k, v in received if k == ECHO_INITIAL_KEY)
    trailing = tuple((k, v) for k, v in received if k == ECHO_TRAILING_KEY)
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def abort_with_echo_status(context, echo_status):
    if echo_status.code != 0:
        code = _STATUS_BY_NUMBER.get(echo_status.code, grpc.StatusCode.UNKNOWN)
        context.abort(code, echo_status.message)


def stream_responses(context, parameters):
    """One zero-filled response per parameter, each after its interval, each compressed or
    not as the parameter asks."""
    for p in parameters:
        if p.interval_us > 0:
            time.sleep(p.interval_us / 1e6)
            if not context.is_active():
                return
        if p.HasField("compressed"):
            if p.compressed.value:
                context.set_compression(grpc.Compression.Gzip)
            else:
                context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=payload(context, p.size))


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        if request.HasField("response_status"):
            abort_with_echo_status(context, request.response_status)
        if request.HasField("response_compressed"):
            context.set_compression(grpc.Compression.Gzip if request.response_compressed.value
                                    else grpc.Compression.NoCompression)
        return messages_pb2.SimpleResponse(payload=payload(context, request.response_size))

    def StreamingOutputCall(self, request, context):
        yield from stream_responses(context, request.response_parameters)

    def StreamingInputCall(self, request_iterator, context):
        total = sum(len(m.payload.body) for m in request_iterator)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for request in request_iterator:
            if request.HasField("response_status"):
                abort_with_echo_status(context, request.response_status)
            yield from stream_responses(context, request.response_parameters)

    def HalfDuplexCall(self, request_iterator, context):
        held = list(request_iterator)
        for request in held:
            yield from stream_responses(context, request.response_parameters)


def main():
    flags = parse_flags("grpcio-interop-server", sys.argv[1:], {
        "port": 0, "bind": "127.0.0.1", "use_tls": False, "tls_cert_file": "",
        "tls_key_file": ""})
    # One thread per call in flight, as many as the interop cases and the chaos mix need.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    address = f"{flags['bind']}:{flags['port']}"
    if ":" in flags["bind"]:
        address = f"[{flags['bind']}]:{flags['port']}"
    if flags["use_tls"]:
        try:
            if flags["tls_cert_file"] or flags["tls_key_file"]:
                pair = (read_file(flags["tls_key_file"]), read_file(flags["tls_cert_file"]))
            else:  # gRPC's interop test pair, as every interop server
                pair = (test_credential("server1.key"), test_credential("server1.pem"))
        except OSError as e:
            sys.exit(f"grpcio-interop-server: TLS credentials: {e}")
        port = server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        sys.exit(f"grpcio-interop-server: cannot listen on {address}")
    server.start()

    stopped = threading.Event()

    def stop(signum, frame):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"impl": "grpcio", "event": "listening", "port": port,
                      "tls": flags["use_tls"]}, separators=(",", ":")), flush=True)
    stopped.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
