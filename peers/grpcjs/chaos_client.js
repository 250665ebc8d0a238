#!/usr/bin/env node
// A grpc-js client that treats a bench.Bench server (shared/bench/bench.proto) the way a busy
// real client does: 200 calls in flight over two connections, all four call kinds, message
// sizes from 0 B to 4 MiB, deadlines of 5 ms, 50 ms and 5 s, and random cancels. Every call
// must end OK, CANCELLED or DEADLINE_EXCEEDED, and every OK reply must carry exactly what was
// sent. Anything else (INTERNAL, UNAVAILABLE: a connection the server gave up on) fails it.
//   chaos_client.js --target=HOST:PORT [--calls=N] [--seed=N] [--server_stops=true]
//                   [--server_goaways=true]
// --server_goaways=true: the server ends connections with graceful GOAWAYs (max_connection_age).
// A call may then also end UNAVAILABLE "Stream refused by server", and only so: when a GOAWAY
// comes, Node's HTTP/2 session refuses the streams whose HEADERS it has not sent yet (a busy
// event loop holds them back), and grpc-js retries a refused call once; a call whose retry meets
// the next connection's GOAWAY the same way fails. Seen against grpc-go's server as well.
// Prints one JSON line of outcome counts; exit status 1 on any unexpected outcome.
// Found with it: nghttp2's default Rapid Reset refill (33 resets/s) made the h2rpc server GOAWAY
// these connections after a few seconds, and grpc-js failed every call on them with INTERNAL;
// and the h2rpc server ended calls whose deadline passed with a bare RST_STREAM(CANCEL), which
// in about one run in three left this Node.js process spinning at 100 % CPU in its HTTP/2 send
// loop (a stream reset while its request body was still queued; Node.js then has no stream for
// nghttp2's data callback and nghttp2 emits empty DATA frames forever). The server now answers a
// deadline as grpc++ does, with DEADLINE_EXCEEDED in trailers. Both fixed.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { parseFlags } = require('./interop_common');

const flags = parseFlags(process.argv.slice(2),
                         { target: '', calls: '6000', seed: '1', server_stops: 'false',
                           server_goaways: 'false' });
const kProtoDir = path.resolve(__dirname, '../../protos/bench');  // the contract's copy
const definition = protoLoader.loadSync('bench.proto', {
  includeDirs: [kProtoDir], keepCase: true, longs: Number, defaults: true,
});
const { Bench } = grpc.loadPackageDefinition(definition).bench;

const kInFlight = 200;
const kCalls = Number(flags.calls);
const kMaxMessage = 8 << 20;
const kSizes = [0, 1, 64, 1000, 70000, 1 << 20, 4 << 20];
const kDeadlinesMs = [5, 50, 5000];
const kExpected = new Set([grpc.status.OK, grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED]);
// --server_stops=true: the server is shut down mid-run, so calls may also end UNAVAILABLE.
if (flags.server_stops === 'true') kExpected.add(grpc.status.UNAVAILABLE);

// Deterministic per seed (xorshift32), so a failing run can be repeated.
let state = Number(flags.seed) >>> 0 || 1;
function random(n) {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % n;
}

const channels = [0, 1].map(() => new Bench(flags.target, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': kMaxMessage, 'grpc.max_send_message_length': kMaxMessage,
}));
const counts = {};
const perChannel = [{}, {}];  // outcome counts per connection, for the progress report
const unexpected = [];
const kRefusedTwice = 'Stream refused by server';  // see --server_goaways
function record(ch, kind, code, details, contentOk = true) {
  const bucket = perChannel[ch];
  bucket[grpc.status[code]] = (bucket[grpc.status[code]] || 0) + 1;
  const refusedTwice = flags.server_goaways === 'true' && code === grpc.status.UNAVAILABLE &&
                       details === kRefusedTwice;
  const name = `${kind} ${grpc.status[code]}${refusedTwice ? ' (refused twice)' : ''}` +
               `${contentOk ? '' : ' (wrong content)'}`;
  counts[name] = (counts[name] || 0) + 1;
  if ((!kExpected.has(code) && !refusedTwice) || !contentOk) {
    if (unexpected.length < 10) unexpected.push(`${name}: ${details || ''}`);
  }
}

// Calls not yet ended, for the watchdog's report: index -> description and what was seen.
const open = new Map();

