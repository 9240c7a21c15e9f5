package message

import (
	"bytes"
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/dnstest"
)

// judgeCase is one message and session, and what the verdict must say.
type judgeCase struct {
	name   string
	msg    func(t testing.TB) []byte
	env    func(e *Envelope)
	want   []string // "id:severity" that must be among the findings
	not    []string // ids that must not be
	passed bool
	ar     []string // substrings of the Authentication-Results field
	text   []string // substrings of some finding's message
}

// signed signs the base message with s2048 and applies edit to the result.
func signed(sel string, edit func([]byte) []byte) func(t testing.TB) []byte {
	return func(t testing.TB) []byte {
		m := sign(t, crlf(baseMessage), "sender.example", sel, signedHeaders, time.Time{})
		if edit != nil {
			m = edit(m)
		}
		return m
	}
}

// replace returns an edit that replaces old by new once.
func replace(old, new string) func([]byte) []byte {
	return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
}

// plain returns a message text as is (CRLF line ends).
func plain(s string) func(t testing.TB) []byte {
	return func(t testing.TB) []byte { return crlf(s) }
}

var judgeCases = []judgeCase{
	{name: "valid rsa 2048", msg: signed("s2048", nil), passed: true,
		want: []string{"msg.spf-pass:pass", "msg.dkim-pass:pass", "msg.dmarc-pass:pass", "msg.iprev-pass:pass",
			"msg.helo-ok:pass", "msg.header-ok:pass", "msg.mime-ok:pass", "msg.tls-none:warn", "msg.spf-helo:pass"},
		not:  []string{"msg.dkim-weak-key", "msg.dkim-fail"},
		ar:   []string{"Authentication-Results: mx.rcpt.example;", "spf=pass", "dkim=pass", "header.d=sender.example", "header.s=s2048", "dmarc=pass", "iprev=pass"},
		text: []string{"d=sender.example s=s2048 a=rsa-sha256 (2048-bit key)", "p=reject of sender.example"}},
	{name: "ed25519", msg: signed("ed", nil), passed: true, want: []string{"msg.dkim-pass:pass", "msg.dmarc-pass:pass"},
		text: []string{"a=ed25519-sha256 (256-bit key)"}},
	{name: "body changed", msg: signed("s2048", replace("Hello Bob.", "Hello Eve.")),
		want: []string{"msg.dkim-fail:fail", "msg.dmarc-pass:pass"}, text: []string{"body hash mismatch"}, ar: []string{"dkim=fail"}},
	{name: "signed header changed", msg: signed("s2048", replace("Subject: Hello", "Subject: Invoice")),
		want: []string{"msg.dkim-fail:fail"}, text: []string{"bad signature"}},
	{name: "From changed", msg: signed("s2048", replace("From: Alice <alice@", "From: Mallory <alice@")),
		want: []string{"msg.dkim-fail:fail"}, text: []string{"bad signature"}},
	{name: "duplicate From", msg: signed("s2048", func(b []byte) []byte { return append([]byte("From: eve@evil.example\r\n"), b...) }),
		want: []string{"msg.from-multiple:fail"}, not: []string{"msg.dmarc-pass", "msg.header-ok"}, ar: []string{"dmarc=permerror"}},
	{name: "two addresses in From", msg: signed("s2048", replace("From: Alice <alice@sender.example>", "From: alice@sender.example, eve@evil.example")),
		want: []string{"msg.from-multiple:fail"}, not: []string{"msg.dmarc-pass"}},
	{name: "expired signature", msg: func(t testing.TB) []byte {
		return sign(t, crlf(baseMessage), "sender.example", "s2048", signedHeaders, testNow.Add(-time.Hour))
	}, want: []string{"msg.dkim-fail:fail"}, text: []string{": expired"}},
	{name: "1024-bit key", msg: signed("s1024", nil), passed: true,
		want: []string{"msg.dkim-pass:pass", "msg.dkim-weak-key:warn"}, text: []string{"1024-bit RSA key"}},
	{name: "512-bit key", msg: signed("s512", nil), want: []string{"msg.dkim-fail:fail"}, text: []string{"key under 1024 bits"}},
	{name: "rsa-sha1", msg: signed("s2048", replace("a=rsa-sha256", "a=rsa-sha1")), want: []string{"msg.dkim-fail:fail"},
		text: []string{"rsa-sha1 (RFC 8301 forbids it)"}},
	{name: "l= present", msg: signed("s2048", replace("a=rsa-sha256;", "a=rsa-sha256; l=10;")),
		want: []string{"msg.dkim-length:warn", "msg.dmarc-pass:pass"}, ar: []string{"dkim=policy"}, passed: true},
	{name: "key not found", msg: func(t testing.TB) []byte {
		return sign(t, crlf(baseMessage), "sender.example", "unpublished", signedHeaders, time.Time{})
	}, want: []string{"msg.dkim-fail:fail"}, text: []string{"key not found"}},
	{name: "not aligned, SPF fail", msg: func(t testing.TB) []byte {
		return sign(t, crlf(baseMessage), "other.example", "s2048", signedHeaders, time.Time{})
	}, env: func(e *Envelope) { e.ClientIP = netip.MustParseAddr("192.0.2.11") },
		want: []string{"msg.dkim-pass:pass", "msg.spf-fail:fail", "msg.dmarc-fail:fail", "msg.iprev-fail:warn"},
		text: []string{"not aligned", "p=reject of sender.example"}, ar: []string{"dmarc=fail", "iprev=fail"}},
	{name: "unsigned, SPF aligned relaxed", msg: plain(baseMessage), env: func(e *Envelope) { e.MailFrom = "b@bounces.sender.example" },
		want: []string{"msg.dkim-none:warn", "msg.spf-pass:pass", "msg.dmarc-pass:pass"}, passed: true},
	{name: "null sender", msg: signed("s2048", nil), env: func(e *Envelope) { e.MailFrom = "" }, passed: true,
		want: []string{"msg.spf-pass:pass"}, not: []string{"msg.spf-helo"}, text: []string{"postmaster@mail.sender.example"}},
	{name: "TLS 1.3", msg: signed("s2048", nil), passed: true,
		env: func(e *Envelope) {
			e.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}
		},
		want: []string{"msg.tls-ok:pass"}, text: []string{"TLS 1.3 TLS_AES_128_GCM_SHA256"}},
	{name: "TLS 1.0", msg: signed("s2048", nil), passed: true,
		env: func(e *Envelope) {
			e.TLS = &tls.ConnectionState{Version: tls.VersionTLS10, CipherSuite: tls.TLS_RSA_WITH_AES_128_CBC_SHA}
		},
		want: []string{"msg.tls-old:warn"}},
	{name: "HELO localhost", msg: signed("s2048", nil), env: func(e *Envelope) { e.Helo = "localhost" }, passed: true,
		want: []string{"msg.helo-bad:warn"}, not: []string{"msg.spf-helo"}},
	{name: "HELO literal", msg: signed("s2048", nil), env: func(e *Envelope) { e.Helo = "[192.0.2.10]" }, passed: true,
		want: []string{"msg.helo-literal:info"}},
	{name: "HELO bare address", msg: signed("s2048", nil), env: func(e *Envelope) { e.Helo = "192.0.2.10" }, passed: true,
		want: []string{"msg.helo-bad:warn"}},
	{name: "sender's Authentication-Results ignored",
		msg: signed("s2048", func(b []byte) []byte {
			return append([]byte("Authentication-Results: mx.rcpt.example; dkim=pass\r\n"), b...)
		}),
		want: []string{"msg.authres-ignored:info", "msg.dkim-pass:pass"}, passed: true},
	{name: "HTML only", msg: plain(strings.Replace(baseMessage, "Content-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\nHello Bob.\n--b1\nContent-Type: text/html; charset=utf-8\n\n<p>Hello Bob.</p>\n--b1--\n", "Content-Type: text/html; charset=utf-8\n\n<p>Hi</p>\n", 1)),
		want: []string{"msg.html-only:warn"}, not: []string{"msg.mime-ok"}, passed: true},
	{name: "bare LF", msg: func(t testing.TB) []byte { return append(crlf(baseMessage), "trailer\nmore\r\n"...) },
		want: []string{"msg.bare-lf:fail"}},
	{name: "1000-octet line", msg: plain(strings.Replace(baseMessage, "Hello Bob.\n", strings.Repeat("x", 1000)+"\n", 1)),
		want: []string{"msg.line-too-long:fail"}, text: []string{"1000 octets"}},
	{name: "missing Date and Message-ID", msg: plain(strings.Replace(strings.Replace(baseMessage, "Date: Sat, 05 Dec 2026 10:00:00 +0000\n", "", 1), "Message-ID: <20261205100000.abc123@sender.example>\n", "", 1)),
		want: []string{"msg.date-missing:fail", "msg.message-id-missing:warn"}, not: []string{"msg.header-ok"}},
	{name: "bad Date and Message-ID", msg: plain(strings.Replace(strings.Replace(baseMessage, "Sat, 05 Dec 2026 10:00:00 +0000", "yesterday", 1), "<20261205100000.abc123@sender.example>", "abc123", 1)),
		want: []string{"msg.date-invalid:fail", "msg.message-id-invalid:warn"}},
	{name: "non-ASCII without charset", msg: plain(strings.Replace(baseMessage, "Content-Type: text/plain; charset=utf-8\n\nHello Bob.", "Content-Type: text/plain\n\nGrüße Bob.", 1)),
		want: []string{"msg.charset-missing:warn"}, passed: true},
	{name: "8bit without 8BITMIME", msg: plain(strings.Replace(baseMessage, "Hello Bob.", "Grüße Bob.", 1)),
		env: func(e *Envelope) { e.EightBit = false }, want: []string{"msg.8bit-without-8bitmime:warn"}, passed: true},
	{name: "broken multipart", msg: plain(strings.Replace(baseMessage, "--b1--\n", "", 1)),
		want: []string{"msg.multipart-broken:fail"}, text: []string{"--b1--"}},
	{name: "multipart without boundary", msg: plain(strings.Replace(baseMessage, `; boundary="b1"`, "", 1)),
		want: []string{"msg.multipart-broken:fail"}},
	{name: "MIME fields without MIME-Version", msg: plain(strings.Replace(baseMessage, "MIME-Version: 1.0\n", "", 1)),
		want: []string{"msg.mime-version-missing:warn"}, passed: true},
	{name: "bulk with one-click, signed", passed: true, msg: func(t testing.TB) []byte {
		m := "List-Unsubscribe: <https://sender.example/u/1>, <mailto:u@sender.example>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n" + baseMessage
		return sign(t, crlf(m), "sender.example", "s2048", append(signedHeaders, "List-Unsubscribe", "List-Unsubscribe-Post"), time.Time{})
	}, want: []string{"msg.unsubscribe-ok:pass"}},
	{name: "bulk without one-click", msg: func(t testing.TB) []byte {
		m := "Precedence: bulk\nList-Unsubscribe: <mailto:u@sender.example>\n" + baseMessage
		return sign(t, crlf(m), "sender.example", "s2048", signedHeaders, time.Time{})
	}, want: []string{"msg.unsubscribe-one-click:fail"}, text: []string{"https URI", "List-Unsubscribe-Post", "h= covers"}},
	{name: "no header block", msg: plain(" leading space\n"), want: []string{"msg.unparseable:fail"}},
}

