package mtasts

import (
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		txt   string
		id    string
		kinds string // problem kinds, space-separated
	}{
		{"v=STSv1; id=20261205T000000", "20261205T000000", ""},
		{"v=STSv1;id=abc;", "abc", ""},
		{"v=STSv1 ; id=abc ; ext-1.x=val", "abc", ""},
		{"v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), ""},
		{"v=STSv1; id=" + strings.Repeat("a", 33), strings.Repeat("a", 33), "id"},
		{"v=STSv1; id=2026-12-05", "2026-12-05", "id"},
		{"v=STSv1; id=", "", "id"},
		{"v=STSv1", "", "id"},
		{"v=STSv1; id=a; id=b", "a", "duplicate"},
		{"v=STSv1;; id=a", "a", "malformed-field"},
		{"v=STSv1; id=a; junk", "a", "malformed-field"},
		{"v=STSv1; id=a; _x=1", "a", "malformed-field"},
		{"v=STSv1; id=a; x=a=b", "a", "malformed-field"},
		{"v=STSv1; id=a; v=STSv1", "a", "duplicate"},
		{"v=stsv1; id=a", "a", "version"},
		{" v=STSv1; id=a", "a", "version"},
		{"id=a; v=STSv1", "", "version duplicate id"},
	}
	for _, tt := range tests {
		r := ParseRecord(tt.txt)
		var kinds []string
		for _, p := range r.Problems {
			kinds = append(kinds, string(p.Kind))
		}
		if got := strings.Join(kinds, " "); got != tt.kinds || r.ID != tt.id {
			t.Errorf("ParseRecord(%q) = id %q, problems %q %+v; want id %q, %q", tt.txt, r.ID, got, r.Problems, tt.id, tt.kinds)
		}
		if r.Valid() != (tt.kinds == "") {
			t.Errorf("ParseRecord(%q).Valid() = %v", tt.txt, r.Valid())
		}
	}
}

func TestSelected(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=STSv1; id=1": true, "v=STSv1": true, "v=STSv1 ;id=1": true,
		"v=STSv10; id=1": false, "v=stsv1; id=1": false, " v=STSv1": false, "v=spf1 -all": false,
	} {
		if Selected(txt) != want {
			t.Errorf("Selected(%q) = %v", txt, !want)
		}
	}
}
