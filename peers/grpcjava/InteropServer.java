// The gRPC interop test server (doc/interop-test-descriptions.md) on grpc-java with its Netty
// transport, with the flags of h2rpc-interop-server so tests/interop/run_matrix.sh can start it:
//   grpcjava-interop-server --port=N [--bind=ADDR] [--use_tls=BOOL] [--tls_cert_file=F --tls_key_file=F]
// Prints {"impl":"grpcjava","event":"listening","port":N,"tls":BOOL} once it serves; stops on
// SIGTERM or SIGINT.
//
// grpc-java lets a handler compress one response and not the next, so response_compressed is
// honoured; it does not tell a handler whether a request was compressed, so expect_compressed
// is not (run_matrix.sh does not run the two client_compressed_* cases against this server).

import com.google.protobuf.ByteString;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.EmptyProtos.Empty;
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
import java.io.File;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

public final class InteropServer {
  private static final Metadata.Key<String> ECHO_INITIAL =
      Metadata.Key.of("x-grpc-test-echo-initial", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<byte[]> ECHO_TRAILING =
      Metadata.Key.of("x-grpc-test-echo-trailing-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /** Echoes the request's x-grpc-test-echo-* metadata: initial in headers, trailing with the status. */
  static final class EchoMetadata implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, R> call, Metadata request, ServerCallHandler<Q, R> next) {
      return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
        @Override public void sendHeaders(Metadata headers) {
          for (String v : iterable(request.getAll(ECHO_INITIAL))) headers.put(ECHO_INITIAL, v);
          super.sendHeaders(headers);
        }
        @Override public void close(Status status, Metadata trailers) {
          for (byte[] v : iterable(request.getAll(ECHO_TRAILING))) trailers.put(ECHO_TRAILING, v);
          super.close(status, trailers);
        }
      }, request);
    }

    private static <T> Iterable<T> iterable(Iterable<T> values) {
      return values == null ? List.of() : values;
    }
  }

  static Payload payload(int size) {
    if (size < 0) throw Status.INVALID_ARGUMENT.withDescription("negative response size").asRuntimeException();
    return Payload.newBuilder().setBody(ByteString.copyFrom(new byte[size])).build();
  }

  static Status echoStatus(EchoStatus s) {
    return Status.fromCodeValue(s.getCode()).withDescription(s.getMessage());
  }

  static final class TestService extends TestServiceGrpc.TestServiceImplBase {
    @Override public void emptyCall(Empty request, StreamObserver<Empty> out) {
      out.onNext(Empty.getDefaultInstance());
      out.onCompleted();
    }

    @Override public void unaryCall(SimpleRequest request, StreamObserver<SimpleResponse> out) {
      if (request.hasResponseStatus() && request.getResponseStatus().getCode() != 0) {
        out.onError(echoStatus(request.getResponseStatus()).asRuntimeException());
        return;
      }
      ServerCallStreamObserver<SimpleResponse> call = (ServerCallStreamObserver<SimpleResponse>) out;
      if (request.getResponseCompressed().getValue()) {
        call.setCompression("gzip");
        call.setMessageCompression(true);
      } else {
        call.setMessageCompression(false);
      }
      out.onNext(SimpleResponse.newBuilder().setPayload(payload(request.getResponseSize())).build());
      out.onCompleted();
    }

    @Override public void streamingOutputCall(StreamingOutputCallRequest request,
        StreamObserver<StreamingOutputCallResponse> out) {
      ServerCallStreamObserver<StreamingOutputCallResponse> call =
          (ServerCallStreamObserver<StreamingOutputCallResponse>) out;
      boolean anyCompressed = false;
      for (ResponseParameters p : request.getResponseParametersList()) {
        anyCompressed |= p.getCompressed().getValue();
      }
      if (anyCompressed) call.setCompression("gzip");
      for (ResponseParameters p : request.getResponseParametersList()) {
        if (call.isCancelled()) return;
        if (p.getIntervalUs() > 0) {
          try {
            TimeUnit.MICROSECONDS.sleep(p.getIntervalUs());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
        call.setMessageCompression(p.getCompressed().getValue());
        out.onNext(StreamingOutputCallResponse.newBuilder().setPayload(payload(p.getSize())).build());
      }
      out.onCompleted();
    }

    @Override public StreamObserver<StreamingInputCallRequest> streamingInputCall(
        StreamObserver<StreamingInputCallResponse> out) {
      return new StreamObserver<>() {
        int total;
        @Override public void onNext(StreamingInputCallRequest m) { total += m.getPayload().getBody().size(); }
        @Override public void onError(Throwable t) {}
        @Override public void onCompleted() {
          out.onNext(StreamingInputCallResponse.newBuilder().setAggregatedPayloadSize(total).build());
          out.onCompleted();
        }
      };
    }

    @Override public StreamObserver<StreamingOutputCallRequest> fullDuplexCall(
        StreamObserver<StreamingOutputCallResponse> out) {
      return new StreamObserver<>() {
        boolean ended;
        @Override public void onNext(StreamingOutputCallRequest m) {
          if (ended) return;
          if (m.hasResponseStatus() && m.getResponseStatus().getCode() != 0) {
            ended = true;
            out.onError(echoStatus(m.getResponseStatus()).asRuntimeException());
            return;
          }
          for (ResponseParameters p : m.getResponseParametersList()) {
            out.onNext(StreamingOutputCallResponse.newBuilder().setPayload(payload(p.getSize())).build());
          }
        }
        @Override public void onError(Throwable t) { ended = true; }
        @Override public void onCompleted() {
          if (ended) return;
          ended = true;
          out.onCompleted();
        }
      };
    }

    @Override public StreamObserver<StreamingOutputCallRequest> halfDuplexCall(
        StreamObserver<StreamingOutputCallResponse> out) {
      List<StreamingOutputCallRequest> held = new ArrayList<>();
      return new StreamObserver<>() {
        @Override public void onNext(StreamingOutputCallRequest m) { held.add(m); }
        @Override public void onError(Throwable t) {}
        @Override public void onCompleted() {
          for (StreamingOutputCallRequest m : held) {
            for (ResponseParameters p : m.getResponseParametersList()) {
              out.onNext(StreamingOutputCallResponse.newBuilder().setPayload(payload(p.getSize())).build());
            }
          }
          out.onCompleted();
        }
      };
    }
    // UnimplementedCall is left to the base class, which answers UNIMPLEMENTED.
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> flags = InteropFlags.parse(args, "port", "bind", "use_tls", "tls_cert_file", "tls_key_file");
    String bind = flags.getOrDefault("bind", "127.0.0.1");
    NettyServerBuilder builder = NettyServerBuilder.forAddress(
        new InetSocketAddress(bind, Integer.parseInt(flags.getOrDefault("port", "0"))));
    boolean tls = InteropFlags.bool(flags, "use_tls");
    if (tls) {
      String cert = flags.getOrDefault("tls_cert_file", "");
      String key = flags.getOrDefault("tls_key_file", "");
      if (cert.isEmpty() && key.isEmpty()) {  // gRPC's interop test pair, as every interop server
        cert = InteropFlags.testCredential("server1.pem");
        key = InteropFlags.testCredential("server1.key");
      }
      builder.sslContext(GrpcSslContexts.forServer(new File(cert), new File(key)).build());
    }
    builder.maxInboundMessageSize(64 << 20);
    builder.addService(ServerInterceptors.intercept(new TestService(), new EchoMetadata()));
    Server server = builder.build().start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      server.shutdownNow();
    }));
    System.out.println("{\"impl\":\"grpcjava\",\"event\":\"listening\",\"port\":" + server.getPort()
        + ",\"tls\":" + tls + "}");
    System.out.flush();
    server.awaitTermination();
  }
}