// TestJudge runs the table against the served world.
func TestJudge(t *testing.T) {
	_, r := world(t)
	for _, c := range judgeCases {
		t.Run(c.name, func(t *testing.T) {
			env := goodEnvelope()
			if c.env != nil {
				c.env(&env)
			}
			v := judge(t, r, env, c.msg(t))
			checkVerdict(t, c, v)
		})
	}
}

// checkVerdict compares a verdict with what the case wants.
func checkVerdict(t *testing.T, c judgeCase, v *Verdict) {
	t.Helper()
	have := map[string]bool{}
	var all []string
	for _, f := range v.Findings {
		have[f.ID+":"+string(f.Severity)], have[f.ID] = true, true
		all = append(all, f.ID+":"+string(f.Severity)+" "+f.Message)
	}
	dump := strings.Join(all, "\n")
	for _, w := range c.want {
		if !have[w] {
			t.Errorf("missing %s in\n%s", w, dump)
		}
	}
	for _, n := range c.not {
		if have[n] {
			t.Errorf("unexpected %s in\n%s", n, dump)
		}
	}
	for _, s := range c.text {
		if !strings.Contains(dump, s) {
			t.Errorf("no finding says %q:\n%s", s, dump)
		}
	}
	for _, s := range c.ar {
		if !strings.Contains(v.AuthResults, s) {
			t.Errorf("Authentication-Results lacks %q: %s", s, v.AuthResults)
		}
	}
	if v.Passed != c.passed {
		t.Errorf("passed = %v, want %v\n%s", v.Passed, c.passed, dump)
	}
}