function oneCall(i) {
  const ch = i % channels.length;
  const channel = channels[ch];
  const size = kSizes[random(kSizes.length)];
  const deadline = new Date(Date.now() + kDeadlinesMs[random(kDeadlinesMs.length)]);
  const cancelAfterMs = random(4) === 0 ? random(5) : -1;  // a quarter of calls get cancelled
  const body = Buffer.alloc(size, 0x61 + (i % 26));
  const cancelLater = (call) => { if (cancelAfterMs >= 0) setTimeout(() => call.cancel(), cancelAfterMs); };
  const kind = random(4);
  const seen = { kind, size, deadlineMs: deadline - Date.now(), cancelAfterMs, started: Date.now(),
                 events: [] };
  open.set(i, seen);
  const watch = (call) => {
    for (const e of ['metadata', 'status', 'error', 'end']) {
      call.on(e, () => seen.events.push(`${e}@${Date.now() - seen.started}ms`));
    }
  };
  return new Promise((resolveCall) => {
    const resolve = () => { open.delete(i); resolveCall(); };
    switch (kind) {
      case 0: {
        const call = channel.Unary({ body }, { deadline }, (error, reply) => {
          if (error) record(ch, 'unary', error.code, error.details);
          else record(ch, 'unary', grpc.status.OK, '', Buffer.from(reply.body).equals(body));
          resolve();
        });
        watch(call);
        cancelLater(call);
        break;
      }
      case 1: {
        const count = 1 + random(20);
        const each = Math.min(size, 100000);
        const call = channel.StreamOut({ count, size: each }, { deadline });
        let received = 0;
        let wrong = false;
        call.on('data', (m) => { received++; if (m.body.length !== each) wrong = true; });
        watch(call);
        call.on('error', (e) => { record(ch, 'stream_out', e.code, e.details); });
        call.on('status', (s) => {
          if (s.code === grpc.status.OK) record(ch, 'stream_out', s.code, '', !wrong && received === count);
          resolve();
        });
        cancelLater(call);
        break;
      }
      case 2: {
        const messages = 1 + random(10);
        const each = Math.min(size, 200000);
        const call = channel.StreamIn({ deadline }, (error, summary) => {
          if (error) record(ch, 'stream_in', error.code, error.details);
          else {
            record(ch, 'stream_in', grpc.status.OK, '',
                   summary.count === messages && summary.bytes === messages * each);
          }
          resolve();
        });
        watch(call);
        for (let k = 0; k < messages; k++) call.write({ body: body.subarray(0, each) });
        call.end();
        cancelLater(call);
        break;
      }
      default: {
        const messages = 1 + random(10);
        const sent = body.subarray(0, Math.min(size, 300000));
        const call = channel.Echo({ deadline });
        let echoed = 0;
        let wrong = false;
        call.on('data', (m) => { echoed++; if (!Buffer.from(m.body).equals(sent)) wrong = true; });
        watch(call);
        call.on('error', (e) => record(ch, 'echo', e.code, e.details));
        call.on('status', (s) => {
          if (s.code === grpc.status.OK) record(ch, 'echo', s.code, '', !wrong && echoed === messages);
          resolve();
        });
        for (let k = 0; k < messages; k++) call.write({ body: sent });
        call.end();
        cancelLater(call);
      }
    }
  });
}

async function main() {
  const started = Date.now();
  // Every call has a deadline of 5 s at most: one still open long after means a hang. Report the
  // stuck calls (what they were and which events they saw) instead of being killed silently.
  const watchdog = setInterval(() => {
    const stuck = [...open.entries()].filter(([, c]) => Date.now() - c.started > 30000);
    if (stuck.length === 0) return;
    process.stderr.write(`chaos_client.js: ${stuck.length} call(s) open for over 30 s, e.g.\n`);
    for (const [i, c] of stuck.slice(0, 5)) {
      process.stderr.write(`  call ${i}: ${JSON.stringify(c)}\n`);
    }
    process.stderr.write(`outcomes so far: ${JSON.stringify(counts)}\n`);
    process.exit(1);
  }, 5000);
  const progress = setInterval(() => {
    process.stderr.write(`chaos_client.js: ${Math.round((Date.now() - started) / 1000)} s, ` +
                         `${next} calls started, ${open.size} open, per connection ` +
                         `${JSON.stringify(perChannel)}\n`);
  }, 10000);
  let next = 0;
  const workers = Array.from({ length: kInFlight }, async () => {
    while (next < kCalls) await oneCall(next++);
  });
  await Promise.all(workers);
  clearInterval(watchdog);
  clearInterval(progress);
  channels.forEach((c) => c.close());
  process.stdout.write(`${JSON.stringify({ calls: kCalls, ms: Date.now() - started, counts })}\n`);
  if (unexpected.length) {
    process.stderr.write(`chaos_client.js: unexpected outcomes:\n  ${unexpected.join('\n  ')}\n`);
    process.exit(1);
  }
}

main();
