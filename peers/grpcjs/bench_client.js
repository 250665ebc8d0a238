#!/usr/bin/env node
// grpcjs-bench-client: the bench contract's load client (shared/bench/CONTRACT.md) on grpc-js,
// a client that shares no code with h2rpc or grpc++, so that bench/compare.py can put a third
// client next to h2rpc's and load-test the h2rpc server with an independent implementation.
//   bench_client.js --target HOST:PORT [--mode unary|stream_out|stream_in|echo] [--threads T]
//     [--channels C] [--size BYTES] [--seconds S] [--warmup S] [--concurrency K]
// Node.js runs one JavaScript thread: T x K callers are T x K concurrent asynchronous loops, and
// caller (t, k) uses channel t % C (by default all share ONE connection, as the contract says).
// Prints the contract's one JSON line; exit status 1 if a call failed or nothing was measured.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { parseFlags } = require('./interop_common');

const flags = parseFlags(process.argv.slice(2), {
  target: '', mode: 'unary', threads: '1', channels: '1', size: '64', seconds: '3',
  warmup: '0.5', concurrency: '1',
});
const kModes = ['unary', 'stream_out', 'stream_in', 'echo'];
const mode = flags.mode;
const threads = Number(flags.threads);
const channelCount = Number(flags.channels);
const size = Number(flags.size);
const seconds = Number(flags.seconds);
const warmup = Number(flags.warmup);
const concurrency = Number(flags.concurrency);
if (!flags.target || !kModes.includes(mode) || !(threads >= 1) || !(channelCount >= 1) ||
    !(size >= 0) || !(seconds > 0) || !(warmup >= 0) || !(concurrency >= 1)) {
  process.stderr.write('usage: bench_client.js --target HOST:PORT [--mode ' +
                       `${kModes.join('|')}] [--threads T] [--channels C] [--size BYTES] ` +
                       '[--seconds S] [--warmup S] [--concurrency K]\n');
  process.exit(2);
}

const kProtoDir = path.resolve(__dirname, '../../protos/bench');  // the contract's copy
const definition = protoLoader.loadSync('bench.proto', {
  includeDirs: [kProtoDir], keepCase: true, longs: Number, defaults: true,
});
const { Bench } = grpc.loadPackageDefinition(definition).bench;
const kMaxMessage = 64 << 20;
// A local subchannel pool per channel: otherwise grpc-js would share one connection between
// channels to the same target, and --channels C would not mean C connections.
const channels = Array.from({ length: channelCount }, () => new Bench(
  flags.target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': kMaxMessage, 'grpc.max_send_message_length': kMaxMessage,
    'grpc.use_local_subchannel_pool': 1,
  }));

const nowNs = () => process.hrtime.bigint();
const start = nowNs();
const windowStart = start + BigInt(Math.round(warmup * 1e9));
const windowEnd = windowStart + BigInt(Math.round(seconds * 1e9));
const inWindow = (t) => t >= windowStart && t <= windowEnd;
const body = Buffer.alloc(size, 0x78);

const stats = { ops: 0, opsTotal: 0, callsTotal: 0, bytes: 0, errors: 0 };
const latenciesUs = [];
function op(t, latencyNs, bytes) {
  stats.opsTotal++;
  if (!inWindow(t)) return;
  stats.ops++;
  stats.bytes += bytes;
  latenciesUs.push(Number(latencyNs) / 1e3);
}
function fail(what) {
  stats.errors++;
  if (stats.errors <= 5) process.stderr.write(`bench_client.js: ${what}\n`);
}

function unaryCaller(client) {
  return new Promise((resolve) => {
    const next = () => {
      if (nowNs() >= windowEnd) {
        resolve();
        return;
      }
      const t0 = nowNs();
      client.Unary({ body }, (error, reply) => {
        const t1 = nowNs();
        stats.callsTotal++;
        if (error) {
          fail(`Unary: ${error.message}`);
        } else if (reply.body.length !== size) {
          fail(`Unary: ${reply.body.length} bytes back, not ${size}`);
        } else {
          op(t1, t1 - t0, reply.body.length);
        }
        next();
      });
    };
    next();
  });
}

