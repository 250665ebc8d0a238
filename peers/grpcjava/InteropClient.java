// The gRPC interop test client (doc/interop-test-descriptions.md) on grpc-java with its Netty
// transport (Debian's libgrpc-java 1.41): an implementation that shares no code with h2rpc,
// grpc++, grpc-js or grpc-go (Netty's HTTP/2 codec and flow control, grpc-java's metadata,
// deadline and compression handling). Same flags as h2rpc-interop-client, so
// tests/interop/run_matrix.sh can drive it:
//   grpcjava-interop-client --server_host=H --server_port=P --test_case=NAME [--use_tls=BOOL]
//                           [--server_host_override=NAME] [--tls_ca_file=F | --use_test_ca=true]
// Exit status 0 when the case passed; otherwise 1 with the reason on stderr.

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.EmptyProtos.Empty;
import io.grpc.testing.integration.Messages.BoolValue;
import io.grpc.testing.integration.Messages.EchoStatus;
import io.grpc.testing.integration.Messages.Payload;
import io.grpc.testing.integration.Messages.ResponseParameters;
import io.grpc.testing.integration.Messages.SimpleRequest;
import io.grpc.testing.integration.Messages.SimpleResponse;
import io.grpc.testing.integration.Messages.StreamingInputCallRequest;
import io.grpc.testing.integration.Messages.StreamingInputCallResponse;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import io.grpc.testing.integration.UnimplementedServiceGrpc;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

public final class InteropClient {
  private static final long DEADLINE_S = 10;
  private static final int LARGE_REQUEST = 271828;
  private static final int LARGE_RESPONSE = 314159;

  /** A case's verdict; anything else thrown is a bug in this client. */
  private static final class Failure extends RuntimeException {
    Failure(String message) { super(message); }
  }

  private static Failure fail(String message) { throw new Failure(message); }

  private final ManagedChannel channel;
  private final TestServiceGrpc.TestServiceBlockingStub blocking;
  private final TestServiceGrpc.TestServiceStub async;

  private InteropClient(ManagedChannel channel) {
    this.channel = channel;
    this.blocking = TestServiceGrpc.newBlockingStub(channel);
    this.async = TestServiceGrpc.newStub(channel);
  }

  private TestServiceGrpc.TestServiceBlockingStub blocking() {
    return blocking.withDeadlineAfter(DEADLINE_S, TimeUnit.SECONDS);
  }

  private TestServiceGrpc.TestServiceStub async() {
    return async.withDeadlineAfter(DEADLINE_S, TimeUnit.SECONDS);
  }

  private static Payload zeros(int n) {
    return Payload.newBuilder().setBody(ByteString.copyFrom(new byte[n])).build();
  }

  private static void expectZeros(Payload p, int size, String what) {
    ByteString body = p.getBody();
    if (body.size() != size) fail(what + ": payload of " + body.size() + " bytes, expected " + size);
    for (int i = 0; i < size; i++) {
      if (body.byteAt(i) != 0) fail(what + ": payload is not all zeros");
    }
  }

  private static SimpleRequest.Builder largeRequest() {
    return SimpleRequest.newBuilder().setResponseSize(LARGE_RESPONSE).setPayload(zeros(LARGE_REQUEST));
  }

  private static BoolValue bool(boolean v) { return BoolValue.newBuilder().setValue(v).build(); }

  private static Status.Code codeOf(Throwable t) { return Status.fromThrowable(t).getCode(); }

  private static void expectCode(Throwable t, Status.Code code, String what) {
    Status.Code got = t == null ? Status.Code.OK : codeOf(t);
    if (got != code) {
      fail(what + ": status " + got + (t == null ? "" : " (" + Status.fromThrowable(t).getDescription() + ")")
          + ", expected " + code);
    }
  }

  private static void expectStatus(Throwable t, Status.Code code, String message, String what) {
    expectCode(t, code, what);
    String got = Status.fromThrowable(t).getDescription();
    if (!message.equals(got)) fail(what + ": message \"" + got + "\", expected \"" + message + "\"");
  }