// A failed key query is an error finding naming the query, and the
// signature's result is temperror (never fail).
func TestDKIMTempError(t *testing.T) {
	srv, r := world(t)
	srv.Set("tempfail._domainkey.sender.example", dnstest.ServFail)
	m := sign(t, crlf(baseMessage), "sender.example", "s2048", signedHeaders, time.Time{})
	m = bytes.Replace(m, []byte("s=s2048"), []byte("s=tempfail"), 1)
	v := judge(t, r, goodEnvelope(), m)
	checkVerdict(t, judgeCase{want: []string{"msg.dkim-temperror:error", "msg.dmarc-pass:pass"}, passed: true,
		text: []string{"TXT tempfail._domainkey.sender.example failed", "SERVFAIL"}, ar: []string{"dkim=temperror"}}, v)
}

// A revoked key (empty p=) is named as such.
func TestDKIMRevoked(t *testing.T) {
	_, r := world(t)
	m := sign(t, crlf(baseMessage), "sender.example", "s2048", signedHeaders, time.Time{})
	m = bytes.Replace(m, []byte("s=s2048"), []byte("s=revoked"), 1)
	v := judge(t, r, goodEnvelope(), m)
	checkVerdict(t, judgeCase{want: []string{"msg.dkim-fail:fail"}, text: []string{"key revoked"}}, v)
}

