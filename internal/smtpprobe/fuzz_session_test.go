package smtpprobe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// fuzzZone sends every probe of the smtp and tls checks to one address:
// port 25 (MX), 587 and 465 (SRV).
const fuzzZone = `$ORIGIN fuzz.test.
@ IN SOA ns h 1 2 3 4 5
@ IN MX 10 mx
mx IN A 192.0.2.1
_submission._tcp IN SRV 0 1 587 mx
_submissions._tcp IN SRV 0 1 465 mx
`

// fuzzTimeout is the probe timeout; fake time (synctest) makes it free.
const fuzzTimeout = 10 * time.Second

// scripted plays script as the server side of a session: the script is
// split at NUL bytes; the first part is sent on connect, each next part
// after one read from the client (a command, or a TLS record), and the
// connection is closed after the last. An empty part makes the server
// go silent until the client hangs up.
func scripted(script []byte) smtptest.Handler {
	parts := bytes.Split(script, []byte{0})
	return func(c net.Conn, done <-chan struct{}) {
		buf := make([]byte, 4096)
		for i, p := range parts {
			if i > 0 {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
			if len(p) == 0 {
				<-done
				return
			}
			if _, err := c.Write(p); err != nil {
				return
			}
		}
	}
}

// FuzzSession scripts the server of every session of the smtp and tls
// checks from the fuzz input and runs both checks (the session judges)
// under fake time: no panic; the audit ends within the probe timeout;
// no control byte or invalid UTF-8 in any finding or in the JSON of the
// results; a fail only for a server that completed its greeting (or, on
// 465, answered the TLS handshake).
func FuzzSession(f *testing.F) {
	// The seed corpus is in testdata/fuzz/FuzzSession.
	zone, err := resolve.ParseZone(strings.NewReader(fuzzZone), "fuzz", "fuzz.test.")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		synctest.Test(t, func(t *testing.T) {
			runSession(t, zone, script)
		})
	})
}

func runSession(t *testing.T, zone *resolve.Zone, script []byte) {
	n, _ := resolve.ParseName("fuzz.test")
	env := checks.NewEnv(n, resolve.NewCache(&resolve.Zones{List: []*resolve.Zone{zone}}))
	env.Dialer = smtptest.PipeDialer(scripted(script))
	env.Options.AllowPrivate = true
	env.Options.ProbeTimeout = fuzzTimeout
	env.RootCAs = nil
	ctx := context.Background()
	start := time.Now()
	results := map[string]checks.Result{}
	for _, c := range []checks.Check{checks.SMTP{}, checks.TLS{}} {
		results[c.Meta().Name] = c.Run(ctx, env)
	}
	if d := time.Since(start); d > fuzzTimeout {
		t.Fatalf("the checks took %s, over the %s probe timeout", d, fuzzTimeout)
	}
	sessions := sessionsOf(t, results["smtp"])
	for name, res := range results {
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if !sanitize.IsClean(string(b)) || bytes.Contains(b, []byte(`\u00`)) && controlEscaped(b) {
			t.Fatalf("%s JSON not clean: %s", name, b)
		}
		for _, f := range res.Findings {
			for _, s := range append([]string{f.Message, f.Fix}, f.Records...) {
				if !sanitize.IsClean(s) {
					t.Fatalf("%s: not clean: %q", f.ID, s)
				}
			}
			if f.Severity == checks.Fail {
				checkFailEarned(t, f, sessions)
			}
		}
	}
}

// session is what the fuzz needs of one smtp check data item.
type session struct {
	Target string `json:"target"`
	Mode   string `json:"mode"`
	Banner *struct {
		Code int `json:"code"`
	} `json:"banner"`
	EHLO *struct {
		Code int `json:"code"`
	} `json:"ehlo"`
	HELO *struct {
		Code int `json:"code"`
	} `json:"helo"`
	TLSError string `json:"tls_error"`
}

func sessionsOf(t *testing.T, r checks.Result) []session {
	b, err := json.Marshal(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	var out []session
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFailEarned: a fail finding is about a session whose server greeted
// with 220 and answered EHLO or HELO with 2xx; on 465 a failed TLS
// handshake that got an answer is a verdict too.
func checkFailEarned(t *testing.T, f checks.Finding, sessions []session) {
	for _, s := range sessions {
		if !strings.HasPrefix(f.Message, s.Target) {
			continue
		}
		greeted := s.Banner != nil && s.Banner.Code == 220 &&
			(s.EHLO != nil && s.EHLO.Code/100 == 2 || s.HELO != nil && s.HELO.Code/100 == 2)
		tlsAnswered := s.Mode == "submissions" && f.ID == "tls.handshake-failed" &&
			!strings.Contains(s.TLSError, "closed") && !strings.Contains(s.TLSError, "timeout")
		if !greeted && !tlsAnswered {
			t.Fatalf("fail %s before a complete greeting: %s (session %+v)", f.ID, f.Message, s)
		}
		return
	}
	t.Fatalf("fail %s names no probed target: %s", f.ID, f.Message)
}

// controlEscaped reports a JSON \u00XX escape of a control character
// (not an escaped backslash followed by "u00").
func controlEscaped(b []byte) bool {
	s := string(b)
	for i := strings.Index(s, `\u00`); i >= 0; {
		bs := 0
		for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 && i+6 <= len(s) && (s[i+4] == '0' || s[i+4] == '1' || s[i+4:i+6] == "7f" || s[i+4] == '8' || s[i+4] == '9') {
			return true
		}
		k := strings.Index(s[i+1:], `\u00`)
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return false
}
