// The gRPC interop test client (doc/interop-test-descriptions.md) on grpc-go, Debian's
// golang-google-grpc-dev: a gRPC implementation that shares no code with h2rpc, grpc++ or
// grpc-js (its own HTTP/2 stack, flow control with BDP pings, metadata, deadlines and
// compression). Same flags as h2rpc-interop-client, so tests/interop/run_matrix.sh drives it:
//
//	grpcgo-interop-client --server_host=H --server_port=P --test_case=NAME [--use_tls=BOOL]
//	                      [--server_host_override=NAME] [--tls_ca_file=F | --use_test_ca]
//
// Exit status 0 when the case passed; otherwise 1 with the reason on stderr.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	testpb "h2rpcpeer/grpc_testing"
	"h2rpcpeer/testcreds"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	serverHost         = flag.String("server_host", "127.0.0.1", "server address")
	serverPort         = flag.Int("server_port", 0, "server port")
	testCase           = flag.String("test_case", "", "interop case to run")
	useTLS             = flag.Bool("use_tls", false, "connect over TLS")
	serverHostOverride = flag.String("server_host_override", "", "TLS server name to verify")
	tlsCAFile          = flag.String("tls_ca_file", "", "CA certificate (PEM) for TLS")
	useTestCA          = flag.Bool("use_test_ca", false, "trust gRPC's interop test CA (without --tls_ca_file)")
)

const (
	caseDeadline      = 10 * time.Second
	largeRequestSize  = 271828
	largeResponseSize = 314159
)

// failure is a case's verdict; anything else that goes wrong is a bug in this client.
type failure struct{ message string }

func fail(format string, args ...interface{}) {
	panic(failure{fmt.Sprintf(format, args...)})
}

func expectOK(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func expectCode(err error, code codes.Code, what string) {
	if got := status.Code(err); got != code {
		fail("%s: status %v (%v), expected %v", what, got, err, code)
	}
}

func expectZeros(p *testpb.Payload, size int, what string) {
	body := p.GetBody()
	if len(body) != size {
		fail("%s: payload of %d bytes, expected %d", what, len(body), size)
	}
	if !bytes.Equal(body, make([]byte, size)) {
		fail("%s: payload is not all zeros", what)
	}
}

func zeros(n int) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

func boolValue(v bool) *testpb.BoolValue { return &testpb.BoolValue{Value: v} }

func largeRequest() *testpb.SimpleRequest {
	return &testpb.SimpleRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseSize: largeResponseSize,
		Payload:      zeros(largeRequestSize),
	}
}

func withDeadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), caseDeadline)
}

