package sharedtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// DumpEnv names the directory Dump writes to. Unset (the default), Dump
// does nothing.
const DumpEnv = "MAILCHECK_DUMP_DIR"

var dumpSeq sync.Map // test name -> *int

// Dump writes v as indented JSON to $MAILCHECK_DUMP_DIR/<test>.<n>.json
// when that variable is set: scripts/behaviour-diff compares these dumps
// of every check test before and after a refactoring that must not change
// behaviour.
func Dump(t testing.TB, v any) {
	t.Helper()
	dir := os.Getenv(DumpEnv)
	if dir == "" {
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	seq, _ := dumpSeq.LoadOrStore(t.Name(), new(int))
	n := seq.(*int)
	*n++ // a test's dumps come from its own goroutine, in order
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	path := filepath.Join(dir, fmt.Sprintf("%s.%d.json", name, *n))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("dump: %v", err)
	}
}
