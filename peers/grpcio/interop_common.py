"""What the grpcio interop client and server share: the interop programs' flag syntax and
gRPC's interop test credentials.

The generated messages and stubs (grpc_testing.*_pb2, *_pb2_grpc) come from
peers/grpcio/build.sh, which writes them outside the source tree and puts them on PYTHONPATH
through the grpcio-interop-client and grpcio-interop-server launchers it writes.
"""

import os
import sys

# Debian's golang-google-grpc-dev installs grpc-go's copy of the test credentials here, as
# tests/interop/grpc_test_credentials.h expects.
DEBIAN_TEST_CREDS = "/usr/share/gocode/src/google.golang.org/grpc/testdata"


def parse_flags(program, argv, defaults):
    """--name=value and --name value, as the interop programs take them; unknown flags are
    an error, so a typo never silently runs a different case."""
    flags = dict(defaults)
    args = list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith("--"):
            sys.exit(f"{program}: unexpected argument '{arg}'")
        name, has_value, value = arg[2:].partition("=")
        if name not in flags:
            sys.exit(f"{program}: unknown flag --{name}")
        if not has_value:
            if isinstance(defaults[name], bool) and (not args or args[0].startswith("--")):
                value = "true"
            elif args:
                value = args.pop(0)
            else:
                sys.exit(f"{program}: --{name} needs a value")
        if isinstance(defaults[name], bool):
            if value not in ("true", "false"):
                sys.exit(f"{program}: --{name}={value}: expected true or false")
            flags[name] = value == "true"
        elif isinstance(defaults[name], int):
            try:
                flags[name] = int(value)
            except ValueError:
                sys.exit(f"{program}: --{name}={value}: expected a number")
        else:
            flags[name] = value
    return flags


def test_credential(name):
    """The bytes of gRPC's test credential NAME (ca.pem, server1.pem, server1.key), from
    $H2RPC_INTEROP_TEST_CREDS, else Debian's copy."""
    dirs = [DEBIAN_TEST_CREDS]
    if os.environ.get("H2RPC_INTEROP_TEST_CREDS"):
        dirs.insert(0, os.environ["H2RPC_INTEROP_TEST_CREDS"])
    for directory in dirs:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    raise FileNotFoundError(f"gRPC's test credential {name} not found in {dirs}")


def read_file(path):
    with open(path, "rb") as f:
        return f.read()
