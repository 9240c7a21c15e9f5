package dmarc

import "testing"

func TestRecommend(t *testing.T) {
	tests := []struct {
		name, txt string // txt "" means no record
		opt       RecommendOptions
		want      string
	}{
		{"missing", "", RecommendOptions{}, "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"},
		{"missing, no mail", "", RecommendOptions{NoMail: true}, "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"},
		{"missing, own address", "", RecommendOptions{ReportAddress: "dmarc@reports.example"}, "v=DMARC1; p=none; rua=mailto:dmarc@reports.example"},
		{"healthy kept", "v=DMARC1; p=reject; rua=mailto:d@example.org!10m; ruf=mailto:f@example.org; fo=1; adkim=s", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org!10m; ruf=mailto:f@example.org; fo=1; adkim=s"},
		{"none strengthened, rua kept", "v=DMARC1; p=none; rua=mailto:d@reports.example", RecommendOptions{},
			"v=DMARC1; p=quarantine; rua=mailto:d@reports.example"},
		{"pct and weak sp dropped", "v=DMARC1; p=reject; sp=none; pct=25; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"stronger sp kept", "v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@example.org"},
		{"rua added", "v=DMARC1; p=reject", RecommendOptions{}, "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.org"},
		{"rua repaired, https dropped", "v=DMARC1; p=reject; rua=d@example.org,https://x.example/r", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"syntax errors dropped", "v=DMARC1; p=rejct; pct=150; foo=bar; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"misspelt none still strengthened", "v=DMARC1; p=nnoe; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=quarantine; rua=mailto:d@example.org"},
		{"discarded record repaired", "p=reject; v=DMARC1; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"testing mode dropped, bis kept", "v=DMARC1; p=reject; np=reject; psd=n; t=y; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org; psd=n"},
		{"fo without ruf dropped", "v=DMARC1; p=reject; fo=1; rua=mailto:d@example.org", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"null MX forces reject", "v=DMARC1; p=none; rua=mailto:d@example.org", RecommendOptions{NoMail: true},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"null MX adds no rua", "v=DMARC1; p=reject", RecommendOptions{NoMail: true}, "v=DMARC1; p=reject"},
		{"refused destination dropped", "v=DMARC1; p=reject; rua=mailto:a@x.example,mailto:d@example.org", RecommendOptions{Drop: []string{"mailto:a@x.example"}},
			"v=DMARC1; p=reject; rua=mailto:d@example.org"},
		{"only refused destination replaced", "v=DMARC1; p=reject; rua=mailto:a@x.example", RecommendOptions{Drop: []string{"MAILTO:a@x.example"}},
			"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.org"},
		{"at most two destinations", "v=DMARC1; p=reject; rua=mailto:a@example.org,mailto:b@example.org,mailto:c@example.org", RecommendOptions{},
			"v=DMARC1; p=reject; rua=mailto:a@example.org,mailto:b@example.org"},
	}
	for _, tt := range tests {
		var rec *Record
		if tt.txt != "" {
			rec = Parse(tt.txt)
		}
		if got := Recommend("Example.ORG.", rec, tt.opt); got != tt.want {
			t.Errorf("%s: Recommend = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := TXTRecord("example.org", "v=DMARC1; p=reject"); got != `_dmarc.example.org. IN TXT "v=DMARC1; p=reject"` {
		t.Errorf("TXTRecord = %s", got)
	}
}

func TestPolicyOrderAndAuthorization(t *testing.T) {
	order := []struct {
		txt, second string
		out         bool
	}{
		{"v=DMARC1; p=reject; rua=mailto:d@example.org", "v=DMARC1; p=reject; rua=mailto:d@example.org", false},
		{"v=DMARC1;rua=mailto:d@example.org;  p=reject ;adkim=s;", "v=DMARC1; p=reject; rua=mailto:d@example.org; adkim=s", true},
		{"v=DMARC1; rua=mailto:d@example.org", "v=DMARC1; rua=mailto:d@example.org", false},
	}
	for _, tt := range order {
		r := Parse(tt.txt)
		if r.PolicyOutOfPlace() != tt.out || r.PolicySecond() != tt.second {
			t.Errorf("%q: out of place %v, second %q; want %v %q", tt.txt, r.PolicyOutOfPlace(), r.PolicySecond(), tt.out, tt.second)
		}
	}
	auth := map[string]bool{
		"v=DMARC1":                   true,
		"v=DMARC1;":                  true,
		"v=DMARC1; rua=mailto:x@y.z": true,
		"v=DMARC1; reports welcome":  false,
		"v=DMARC1; =x":               false,
		"v=DMARC1 junk":              false,
		"v=spf1 -all":                false,
	}
	for txt, want := range auth {
		if got := IsAuthorization(txt); got != want {
			t.Errorf("IsAuthorization(%q) = %v", txt, got)
		}
	}
	if Demoted("reject") != "quarantine" || Demoted("quarantine") != "none" || Parse("v=DMARC1; p=reject; t=y").Testing() != "y" {
		t.Error("testing mode")
	}
}
