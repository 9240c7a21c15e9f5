package resolve

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLineIndexLocatesRecords: each record is found at the line it
// begins on, across multi-line records, comments, quotes and directives.
func TestLineIndexLocatesRecords(t *testing.T) {
	zone := `$ORIGIN example.org.
$TTL 3600
; a comment (with a parenthesis
@	IN SOA ns1 hostmaster (
		2024010101 ; serial
		3600 900 604800 300 )
	IN NS ns1
	IN MX 10 mx1
ns1	IN A 192.0.2.53
mx1	IN A 192.0.2.25

	IN TXT "v=spf1 ( ; not a comment" "mx -all"
_dmarc	IN TXT "v=DMARC1; p=none"
`
	path := filepath.Join(t.TempDir(), "example.org.zone")
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	var ix LineIndex
	if err := ix.AddZoneFile(path, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rec  string
		line int
	}{
		{"example.org. 300 IN MX 10 mx1.example.org.", 8},
		{"EXAMPLE.org. IN NS ns1.example.org.", 7},
		{"mx1.example.org. 60 IN A 192.0.2.25", 10},
		{`_dmarc.example.org. IN TXT "v=DMARC1; p=none"`, 13},
		{`mx1.example.org. IN TXT "v=spf1 ( ; not a comment" "mx -all"`, 12}, // the owner of the line before
		{"example.org. IN SOA ns1.example.org. x. 1 2 3 4 5", 4},
		{"mx1.example.org. IN A 192.0.2.99", 10}, // same owner and type
	}
	for _, tc := range cases {
		file, line, ok := ix.Locate(tc.rec)
		if !ok || file != path || line != tc.line {
			t.Errorf("Locate(%q) = %s:%d %v, want line %d", tc.rec, file, line, ok, tc.line)
		}
	}
	for _, rec := range []string{"250 mx1.example.org ESMTP", "other.example. IN A 192.0.2.1"} {
		if _, _, ok := ix.Locate(rec); ok {
			t.Errorf("Locate(%q) found a line", rec)
		}
	}
}
