// Package testcreds finds gRPC's interop test credentials (ca.pem, server1.pem, server1.key),
// which interop servers present for a bare --use_tls=true and clients trust for
// --use_test_ca: in $H2RPC_INTEROP_TEST_CREDS, else grpc-go's own testdata directory (the
// copy Debian's golang-google-grpc-dev installs), as tests/interop/grpc_test_credentials.h does.
package testcreds

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc/testdata"
)

// Path returns the path of file in the first directory that has it.
func Path(file string) (string, error) {
	dirs := []string{filepath.Dir(testdata.Path(file))}
	if env := os.Getenv("H2RPC_INTEROP_TEST_CREDS"); env != "" {
		dirs = append([]string{env}, dirs...)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, file)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", fmt.Errorf("gRPC's test credential %s not found in %v", file, dirs)
}
