// Package sharedtest locates the read-only ../shared directory that sits
// next to the repository (public conformance suites, read in place, never
// copied into the project). Tests call Dir and are skipped, with a message
// saying so, when ../shared is absent, as in a user's own clone.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns ../shared/<elem...> beside the repository root (found by
// walking up to go.mod), or skips the test when it does not exist.
func Dir(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("../shared not present: no go.mod above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{filepath.Dir(dir), "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("../shared not present (%v): conformance data is read in place, skipping", err)
	}
	return p
}
