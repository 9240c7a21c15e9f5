package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const spfZone = "../../testdata/zones/spf/spf.test.zone"

func TestSPFEvalExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // part of stdout (or stderr for usage errors)
	}{
		{[]string{"--ip", "192.0.2.25", "--sender", "user@ok.spf.test"}, 0, "result:      pass"},
		{[]string{"--ip", "203.0.113.9", "--sender", "user@ok.spf.test"}, 1, "result:      fail"},
		{[]string{"--ip", "203.0.113.9", "--sender", "user@neutral.spf.test"}, 5, "result:      neutral"},
		{[]string{"--ip", "203.0.113.9", "--sender", "none.spf.test"}, 5, "result:      none"},
		{[]string{"--ip", "192.0.2.1", "--sender", "user@multi.spf.test"}, 4, "result:      permerror"},
		{[]string{"--ip", "192.0.2.1", "--sender", "user@outside.example"}, 3, "result:      temperror"},
		{[]string{"--ip", "192.0.2.2", "--sender", "user@explained.spf.test"}, 1, "explanation: 192.0.2.2 is not one of explained.spf.test's mail servers"},
		{[]string{"--ip", "192.0.2.25", "--helo", "ok.spf.test"}, 0, "identity:    postmaster@ok.spf.test"},
		{[]string{"--ip", "not-an-ip", "--sender", "a@ok.spf.test"}, 2, `--ip "not-an-ip" is not an IP address`},
		{[]string{"--sender", "a@ok.spf.test"}, 2, "--ip is required"},
		{[]string{"--ip", "192.0.2.1"}, 2, "give --sender"},
		// IDNs are looked up by their A-labels.
		{[]string{"--ip", "192.0.2.1", "--sender", "user@bücher.spf.test"}, 0, "identity:    user@xn--bcher-kva.spf.test"},
		{[]string{"--ip", "192.0.2.1", "--helo", "BÜCHER.spf.test."}, 0, "identity:    postmaster@xn--bcher-kva.spf.test"},
		{[]string{"--ip", "192.0.2.1", "--sender", "user@bü..spf.test"}, 2, "--sender: "},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"spf", "eval", "--offline", "--zone", spfZone}, tc.args...)
			code, out, errOut := cli(t, args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.out) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.out, out, errOut)
			}
		})
	}
}

func TestSPFEvalTrace(t *testing.T) {
	code, out, _ := cli(t, "spf", "eval", "--offline", "--zone", spfZone, "--ip", "198.51.100.7", "--sender", "u@ok.spf.test", "--trace", "--no-color")
	want := []string{
		"result:      pass",
		"lookups:     3 of 10 DNS-querying terms, 0 of 2 void",
		"  ok.spf.test mx → no match",
		"      MX ok.spf.test → 10 mail.ok.spf.test",
		"      A mail.ok.spf.test → 192.0.2.25",
		"  ok.spf.test include:inc.spf.test → match: pass",
		"    inc.spf.test ip4:198.51.100.0/24 → match: pass",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("trace lacks %q:\n%s", w, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestSPFEvalJSON(t *testing.T) {
	code, out, _ := cli(t, "spf", "eval", "--offline", "--zone", spfZone, "--format", "json", "--ip", "192.0.2.2", "--sender", "u@explained.spf.test")
	var got struct {
		Result      string `json:"result"`
		Explanation string `json:"explanation"`
		Lookups     int    `json:"lookups"`
		Trace       []struct {
			Term    string `json:"term"`
			Result  string `json:"result"`
			Queries []struct {
				Name, Type, Answer string
			} `json:"queries"`
		} `json:"trace"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || got.Result != "fail" || got.Explanation != "192.0.2.2 is not one of explained.spf.test's mail servers" || len(got.Trace) != 4 {
		t.Errorf("exit %d: %+v", code, got)
	}
	if q := got.Trace[0].Queries; len(q) != 1 || q[0].Type != "TXT" || q[0].Name != "explained.spf.test" {
		t.Errorf("first step queries %+v", q)
	}
	if s := got.Trace[3]; s.Term != "exp=why.spf.test" || !strings.HasPrefix(s.Result, "explanation ") {
		t.Errorf("exp step %+v", s)
	}
}
