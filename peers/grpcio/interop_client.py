"""The gRPC interop test client (doc/interop-test-descriptions.md) on grpcio, the Python
binding of gRPC's C core (Debian's python3-grpcio 1.51). Same flags as h2rpc-interop-client,
so tests/interop/run_matrix.sh drives it:

  grpcio-interop-client --server_host=H --server_port=P --test_case=NAME [--use_tls=BOOL]
                        [--server_host_override=NAME] [--tls_ca_file=F | --use_test_ca]

Exit status 0 when the case passed; otherwise 1 with the reason on stderr. grpcio does not
tell whether a received message was compressed, so the server_compressed_* cases check the
payloads only; it compresses every message of a call or none, so client_compressed_streaming
sends both of its messages compressed.
"""

import queue
import sys

import grpc
from grpc_testing import empty_pb2, messages_pb2, test_pb2_grpc

from interop_common import parse_flags, read_file, test_credential

CASE_DEADLINE_S = 10
LARGE_REQUEST_SIZE = 271828
LARGE_RESPONSE_SIZE = 314159
ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_INITIAL = "test_initial_metadata_value"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING = b"\xab\xab\xab"


class CaseFailure(Exception):
    """A case's verdict; any other exception is a bug in this client."""


def expect(condition, message):
    if not condition:
        raise CaseFailure(message)


def expect_code(call, code, what):
    """Runs CALL (a function making the RPC) and expects it to fail with CODE; returns the
    error."""
    try:
        call()
    except grpc.RpcError as e:
        expect(e.code() == code, f"{what}: status {e.code()} ({e.details()}), expected {code}")
        return e
    raise CaseFailure(f"{what}: succeeded, expected {code}")


def ok(call, what):
    try:
        return call()
    except grpc.RpcError as e:
        raise CaseFailure(f"{what}: status {e.code()} ({e.details()})") from None


def expect_zeros(payload, size, what):
    body = payload.body
    expect(len(body) == size, f"{what}: payload of {len(body)} bytes, expected {size}")
    expect(body == bytes(size), f"{what}: payload is not all zeros")


def zeros(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=bytes(size))


def large_request(**fields):
    return messages_pb2.SimpleRequest(response_type=messages_pb2.COMPRESSABLE,
                                      response_size=LARGE_RESPONSE_SIZE,
                                      payload=zeros(LARGE_REQUEST_SIZE), **fields)


def output_request(response_size, payload_size=None, **fields):
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=response_size)], **fields)
    if payload_size is not None:
        request.payload.CopyFrom(zeros(payload_size))
    return request


class RequestPipe:
    """The request side of a streaming call, fed one message at a time by the case."""

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, request):
        self._queue.put(request)

    def close(self):
        self._queue.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        request = self._queue.get()
        if request is None:
            raise StopIteration
        return request


def expect_end(responses, what):
    rest = ok(lambda: list(responses), what)
    expect(not rest, f"{what}: {len(rest)} more responses, expected the end")


def empty_unary(stub, channel):
    reply = ok(lambda: stub.EmptyCall(empty_pb2.Empty(), timeout=CASE_DEADLINE_S), "EmptyCall")
    expect(isinstance(reply, empty_pb2.Empty), "EmptyCall: no response")


def large_unary(stub, channel):
    reply = ok(lambda: stub.UnaryCall(large_request(), timeout=CASE_DEADLINE_S), "UnaryCall")
    expect_zeros(reply.payload, LARGE_RESPONSE_SIZE, "UnaryCall")


def client_compressed_unary(stub, channel):
    # 1. Feature probe: an uncompressed message claiming expect_compressed.
    probe = large_request(expect_compressed=messages_pb2.BoolValue(value=True))
    expect_code(lambda: stub.UnaryCall(probe, timeout=CASE_DEADLINE_S),
                grpc.StatusCode.INVALID_ARGUMENT,
                "probe UnaryCall (uncompressed, expect_compressed)")
    # 2. A gzip-compressed message, 3. an uncompressed one.
    for compression, expected in ((grpc.Compression.Gzip, True), (None, False)):
        what = f"UnaryCall(compressed={expected})"
        request = large_request(expect_compressed=messages_pb2.BoolValue(value=expected))
        reply = ok(lambda: stub.UnaryCall(request, timeout=CASE_DEADLINE_S,
                                          compression=compression), what)
        expect_zeros(reply.payload, LARGE_RESPONSE_SIZE, what)


def server_compressed_unary(stub, channel):
    for compressed in (True, False):
        what = f"UnaryCall(response_compressed={compressed})"
        request = large_request(response_compressed=messages_pb2.BoolValue(value=compressed))
        reply = ok(lambda: stub.UnaryCall(request, timeout=CASE_DEADLINE_S), what)
        expect_zeros(reply.payload, LARGE_RESPONSE_SIZE, what)


