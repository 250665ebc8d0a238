// A grpc-go client that treats a bench.Bench server (shared/bench/bench.proto) the way a busy
// real client does, as peers/grpcjs/chaos_client.js does with grpc-js: 200 calls in flight over
// two connections, all four call kinds, message sizes from 0 B to 4 MiB, deadlines of 5 ms,
// 50 ms and 5 s, and random cancels. Every call must end OK, CANCELLED or DEADLINE_EXCEEDED,
// and every OK reply must carry exactly what was sent. Anything else (INTERNAL, UNAVAILABLE: a
// connection the server gave up on, a too_many_pings GOAWAY for grpc-go's BDP pings) fails it.
//
//	grpcgo-chaos-client --target=HOST:PORT [--calls=N] [--seed=N] [--server_stops=true]
//	                    [--server_goaways=true]
//
// --server_goaways=true: the server ends connections with graceful GOAWAYs (max_connection_age).
// A correct server loses no call that way, but grpc-go 1.33's client still fails some, and the
// run shows the same against grpc-go's own server: UNAVAILABLE "the connection is draining" (a
// new attempt picked the transport that had just read the GOAWAY: grpc-go issue 2767, made
// rarer but not impossible by its PR 2919), and a client stream that ends with io.EOF instead
// of its response (status Unknown "EOF"). Those two are then counted, not failed.
//
// A StreamIn or Echo call whose Send returns io.EOF stops sending, as an application must (the
// stream has ended; its status comes from receiving). grpc-go returns that EOF also when the
// attempt was refused by a GOAWAY and is then retried transparently with what had been sent:
// the call can end OK, and the server must then have seen the messages sent before the EOF,
// or those and the one whose Send returned it (accountedFor).
//
// Prints one JSON line of outcome counts; exit status 1 on any unexpected outcome.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	benchpb "h2rpcpeer/bench"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	target        = flag.String("target", "", "server HOST:PORT")
	calls         = flag.Int("calls", 6000, "calls to make")
	seed          = flag.Uint64("seed", 1, "seed of the call mix (a failing run can be repeated)")
	serverStops   = flag.Bool("server_stops", false, "the server is shut down mid-run: UNAVAILABLE is expected too")
	serverGoaways = flag.Bool("server_goaways", false, "the server ends connections with graceful GOAWAYs: grpc-go's own drain races are counted, not failed")
)

// grpc-go's status message for an attempt started on a transport that is draining.
const drainingMessage = "the connection is draining"

const (
	inFlight   = 200
	maxMessage = 8 << 20
	stuckAfter = 30 * time.Second
)

var (
	sizes     = []int{0, 1, 64, 1000, 70000, 1 << 20, 4 << 20}
	deadlines = []time.Duration{5 * time.Millisecond, 50 * time.Millisecond, 5 * time.Second}
)

// callRandom is one call's deterministic choices (splitmix64 over seed and call index), so the
// mix does not depend on how the goroutines interleave.
type callRandom struct{ state uint64 }

func (r *callRandom) next(n int) int {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}

type outcomes struct {
	mu         sync.Mutex
	counts     map[string]int
	unexpected []string
}

// record counts one call's outcome; what describes wrong content.
func (o *outcomes) record(kind string, err error, contentOK bool, what string) {
	code := status.Code(err)
	name := kind + " " + code.String()
	drainRace := *serverGoaways && code == codes.Unavailable && status.Convert(err).Message() == drainingMessage
	if drainRace {
		name += " (drain race)"
	}
	noResponse := *serverGoaways && kind == "stream_in" && err == io.EOF
	if noResponse {
		name += " (no response after a retry)"
	}
	if !contentOK {
		name += " (wrong content)"
	}
	expected := code == codes.OK || code == codes.Canceled || code == codes.DeadlineExceeded ||
		(*serverStops && code == codes.Unavailable) || drainRace || noResponse
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts[name]++
	if (!expected || !contentOK) && len(o.unexpected) < 10 {
		detail := ""
		if err != nil {
			detail = status.Convert(err).Message()
		}
		if !contentOK {
			detail = what
		}
		o.unexpected = append(o.unexpected, name+": "+detail)
	}
}