  /** Collects a call's responses and its end, for the streaming cases. */
  private static final class Recorder<T> implements StreamObserver<T> {
    private static final Object END = new Object();
    private final LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private volatile Throwable error;

    @Override public void onNext(T value) { events.add(value); }
    @Override public void onError(Throwable t) { error = t; events.add(END); }
    @Override public void onCompleted() { events.add(END); }

    /** The next response, or null at the end of the call. */
    @SuppressWarnings("unchecked")
    T next(String what) throws InterruptedException {
      Object e = events.poll(DEADLINE_S + 5, TimeUnit.SECONDS);
      if (e == null) fail(what + ": nothing arrived within " + (DEADLINE_S + 5) + " s");
      if (e == END) {
        events.add(END);  // later calls see the end again
        return null;
      }
      return (T) e;
    }

    /** Waits for the end; the error it ended with, or null for OK. */
    Throwable end(String what) throws InterruptedException {
      while (next(what) != null) { }
      return error;
    }
  }

  void emptyUnary() {
    if (blocking().emptyCall(Empty.getDefaultInstance()) == null) fail("EmptyCall: no response");
  }

  void largeUnary() {
    expectZeros(blocking().unaryCall(largeRequest().build()).getPayload(), LARGE_RESPONSE, "UnaryCall");
  }

  void clientCompressedUnary() {
    SimpleRequest probe = largeRequest().setExpectCompressed(bool(true)).build();
    try {
      blocking().unaryCall(probe);
      fail("probe UnaryCall (uncompressed, expect_compressed): OK, expected INVALID_ARGUMENT");
    } catch (StatusRuntimeException e) {
      expectCode(e, Status.Code.INVALID_ARGUMENT, "probe UnaryCall (uncompressed, expect_compressed)");
    }
    expectZeros(blocking().withCompression("gzip").unaryCall(probe).getPayload(), LARGE_RESPONSE,
        "compressed UnaryCall");
    SimpleRequest plain = largeRequest().setExpectCompressed(bool(false)).build();
    expectZeros(blocking().unaryCall(plain).getPayload(), LARGE_RESPONSE, "uncompressed UnaryCall");
  }

  // grpc-java does not tell whether a received message was compressed: the payloads are checked.
  void serverCompressedUnary() {
    for (boolean compressed : new boolean[] {true, false}) {
      String what = "UnaryCall(response_compressed=" + compressed + ")";
      SimpleResponse r = blocking().unaryCall(largeRequest().setResponseCompressed(bool(compressed)).build());
      expectZeros(r.getPayload(), LARGE_RESPONSE, what);
    }
  }

  private StreamingInputCallResponse streamIn(TestServiceGrpc.TestServiceStub stub,
      List<StreamingInputCallRequest> requests, Status.Code expected, String what) throws InterruptedException {
    Recorder<StreamingInputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingInputCallRequest> call = stub.streamingInputCall(responses);
    for (StreamingInputCallRequest r : requests) call.onNext(r);
    call.onCompleted();
    StreamingInputCallResponse reply = responses.next(what);
    expectCode(responses.end(what), expected, what);
    return reply;
  }

  void clientStreaming() throws InterruptedException {
    List<StreamingInputCallRequest> requests = new ArrayList<>();
    for (int size : new int[] {27182, 8, 1828, 45904}) {
      requests.add(StreamingInputCallRequest.newBuilder().setPayload(zeros(size)).build());
    }
    StreamingInputCallResponse r = streamIn(async(), requests, Status.Code.OK, "StreamingInputCall");
    if (r == null || r.getAggregatedPayloadSize() != 74922) {
      fail("StreamingInputCall: aggregated_payload_size " + (r == null ? "none" : r.getAggregatedPayloadSize()));
    }
  }

