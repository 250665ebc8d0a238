// A grpc-java (Netty) client that treats a bench.Bench server (shared/bench/bench.proto) the way
// a busy real client does, as peers/grpcgo/chaos_client does with grpc-go: 200 calls in flight
// over two connections, all four call kinds, message sizes from 0 B to 4 MiB, deadlines of 5 ms,
// 50 ms and 5 s, and random cancels. Every call must end OK, CANCELLED or DEADLINE_EXCEEDED, and
// every OK reply must carry exactly what was sent; anything else fails the run, and so does a
// call still open 30 s after it started.
//
//   grpcjava-chaos-client --target=HOST:PORT [--calls=N] [--seed=N] [--server_stops=true]
//
// Prints one JSON line of outcome counts; exit status 1 on any unexpected outcome.

import bench.BenchGrpc;
import bench.BenchOuterClass.Payload;
import bench.BenchOuterClass.StreamRequest;
import bench.BenchOuterClass.Summary;
import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

public final class ChaosClient {
  private static final int IN_FLIGHT = 200;
  private static final int MAX_MESSAGE = 8 << 20;
  private static final long STUCK_AFTER_MS = 30_000;
  private static final int[] SIZES = {0, 1, 64, 1000, 70000, 1 << 20, 4 << 20};
  private static final long[] DEADLINES_MS = {5, 50, 5000};
  private static final String[] KINDS = {"unary", "stream_out", "stream_in", "echo"};

  /** One call's choices (splitmix64 over seed and call index, as the Go client). */
  private static final class CallRandom {
    private long state;

    CallRandom(long seed, long index) {
      state = seed * 0x100000001b3L + index;
    }

    int next(int n) {
      state += 0x9e3779b97f4a7c15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
      z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
      z ^= z >>> 31;
      return (int) Long.remainderUnsigned(z, n);
    }
  }

  /** What a streaming call's response side saw. */
  private static final class Received<T> implements StreamObserver<T> {
    final List<T> messages = new ArrayList<>();
    final CountDownLatch done = new CountDownLatch(1);
    volatile Status status;

    @Override
    public synchronized void onNext(T message) {
      messages.add(message);
    }

    @Override
    public void onError(Throwable t) {
      status = Status.fromThrowable(t);
      done.countDown();
    }

    @Override
    public void onCompleted() {
      status = Status.OK;
      done.countDown();
    }

    Status await() throws InterruptedException {
      done.await();
      return status;
    }
  }

  private final List<ManagedChannel> channels = new ArrayList<>();
  private final long seed;
  private final boolean serverStops;
  private final ScheduledExecutorService timers = Executors.newScheduledThreadPool(2);
  private final Map<String, Integer> counts = new TreeMap<>();
  private final List<String> unexpected = new ArrayList<>();
  private final Map<Integer, String> open = new ConcurrentHashMap<>();
  private final Map<Integer, Long> openSince = new ConcurrentHashMap<>();

  private ChaosClient(String target, long seed, boolean serverStops) {
    for (int k = 0; k < 2; k++) {
      channels.add(NettyChannelBuilder.forTarget(target).usePlaintext()
          .maxInboundMessageSize(MAX_MESSAGE).build());
    }
    this.seed = seed;
    this.serverStops = serverStops;
  }

  private synchronized void record(String kind, Status status, boolean contentOk) {
    Status.Code code = status.getCode();
    String name = kind + " " + code + (contentOk ? "" : " (wrong content)");
    counts.merge(name, 1, Integer::sum);
    boolean expected = code == Status.Code.OK || code == Status.Code.CANCELLED
        || code == Status.Code.DEADLINE_EXCEEDED || (serverStops && code == Status.Code.UNAVAILABLE);
    if ((!expected || !contentOk) && unexpected.size() < 10) {
      unexpected.add(name + ": " + status.getDescription());
    }
  }

