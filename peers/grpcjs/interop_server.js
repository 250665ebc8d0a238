#!/usr/bin/env node
// The gRPC interop test server (doc/interop-test-descriptions.md) on @grpc/grpc-js, with the
// flags of h2rpc-interop-server so tests/interop/run_matrix.sh can start it:
//   interop_server.js --port=N [--bind=ADDR] [--use_tls=BOOL] [--tls_cert_file=F --tls_key_file=F]
// Prints {"impl":"grpcjs","event":"listening","port":N,"tls":BOOL} once it serves; stops on
// SIGTERM or SIGINT.
//
// grpc-js neither tells a handler whether a request message was compressed nor lets it choose
// compression per response, so expect_compressed and response_compressed are not honoured here
// (run_matrix.sh does not run the four *_compressed_* cases against this server).
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const { loadTestService, parseFlags, testCredential } = require('./interop_common');

const flags = parseFlags(process.argv.slice(2), {
  port: '0', bind: '127.0.0.1', use_tls: 'false', tls_cert_file: '', tls_key_file: '',
});
const { TestService } = loadTestService();

const kEchoInitial = 'x-grpc-test-echo-initial';
const kEchoTrailing = 'x-grpc-test-echo-trailing-bin';

function payload(size) { return { type: 0, body: Buffer.alloc(size) }; }

// The echo metadata the client asked for: initial goes out at once, trailing with the status.
function echoMetadata(call) {
  const initial = new grpc.Metadata();
  for (const value of call.metadata.get(kEchoInitial)) initial.add(kEchoInitial, value);
  call.sendMetadata(initial);
  const trailing = new grpc.Metadata();
  for (const value of call.metadata.get(kEchoTrailing)) trailing.add(kEchoTrailing, value);
  return trailing;
}

function statusError(status, trailing) {
  return { code: status.code, details: status.message, metadata: trailing };
}

const handlers = {
  EmptyCall(call, callback) { callback(null, {}); },

  UnaryCall(call, callback) {
    const trailing = echoMetadata(call);
    const request = call.request;
    if (request.response_status && request.response_status.code !== 0) {
      callback(statusError(request.response_status, trailing));
      return;
    }
    callback(null, { payload: payload(request.response_size) }, trailing);
  },

  StreamingOutputCall(call) {
    const params = call.request.response_parameters || [];
    let i = 0;
    const next = () => {
      if (call.cancelled) return;
      if (i === params.length) {
        call.end();
        return;
      }
      const p = params[i++];
      const send = () => {
        call.write({ payload: payload(p.size) });
        next();
      };
      if (p.interval_us > 0) setTimeout(send, p.interval_us / 1000); else send();
    };
    next();
  },

  StreamingInputCall(call, callback) {
    let total = 0;
    call.on('data', (m) => { total += m.payload && m.payload.body ? m.payload.body.length : 0; });
    call.on('end', () => callback(null, { aggregated_payload_size: total }));
    call.on('error', () => {});
  },

  FullDuplexCall(call) {
    const trailing = echoMetadata(call);
    let ended = false;
    call.on('data', (m) => {
      if (ended) return;
      if (m.response_status && m.response_status.code !== 0) {
        ended = true;
        call.emit('error', statusError(m.response_status, trailing));
        return;
      }
      for (const p of m.response_parameters || []) call.write({ payload: payload(p.size) });
    });
    call.on('end', () => {
      if (ended) return;
      ended = true;
      call.end(trailing);
    });
    call.on('error', () => {});
  },

  HalfDuplexCall(call) {
    const held = [];
    call.on('data', (m) => held.push(m));
    call.on('end', () => {
      for (const m of held) {
        for (const p of m.response_parameters || []) call.write({ payload: payload(p.size) });
      }
      call.end();
    });
    call.on('error', () => {});
  },
  // UnimplementedCall is left out: grpc-js answers UNIMPLEMENTED for it.
};

function credentials() {
  if (flags.use_tls !== 'true') return grpc.ServerCredentials.createInsecure();
  // Without certificate flags, gRPC's interop test pair, as every interop server does.
  const own = flags.tls_cert_file && flags.tls_key_file;
  return grpc.ServerCredentials.createSsl(null, [{
    private_key: own ? fs.readFileSync(flags.tls_key_file) : testCredential('server1.key'),
    cert_chain: own ? fs.readFileSync(flags.tls_cert_file) : testCredential('server1.pem'),
  }], false);
}

const server = new grpc.Server();
server.addService(TestService.service, handlers);
const host = flags.bind.includes(':') ? `[${flags.bind}]` : flags.bind;
server.bindAsync(`${host}:${flags.port}`, credentials(), (error, port) => {
  if (error) {
    process.stderr.write(`interop_server.js: cannot listen on ${host}:${flags.port}: ${error.message}\n`);
    process.exit(1);
  }
  // grpc-js 1.10 and later serve once bound (package.json pins 1.14).
  process.stdout.write(`${JSON.stringify({ impl: 'grpcjs', event: 'listening', port,
                                           tls: flags.use_tls === 'true' })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.tryShutdown(() => process.exit(0)));
}
