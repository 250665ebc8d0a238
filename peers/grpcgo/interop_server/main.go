// The gRPC interop test server (doc/interop-test-descriptions.md) on grpc-go, with the flags of
// h2rpc-interop-server so tests/interop/run_matrix.sh can start it:
//
//	grpcgo-interop-server --port=N [--bind=ADDR] [--use_tls=BOOL] [--tls_cert_file=F --tls_key_file=F]
//
// Prints {"impl":"grpcgo","event":"listening","port":N,"tls":BOOL} once it serves; stops on
// SIGTERM or SIGINT.
//
// grpc-go neither tells a handler whether a request message was compressed nor lets it choose
// compression per response (it answers in the request's encoding), so expect_compressed and
// response_compressed are not honoured here: run_matrix.sh does not run the four *_compressed_*
// cases against this server.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	testpb "h2rpcpeer/grpc_testing"
	"h2rpcpeer/testcreds"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // answers gzip-compressed requests in kind
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	port        = flag.Int("port", 0, "port to listen on (0: any)")
	bind        = flag.String("bind", "127.0.0.1", "address to listen on")
	useTLS      = flag.Bool("use_tls", false, "serve TLS")
	tlsCertFile = flag.String("tls_cert_file", "", "server certificate chain (PEM)")
	tlsKeyFile  = flag.String("tls_key_file", "", "server private key (PEM)")
)

const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

type testServer struct {
	testpb.UnimplementedTestServiceServer
}

func payload(size int32) (*testpb.Payload, error) {
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "negative response size %d", size)
	}
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, size)}, nil
}

// echoMetadata returns the initial and trailing metadata the client asked to have echoed.
func echoMetadata(ctx context.Context) (initial, trailing metadata.MD) {
	md, _ := metadata.FromIncomingContext(ctx)
	initial, trailing = metadata.MD{}, metadata.MD{}
	if v := md.Get(echoInitialKey); len(v) > 0 {
		initial.Set(echoInitialKey, v...)
	}
	if v := md.Get(echoTrailingKey); len(v) > 0 {
		trailing.Set(echoTrailingKey, v...)
	}
	return initial, trailing
}

func echoStatus(s *testpb.EchoStatus) error {
	if s == nil || s.GetCode() == 0 {
		return nil
	}
	return status.Error(codes.Code(s.GetCode()), s.GetMessage())
}

func (testServer) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func (testServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	initial, trailing := echoMetadata(ctx)
	if len(initial) > 0 {
		if err := grpc.SendHeader(ctx, initial); err != nil {
			return nil, err
		}
	}
	if len(trailing) > 0 {
		if err := grpc.SetTrailer(ctx, trailing); err != nil {
			return nil, err
		}
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	pl, err := payload(in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: pl}, nil
}

// responseSender is what the streaming handlers send StreamingOutputCallResponses on.
type responseSender interface {
	Send(*testpb.StreamingOutputCallResponse) error
}

// sendResponses sends one zero-filled response per parameter; with done, it first waits each
// parameter's interval and gives up when done closes.
func sendResponses(stream responseSender, params []*testpb.ResponseParameters, done <-chan struct{}) error {
	for _, p := range params {
		if p.GetIntervalUs() > 0 && done != nil {
			select {
			case <-time.After(time.Duration(p.GetIntervalUs()) * time.Microsecond):
			case <-done:
				return status.Error(codes.Canceled, "call ended while waiting to send")
			}
		}
		pl, err := payload(p.GetSize())
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

func (testServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	return sendResponses(stream, in.GetResponseParameters(), stream.Context().Done())
}

func (testServer) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	var total int32
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: total})
		}
		if err != nil {
			return err
		}
		total += int32(len(m.GetPayload().GetBody()))
	}
}

func (testServer) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	initial, trailing := echoMetadata(stream.Context())
	if len(initial) > 0 {
		if err := stream.SendHeader(initial); err != nil {
			return err
		}
	}
	if len(trailing) > 0 {
		stream.SetTrailer(trailing)
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoStatus(m.GetResponseStatus()); err != nil {
			return err
		}
		if err := sendResponses(stream, m.GetResponseParameters(), nil); err != nil {
			return err
		}
	}
}

func (testServer) HalfDuplexCall(stream testpb.TestService_HalfDuplexCallServer) error {
	var held []*testpb.StreamingOutputCallRequest
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		held = append(held, m)
	}
	for _, m := range held {
		if err := sendResponses(stream, m.GetResponseParameters(), nil); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	flag.Parse()
	var opts []grpc.ServerOption
	if *useTLS {
		certFile, keyFile := *tlsCertFile, *tlsKeyFile
		if certFile == "" && keyFile == "" { // gRPC's interop test pair, as every interop server
			var err error
			if certFile, err = testcreds.Path("server1.pem"); err == nil {
				keyFile, err = testcreds.Path("server1.key")
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "grpcgo-interop-server: --use_tls without certificate flags: %v\n", err)
				os.Exit(1)
			}
		}
		creds, err := credentials.NewServerTLSFromFile(certFile, keyFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpcgo-interop-server: TLS credentials: %v\n", err)
			os.Exit(1)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(*bind, fmt.Sprint(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcgo-interop-server: cannot listen: %v\n", err)
		os.Exit(1)
	}
	server := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(server, &testServer{})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		done := make(chan struct{})
		go func() { server.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			server.Stop()
		}
	}()

	line, _ := json.Marshal(struct {
		Impl  string `json:"impl"`
		Event string `json:"event"`
		Port  int    `json:"port"`
		TLS   bool   `json:"tls"`
	}{"grpcgo", "listening", listener.Addr().(*net.TCPAddr).Port, *useTLS})
	fmt.Println(string(line))
	if err := server.Serve(listener); err != nil {
		fmt.Fprintf(os.Stderr, "grpcgo-interop-server: %v\n", err)
		os.Exit(1)
	}
}
