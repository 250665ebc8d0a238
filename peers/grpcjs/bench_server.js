#!/usr/bin/env node
// grpcjs-bench-server: bench.Bench (shared/bench/bench.proto, shared/bench/CONTRACT.md) on
// grpc-js, a server that shares no code with h2rpc or grpc++, for h2rpc-chaos-client and any
// contract client to drive.
//   bench_server.js --port P [--bind ADDR] [--max_connection_age_ms MS]
// --max_connection_age_ms: end each connection that old with a graceful GOAWAY (20 s grace),
// the same knob as h2rpc's bench server, so that a client can be run against both.
// Prints {"impl":"grpcjs","event":"listening","port":P}; SIGUSR1 prints the counters (event
// "stats"); SIGTERM/SIGINT shut down (running calls get 2 s) and print them (event "exit").
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { parseFlags } = require('./interop_common');

const flags = parseFlags(process.argv.slice(2),
                         { port: '0', bind: '127.0.0.1', max_connection_age_ms: '0' });
const kProtoDir = path.resolve(__dirname, '../../protos/bench');  // the contract's copy
const definition = protoLoader.loadSync('bench.proto', {
  includeDirs: [kProtoDir], keepCase: true, longs: Number, defaults: true,
});
const { Bench } = grpc.loadPackageDefinition(definition).bench;

const counters = {
  unary: 0, stream_out_calls: 0, stream_out_msgs: 0, stream_in_calls: 0, stream_in_msgs: 0,
  echo_calls: 0, echo_msgs: 0, bytes_in: 0, bytes_out: 0,
};

function report(event) {
  const usage = process.resourceUsage();
  const cpu = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  process.stdout.write(`${JSON.stringify({
    impl: 'grpcjs', event, ...counters, cpu_s: Number(cpu.toFixed(3)), maxrss_kb: usage.maxRSS,
  })}\n`);
}

const service = {
  Unary(call, callback) {
    counters.unary++;
    counters.bytes_in += call.request.body.length;
    counters.bytes_out += call.request.body.length;
    callback(null, { body: call.request.body });
  },
  StreamOut(call) {
    counters.stream_out_calls++;
    const { count, size } = call.request;
    const body = Buffer.alloc(Math.max(size, 0), 0x78);
    let sent = 0;
    // Writes while the stream takes them, waits for 'drain' when it does not, and stops when
    // the client cancels (count <= 0: until then).
    const more = () => {
      while (!call.cancelled && (count <= 0 || sent < count)) {
        sent++;
        counters.stream_out_msgs++;
        counters.bytes_out += body.length;
        if (!call.write({ body })) {
          call.once('drain', more);
          return;
        }
      }
      if (!call.cancelled) call.end();
    };
    more();
  },
  StreamIn(call, callback) {
    counters.stream_in_calls++;
    let count = 0;
    let bytes = 0;
    call.on('data', (m) => {
      count++;
      bytes += m.body.length;
      counters.stream_in_msgs++;
      counters.bytes_in += m.body.length;
    });
    call.on('end', () => callback(null, { count, bytes }));
    call.on('error', () => {});  // cancelled: nothing to answer
  },
  Echo(call) {
    counters.echo_calls++;
    call.on('data', (m) => {
      counters.echo_msgs++;
      counters.bytes_in += m.body.length;
      counters.bytes_out += m.body.length;
      call.write(m);
    });
    call.on('end', () => call.end());
    call.on('error', () => {});
  },
};

const serverOptions = {
  'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20,
};
if (Number(flags.max_connection_age_ms) > 0) {
  serverOptions['grpc.max_connection_age_ms'] = Number(flags.max_connection_age_ms);
  serverOptions['grpc.max_connection_age_grace_ms'] = 20000;
}
const server = new grpc.Server(serverOptions);
server.addService(Bench.service, service);
server.bindAsync(`${flags.bind}:${flags.port}`, grpc.ServerCredentials.createInsecure(),
  (error, port) => {
    if (error) {
      process.stderr.write(`bench_server.js: cannot listen on ${flags.bind}:${flags.port}: ` +
                           `${error.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ impl: 'grpcjs', event: 'listening', port })}\n`);
  });

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    report('exit');
    process.exit(0);
  };
  setTimeout(() => {
    server.forceShutdown();
    finish();
  }, 2000);
  server.tryShutdown(finish);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGUSR1', () => report('stats'));