// A signature that go-msgauth accepts (no wall-clock expiry yet) is
// still expired by the judge's clock.
func TestDKIMExpiredByJudgeClock(t *testing.T) {
	_, r := world(t)
	m := sign(t, crlf(baseMessage), "sender.example", "s2048", signedHeaders, time.Now().Add(24*time.Hour))
	j := &Judge{Resolver: r, Now: func() time.Time { return time.Now().Add(48 * time.Hour) }, Hostname: "mx.rcpt.example"}
	v := j.Judge(t.Context(), goodEnvelope(), m)
	checkVerdict(t, judgeCase{want: []string{"msg.dkim-fail:fail"}, text: []string{": expired"}}, v)
}

// DNS failures for SPF, DMARC and iprev are error findings, never fails.
func TestDNSFailureIsError(t *testing.T) {
	srv, r := world(t)
	srv.Set("sender.example", dnstest.ServFail)
	srv.Set("_dmarc.sender.example", dnstest.ServFail)
	srv.Set("10.2.0.192.in-addr.arpa", dnstest.ServFail)
	v := judge(t, r, goodEnvelope(), crlf(baseMessage))
	checkVerdict(t, judgeCase{want: []string{"msg.spf-temperror:error", "msg.dmarc-temperror:error", "msg.iprev-temperror:error"},
		not: []string{"msg.spf-fail", "msg.dmarc-fail"}, passed: true, ar: []string{"spf=temperror", "dmarc=temperror", "iprev=temperror"}}, v)
}

// Every finding has a declared ID with its usual or a stated severity,
// and text safe to print.
func TestFindingsAreDeclared(t *testing.T) {
	_, r := world(t)
	ids := map[string]bool{}
	for _, s := range Catalog.Specs() {
		if ids[s.ID] {
			t.Errorf("%s declared twice", s.ID)
		}
		ids[s.ID] = true
	}
	for _, c := range judgeCases[:5] {
		v := judge(t, r, goodEnvelope(), c.msg(t))
		for _, f := range v.Findings {
			if !ids[f.ID] || !f.Severity.Valid() || f.Bounded().Message != f.Message {
				t.Errorf("finding %+v", f)
			}
		}
	}
	_ = findings.Pass
}

// A judge without a resolver works offline: every lookup is an error
// finding, and a message without a session address is still judged.
func TestJudgeOffline(t *testing.T) {
	v := (&Judge{}).Judge(t.Context(), Envelope{Helo: "mail.sender.example"}, crlf(baseMessage))
	checkVerdict(t, judgeCase{want: []string{"msg.dmarc-temperror:error", "msg.header-ok:pass", "msg.mime-ok:pass"},
		not: []string{"msg.spf-pass", "msg.iprev-pass"}, passed: true, ar: []string{"Authentication-Results: localhost;", "dmarc=temperror"}}, v)
}

// One Judge serves concurrent sessions (run under -race).
func TestJudgeConcurrent(t *testing.T) {
	_, r := world(t)
	m := judgeCases[0].msg(t)
	j := &Judge{Resolver: r, Now: func() time.Time { return testNow }, Hostname: "mx.rcpt.example"}
	done := make(chan bool)
	for range 8 {
		go func() { done <- j.Judge(t.Context(), goodEnvelope(), m).Passed }()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent judgement did not pass")
		}
	}
}
