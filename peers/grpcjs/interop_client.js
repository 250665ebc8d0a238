#!/usr/bin/env node
// The gRPC interop test client (doc/interop-test-descriptions.md) on @grpc/grpc-js: a gRPC
// implementation that shares no code with h2rpc or grpc++ (its own HTTP/2 framing on Node's
// http2, its own metadata, deadline and compression handling). Same flags as
// h2rpc-interop-client, so tests/interop/run_matrix.sh can drive it:
//   interop_client.js --server_host=H --server_port=P --test_case=NAME [--use_tls=BOOL]
//                     [--server_host_override=NAME] [--tls_ca_file=F | --use_test_ca=true]
// Exit status 0 when the case passed; otherwise 1 with the reason on stderr.
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const { loadTestService, parseFlags, testCredential } = require('./interop_common');

const flags = parseFlags(process.argv.slice(2), {
  server_host: '127.0.0.1', server_port: '', test_case: '', use_tls: 'false',
  server_host_override: '', tls_ca_file: '', use_test_ca: 'false',
});
const { TestService, UnimplementedService } = loadTestService();

const kDeadlineMs = 10000;
const kLargeRequestSize = 271828;
const kLargeResponseSize = 314159;

function fail(message) {
  const error = new Error(message);
  error.interopFailure = true;
  throw error;
}

function zeros(n) { return Buffer.alloc(n); }

function expectZeros(payload, size, what) {
  const body = payload && payload.body ? payload.body : Buffer.alloc(0);
  if (body.length !== size) fail(`${what}: payload of ${body.length} bytes, expected ${size}`);
  if (body.some((b) => b !== 0)) fail(`${what}: payload is not all zeros`);
}

function deadline() { return new Date(Date.now() + kDeadlineMs); }

function makeClient(Service, extraOptions = {}) {
  const options = { ...extraOptions };
  let credentials = grpc.credentials.createInsecure();
  if (flags.use_tls === 'true') {
    let ca = flags.tls_ca_file ? fs.readFileSync(flags.tls_ca_file) : null;
    if (!ca && flags.use_test_ca === 'true') ca = testCredential('ca.pem');
    credentials = grpc.credentials.createSsl(ca);
    if (flags.server_host_override) {
      options['grpc.ssl_target_name_override'] = flags.server_host_override;
      options['grpc.default_authority'] = flags.server_host_override;
    }
  }
  return new Service(`${flags.server_host}:${flags.server_port}`, credentials, options);
}

// Unary call as a promise of {error, response, metadata (initial), trailers}.
function unary(client, method, request, { metadata = new grpc.Metadata() } = {}) {
  return new Promise((resolve) => {
    const result = { error: null, response: null, metadata: null, trailers: null };
    const options = { deadline: deadline() };
    const call = client[method](request, metadata, options, (error, response) => {
      result.error = error;
      result.response = response;
    });
    call.on('metadata', (md) => { result.metadata = md; });
    call.on('status', (status) => {
      result.trailers = status.metadata;
      // The callback runs before 'status'; give it a turn if it has not yet.
      setImmediate(() => resolve(result));
    });
  });
}

function expectOk(result, what) {
  if (result.error) fail(`${what}: ${grpc.status[result.error.code]} ${result.error.details}`);
}

function expectCode(result, code, what) {
  const got = result.error ? result.error.code : grpc.status.OK;
  if (got !== code) {
    fail(`${what}: status ${grpc.status[got]} (${result.error ? result.error.details : ''}),` +
         ` expected ${grpc.status[code]}`);
  }
}

function largeRequest(extra = {}) {
  return { response_size: kLargeResponseSize, payload: { body: zeros(kLargeRequestSize) }, ...extra };
}

// Waits for a call's end: {error, metadata (initial), trailers}.
function collectEnd(call) {
  return new Promise((resolve) => {
    const result = { error: null, metadata: null, trailers: null };
    call.on('metadata', (md) => { result.metadata = md; });
    call.on('error', (e) => { result.error = e; });
    call.on('status', (s) => {
      result.trailers = s.metadata;
      setImmediate(() => resolve(result));
    });
  });
}

