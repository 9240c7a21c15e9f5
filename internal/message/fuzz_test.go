package message

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// FuzzJudge judges arbitrary messages (headers and MIME) from an
// arbitrary session with a resolver that answers nothing (every
// question fails offline): the judge never panics, every finding is
// declared and safe to print, and the Authentication-Results field is
// one line of printable ASCII.
func FuzzJudge(f *testing.F) {
	for _, c := range judgeCases {
		f.Add(c.msg(f), "mail.sender.example", "bounce@sender.example")
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"), "[127.0.0.1]", "")
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=x; s=y; h=from; bh=; b=\r\nFrom: a@b\r\n\r\n"), "", "<>")
	ids := map[string]bool{}
	for _, s := range Catalog.Specs() {
		ids[s.ID] = true
	}
	j := &Judge{Resolver: &resolve.Zones{}, Now: func() time.Time { return testNow }, Hostname: "mx.test"}
	f.Fuzz(func(t *testing.T, raw []byte, helo, mailFrom string) {
		env := Envelope{ClientIP: netip.MustParseAddr("192.0.2.10"), Helo: helo, MailFrom: mailFrom}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v := j.Judge(ctx, env, raw)
		for _, fd := range v.Findings {
			if !ids[fd.ID] || !fd.Severity.Valid() || !sanitize.IsClean(fd.Message) || !sanitize.IsClean(fd.Fix) {
				t.Fatalf("finding %+v", fd)
			}
		}
		for _, c := range v.AuthResults {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("Authentication-Results %q", v.AuthResults)
			}
		}
		if !strings.HasPrefix(v.AuthResults, "Authentication-Results: mx.test;") {
			t.Fatalf("Authentication-Results %q", v.AuthResults)
		}
	})
}
