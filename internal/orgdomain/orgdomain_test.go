package orgdomain

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

// pslCase is one vector of the Public Suffix List test suite. A nil input
// or expectation is the suite's null: no input / no registrable domain.
type pslCase struct {
	line          int
	input, want   string
	nullIn, nullW bool
}

// readTestsTxt reads tests.txt: "<input> <expected>", "null" for null,
// "//" comment lines (including commented-out cases, which are not run).
func readTestsTxt(t *testing.T, path string) []pslCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("../shared not present: %v", err)
	}
	defer f.Close()
	var out []pslCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("%s:%d: want 2 fields, got %q", path, n, line)
		}
		out = append(out, pslCase{line: n, input: fields[0], want: fields[1],
			nullIn: fields[0] == "null", nullW: fields[1] == "null"})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var checkRE = regexp.MustCompile(`^checkPublicSuffix\((null|'[^']*'),\s*(null|'[^']*')\);$`)

// readTestPSL reads test_psl.txt: checkPublicSuffix('<input>', '<expected>' | null);
func readTestPSL(t *testing.T, path string) []pslCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("../shared not present: %v", err)
	}
	var out []pslCase
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		m := checkRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: unrecognised line %q", path, i+1, line)
		}
		out = append(out, pslCase{line: i + 1,
			input: strings.Trim(m[1], "'"), want: strings.Trim(m[2], "'"),
			nullIn: m[1] == "null", nullW: m[2] == "null"})
	}
	return out
}

func runPSL(t *testing.T, name string, cases []pslCase) {
	pass, fail := 0, 0
	for _, c := range cases {
		input := c.input
		if c.nullIn {
			input = ""
		}
		got, err := Lookup(input)
		ok := false
		switch {
		case c.nullW:
			ok = err != nil
			if !ok {
				t.Errorf("%s:%d: Lookup(%q) = %q, want null (an error)", name, c.line, input, got)
			}
		case err != nil:
			t.Errorf("%s:%d: Lookup(%q): %v, want %q", name, c.line, input, err, c.want)
		default:
			// Expectations for Unicode inputs are written in Unicode;
			// Lookup answers in A-labels.
			want, werr := ASCII(c.want)
			if werr != nil {
				t.Fatalf("%s:%d: expectation %q: %v", name, c.line, c.want, werr)
			}
			ok = got == want
			if !ok {
				t.Errorf("%s:%d: Lookup(%q) = %q, want %q (%s)", name, c.line, input, got, want, c.want)
			}
		}
		if ok {
			pass++
		} else {
			fail++
		}
	}
	t.Logf("PSL conformance %s: %d/%d passed, %d failed", name, pass, len(cases), fail)
	if len(cases) != 78 {
		t.Errorf("%s: read %d cases, SOURCES.md says the suite has 78", name, len(cases))
	}
}

func TestPSLConformance(t *testing.T) {
	dir := sharedtest.Dir(t, "testdata", "conformance", "dmarc-orgdomain", "psl")
	t.Run("tests.txt", func(t *testing.T) {
		runPSL(t, "tests.txt", readTestsTxt(t, filepath.Join(dir, "tests.txt")))
	})
	t.Run("test_psl.txt", func(t *testing.T) {
		runPSL(t, "test_psl.txt", readTestPSL(t, filepath.Join(dir, "test_psl.txt")))
	})
}

func TestLookup(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"example.org", "example.org", nil},
		{"mail.example.org.", "example.org", nil},
		{"  WWW.Example.CO.UK ", "example.co.uk", nil},
		{"_report._dmarc.reports.example.net", "example.net", nil},
		{"www.bücher.de", "xn--bcher-kva.de", nil},
		{"www.xn--bcher-kva.de", "xn--bcher-kva.de", nil},
		{"a.b.c.kobe.jp", "b.c.kobe.jp", nil},
		{"www.city.kobe.jp", "city.kobe.jp", nil},     // exception rule
		{"foo.blogspot.com", "foo.blogspot.com", nil}, // private section
		{"co.uk", "", ErrPublicSuffix},
		{"com", "", ErrPublicSuffix},
		{"c.mm", "", ErrPublicSuffix}, // wildcard rule
		{"", "", ErrInvalid},
		{".", "", ErrInvalid},
		{".example.com", "", ErrInvalid},
		{"a..example.com", "", ErrInvalid},
		{strings.Repeat("a", 64) + ".com", "", ErrInvalid},
	}
	for _, tt := range tests {
		got, err := Lookup(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestSameAndIsOrg(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"example.org", "mail.example.org", true},
		{"Example.ORG.", "x.y.example.org", true},
		{"example.org", "example.net", false},
		{"a.example.co.uk", "b.example.co.uk", true},
		{"a.example.co.uk", "example2.co.uk", false},
		{"bücher.de", "www.xn--bcher-kva.de", true},
		{"com", "com", true}, // no org domain: equal names only
		{"com", "net", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := Same(tt.a, tt.b); got != tt.same {
			t.Errorf("Same(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
	for in, want := range map[string]bool{"example.org": true, "www.example.org": false, "co.uk": false, "example.co.uk": true, "": false} {
		if got := IsOrg(in); got != want {
			t.Errorf("IsOrg(%q) = %v, want %v", in, got, want)
		}
	}
}
