package resolve_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// FuzzParseName: whatever a user types, ParseName either rejects it with
// ErrBadName or returns a fixed point: parsing its A-label form or its
// U-label form gives the same Name, and the A-label form is lower-case
// LDH (plus underscore) within the length limits.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"example.org", "Xn--", "\xff0", "bücher.example", "xn--bcher-kva.example", "a.xn--",
		"_dmarc.example.org.", "xn--zca.example", "faß.de", "192.0.2.1", "exa mple.org", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := resolve.ParseName(s)
		if err != nil {
			if !errors.Is(err, resolve.ErrBadName) {
				t.Fatalf("ParseName(%q): %v is not ErrBadName", s, err)
			}
			return
		}
		if n.ASCII == "" || len(n.ASCII) > 253 || !utf8.ValidString(n.Unicode) {
			t.Fatalf("ParseName(%q) = %+v", s, n)
		}
		for _, c := range n.ASCII {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				t.Fatalf("ParseName(%q).ASCII = %q holds %q", s, n.ASCII, c)
			}
		}
		for _, again := range []string{n.ASCII, n.Unicode, n.FQDN()} {
			m, err := resolve.ParseName(again)
			if err != nil || m != n {
				t.Fatalf("ParseName(%q) = %+v, but ParseName(%q) = %+v, %v", s, n, again, m, err)
			}
		}
	})
}

// FuzzParseZone: the zone loader never panics, and its errors are short
// (they quote at most an excerpt of the offending line) and free of
// control bytes.
func FuzzParseZone(f *testing.F) {
	for _, s := range []string{
		"$ORIGIN example.org.\n@ IN SOA ns h 1 2 3 4 5\n@ IN TXT \"v=spf1 -all\"\n",
		"@ IN A 192.0.2.1\nwww IN CNAME @\n",
		"a\\@b IN TXT \"x\\009y\" \"\\195\\188\"\n",
		"$INCLUDE /etc/passwd\n",
		"@ IN TXT \"" + strings.Repeat("\x1b[2J", 100) + "\n",
		"\x00\x01garbage",
		"*.wild IN MX 10 mx\n$TTL 1\n( \n",
	} {
		f.Add(s, "example.org")
	}
	f.Fuzz(func(t *testing.T, text, origin string) {
		if len(origin) > 300 {
			origin = origin[:300]
		}
		if strings.Contains(strings.ToUpper(text), "$GENERATE") {
			return // 65,536 records a line: slow, and miekg/dns's own code (the record bound is tested)
		}
		z, err := resolve.ParseZone(strings.NewReader(text), "fuzz.zone", origin)
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, resolve.ErrZoneFile) {
				t.Fatalf("error %q is not ErrZoneFile", msg)
			}
			if len(msg) > 600+4*len(origin) {
				t.Fatalf("error of %d octets: %q", len(msg), msg)
			}
			if sanitize.Text(msg) != msg {
				t.Fatalf("error holds control bytes: %q", msg)
			}
			return
		}
		// Every owner answers for itself.
		for _, name := range []string{z.Origin, "www." + z.Origin} {
			z.Exchange(name, 1)
		}
	})
}
