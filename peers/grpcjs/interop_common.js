// Shared by the grpc-js programs: flag parsing in the interop programs' style (--name=value),
// the standard TestService definitions from grpc-proto, and gRPC's interop test credentials.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const kProtoRoot = process.env.GRPC_PROTO_ROOT || '/usr/share/grpc-proto';

// --name=value, or --name value (the bench contract's form).
function parseFlags(argv, defaults) {
  const flags = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let m = /^--([a-z_]+)=(.*)$/s.exec(arg);
    if (!m && /^--[a-z_]+$/.test(arg) && i + 1 < argv.length) m = [arg, arg.slice(2), argv[++i]];
    if (!m || !(m[1] in defaults)) {
      process.stderr.write(`${path.basename(process.argv[1])}: unknown flag ${arg}` +
                           ` (flags: ${Object.keys(defaults).map((k) => `--${k}=`).join(' ')})\n`);
      process.exit(2);
    }
    flags[m[1]] = m[2];
  }
  return flags;
}

function loadTestService() {
  const definition = protoLoader.loadSync('grpc/testing/test.proto', {
    includeDirs: [kProtoRoot], keepCase: true, longs: Number, enums: Number, defaults: true,
    oneofs: true,
  });
  const testing = grpc.loadPackageDefinition(definition).grpc.testing;
  return { TestService: testing.TestService, UnimplementedService: testing.UnimplementedService };
}

// gRPC's interop test credentials (ca.pem, server1.pem, server1.key): for a bare --use_tls=true
// (server) and --use_test_ca (client), looked up as tests/interop/grpc_test_credentials.h does.
function testCredential(file) {
  const dirs = [process.env.H2RPC_INTEROP_TEST_CREDS,
                '/usr/share/gocode/src/google.golang.org/grpc/testdata'].filter(Boolean);
  for (const dir of dirs) {
    const p = path.join(dir, file);
    if (fs.existsSync(p)) return fs.readFileSync(p);
  }
  process.stderr.write(`${path.basename(process.argv[1])}: gRPC's test credential ${file} ` +
                       `not found in ${dirs.join(', ')}\n`);
  process.exit(2);
}

module.exports = { loadTestService, parseFlags, testCredential };
