// grpc-js health client: checks a server's grpc.health.v1.Health the way a load balancer or a
// Kubernetes probe would, using grpc-proto's own health.proto (not h2rpc's copy), so the wire
// format is checked against the standard definition.
//
//   node health_client.js --target=HOST:PORT [--service=NAME]
//
// Check("") and Check(NAME) must answer SERVING, Check of an unknown service NOT_FOUND, and
// Watch(NAME) must send SERVING first; cancelling the watch must end it with CANCELLED.
// Exit status 0 when every step held.
'use strict';

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { parseFlags } = require('./interop_common');

const kProtoRoot = process.env.GRPC_PROTO_ROOT || '/usr/share/grpc-proto';
const flags = parseFlags(process.argv.slice(2), { target: '', service: '' });
if (!flags.target) {
  process.stderr.write('health_client.js: --target=HOST:PORT is required\n');
  process.exit(2);
}

const definition = protoLoader.loadSync('grpc/health/v1/health.proto', {
  includeDirs: [kProtoRoot], keepCase: true, enums: String, defaults: true,
});
const { Health } = grpc.loadPackageDefinition(definition).grpc.health.v1;
const client = new Health(flags.target, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 5000);

function check(service) {
  return new Promise((resolve) => {
    client.Check({ service }, { deadline: deadline() }, (err, reply) => resolve({ err, reply }));
  });
}

function watchFirst(service) {
  return new Promise((resolve) => {
    const call = client.Watch({ service }, { deadline: deadline() });
    let first = null;
    call.on('data', (reply) => {
      if (first === null) {
        first = reply.status;
        call.cancel();
      }
    });
    call.on('error', (err) => resolve({ first, code: err.code }));
    call.on('end', () => resolve({ first, code: grpc.status.OK }));
  });
}

async function main() {
  const failures = [];
  const expect = (what, ok, detail) => {
    console.log(`${ok ? 'PASS' : 'FAIL'} health ${what}${ok ? '' : `: ${detail}`}`);
    if (!ok) failures.push(what);
  };
  for (const service of ['', flags.service]) {
    const { err, reply } = await check(service);
    expect(`Check("${service}") SERVING`, !err && reply.status === 'SERVING',
           err ? `${err.code} ${err.details}` : reply.status);
  }
  const unknown = await check('no.such.Service');
  expect('Check(unknown) NOT_FOUND', unknown.err && unknown.err.code === grpc.status.NOT_FOUND,
         unknown.err ? `${unknown.err.code} ${unknown.err.details}` : 'answered OK');
  const watch = await watchFirst(flags.service);
  expect(`Watch("${flags.service}") SERVING first, then CANCELLED`,
         watch.first === 'SERVING' && watch.code === grpc.status.CANCELLED,
         `first ${watch.first}, code ${watch.code}`);
  client.close();
  process.exit(failures.length === 0 ? 0 : 1);
}

setTimeout(() => {
  console.log('FAIL health: no answer within 20 s');
  process.exit(1);
}, 20000).unref();
main();