function streamOutCaller(client) {
  return new Promise((resolve) => {
    stats.callsTotal++;
    const call = client.StreamOut({ count: 0, size });
    let last = nowNs();
    let cancelled = false;
    const stop = () => {
      if (!cancelled) {
        cancelled = true;
        call.cancel();
      }
    };
    const timer = setTimeout(stop, Number(windowEnd - nowNs()) / 1e6);
    call.on('data', (m) => {
      const t = nowNs();
      if (m.body.length !== size) fail(`StreamOut: a ${m.body.length}-byte message`);
      op(t, t - last, m.body.length);
      last = t;
      if (t >= windowEnd) stop();
    });
    call.on('error', (e) => {
      if (!(cancelled && e.code === grpc.status.CANCELLED)) fail(`StreamOut: ${e.message}`);
    });
    call.on('status', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function streamInCaller(client) {
  return new Promise((resolve) => {
    stats.callsTotal++;
    let written = 0;
    const call = client.StreamIn((error, summary) => {
      if (error) {
        fail(`StreamIn: ${error.message}`);
      } else if (summary.count !== written || summary.bytes !== written * size) {
        fail(`StreamIn: summary ${summary.count} messages / ${summary.bytes} bytes, ` +
             `${written} x ${size} written`);
      }
      resolve();
    });
    const next = () => {
      if (nowNs() >= windowEnd) {
        call.end();
        return;
      }
      const t0 = nowNs();
      written++;
      call.write({ body }, () => {
        const t1 = nowNs();
        op(t1, t1 - t0, size);
        next();
      });
    };
    next();
  });
}

function echoCaller(client) {
  return new Promise((resolve) => {
    stats.callsTotal++;
    const call = client.Echo();
    let t0 = 0n;
    const next = () => {
      if (nowNs() >= windowEnd) {
        call.end();
        return;
      }
      t0 = nowNs();
      call.write({ body });
    };
    call.on('data', (m) => {
      const t1 = nowNs();
      if (m.body.length !== size) fail(`Echo: ${m.body.length} bytes back, not ${size}`);
      op(t1, t1 - t0, m.body.length);
      next();
    });
    call.on('error', (e) => fail(`Echo: ${e.message}`));
    call.on('status', () => resolve());
    next();
  });
}

const kCallers = { unary: unaryCaller, stream_out: streamOutCaller, stream_in: streamInCaller,
  echo: echoCaller };

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  // The window's CPU time: from its start to its end, like getrusage around the window.
  let cpuAtStart = null;
  let cpuInWindow = null;
  setTimeout(() => { cpuAtStart = process.cpuUsage(); }, warmup * 1000);
  setTimeout(() => { cpuInWindow = process.cpuUsage(cpuAtStart); }, (warmup + seconds) * 1000);
  // A hung run must not hang its driver.
  setTimeout(() => {
    process.stderr.write('bench_client.js: watchdog: the run did not end\n');
    process.exit(3);
  }, (warmup + seconds + 30) * 1000).unref();

  const callers = [];
  for (let t = 0; t < threads; t++) {
    for (let k = 0; k < concurrency; k++) callers.push(kCallers[mode](channels[t % channelCount]));
  }
  await Promise.all(callers);
  if (cpuInWindow === null) cpuInWindow = process.cpuUsage(cpuAtStart);  // ended early
  for (const c of channels) c.close();

  latenciesUs.sort((a, b) => a - b);
  const mean = latenciesUs.reduce((a, b) => a + b, 0) / Math.max(latenciesUs.length, 1);
  const cpuUser = cpuInWindow.user / 1e6;
  const cpuSys = cpuInWindow.system / 1e6;
  const perSecond = stats.ops / seconds;
  const out = {
    impl: 'grpcjs', mode, threads, channels: channelCount, concurrency, size,
    seconds: Number(seconds.toFixed(3)), ops: stats.ops,
    // Streams end after the window, so only unary calls end inside it (as h2rpc's client).
    calls_per_s: Number((mode === 'unary' ? perSecond : 0).toFixed(1)),
    msgs_per_s: Number(perSecond.toFixed(1)),
    mb_per_s: Number((stats.bytes / 1e6 / seconds).toFixed(3)),
    lat_kind: { unary: 'call', stream_out: 'gap', stream_in: 'write', echo: 'rtt' }[mode],
    p50_us: Number(percentile(latenciesUs, 50).toFixed(2)),
    p90_us: Number(percentile(latenciesUs, 90).toFixed(2)),
    p99_us: Number(percentile(latenciesUs, 99).toFixed(2)),
    mean_us: Number(mean.toFixed(2)),
    cpu_s: Number((cpuUser + cpuSys).toFixed(3)),
    cpu_user_s: Number(cpuUser.toFixed(3)),
    cpu_sys_s: Number(cpuSys.toFixed(3)),
    cpu_us_per_op: Number((stats.ops ? ((cpuUser + cpuSys) * 1e6) / stats.ops : 0).toFixed(3)),
    maxrss_kb: process.resourceUsage().maxRSS,
    ops_total: stats.opsTotal, calls_total: stats.callsTotal, errors: stats.errors,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(stats.errors === 0 && stats.ops > 0 ? 0 : 1);
}

main();