  void clientCompressedStreaming() throws InterruptedException {
    streamIn(async(), List.of(StreamingInputCallRequest.newBuilder().setExpectCompressed(bool(true))
            .setPayload(zeros(27182)).build()),
        Status.Code.INVALID_ARGUMENT, "probe StreamingInputCall (uncompressed, expect_compressed)");
    List<StreamingInputCallRequest> requests = new ArrayList<>();
    for (int size : new int[] {27182, 45904}) {
      requests.add(StreamingInputCallRequest.newBuilder().setExpectCompressed(bool(true))
          .setPayload(zeros(size)).build());
    }
    StreamingInputCallResponse r = streamIn(async().withCompression("gzip"), requests, Status.Code.OK,
        "compressed StreamingInputCall");
    if (r == null || r.getAggregatedPayloadSize() != 73086) {
      fail("compressed StreamingInputCall: aggregated_payload_size "
          + (r == null ? "none" : r.getAggregatedPayloadSize()));
    }
  }

  private void receiveSizes(StreamingOutputCallRequest request, int[] sizes, String what) {
    Iterator<StreamingOutputCallResponse> it = blocking().streamingOutputCall(request);
    int i = 0;
    while (it.hasNext()) {
      StreamingOutputCallResponse m = it.next();
      if (i >= sizes.length) fail(what + ": more than " + sizes.length + " responses");
      expectZeros(m.getPayload(), sizes[i], what + " response " + i);
      i++;
    }
    if (i != sizes.length) fail(what + ": " + i + " responses, expected " + sizes.length);
  }

  void serverStreaming() {
    int[] sizes = {31415, 9, 2653, 58979};
    StreamingOutputCallRequest.Builder req = StreamingOutputCallRequest.newBuilder();
    for (int size : sizes) req.addResponseParameters(ResponseParameters.newBuilder().setSize(size));
    receiveSizes(req.build(), sizes, "StreamingOutputCall");
  }

  void serverCompressedStreaming() {
    StreamingOutputCallRequest req = StreamingOutputCallRequest.newBuilder()
        .addResponseParameters(ResponseParameters.newBuilder().setCompressed(bool(true)).setSize(31415))
        .addResponseParameters(ResponseParameters.newBuilder().setCompressed(bool(false)).setSize(92653))
        .build();
    receiveSizes(req, new int[] {31415, 92653}, "StreamingOutputCall");
  }

  private static StreamingOutputCallRequest echoRequest(int responseSize, int requestSize) {
    return StreamingOutputCallRequest.newBuilder()
        .addResponseParameters(ResponseParameters.newBuilder().setSize(responseSize))
        .setPayload(zeros(requestSize)).build();
  }

  void pingPong() throws InterruptedException {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> call = async().fullDuplexCall(responses);
    int[][] sizes = {{31415, 27182}, {9, 8}, {2653, 1828}, {58979, 45904}};
    for (int[] s : sizes) {
      call.onNext(echoRequest(s[0], s[1]));
      StreamingOutputCallResponse m = responses.next("FullDuplexCall");
      if (m == null) fail("FullDuplexCall: no response to the " + s[1] + "-byte request");
      expectZeros(m.getPayload(), s[0], "FullDuplexCall response");
    }
    call.onCompleted();
    if (responses.next("FullDuplexCall") != null) fail("FullDuplexCall: a response after the last request");
    expectCode(responses.end("FullDuplexCall"), Status.Code.OK, "FullDuplexCall");
  }

  void emptyStream() throws InterruptedException {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    async().fullDuplexCall(responses).onCompleted();
    if (responses.next("FullDuplexCall") != null) fail("FullDuplexCall: responses on an empty stream");
    expectCode(responses.end("FullDuplexCall"), Status.Code.OK, "FullDuplexCall");
  }