// openCall is what the watchdog reports about a call that does not end.
type openCall struct {
	Kind      string `json:"kind"`
	Size      int    `json:"size"`
	Deadline  string `json:"deadline"`
	CancelMs  int    `json:"cancel_after_ms"`
	StartedMs int64  `json:"started_ms_ago"`
	started   time.Time
}

type chaos struct {
	conns []*grpc.ClientConn
	out   outcomes
	mu    sync.Mutex
	open  map[int]*openCall
}

func body(i, size int) []byte {
	return bytes.Repeat([]byte{byte('a' + i%26)}, size)
}

func (c *chaos) oneCall(i int) {
	r := callRandom{state: *seed*0x100000001b3 + uint64(i)}
	client := benchpb.NewBenchClient(c.conns[i%len(c.conns)])
	size := sizes[r.next(len(sizes))]
	deadline := deadlines[r.next(len(deadlines))]
	cancelAfter := -1
	if r.next(4) == 0 { // a quarter of calls get cancelled
		cancelAfter = r.next(5)
	}
	kind := r.next(4)
	names := []string{"unary", "stream_out", "stream_in", "echo"}
	seen := &openCall{Kind: names[kind], Size: size, Deadline: deadline.String(), CancelMs: cancelAfter, started: time.Now()}
	c.mu.Lock()
	c.open[i] = seen
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.open, i)
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if cancelAfter >= 0 {
		timer := time.AfterFunc(time.Duration(cancelAfter)*time.Millisecond, cancel)
		defer timer.Stop()
	}
	limits := []grpc.CallOption{grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)}
	sent := body(i, size)

	switch kind {
	case 0:
		reply, err := client.Unary(ctx, &benchpb.Payload{Body: sent}, limits...)
		c.out.record("unary", err, err != nil || bytes.Equal(reply.GetBody(), sent), "the reply differs")
	case 1:
		count := 1 + r.next(20)
		each := min(size, 100000)
		stream, err := client.StreamOut(ctx, &benchpb.StreamRequest{Count: int32(count), Size: int32(each)}, limits...)
		var received int
		var wrong bool
		if err == nil {
			received, wrong, err = receiveAll(stream.Recv, func(m *benchpb.Payload) bool { return len(m.GetBody()) == each })
		}
		c.out.record("stream_out", err, err != nil || (!wrong && received == count),
			fmt.Sprintf("asked for %d messages of %d bytes, got %d (wrong bodies among them: %v)", count, each, received, wrong))
	case 2:
		messages := 1 + r.next(10)
		each := min(size, 200000)
		stream, err := client.StreamIn(ctx, limits...)
		sends := 0
		for k := 0; err == nil && k < messages; k++ {
			err = stream.Send(&benchpb.Payload{Body: sent[:each]})
			sends++
		}
		sendEOF := err == io.EOF
		var summary *benchpb.Summary
		if err == nil || sendEOF { // io.EOF: the stream ended; CloseAndRecv says how
			summary, err = stream.CloseAndRecv()
		}
		counted := summary.GetCount()
		c.out.record("stream_in", err,
			err != nil || (accountedFor(int(counted), sends, sendEOF) && summary.GetBytes() == counted*int64(each)),
			fmt.Sprintf("sent %d of %d messages of %d bytes (the last Send EOF: %v), the server counted %d messages, %d bytes",
				sends, messages, each, sendEOF, summary.GetCount(), summary.GetBytes()))
	default:
		messages := 1 + r.next(10)
		echo := sent[:min(size, 300000)]
		stream, err := client.Echo(ctx, limits...)
		if err != nil {
			c.out.record("echo", err, true, "")
			return
		}
		// Send from another goroutine: the server echoes while it reads, and both directions'
		// flow-control windows are smaller than what one call may send.
		senderDone := make(chan struct{})
		sends, sendEOF := 0, false
		go func() {
			defer close(senderDone)
			for k := 0; k < messages; k++ {
				err := stream.Send(&benchpb.Payload{Body: echo})
				sends++
				if err != nil {
					sendEOF = err == io.EOF
					return
				}
			}
			_ = stream.CloseSend()
		}()
		echoed, wrong, err := receiveAll(stream.Recv, func(m *benchpb.Payload) bool { return bytes.Equal(m.GetBody(), echo) })
		<-senderDone // the stream has ended, so a Send in progress returns
		c.out.record("echo", err, err != nil || (!wrong && accountedFor(echoed, sends, sendEOF)),
			fmt.Sprintf("sent %d of %d messages of %d bytes (the last Send EOF: %v), %d came back (wrong bodies among them: %v)",
				sends, messages, len(echo), sendEOF, echoed, wrong))
	}
}