func dial() *grpc.ClientConn {
	opts := []grpc.DialOption{grpc.WithBlock()}
	if *useTLS {
		caFile := *tlsCAFile
		if caFile == "" && *useTestCA {
			var err error
			if caFile, err = testcreds.Path("ca.pem"); err != nil {
				fail("--use_test_ca: %v", err)
			}
		}
		var creds credentials.TransportCredentials
		var err error
		if caFile == "" {
			creds = credentials.NewClientTLSFromCert(nil, *serverHostOverride) // the system's roots
		} else {
			creds, err = credentials.NewClientTLSFromFile(caFile, *serverHostOverride)
		}
		if err != nil {
			fail("TLS credentials: %v", err)
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	} else {
		opts = append(opts, grpc.WithInsecure())
	}
	ctx, cancel := context.WithTimeout(context.Background(), caseDeadline)
	defer cancel()
	target := net.JoinHostPort(*serverHost, fmt.Sprint(*serverPort))
	conn, err := grpc.DialContext(ctx, target, opts...)
	if err != nil {
		fail("cannot connect to %s: %v", target, err)
	}
	return conn
}

func emptyUnary(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	reply, err := c.EmptyCall(ctx, &testpb.Empty{})
	expectOK(err, "EmptyCall")
	if reply == nil {
		fail("EmptyCall: no response")
	}
}

func largeUnary(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	reply, err := c.UnaryCall(ctx, largeRequest())
	expectOK(err, "UnaryCall")
	expectZeros(reply.GetPayload(), largeResponseSize, "UnaryCall")
}

func clientCompressedUnary(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	// 1. Feature probe: an uncompressed message claiming expect_compressed.
	req := largeRequest()
	req.ExpectCompressed = boolValue(true)
	_, err := c.UnaryCall(ctx, req)
	expectCode(err, codes.InvalidArgument, "probe UnaryCall (uncompressed, expect_compressed)")
	// 2. A gzip-compressed message.
	reply, err := c.UnaryCall(ctx, req, grpc.UseCompressor(gzip.Name))
	expectOK(err, "compressed UnaryCall")
	expectZeros(reply.GetPayload(), largeResponseSize, "compressed UnaryCall")
	// 3. An uncompressed message.
	req.ExpectCompressed = boolValue(false)
	reply, err = c.UnaryCall(ctx, req)
	expectOK(err, "uncompressed UnaryCall")
	expectZeros(reply.GetPayload(), largeResponseSize, "uncompressed UnaryCall")
}

// grpc-go does not tell whether a received message was compressed: the payloads are checked.
func serverCompressedUnary(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	for _, compressed := range []bool{true, false} {
		what := fmt.Sprintf("UnaryCall(response_compressed=%v)", compressed)
		req := largeRequest()
		req.ResponseCompressed = boolValue(compressed)
		reply, err := c.UnaryCall(ctx, req)
		expectOK(err, what)
		expectZeros(reply.GetPayload(), largeResponseSize, what)
	}
}

func clientStreaming(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	stream, err := c.StreamingInputCall(ctx)
	expectOK(err, "StreamingInputCall")
	for _, size := range []int{27182, 8, 1828, 45904} {
		expectOK(stream.Send(&testpb.StreamingInputCallRequest{Payload: zeros(size)}),
			"StreamingInputCall send")
	}
	reply, err := stream.CloseAndRecv()
	expectOK(err, "StreamingInputCall")
	if got := reply.GetAggregatedPayloadSize(); got != 74922 {
		fail("StreamingInputCall: aggregated_payload_size %d, expected 74922", got)
	}
}

func clientCompressedStreaming(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	// 1. Feature probe: one uncompressed message claiming expect_compressed.
	stream, err := c.StreamingInputCall(ctx)
	expectOK(err, "probe StreamingInputCall")
	probe := &testpb.StreamingInputCallRequest{ExpectCompressed: boolValue(true), Payload: zeros(27182)}
	if err := stream.Send(probe); err != nil && err != io.EOF {
		fail("probe StreamingInputCall send: %v", err)
	}
	_, err = stream.CloseAndRecv()
	expectCode(err, codes.InvalidArgument, "probe StreamingInputCall (uncompressed, expect_compressed)")
	// 2. Compressed messages (grpc-go compresses every message of a call or none).
	stream, err = c.StreamingInputCall(ctx, grpc.UseCompressor(gzip.Name))
	expectOK(err, "compressed StreamingInputCall")
	for _, size := range []int{27182, 45904} {
		msg := &testpb.StreamingInputCallRequest{ExpectCompressed: boolValue(true), Payload: zeros(size)}
		expectOK(stream.Send(msg), "compressed StreamingInputCall send")
	}
	reply, err := stream.CloseAndRecv()
	expectOK(err, "compressed StreamingInputCall")
	if got := reply.GetAggregatedPayloadSize(); got != 73086 {
		fail("compressed StreamingInputCall: aggregated_payload_size %d, expected 73086", got)
	}
}

func receiveAll(stream testpb.TestService_StreamingOutputCallClient, what string) []*testpb.StreamingOutputCallResponse {
	var got []*testpb.StreamingOutputCallResponse
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return got
		}
		expectOK(err, what)
		got = append(got, m)
	}
}

func serverStreaming(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	sizes := []int{31415, 9, 2653, 58979}
	req := &testpb.StreamingOutputCallRequest{ResponseType: testpb.PayloadType_COMPRESSABLE}
	for _, size := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: int32(size)})
	}
	stream, err := c.StreamingOutputCall(ctx, req)
	expectOK(err, "StreamingOutputCall")
	got := receiveAll(stream, "StreamingOutputCall")
	if len(got) != len(sizes) {
		fail("StreamingOutputCall: %d responses, expected %d", len(got), len(sizes))
	}
	for i, m := range got {
		expectZeros(m.GetPayload(), sizes[i], fmt.Sprintf("StreamingOutputCall response %d", i))
	}
}