def client_streaming(stub, channel):
    requests = [messages_pb2.StreamingInputCallRequest(payload=zeros(size))
                for size in (27182, 8, 1828, 45904)]
    reply = ok(lambda: stub.StreamingInputCall(iter(requests), timeout=CASE_DEADLINE_S),
               "StreamingInputCall")
    expect(reply.aggregated_payload_size == 74922,
           f"StreamingInputCall: aggregated_payload_size {reply.aggregated_payload_size}, "
           "expected 74922")


def client_compressed_streaming(stub, channel):
    def request(size):
        return messages_pb2.StreamingInputCallRequest(
            expect_compressed=messages_pb2.BoolValue(value=True), payload=zeros(size))

    # 1. Feature probe: one uncompressed message claiming expect_compressed.
    expect_code(lambda: stub.StreamingInputCall(iter([request(27182)]), timeout=CASE_DEADLINE_S),
                grpc.StatusCode.INVALID_ARGUMENT,
                "probe StreamingInputCall (uncompressed, expect_compressed)")
    # 2. Compressed messages.
    reply = ok(lambda: stub.StreamingInputCall(iter([request(27182), request(45904)]),
                                               timeout=CASE_DEADLINE_S,
                                               compression=grpc.Compression.Gzip),
               "compressed StreamingInputCall")
    expect(reply.aggregated_payload_size == 73086,
           f"compressed StreamingInputCall: aggregated_payload_size "
           f"{reply.aggregated_payload_size}, expected 73086")


def expect_stream(stub, request, sizes, what):
    responses = ok(lambda: list(stub.StreamingOutputCall(request, timeout=CASE_DEADLINE_S)), what)
    expect(len(responses) == len(sizes),
           f"{what}: {len(responses)} responses, expected {len(sizes)}")
    for i, (response, size) in enumerate(zip(responses, sizes)):
        expect_zeros(response.payload, size, f"{what} response {i}")


def server_streaming(stub, channel):
    sizes = (31415, 9, 2653, 58979)
    request = messages_pb2.StreamingOutputCallRequest(
        response_type=messages_pb2.COMPRESSABLE,
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
    expect_stream(stub, request, sizes, "StreamingOutputCall")


def server_compressed_streaming(stub, channel):
    sizes = (31415, 92653)
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(compressed=messages_pb2.BoolValue(value=compressed), size=s)
        for compressed, s in zip((True, False), sizes)])
    expect_stream(stub, request, sizes, "StreamingOutputCall")


def ping_pong(stub, channel):
    pipe = RequestPipe()
    responses = stub.FullDuplexCall(pipe, timeout=CASE_DEADLINE_S)
    try:
        for response_size, request_size in ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904)):
            pipe.add(output_request(response_size, request_size))
            what = f"FullDuplexCall response to the {request_size}-byte request"
            response = ok(lambda: next(responses, None), what)
            expect(response is not None, f"{what}: the stream ended")
            expect_zeros(response.payload, response_size, what)
    finally:
        pipe.close()
    expect_end(responses, "FullDuplexCall after the last request")


def empty_stream(stub, channel):
    pipe = RequestPipe()
    pipe.close()
    expect_end(stub.FullDuplexCall(pipe, timeout=CASE_DEADLINE_S),
               "FullDuplexCall on an empty stream")


def check_echo(call, what):
    initial = [v for k, v in call.initial_metadata() if k == ECHO_INITIAL_KEY]
    expect(initial == [ECHO_INITIAL], f"{what}: initial metadata {initial!r}")
    trailing = [v for k, v in call.trailing_metadata() if k == ECHO_TRAILING_KEY]
    expect(trailing == [ECHO_TRAILING], f"{what}: trailing metadata {trailing!r}")


def custom_metadata(stub, channel):
    metadata = ((ECHO_INITIAL_KEY, ECHO_INITIAL), (ECHO_TRAILING_KEY, ECHO_TRAILING))
    reply, call = ok(lambda: stub.UnaryCall.with_call(large_request(), metadata=metadata,
                                                      timeout=CASE_DEADLINE_S), "UnaryCall")
    expect_zeros(reply.payload, LARGE_RESPONSE_SIZE, "UnaryCall")
    check_echo(call, "UnaryCall")

    pipe = RequestPipe()
    responses = stub.FullDuplexCall(pipe, metadata=metadata, timeout=CASE_DEADLINE_S)
    pipe.add(output_request(LARGE_RESPONSE_SIZE, LARGE_REQUEST_SIZE))
    pipe.close()
    received = ok(lambda: list(responses), "FullDuplexCall")
    expect(len(received) == 1, f"FullDuplexCall: {len(received)} responses, expected 1")
    expect_zeros(received[0].payload, LARGE_RESPONSE_SIZE, "FullDuplexCall response")
    check_echo(responses, "FullDuplexCall")


def expect_status(call, code, message, what):
    error = expect_code(call, code, what)
    expect(error.details() == message, f"{what}: message {error.details()!r}, expected {message!r}")