// Collects a streaming call's messages and its end: {messages, error, metadata, trailers}.
function collect(call) {
  const messages = [];
  call.on('data', (m) => messages.push(m));
  return collectEnd(call).then((end) => ({ ...end, messages }));
}

// A bidi call driven one message at a time: write, then await the next response.
class Duplex {
  constructor(call) {
    this.call = call;
    this.queue = [];
    this.waiters = [];
    this.ended = false;
    this.end = collectEnd(call);
    call.on('data', (m) => this.push(m));
    call.on('end', () => { this.ended = true; this.flush(); });
    call.on('error', () => { this.ended = true; this.flush(); });
  }
  push(m) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(m); else this.queue.push(m);
  }
  flush() { while (this.waiters.length) this.waiters.shift()(null); }
  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}


const cases = {
  async empty_unary(c) {
    const r = await unary(c, 'EmptyCall', {});
    expectOk(r, 'EmptyCall');
  },

  async large_unary(c) {
    const r = await unary(c, 'UnaryCall', largeRequest());
    expectOk(r, 'UnaryCall');
    expectZeros(r.response.payload, kLargeResponseSize, 'UnaryCall');
  },

  async client_compressed_unary(c) {
    // 1. Feature probe: an uncompressed message claiming expect_compressed.
    let r = await unary(c, 'UnaryCall', largeRequest({ expect_compressed: { value: true } }));
    expectCode(r, grpc.status.INVALID_ARGUMENT, 'probe UnaryCall (uncompressed, expect_compressed)');
    // 2. A compressed message (this channel compresses every message with gzip).
    const gzip = makeClient(TestService, { 'grpc.default_compression_algorithm': 2 });
    r = await unary(gzip, 'UnaryCall', largeRequest({ expect_compressed: { value: true } }));
    expectOk(r, 'compressed UnaryCall');
    expectZeros(r.response.payload, kLargeResponseSize, 'compressed UnaryCall');
    gzip.close();
    // 3. An uncompressed message.
    r = await unary(c, 'UnaryCall', largeRequest({ expect_compressed: { value: false } }));
    expectOk(r, 'uncompressed UnaryCall');
    expectZeros(r.response.payload, kLargeResponseSize, 'uncompressed UnaryCall');
  },

  async server_compressed_unary(c) {
    // grpc-js does not tell whether a received message was compressed: the payloads are checked.
    for (const compressed of [true, false]) {
      const what = `UnaryCall(response_compressed=${compressed})`;
      const r = await unary(c, 'UnaryCall', largeRequest({ response_compressed: { value: compressed } }));
      expectOk(r, what);
      expectZeros(r.response.payload, kLargeResponseSize, what);
    }
  },

  async client_streaming(c) {
    const result = await new Promise((resolve) => {
      const stream = c.StreamingInputCall({ deadline: deadline() }, (error, response) =>
        resolve({ error, response }));
      for (const size of [27182, 8, 1828, 45904]) stream.write({ payload: { body: zeros(size) } });
      stream.end();
    });
    expectOk(result, 'StreamingInputCall');
    if (result.response.aggregated_payload_size !== 74922) {
      fail(`StreamingInputCall: aggregated_payload_size ${result.response.aggregated_payload_size}`);
    }
  },

  async client_compressed_streaming(c) {
    // 1. Feature probe: one uncompressed message claiming expect_compressed.
    let result = await new Promise((resolve) => {
      const stream = c.StreamingInputCall({ deadline: deadline() }, (error, response) =>
        resolve({ error, response }));
      stream.write({ expect_compressed: { value: true }, payload: { body: zeros(27182) } });
      stream.end();
    });
    expectCode(result, grpc.status.INVALID_ARGUMENT,
               'probe StreamingInputCall (uncompressed, expect_compressed)');
    // 2. Compressed messages (grpc-js cannot leave one message of a compressing call plain).
    const gzip = makeClient(TestService, { 'grpc.default_compression_algorithm': 2 });
    result = await new Promise((resolve) => {
      const stream = gzip.StreamingInputCall({ deadline: deadline() }, (error, response) =>
        resolve({ error, response }));
      stream.write({ expect_compressed: { value: true }, payload: { body: zeros(27182) } });
      stream.write({ expect_compressed: { value: true }, payload: { body: zeros(45904) } });
      stream.end();
    });
    gzip.close();
    expectOk(result, 'compressed StreamingInputCall');
    if (result.response.aggregated_payload_size !== 73086) {
      fail(`compressed StreamingInputCall: aggregated_payload_size ${result.response.aggregated_payload_size}`);
    }
  },

  async server_streaming(c) {
    const sizes = [31415, 9, 2653, 58979];
    const call = c.StreamingOutputCall(
      { response_parameters: sizes.map((size) => ({ size })) }, { deadline: deadline() });
    const r = await collect(call);
    if (r.error) fail(`StreamingOutputCall: ${grpc.status[r.error.code]} ${r.error.details}`);
    if (r.messages.length !== sizes.length) fail(`StreamingOutputCall: ${r.messages.length} responses`);
    r.messages.forEach((m, i) => expectZeros(m.payload, sizes[i], `StreamingOutputCall response ${i}`));
  },

  async server_compressed_streaming(c) {
    const params = [{ compressed: { value: true }, size: 31415 },
                    { compressed: { value: false }, size: 92653 }];
    const call = c.StreamingOutputCall({ response_parameters: params }, { deadline: deadline() });
    const r = await collect(call);
    if (r.error) fail(`StreamingOutputCall: ${grpc.status[r.error.code]} ${r.error.details}`);
    if (r.messages.length !== 2) fail(`StreamingOutputCall: ${r.messages.length} responses`);
    r.messages.forEach((m, i) => expectZeros(m.payload, params[i].size, `response ${i}`));
  },

  async ping_pong(c) {
    const requests = [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]];
    const duplex = new Duplex(c.FullDuplexCall({ deadline: deadline() }));
    for (const [responseSize, requestSize] of requests) {
      duplex.call.write({ response_parameters: [{ size: responseSize }],
                          payload: { body: zeros(requestSize) } });
      const m = await duplex.next();
      if (!m) fail(`FullDuplexCall: no response to the ${requestSize}-byte request`);
      expectZeros(m.payload, responseSize, 'FullDuplexCall response');
    }
    duplex.call.end();
    if (await duplex.next()) fail('FullDuplexCall: a response after the last request');
    const end = await duplex.end;
    if (end.error) fail(`FullDuplexCall: ${grpc.status[end.error.code]} ${end.error.details}`);
  },

  async empty_stream(c) {
    const call = c.FullDuplexCall({ deadline: deadline() });
    const r = collect(call);
    call.end();
    const result = await r;
    if (result.error) fail(`FullDuplexCall: ${grpc.status[result.error.code]} ${result.error.details}`);
    if (result.messages.length) fail('FullDuplexCall: responses on an empty stream');
  },

  async custom_metadata(c) {
    const initialValue = 'test_initial_metadata_value';
    const trailingValue = Buffer.from([0xab, 0xab, 0xab]);
    const metadata = () => {
      const md = new grpc.Metadata();
      md.set('x-grpc-test-echo-initial', initialValue);
      md.set('x-grpc-test-echo-trailing-bin', trailingValue);
      return md;
    };
    const check = (what, initial, trailing) => {
      const got = initial ? initial.get('x-grpc-test-echo-initial') : [];
      if (got.length !== 1 || got[0] !== initialValue) fail(`${what}: initial metadata ${JSON.stringify(got)}`);
      const bin = trailing ? trailing.get('x-grpc-test-echo-trailing-bin') : [];
      if (bin.length !== 1 || !Buffer.from(bin[0]).equals(trailingValue)) {
        fail(`${what}: trailing metadata ${JSON.stringify(bin)}`);
      }
    };
    const r = await unary(c, 'UnaryCall', largeRequest(), { metadata: metadata() });
    expectOk(r, 'UnaryCall');
    check('UnaryCall', r.metadata, r.trailers);

    const duplex = new Duplex(c.FullDuplexCall(metadata(), { deadline: deadline() }));
    duplex.call.write({ response_parameters: [{ size: kLargeResponseSize }],
                        payload: { body: zeros(kLargeRequestSize) } });
    const m = await duplex.next();
    if (!m) fail('FullDuplexCall: no response');
    duplex.call.end();
    await duplex.next();
    const end = await duplex.end;
    if (end.error) fail(`FullDuplexCall: ${grpc.status[end.error.code]} ${end.error.details}`);
    check('FullDuplexCall', end.metadata, end.trailers);
  },

  async status_code_and_message(c) {
    const message = 'test status message';
    const status = { code: 2, message };
    const r = await unary(c, 'UnaryCall', { response_status: status });
    expectCode(r, grpc.status.UNKNOWN, 'UnaryCall');
    if (r.error.details !== message) fail(`UnaryCall: message ${JSON.stringify(r.error.details)}`);

    const call = c.FullDuplexCall({ deadline: deadline() });
    const result = collect(call);
    call.write({ response_status: status });
    call.end();
    const end = await result;
    if (!end.error || end.error.code !== grpc.status.UNKNOWN || end.error.details !== message) {
      fail(`FullDuplexCall: ${end.error ? `${grpc.status[end.error.code]} ${end.error.details}` : 'OK'}`);
    }
  },

  async special_status_message(c) {
    const message = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';
    const r = await unary(c, 'UnaryCall', { response_status: { code: 2, message } });
    expectCode(r, grpc.status.UNKNOWN, 'UnaryCall');
    if (r.error.details !== message) fail(`UnaryCall: message ${JSON.stringify(r.error.details)}`);
  },

  async unimplemented_method(c) {
    const r = await unary(c, 'UnimplementedCall', {});
    expectCode(r, grpc.status.UNIMPLEMENTED, 'UnimplementedCall');
  },

  async unimplemented_service() {
    const other = makeClient(UnimplementedService);
    const r = await unary(other, 'UnimplementedCall', {});
    other.close();
    expectCode(r, grpc.status.UNIMPLEMENTED, 'UnimplementedService.UnimplementedCall');
  },

  async cancel_after_begin(c) {
    const result = new Promise((resolve) => {
      const call = c.StreamingInputCall({ deadline: deadline() }, (error) => resolve(error));
      setTimeout(() => call.cancel(), 10);
    });
    const error = await result;
    if (!error || error.code !== grpc.status.CANCELLED) fail(`StreamingInputCall: ${error ? grpc.status[error.code] : 'OK'}`);
  },

  async cancel_after_first_response(c) {
    const duplex = new Duplex(c.FullDuplexCall({ deadline: deadline() }));
    duplex.call.write({ response_parameters: [{ size: 31415 }], payload: { body: zeros(27182) } });
    const m = await duplex.next();
    if (!m) fail('FullDuplexCall: no first response');
    duplex.call.cancel();
    const end = await duplex.end;
    if (!end.error || end.error.code !== grpc.status.CANCELLED) {
      fail(`FullDuplexCall: ${end.error ? grpc.status[end.error.code] : 'OK'} after cancel`);
    }
  },

  async timeout_on_sleeping_server(c) {
    const call = c.FullDuplexCall({ deadline: new Date(Date.now() + 1) });
    const result = collect(call);
    call.write({ payload: { body: zeros(27182) } });
    const end = await result;
    if (!end.error || end.error.code !== grpc.status.DEADLINE_EXCEEDED) {
      fail(`FullDuplexCall: ${end.error ? grpc.status[end.error.code] : 'OK'}, expected DEADLINE_EXCEEDED`);
    }
  },
};

async function main() {
  const run = cases[flags.test_case];
  if (!run) {
    process.stderr.write(`interop_client.js: unknown --test_case=${flags.test_case}\n`);
    process.exit(2);
  }
  const client = makeClient(TestService);
  try {
    await run(client);
  } finally {
    client.close();
  }
}

main().then(() => process.exit(0), (error) => {
  process.stderr.write(`${flags.test_case}: ${error.interopFailure ? error.message : error.stack}\n`);
  process.exit(1);
});
