package dnsbl

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to the --dnsbl-file loader: it never
// panics, every error wraps ErrConfig and is one printable line that names
// the file, and every accepted file yields lists that Select can use.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"defaults.yaml", "testdata/lists.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("lists:\n  - zone: bl.example.net\n    codes: [{code: 127.0.0.2, class: listed, meaning: x}]\n"))
	f.Add([]byte("lists:\n  - zone: bl.example.net\n    bitmask: true\n    codes: [{bit: 2, class: policy, meaning: grey}]\n"))
	f.Add([]byte("lists:\n  - zone: [\n"))
	f.Add([]byte("include_defaults: true\nlists: []\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(bytes.NewReader(b), "fuzz.yaml")
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, ErrConfig) || !strings.Contains(msg, "fuzz.yaml") || strings.ContainsAny(msg, "\n\r") || !utf8.ValidString(msg) {
				t.Fatalf("error %q", msg)
			}
			return
		}
		if len(file.Lists) == 0 {
			t.Fatal("accepted a file without lists")
		}
		for _, l := range file.Lists {
			if l.Zone == "" || len(l.Codes) == 0 || !l.Kind.Valid() {
				t.Fatalf("accepted list %+v", l)
			}
		}
		if _, err := Select(nil, file); err != nil && !errors.Is(err, ErrConfig) {
			t.Fatalf("Select: %v", err)
		}
	})
}
