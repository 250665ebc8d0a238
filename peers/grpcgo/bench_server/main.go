// grpcgo-bench-server: bench.Bench (shared/bench/bench.proto, shared/bench/CONTRACT.md) on
// grpc-go, a server that shares no code with h2rpc, grpc++ or grpc-js, for h2rpc-chaos-client
// and any contract client to drive.
//
//	grpcgo-bench-server --port P [--bind ADDR] [--max_connection_age_ms MS]
//
// Prints {"impl":"grpcgo","event":"listening","port":P}; SIGUSR1 prints the counters (event
// "stats"); SIGTERM/SIGINT shut down (running calls get 2 s) and print them (event "exit").
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	benchpb "h2rpcpeer/bench"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

var (
	port = flag.Int("port", 0, "port to listen on (0: any)")
	bind = flag.String("bind", "127.0.0.1", "address to listen on")
	// The same knob as h2rpc's bench server, so that a client's behaviour across a server's
	// graceful GOAWAYs can be checked against grpc-go's own server.
	maxAgeMs = flag.Int("max_connection_age_ms", 0, "end each connection this old with a graceful GOAWAY (0: never)")
)

type counters struct {
	Unary          int64 `json:"unary"`
	StreamOutCalls int64 `json:"stream_out_calls"`
	StreamOutMsgs  int64 `json:"stream_out_msgs"`
	StreamInCalls  int64 `json:"stream_in_calls"`
	StreamInMsgs   int64 `json:"stream_in_msgs"`
	EchoCalls      int64 `json:"echo_calls"`
	EchoMsgs       int64 `json:"echo_msgs"`
	BytesIn        int64 `json:"bytes_in"`
	BytesOut       int64 `json:"bytes_out"`
}

type benchServer struct {
	benchpb.UnimplementedBenchServer
	n counters
}

func (s *benchServer) Unary(_ context.Context, in *benchpb.Payload) (*benchpb.Payload, error) {
	atomic.AddInt64(&s.n.Unary, 1)
	atomic.AddInt64(&s.n.BytesIn, int64(len(in.GetBody())))
	atomic.AddInt64(&s.n.BytesOut, int64(len(in.GetBody())))
	return &benchpb.Payload{Body: in.GetBody()}, nil
}

func (s *benchServer) StreamOut(in *benchpb.StreamRequest, stream benchpb.Bench_StreamOutServer) error {
	atomic.AddInt64(&s.n.StreamOutCalls, 1)
	size := in.GetSize()
	if size < 0 {
		size = 0
	}
	reply := &benchpb.Payload{Body: bytes.Repeat([]byte{'x'}, int(size))}
	for sent := int32(0); in.GetCount() <= 0 || sent < in.GetCount(); sent++ {
		if err := stream.Send(reply); err != nil {
			return err // cancelled (count <= 0 runs until then)
		}
		atomic.AddInt64(&s.n.StreamOutMsgs, 1)
		atomic.AddInt64(&s.n.BytesOut, int64(size))
	}
	return nil
}

func (s *benchServer) StreamIn(stream benchpb.Bench_StreamInServer) error {
	atomic.AddInt64(&s.n.StreamInCalls, 1)
	var summary benchpb.Summary
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&summary)
		}
		if err != nil {
			return err
		}
		summary.Count++
		summary.Bytes += int64(len(m.GetBody()))
		atomic.AddInt64(&s.n.StreamInMsgs, 1)
		atomic.AddInt64(&s.n.BytesIn, int64(len(m.GetBody())))
	}
}

func (s *benchServer) Echo(stream benchpb.Bench_EchoServer) error {
	atomic.AddInt64(&s.n.EchoCalls, 1)
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		atomic.AddInt64(&s.n.EchoMsgs, 1)
		atomic.AddInt64(&s.n.BytesIn, int64(len(m.GetBody())))
		if err := stream.Send(m); err != nil {
			return err
		}
		atomic.AddInt64(&s.n.BytesOut, int64(len(m.GetBody())))
	}
}

func (s *benchServer) report(event string) {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	cpu := float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9
	line, _ := json.Marshal(struct {
		Impl  string `json:"impl"`
		Event string `json:"event"`
		counters
		CPU    float64 `json:"cpu_s"`
		MaxRSS int64   `json:"maxrss_kb"`
	}{"grpcgo", event, counters{
		Unary: atomic.LoadInt64(&s.n.Unary), StreamOutCalls: atomic.LoadInt64(&s.n.StreamOutCalls),
		StreamOutMsgs: atomic.LoadInt64(&s.n.StreamOutMsgs), StreamInCalls: atomic.LoadInt64(&s.n.StreamInCalls),
		StreamInMsgs: atomic.LoadInt64(&s.n.StreamInMsgs), EchoCalls: atomic.LoadInt64(&s.n.EchoCalls),
		EchoMsgs: atomic.LoadInt64(&s.n.EchoMsgs), BytesIn: atomic.LoadInt64(&s.n.BytesIn),
		BytesOut: atomic.LoadInt64(&s.n.BytesOut),
	}, float64(int64(cpu*1000)) / 1000, usage.Maxrss})
	fmt.Println(string(line))
}

func main() {
	flag.Parse()
	listener, err := net.Listen("tcp", net.JoinHostPort(*bind, fmt.Sprint(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcgo-bench-server: cannot listen: %v\n", err)
		os.Exit(1)
	}
	options := []grpc.ServerOption{grpc.MaxRecvMsgSize(64 << 20), grpc.MaxSendMsgSize(64 << 20)}
	if *maxAgeMs > 0 {
		options = append(options, grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      time.Duration(*maxAgeMs) * time.Millisecond,
			MaxConnectionAgeGrace: 20 * time.Second,
		}))
	}
	server := grpc.NewServer(options...)
	bench := &benchServer{}
	benchpb.RegisterBenchServer(server, bench)

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	stopped := make(chan struct{})
	go func() {
		for sig := range signals {
			if sig == syscall.SIGUSR1 {
				bench.report("stats")
				continue
			}
			done := make(chan struct{})
			go func() { server.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				server.Stop()
			}
			close(stopped)
			return
		}
	}()

	line, _ := json.Marshal(struct {
		Impl  string `json:"impl"`
		Event string `json:"event"`
		Port  int    `json:"port"`
	}{"grpcgo", "listening", listener.Addr().(*net.TCPAddr).Port})
	fmt.Println(string(line))
	if err := server.Serve(listener); err != nil {
		fmt.Fprintf(os.Stderr, "grpcgo-bench-server: %v\n", err)
		os.Exit(1)
	}
	<-stopped
	bench.report("exit")
}