func serverCompressedStreaming(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{
		{Compressed: boolValue(true), Size: 31415},
		{Compressed: boolValue(false), Size: 92653},
	}}
	stream, err := c.StreamingOutputCall(ctx, req)
	expectOK(err, "StreamingOutputCall")
	got := receiveAll(stream, "StreamingOutputCall")
	if len(got) != 2 {
		fail("StreamingOutputCall: %d responses, expected 2", len(got))
	}
	for i, m := range got {
		expectZeros(m.GetPayload(), int(req.ResponseParameters[i].Size), fmt.Sprintf("response %d", i))
	}
}

func pingPong(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	stream, err := c.FullDuplexCall(ctx)
	expectOK(err, "FullDuplexCall")
	for _, sizes := range [][2]int{{31415, 27182}, {9, 8}, {2653, 1828}, {58979, 45904}} {
		req := &testpb.StreamingOutputCallRequest{
			ResponseParameters: []*testpb.ResponseParameters{{Size: int32(sizes[0])}},
			Payload:            zeros(sizes[1]),
		}
		expectOK(stream.Send(req), "FullDuplexCall send")
		m, err := stream.Recv()
		expectOK(err, fmt.Sprintf("FullDuplexCall response to the %d-byte request", sizes[1]))
		expectZeros(m.GetPayload(), sizes[0], "FullDuplexCall response")
	}
	expectOK(stream.CloseSend(), "FullDuplexCall half-close")
	if m, err := stream.Recv(); err != io.EOF {
		fail("FullDuplexCall: after the last request got %v, %v; expected the end", m, err)
	}
}

func emptyStream(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	stream, err := c.FullDuplexCall(ctx)
	expectOK(err, "FullDuplexCall")
	expectOK(stream.CloseSend(), "FullDuplexCall half-close")
	if m, err := stream.Recv(); err != io.EOF {
		fail("FullDuplexCall: on an empty stream got %v, %v; expected the end", m, err)
	}
}

const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
	echoInitial     = "test_initial_metadata_value"
)

var echoTrailing = string([]byte{0xab, 0xab, 0xab})

func checkEcho(what string, header, trailer metadata.MD) {
	if got := header.Get(echoInitialKey); len(got) != 1 || got[0] != echoInitial {
		fail("%s: initial metadata %q", what, got)
	}
	if got := trailer.Get(echoTrailingKey); len(got) != 1 || got[0] != echoTrailing {
		fail("%s: trailing metadata %q", what, got)
	}
}

func customMetadata(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, echoInitialKey, echoInitial, echoTrailingKey, echoTrailing)
	var header, trailer metadata.MD
	reply, err := c.UnaryCall(ctx, largeRequest(), grpc.Header(&header), grpc.Trailer(&trailer))
	expectOK(err, "UnaryCall")
	expectZeros(reply.GetPayload(), largeResponseSize, "UnaryCall")
	checkEcho("UnaryCall", header, trailer)

	stream, err := c.FullDuplexCall(ctx)
	expectOK(err, "FullDuplexCall")
	expectOK(stream.Send(&testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: largeResponseSize}},
		Payload:            zeros(largeRequestSize),
	}), "FullDuplexCall send")
	m, err := stream.Recv()
	expectOK(err, "FullDuplexCall")
	expectZeros(m.GetPayload(), largeResponseSize, "FullDuplexCall response")
	expectOK(stream.CloseSend(), "FullDuplexCall half-close")
	if _, err := stream.Recv(); err != io.EOF {
		fail("FullDuplexCall: %v, expected the end", err)
	}
	header, err = stream.Header()
	expectOK(err, "FullDuplexCall header")
	checkEcho("FullDuplexCall", header, stream.Trailer())
}

func expectStatus(err error, code codes.Code, message, what string) {
	expectCode(err, code, what)
	if got := status.Convert(err).Message(); got != message {
		fail("%s: message %q, expected %q", what, got, message)
	}
}

// statusOnUnary asks UnaryCall to fail UNKNOWN with message and checks that it did.
func statusOnUnary(c testpb.TestServiceClient, message string) *testpb.EchoStatus {
	ctx, cancel := withDeadline()
	defer cancel()
	echo := &testpb.EchoStatus{Code: int32(codes.Unknown), Message: message}
	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: echo})
	expectStatus(err, codes.Unknown, message, "UnaryCall")
	return echo
}