def status_on_unary(stub, message):
    """Asks UnaryCall to fail UNKNOWN with MESSAGE and checks that it did."""
    echo = messages_pb2.EchoStatus(code=grpc.StatusCode.UNKNOWN.value[0], message=message)
    request = messages_pb2.SimpleRequest(response_status=echo)
    expect_status(lambda: stub.UnaryCall(request, timeout=CASE_DEADLINE_S),
                  grpc.StatusCode.UNKNOWN, message, "UnaryCall")
    return echo


def status_code_and_message(stub, channel):
    message = "test status message"
    echo = status_on_unary(stub, message)
    pipe = RequestPipe()
    pipe.add(messages_pb2.StreamingOutputCallRequest(response_status=echo))
    pipe.close()
    expect_status(lambda: list(stub.FullDuplexCall(pipe, timeout=CASE_DEADLINE_S)),
                  grpc.StatusCode.UNKNOWN, message, "FullDuplexCall")


def special_status_message(stub, channel):
    status_on_unary(stub, "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP "
                          "\U0001f608\t\n")


def unimplemented_method(stub, channel):
    expect_code(lambda: stub.UnimplementedCall(empty_pb2.Empty(), timeout=CASE_DEADLINE_S),
                grpc.StatusCode.UNIMPLEMENTED, "UnimplementedCall")


def unimplemented_service(stub, channel):
    other = test_pb2_grpc.UnimplementedServiceStub(channel)
    expect_code(lambda: other.UnimplementedCall(empty_pb2.Empty(), timeout=CASE_DEADLINE_S),
                grpc.StatusCode.UNIMPLEMENTED, "UnimplementedService.UnimplementedCall")


def cancel_after_begin(stub, channel):
    pipe = RequestPipe()
    try:
        future = stub.StreamingInputCall.future(pipe)
        future.cancel()
        expect(future.cancelled(), "StreamingInputCall: cancel() did not cancel the call")
        expect(future.code() == grpc.StatusCode.CANCELLED,
               f"StreamingInputCall: status {future.code()}, expected CANCELLED")
    finally:
        pipe.close()


def cancel_after_first_response(stub, channel):
    pipe = RequestPipe()
    try:
        responses = stub.FullDuplexCall(pipe)
        pipe.add(output_request(31415, 27182))
        first = ok(lambda: next(responses, None), "FullDuplexCall first response")
        expect(first is not None, "FullDuplexCall: the stream ended before its first response")
        expect_zeros(first.payload, 31415, "FullDuplexCall first response")
        responses.cancel()
        expect_code(lambda: next(responses), grpc.StatusCode.CANCELLED,
                    "FullDuplexCall after cancel")
    finally:
        pipe.close()


def timeout_on_sleeping_server(stub, channel):
    pipe = RequestPipe()
    try:
        responses = stub.FullDuplexCall(pipe, timeout=0.001)
        pipe.add(messages_pb2.StreamingOutputCallRequest(payload=zeros(27182)))
        expect_code(lambda: next(responses), grpc.StatusCode.DEADLINE_EXCEEDED, "FullDuplexCall")
    finally:
        pipe.close()


CASES = {f.__name__: f for f in (
    empty_unary, large_unary, client_compressed_unary, server_compressed_unary,
    client_streaming, client_compressed_streaming, server_streaming,
    server_compressed_streaming, ping_pong, empty_stream, custom_metadata,
    status_code_and_message, special_status_message, unimplemented_method,
    unimplemented_service, cancel_after_begin, cancel_after_first_response,
    timeout_on_sleeping_server)}


def open_channel(flags):
    target = f"{flags['server_host']}:{flags['server_port']}"
    if ":" in flags["server_host"]:
        target = f"[{flags['server_host']}]:{flags['server_port']}"
    if not flags["use_tls"]:
        channel = grpc.insecure_channel(target)
    else:
        if flags["tls_ca_file"]:
            roots = read_file(flags["tls_ca_file"])
        elif flags["use_test_ca"]:
            roots = test_credential("ca.pem")
        else:
            roots = None  # the system's roots
        options = []
        if flags["server_host_override"]:
            options.append(("grpc.ssl_target_name_override", flags["server_host_override"]))
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options)
    try:
        grpc.channel_ready_future(channel).result(timeout=CASE_DEADLINE_S)
    except grpc.FutureTimeoutError:
        raise CaseFailure(f"cannot connect to {target} within {CASE_DEADLINE_S} s") from None
    return channel


def main():
    flags = parse_flags("grpcio-interop-client", sys.argv[1:], {
        "server_host": "127.0.0.1", "server_port": 0, "test_case": "", "use_tls": False,
        "server_host_override": "", "tls_ca_file": "", "use_test_ca": False})
    case = CASES.get(flags["test_case"])
    if case is None:
        print(f"grpcio-interop-client: unknown --test_case={flags['test_case']}", file=sys.stderr)
        return 2
    try:
        with open_channel(flags) as channel:
            case(test_pb2_grpc.TestServiceStub(channel), channel)
    except (CaseFailure, OSError) as failure:
        print(f"{flags['test_case']}: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
