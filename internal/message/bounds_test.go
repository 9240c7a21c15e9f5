package message

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The policy that would apply: sp for a subdomain that inherits its
// organizational domain's record; strict alignment and pct.
func TestDMARCPolicy(t *testing.T) {
	_, r := world(t)
	sub := strings.Replace(baseMessage, "alice@sender.example", "alice@news.sender.example", 1)
	v := judge(t, r, goodEnvelope(), sign(t, crlf(sub), "sender.example", "s2048", signedHeaders, time.Time{}))
	checkVerdict(t, judgeCase{want: []string{"msg.dmarc-pass:pass"}, passed: true,
		text: []string{"sp=quarantine of sender.example", "DKIM (d=sender.example)"}}, v)
	strict := strings.Replace(baseMessage, "alice@sender.example", "alice@strict.sender.example", 1)
	v = judge(t, r, goodEnvelope(), sign(t, crlf(strict), "sender.example", "s2048", signedHeaders, time.Time{}))
	checkVerdict(t, judgeCase{want: []string{"msg.dmarc-fail:fail", "msg.dkim-pass:pass"},
		text: []string{"adkim=s", "aspf=s", "p=reject of strict.sender.example, to 50% of failing mail (pct=50)"}}, v)
}

// boundCase is a hostile message and the one finding its bound gives.
type boundCase struct {
	name string
	raw  string
	want string
}

// nested is a multipart nested depth times.
func nested(depth int) string {
	var b strings.Builder
	b.WriteString("From: a@sender.example\nMIME-Version: 1.0\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\nx\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	return b.String()
}

// manyParts is a multipart of n parts.
func manyParts(n int) string {
	var b strings.Builder
	b.WriteString("From: a@sender.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n")
	for range n {
		b.WriteString("--b\nContent-Type: text/plain\n\nx\n")
	}
	b.WriteString("--b--\n")
	return b.String()
}

// TestBounds: past each bound, one finding and no more work.
func TestBounds(t *testing.T) {
	sig := "DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s2048; h=from; bh=AA==; b=AA==\n"
	cases := []boundCase{
		{"MIME depth", nested(MaxMIMEDepth + 5), "msg.mime-bound"},
		{"MIME parts", manyParts(MaxMIMEParts + 50), "msg.mime-bound"},
		{"header fields", strings.Repeat("X-A: b\n", MaxHeaderFields+1) + "From: a@sender.example\n\nx\n", "msg.header-bound"},
		{"header bytes", "X-A: " + strings.Repeat("b", MaxHeaderBytes) + "\n\nx\n", "msg.unparseable"},
		{"signatures", strings.Repeat(sig, MaxSignatures+3) + "From: a@sender.example\n\nx\n", "msg.dkim-too-many"},
	}
	_, r := world(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := judge(t, r, goodEnvelope(), crlf(c.raw))
			n := 0
			for _, f := range v.Findings {
				if f.ID == c.want {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d findings %s: %+v", n, c.want, v.Findings)
			}
			if c.want == "msg.dkim-too-many" && len(v.Data.(*Data).DKIM) != MaxSignatures {
				t.Errorf("%d signatures verified", len(v.Data.(*Data).DKIM))
			}
			if c.want == "msg.mime-bound" && v.Data.(*Data).Parts > MaxMIMEParts+1 {
				t.Errorf("%d parts examined", v.Data.(*Data).Parts)
			}
		})
	}
}