  private static final Metadata.Key<String> ECHO_INITIAL =
      Metadata.Key.of("x-grpc-test-echo-initial", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<byte[]> ECHO_TRAILING =
      Metadata.Key.of("x-grpc-test-echo-trailing-bin", Metadata.BINARY_BYTE_MARSHALLER);
  private static final String INITIAL_VALUE = "test_initial_metadata_value";
  private static final byte[] TRAILING_VALUE = {(byte) 0xab, (byte) 0xab, (byte) 0xab};

  private static void checkEcho(String what, Metadata headers, Metadata trailers) {
    String initial = headers == null ? null : headers.get(ECHO_INITIAL);
    if (!INITIAL_VALUE.equals(initial)) fail(what + ": initial metadata " + initial);
    byte[] trailing = trailers == null ? null : trailers.get(ECHO_TRAILING);
    if (!Arrays.equals(TRAILING_VALUE, trailing)) fail(what + ": trailing metadata " + Arrays.toString(trailing));
  }

  void customMetadata() throws InterruptedException {
    Metadata sent = new Metadata();
    sent.put(ECHO_INITIAL, INITIAL_VALUE);
    sent.put(ECHO_TRAILING, TRAILING_VALUE);
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    SimpleResponse r = blocking().withInterceptors(MetadataUtils.newAttachHeadersInterceptor(sent),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .unaryCall(largeRequest().build());
    expectZeros(r.getPayload(), LARGE_RESPONSE, "UnaryCall");
    checkEcho("UnaryCall", headers.get(), trailers.get());

    headers.set(null);
    trailers.set(null);
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> call = async()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(sent),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .fullDuplexCall(responses);
    call.onNext(echoRequest(LARGE_RESPONSE, LARGE_REQUEST));
    StreamingOutputCallResponse m = responses.next("FullDuplexCall");
    if (m == null) fail("FullDuplexCall: no response");
    expectZeros(m.getPayload(), LARGE_RESPONSE, "FullDuplexCall response");
    call.onCompleted();
    expectCode(responses.end("FullDuplexCall"), Status.Code.OK, "FullDuplexCall");
    checkEcho("FullDuplexCall", headers.get(), trailers.get());
  }

  private void statusOnUnary(String message) {
    EchoStatus status = EchoStatus.newBuilder().setCode(2).setMessage(message).build();
    try {
      blocking().unaryCall(SimpleRequest.newBuilder().setResponseStatus(status).build());
      fail("UnaryCall: OK, expected UNKNOWN");
    } catch (StatusRuntimeException e) {
      expectStatus(e, Status.Code.UNKNOWN, message, "UnaryCall");
    }
  }

  void statusCodeAndMessage() throws InterruptedException {
    String message = "test status message";
    statusOnUnary(message);
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> call = async().fullDuplexCall(responses);
    call.onNext(StreamingOutputCallRequest.newBuilder()
        .setResponseStatus(EchoStatus.newBuilder().setCode(2).setMessage(message)).build());
    call.onCompleted();
    expectStatus(responses.end("FullDuplexCall"), Status.Code.UNKNOWN, message, "FullDuplexCall");
  }

  void specialStatusMessage() {
    statusOnUnary("\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n");
  }

  void unimplementedMethod() {
    try {
      blocking().unimplementedCall(Empty.getDefaultInstance());
      fail("UnimplementedCall: OK, expected UNIMPLEMENTED");
    } catch (StatusRuntimeException e) {
      expectCode(e, Status.Code.UNIMPLEMENTED, "UnimplementedCall");
    }
  }

  void unimplementedService() {
    try {
      UnimplementedServiceGrpc.newBlockingStub(channel).withDeadlineAfter(DEADLINE_S, TimeUnit.SECONDS)
          .unimplementedCall(Empty.getDefaultInstance());
      fail("UnimplementedService.UnimplementedCall: OK, expected UNIMPLEMENTED");
    } catch (StatusRuntimeException e) {
      expectCode(e, Status.Code.UNIMPLEMENTED, "UnimplementedService.UnimplementedCall");
    }
  }

  void cancelAfterBegin() throws InterruptedException {
    Recorder<StreamingInputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingInputCallRequest> call = async().streamingInputCall(responses);
    call.onError(new RuntimeException("cancelled by the client"));  // cancels the call
    expectCode(responses.end("StreamingInputCall"), Status.Code.CANCELLED, "StreamingInputCall");
  }

  void cancelAfterFirstResponse() throws InterruptedException {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> call = async().fullDuplexCall(responses);
    call.onNext(echoRequest(31415, 27182));
    StreamingOutputCallResponse m = responses.next("FullDuplexCall");
    if (m == null) fail("FullDuplexCall: no first response");
    expectZeros(m.getPayload(), 31415, "FullDuplexCall first response");
    call.onError(new RuntimeException("cancelled by the client"));
    expectCode(responses.end("FullDuplexCall"), Status.Code.CANCELLED, "FullDuplexCall after cancel");
  }

  void timeoutOnSleepingServer() throws InterruptedException {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> call =
        async.withDeadlineAfter(1, TimeUnit.MILLISECONDS).fullDuplexCall(responses);
    call.onNext(StreamingOutputCallRequest.newBuilder().setPayload(zeros(27182)).build());
    expectCode(responses.end("FullDuplexCall"), Status.Code.DEADLINE_EXCEEDED, "FullDuplexCall");
  }

  interface Case { void run() throws Exception; }

  private Map<String, Case> cases() {
    Map<String, Case> m = new HashMap<>();
    m.put("empty_unary", this::emptyUnary);
    m.put("large_unary", this::largeUnary);
    m.put("client_compressed_unary", this::clientCompressedUnary);
    m.put("server_compressed_unary", this::serverCompressedUnary);
    m.put("client_streaming", this::clientStreaming);
    m.put("client_compressed_streaming", this::clientCompressedStreaming);
    m.put("server_streaming", this::serverStreaming);
    m.put("server_compressed_streaming", this::serverCompressedStreaming);
    m.put("ping_pong", this::pingPong);
    m.put("empty_stream", this::emptyStream);
    m.put("custom_metadata", this::customMetadata);
    m.put("status_code_and_message", this::statusCodeAndMessage);
    m.put("special_status_message", this::specialStatusMessage);
    m.put("unimplemented_method", this::unimplementedMethod);
    m.put("unimplemented_service", this::unimplementedService);
    m.put("cancel_after_begin", this::cancelAfterBegin);
    m.put("cancel_after_first_response", this::cancelAfterFirstResponse);
    m.put("timeout_on_sleeping_server", this::timeoutOnSleepingServer);
    return m;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> flags = InteropFlags.parse(args, "server_host", "server_port", "test_case",
        "use_tls", "server_host_override", "tls_ca_file", "use_test_ca");
    String testCase = flags.getOrDefault("test_case", "");
    int status = 1;
    ManagedChannel channel = null;
    try {
      NettyChannelBuilder builder = NettyChannelBuilder.forAddress(
          flags.getOrDefault("server_host", "127.0.0.1"), Integer.parseInt(flags.getOrDefault("server_port", "0")));
      builder.maxInboundMessageSize(64 << 20);
      String override = flags.getOrDefault("server_host_override", "");
      if (!override.isEmpty()) builder.overrideAuthority(override);
      if (InteropFlags.bool(flags, "use_tls")) {
        String ca = flags.getOrDefault("tls_ca_file", "");
        if (ca.isEmpty() && InteropFlags.bool(flags, "use_test_ca")) ca = InteropFlags.testCredential("ca.pem");
        builder.sslContext(ca.isEmpty() ? GrpcSslContexts.forClient().build()
                                        : GrpcSslContexts.forClient().trustManager(new File(ca)).build());
      } else {
        builder.usePlaintext();
      }
      channel = builder.build();
      Case run = new InteropClient(channel).cases().get(testCase);
      if (run == null) {
        System.err.println("grpcjava-interop-client: unknown --test_case=" + testCase);
        status = 2;
      } else {
        run.run();
        status = 0;
      }
    } catch (Failure f) {
      System.err.println(testCase + ": " + f.getMessage());
    } catch (StatusRuntimeException e) {
      System.err.println(testCase + ": " + e.getStatus());
    } finally {
      if (channel != null) channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(status);
  }
}