// accountedFor says whether a server that saw `got` messages saw what the client sent: all
// `sends` Send calls, or, when the last one returned io.EOF (the stream had ended, and may have
// been retried transparently with what had been buffered), those before it, with or without it.
func accountedFor(got, sends int, lastSendEOF bool) bool {
	return got == sends || (lastSendEOF && got == sends-1)
}

// receiveAll reads a stream to its end: how many messages came, whether any failed expected,
// and the error it ended with (nil for a clean end).
func receiveAll(recv func() (*benchpb.Payload, error), expected func(*benchpb.Payload) bool) (int, bool, error) {
	count, wrong := 0, false
	for {
		m, err := recv()
		if err == io.EOF {
			return count, wrong, nil
		}
		if err != nil {
			return count, wrong, err
		}
		count++
		wrong = wrong || !expected(m)
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// watch fails the run, with the stuck calls, if any call outlives every deadline by far.
func (c *chaos) watch(done <-chan struct{}) {
	ticker := time.NewTicker(5 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
		}
		c.mu.Lock()
		var stuck []int
		for i, call := range c.open {
			if time.Since(call.started) > stuckAfter {
				stuck = append(stuck, i)
			}
		}
		sort.Ints(stuck)
		if len(stuck) > 0 {
			fmt.Fprintf(os.Stderr, "grpcgo-chaos-client: %d call(s) open for over %v, e.g.\n", len(stuck), stuckAfter)
			for _, i := range stuck[:min(len(stuck), 5)] {
				call := c.open[i]
				call.StartedMs = time.Since(call.started).Milliseconds()
				line, _ := json.Marshal(call)
				fmt.Fprintf(os.Stderr, "  call %d: %s\n", i, line)
			}
			os.Exit(1)
		}
		c.mu.Unlock()
	}
}

func main() {
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "usage: grpcgo-chaos-client --target=HOST:PORT [--calls=N] [--seed=N] [--server_stops=BOOL] [--server_goaways=BOOL]")
		os.Exit(2)
	}
	c := &chaos{out: outcomes{counts: map[string]int{}}, open: map[int]*openCall{}}
	for k := 0; k < 2; k++ {
		conn, err := grpc.Dial(*target, grpc.WithInsecure())
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpcgo-chaos-client: %v\n", err)
			os.Exit(1)
		}
		defer conn.Close()
		c.conns = append(c.conns, conn)
	}
	started := time.Now()
	done := make(chan struct{})
	go c.watch(done)
	var next int64 = -1
	var workers sync.WaitGroup
	for w := 0; w < inFlight; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := int(atomic.AddInt64(&next, 1)); i < *calls; i = int(atomic.AddInt64(&next, 1)) {
				c.oneCall(i)
			}
		}()
	}
	workers.Wait()
	close(done)
	line, _ := json.Marshal(struct {
		Calls  int            `json:"calls"`
		Ms     int64          `json:"ms"`
		Counts map[string]int `json:"counts"`
	}{*calls, time.Since(started).Milliseconds(), c.out.counts})
	fmt.Println(string(line))
	if len(c.out.unexpected) > 0 {
		fmt.Fprintf(os.Stderr, "grpcgo-chaos-client: unexpected outcomes:\n  %s\n", joinLines(c.out.unexpected))
		os.Exit(1)
	}
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for k, l := range lines {
		if k > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(l)
	}
	return b.String()
}
