// Package golden compares what a test produced with a file under testdata, byte for byte, and rewrites the file
// instead when the test runs with -update. Tests only: no production package imports it.
package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// File compares got with the file at path, or, when update is set (each test package's -update flag), writes got
// there, creating its folder.
func File(tb testing.TB, update bool, path string, got []byte) {
	tb.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (go test -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		tb.Errorf("%s differs; go test -update rewrites it (-want +got):\n%s", path, diff)
	}
}
