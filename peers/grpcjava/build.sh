#!/usr/bin/env bash
# Builds the grpc-java interop peers into OUT_DIR (never into the source tree):
#   peers/grpcjava/build.sh OUT_DIR
#     ->  OUT_DIR/grpcjava-interop-client, grpcjava-interop-server, grpcjava-chaos-client
# grpc-java 1.41 with its Netty transport, protobuf-java, the JDK and grpc_java_plugin come from
# Debian, installed here if missing; the build is offline (protoc + javac against the jars in
# /usr/share/java). The programs are small launcher scripts around the compiled classes.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

packages=(default-jdk-headless libgrpc-java libprotobuf-java protobuf-compiler-grpc-java-plugin
  libnetty-java libguava-java libperfmark-java libgeronimo-annotation-1.3-spec-java
  libnetty-tcnative-java libnetty-tcnative-jni
  protobuf-compiler grpc-proto)
"$here/../../scripts/apt-install.sh" grpcjava "${packages[@]}"

# grpc-java's jars and what they load at run time (Debian's libgrpc-java declares few of them).
jars=(grpc-api grpc-core grpc-context grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub
  protobuf guava jsr305 error_prone_annotations perfmark-api geronimo-annotation-1.3-spec
  netty-tcnative)
classpath=""
for jar in "${jars[@]}"; do classpath="$classpath/usr/share/java/$jar.jar:"; done
for jar in /usr/share/java/netty-*.jar; do
  case $jar in *-4.1.*) ;; *) classpath="$classpath$jar:" ;; esac
done

rm -rf "$out/gen" "$out/classes" "$out/jni"
mkdir -p "$out/gen" "$out/classes" "$out/jni"
# TLS needs ALPN, which Netty 4.1.48 takes from netty-tcnative (OpenSSL) here: Debian installs
# its JNI library as libnetty-tcnative.so, Netty loads libnetty_tcnative.so and refuses a
# symlink (it checks the path it loaded), so a copy under that name goes beside the classes.
tcnative=$(dpkg -L libnetty-tcnative-jni | grep '/libnetty-tcnative\.so$' | head -1)
cp "$tcnative" "$out/jni/libnetty_tcnative.so"
protos=/usr/share/grpc-proto
protoc -I"$protos" --java_out="$out/gen" --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin \
  --grpc-java_out="$out/gen" "$protos"/grpc/testing/{empty,messages,test}.proto
protoc -I"$here/../../protos/bench" --java_out="$out/gen" \
  --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin --grpc-java_out="$out/gen" bench.proto
mapfile -t sources < <(find "$out/gen" "$here" -name '*.java')
javac -nowarn -encoding UTF-8 -d "$out/classes" -cp "$classpath" "${sources[@]}" 2>&1 |
  grep -v '^Note: ' >&2 || true
for main in InteropClient InteropServer ChaosClient; do
  [ -f "$out/classes/$main.class" ] || { echo "grpcjava: javac failed ($main)" >&2; exit 1; }
done
for program in interop-client:InteropClient interop-server:InteropServer chaos-client:ChaosClient; do
  main=${program#*:}
  cat >"$out/grpcjava-${program%:*}" <<LAUNCHER
#!/bin/sh
# grpc-java ${program%:*} (peers/grpcjava/$main.java), built by peers/grpcjava/build.sh.
exec java -XX:TieredStopAtLevel=1 -Xss512k -Djava.library.path=$out/jni -cp "$out/classes:$classpath" $main "\$@"
LAUNCHER
  chmod +x "$out/grpcjava-${program%:*}"
done
echo "grpcjava: built grpcjava-interop-client, -interop-server and -chaos-client in $out ($(javac -version 2>&1))"