  private void oneCall(int i) throws InterruptedException {
    CallRandom r = new CallRandom(seed, i);
    int size = SIZES[r.next(SIZES.length)];
    long deadlineMs = DEADLINES_MS[r.next(DEADLINES_MS.length)];
    int cancelAfterMs = r.next(4) == 0 ? r.next(5) : -1;  // a quarter get cancelled
    String kind = KINDS[r.next(4)];
    open.put(i, kind + " size=" + size + " deadline=" + deadlineMs + "ms cancel_after_ms="
        + cancelAfterMs);
    openSince.put(i, System.currentTimeMillis());
    byte[] body = new byte[size];
    Arrays.fill(body, (byte) ('a' + i % 26));
    ByteString sent = ByteString.copyFrom(body);
    BenchGrpc.BenchStub stub = BenchGrpc.newStub(channels.get(i % channels.size()))
        .withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
        .withMaxInboundMessageSize(MAX_MESSAGE).withMaxOutboundMessageSize(MAX_MESSAGE);
    Context.CancellableContext context = Context.current().withCancellation();
    if (cancelAfterMs >= 0) {
      timers.schedule(() -> context.cancel(null), cancelAfterMs, TimeUnit.MILLISECONDS);
    }
    Context previous = context.attach();
    try {
      switch (kind) {
        case "unary": {
          Received<Payload> reply = new Received<>();
          stub.unary(Payload.newBuilder().setBody(sent).build(), reply);
          Status status = reply.await();
          record(kind, status, !status.isOk()
              || (reply.messages.size() == 1 && reply.messages.get(0).getBody().equals(sent)));
          break;
        }
        case "stream_out": {
          int count = 1 + r.next(20);
          int each = Math.min(size, 100000);
          Received<Payload> replies = new Received<>();
          stub.streamOut(StreamRequest.newBuilder().setCount(count).setSize(each).build(), replies);
          Status status = replies.await();
          boolean right = replies.messages.size() == count;
          for (Payload m : replies.messages) right &= m.getBody().size() == each;
          record(kind, status, !status.isOk() || right);
          break;
        }
        case "stream_in": {
          int messages = 1 + r.next(10);
          int each = Math.min(size, 200000);
          Received<Summary> reply = new Received<>();
          StreamObserver<Payload> requests = stub.streamIn(reply);
          Payload message = Payload.newBuilder().setBody(sent.substring(0, each)).build();
          for (int k = 0; k < messages; k++) requests.onNext(message);
          requests.onCompleted();
          Status status = reply.await();
          record(kind, status, !status.isOk() || (reply.messages.size() == 1
              && reply.messages.get(0).getCount() == messages
              && reply.messages.get(0).getBytes() == (long) messages * each));
          break;
        }
        default: {
          int messages = 1 + r.next(10);
          ByteString echo = sent.substring(0, Math.min(size, 300000));
          Received<Payload> replies = new Received<>();
          StreamObserver<Payload> requests = stub.echo(replies);
          Payload message = Payload.newBuilder().setBody(echo).build();
          for (int k = 0; k < messages; k++) requests.onNext(message);
          requests.onCompleted();
          Status status = replies.await();
          boolean right = replies.messages.size() == messages;
          for (Payload m : replies.messages) right &= m.getBody().equals(echo);
          record(kind, status, !status.isOk() || right);
          break;
        }
      }
    } finally {
      context.detach(previous);
      context.cancel(null);
      open.remove(i);
      openSince.remove(i);
    }
  }

  /** Fails the run, naming the stuck calls, if any call outlives every deadline by far. */
  private void watch() {
    long now = System.currentTimeMillis();
    List<Integer> stuck = new ArrayList<>();
    openSince.forEach((i, since) -> {
      if (now - since > STUCK_AFTER_MS) stuck.add(i);
    });
    if (stuck.isEmpty()) return;
    System.err.println("grpcjava-chaos-client: " + stuck.size() + " call(s) open for over "
        + STUCK_AFTER_MS / 1000 + " s, e.g.");
    for (int i : stuck.subList(0, Math.min(5, stuck.size()))) {
      System.err.println("  call " + i + ": " + open.get(i));
    }
    System.exit(1);
  }

  public static void main(String[] args) throws Exception {
    // Cancelled calls make Netty log every frame it then ignores (INFO), and grpc-java 1.41's
    // client leaks a pooled buffer when a cancel races a write (its own leak, reported SEVERE):
    // neither is about the server, and thousands of lines would bury the verdict.
    System.setProperty("io.netty.leakDetection.level", "disabled");
    Logger.getLogger("io.netty").setLevel(Level.WARNING);
    Map<String, String> flags =
        InteropFlags.parse(args, "target", "calls", "seed", "server_stops");
    String target = flags.get("target");
    if (target == null) {
      InteropFlags.usage("--target=HOST:PORT is required");
    }
    int calls = Integer.parseInt(flags.getOrDefault("calls", "6000"));
    ChaosClient chaos = new ChaosClient(target, Long.parseLong(flags.getOrDefault("seed", "1")),
        InteropFlags.bool(flags, "server_stops"));
    chaos.timers.scheduleAtFixedRate(chaos::watch, 5, 5, TimeUnit.SECONDS);
    long started = System.currentTimeMillis();
    AtomicInteger next = new AtomicInteger();
    List<Thread> workers = new ArrayList<>();
    for (int w = 0; w < IN_FLIGHT; w++) {
      Thread worker = new Thread(() -> {
        try {
          for (int i = next.getAndIncrement(); i < calls; i = next.getAndIncrement()) {
            chaos.oneCall(i);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      worker.start();
      workers.add(worker);
    }
    for (Thread worker : workers) worker.join();
    StringBuilder line = new StringBuilder();
    line.append("{\"calls\":").append(calls).append(",\"ms\":")
        .append(System.currentTimeMillis() - started).append(",\"counts\":{");
    String separator = "";
    for (Map.Entry<String, Integer> e : chaos.counts.entrySet()) {
      line.append(separator).append('"').append(e.getKey()).append("\":").append(e.getValue());
      separator = ",";
    }
    System.out.println(line.append("}}"));
    for (ManagedChannel channel : chaos.channels) channel.shutdownNow();
    if (!chaos.unexpected.isEmpty()) {
      System.err.println("grpcjava-chaos-client: unexpected outcomes:\n  "
          + String.join("\n  ", chaos.unexpected));
      System.exit(1);
    }
    System.exit(0);
  }
}
