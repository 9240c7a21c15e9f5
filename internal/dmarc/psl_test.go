package dmarc

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/internal/orgdomain"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

type pslVector struct {
	input string
	want  string // A-label organizational domain; "" for the suite's null
}

// pslVectors reads ../shared/testdata/conformance/dmarc-orgdomain/psl/tests.txt
// in place ("<input> <expected>", "null" for null, "//" comments). Inputs
// that are not domain names (null, a leading dot) are left out: Lookup
// rejects them before any question (tested in internal/orgdomain).
func pslVectors(t *testing.T) []pslVector {
	t.Helper()
	path := sharedtest.Dir(t, "testdata", "conformance", "dmarc-orgdomain", "psl", "tests.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []pslVector
	skipped := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("%s: bad line %q", path, line)
		}
		if fields[0] == "null" || strings.HasPrefix(fields[0], ".") {
			skipped++
			continue
		}
		v := pslVector{input: fields[0]}
		if fields[1] != "null" {
			v.want, err = orgdomain.ASCII(fields[1])
			if err != nil {
				t.Fatalf("%s: %q: %v", path, fields[1], err)
			}
		}
		out = append(out, v)
	}
	if len(out)+skipped != 78 {
		t.Errorf("read %d vectors (+%d not domain names), SOURCES.md says 78", len(out), skipped)
	}
	return out
}
