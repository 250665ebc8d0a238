// grpc-go health client: checks a server's grpc.health.v1.Health the way grpc_health_probe,
// a load balancer or a Kubernetes probe does, with grpc-go's own generated health stubs
// (google.golang.org/grpc/health/grpc_health_v1), not h2rpc's copy of the .proto.
//
//	grpcgo-health-client --target=HOST:PORT [--service=NAME]
//
// Check("") and Check(NAME) must answer SERVING, Check of an unknown service NOT_FOUND, and
// Watch(NAME) must send SERVING first; cancelling the watch must end it with CANCELLED.
// Exit status 0 when every step held.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

var (
	target  = flag.String("target", "", "server HOST:PORT")
	service = flag.String("service", "", "service name to check besides the server's (\"\")")
)

func main() {
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "grpcgo-health-client: --target=HOST:PORT is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Printf("FAIL health: cannot connect to %s: %v\n", *target, err)
		os.Exit(1)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	failures := 0
	expect := func(what string, ok bool, detail string) {
		if ok {
			fmt.Printf("PASS health %s\n", what)
			return
		}
		fmt.Printf("FAIL health %s: %s\n", what, detail)
		failures++
	}

	for _, name := range []string{"", *service} {
		reply, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
		expect(fmt.Sprintf("Check(%q) SERVING", name),
			err == nil && reply.GetStatus() == healthpb.HealthCheckResponse_SERVING,
			fmt.Sprintf("%v %v", reply.GetStatus(), err))
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	expect("Check(unknown) NOT_FOUND", status.Code(err) == codes.NotFound, fmt.Sprintf("%v", err))

	watchCtx, stopWatch := context.WithCancel(ctx)
	watch, err := client.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: *service})
	first := healthpb.HealthCheckResponse_UNKNOWN
	if err == nil {
		var reply *healthpb.HealthCheckResponse
		if reply, err = watch.Recv(); err == nil {
			first = reply.GetStatus()
			stopWatch()
			_, err = watch.Recv()
		}
	}
	stopWatch()
	expect(fmt.Sprintf("Watch(%q) SERVING first, then CANCELLED", *service),
		first == healthpb.HealthCheckResponse_SERVING && status.Code(err) == codes.Canceled,
		fmt.Sprintf("first %v, then %v", first, err))
	if failures > 0 {
		os.Exit(1)
	}
}