func statusCodeAndMessage(c testpb.TestServiceClient) {
	const message = "test status message"
	echo := statusOnUnary(c, message)
	ctx, cancel := withDeadline()
	defer cancel()
	stream, err := c.FullDuplexCall(ctx)
	expectOK(err, "FullDuplexCall")
	expectOK(stream.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: echo}), "FullDuplexCall send")
	expectOK(stream.CloseSend(), "FullDuplexCall half-close")
	_, err = stream.Recv()
	expectStatus(err, codes.Unknown, message, "FullDuplexCall")
}

func specialStatusMessage(c testpb.TestServiceClient) {
	statusOnUnary(c, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")
}

func unimplementedMethod(c testpb.TestServiceClient) {
	ctx, cancel := withDeadline()
	defer cancel()
	_, err := c.UnimplementedCall(ctx, &testpb.Empty{})
	expectCode(err, codes.Unimplemented, "UnimplementedCall")
}

func unimplementedService(conn *grpc.ClientConn) {
	ctx, cancel := withDeadline()
	defer cancel()
	_, err := testpb.NewUnimplementedServiceClient(conn).UnimplementedCall(ctx, &testpb.Empty{})
	expectCode(err, codes.Unimplemented, "UnimplementedService.UnimplementedCall")
}

func cancelAfterBegin(c testpb.TestServiceClient) {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.StreamingInputCall(ctx)
	expectOK(err, "StreamingInputCall")
	cancel()
	_, err = stream.CloseAndRecv()
	expectCode(err, codes.Canceled, "StreamingInputCall")
}

func cancelAfterFirstResponse(c testpb.TestServiceClient) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.FullDuplexCall(ctx)
	expectOK(err, "FullDuplexCall")
	expectOK(stream.Send(&testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: 31415}},
		Payload:            zeros(27182),
	}), "FullDuplexCall send")
	m, err := stream.Recv()
	expectOK(err, "FullDuplexCall first response")
	expectZeros(m.GetPayload(), 31415, "FullDuplexCall first response")
	cancel()
	_, err = stream.Recv()
	expectCode(err, codes.Canceled, "FullDuplexCall after cancel")
}

func timeoutOnSleepingServer(c testpb.TestServiceClient) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	stream, err := c.FullDuplexCall(ctx)
	if err != nil {
		expectCode(err, codes.DeadlineExceeded, "FullDuplexCall")
		return
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: zeros(27182)}); err != nil && err != io.EOF {
		expectCode(err, codes.DeadlineExceeded, "FullDuplexCall send")
	}
	_, err = stream.Recv()
	expectCode(err, codes.DeadlineExceeded, "FullDuplexCall")
}

func run(conn *grpc.ClientConn, name string) bool {
	c := testpb.NewTestServiceClient(conn)
	cases := map[string]func(){
		"empty_unary":                 func() { emptyUnary(c) },
		"large_unary":                 func() { largeUnary(c) },
		"client_compressed_unary":     func() { clientCompressedUnary(c) },
		"server_compressed_unary":     func() { serverCompressedUnary(c) },
		"client_streaming":            func() { clientStreaming(c) },
		"client_compressed_streaming": func() { clientCompressedStreaming(c) },
		"server_streaming":            func() { serverStreaming(c) },
		"server_compressed_streaming": func() { serverCompressedStreaming(c) },
		"ping_pong":                   func() { pingPong(c) },
		"empty_stream":                func() { emptyStream(c) },
		"custom_metadata":             func() { customMetadata(c) },
		"status_code_and_message":     func() { statusCodeAndMessage(c) },
		"special_status_message":      func() { specialStatusMessage(c) },
		"unimplemented_method":        func() { unimplementedMethod(c) },
		"unimplemented_service":       func() { unimplementedService(conn) },
		"cancel_after_begin":          func() { cancelAfterBegin(c) },
		"cancel_after_first_response": func() { cancelAfterFirstResponse(c) },
		"timeout_on_sleeping_server":  func() { timeoutOnSleepingServer(c) },
	}
	runCase, ok := cases[name]
	if !ok {
		return false
	}
	runCase()
	return true
}

func main() {
	flag.Parse()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			fmt.Fprintf(os.Stderr, "%s: %s\n", *testCase, f.message)
			os.Exit(1)
		}
	}()
	conn := dial()
	defer conn.Close()
	if !run(conn, *testCase) {
		fmt.Fprintf(os.Stderr, "grpcgo-interop-client: unknown --test_case=%s\n", *testCase)
		os.Exit(2)
	}
}
