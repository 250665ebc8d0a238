#!/bin/sh
# Generates the TLS test certificates into $1 with the openssl CLI (run at test time; nothing
# is checked in). Files (PEM): ca.pem, server.{pem,key} (localhost, 127.0.0.1, ::1),
# wronghost.{pem,key} (wrong.example only), expired.{pem,key} (localhost, expired in 2020),
# client.{pem,key} (CN=test-client, URI and DNS SANs), rogue_ca.pem + untrusted.{pem,key}
# (localhost, signed by a CA nobody trusts).
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

ca() {  # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 3 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # name issuer subject san
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
    -days 3 -extfile "$1.ext" 2>/dev/null
}

ca ca "h2rpc test CA"
ca rogue_ca "rogue CA"
leaf server ca localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf wronghost ca wrong.example "DNS:wrong.example"
leaf client ca test-client "URI:spiffe://h2rpc.test/client,DNS:client.h2rpc.test"
leaf untrusted rogue_ca localhost "DNS:localhost,IP:127.0.0.1,IP:::1"

# Expired: OpenSSL 3.0's "x509 -req" cannot set past dates; "openssl ca" can.
mkdir -p expired_ca
: >expired_ca/index.txt
cat >expired_ca/ca.cnf <<CNF
[ ca ]
default_ca = test
[ test ]
database = $dir/expired_ca/index.txt
new_certs_dir = $dir/expired_ca
serial = $dir/expired_ca/serial
default_md = sha256
policy = any
copy_extensions = none
[ any ]
commonName = supplied
[ ext ]
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
basicConstraints = CA:FALSE
CNF
echo 1000 >expired_ca/serial
openssl req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr -subj "/CN=localhost" \
  2>/dev/null
openssl ca -batch -config expired_ca/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -extensions ext \
  -notext 2>/dev/null
