package checks_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// Terminal attacks a hostile server can put in its replies and its
// certificate: clear the screen, write the clipboard (OSC 52), a C1
// control sequence introducer, invalid UTF-8, a bidi override.
const (
	escClear = "\x1b[2J"
	osc52    = "\x1b]52;c;cm0gLXJmIH4K\x07"
	c1CSI    = "\u009b31m"
	badUTF8  = "\xff\xfe\xc0"
	bidi     = "\u202e"
)

const hostileZone = `$ORIGIN evil.test.
$TTL 300
@ IN SOA ns.evil.test. hostmaster.evil.test. 1 7200 3600 1209600 300
@ IN MX 10 mx.evil.test.
mx IN A 192.0.2.70
sub IN A 192.0.2.71
_submission._tcp IN SRV 0 1 587 sub.evil.test.
_submissions._tcp IN SRV 0 1 465 sub.evil.test.
`

// TestSMTPHostileText runs sessions with a server whose banner, EHLO
// lines, other replies and certificate names carry terminal escape
// sequences, C1 bytes and invalid UTF-8 through the smtp and tls checks,
// without the runner's last-guard sanitising, and scans every finding
// (message, records, fix, data) and the JSON of the results for control
// bytes: peer text must be made safe where it enters.
func TestSMTPHostileText(t *testing.T) {
	evil := escClear + osc52 + c1CSI + badUTF8 + bidi
	ca := smtptest.NewCA(t, "hostile CA")
	cert := ca.Issue(t, smtptest.CertOptions{Names: []string{"mx.evil.test", "x" + escClear + osc52 + ".evil.test"},
		CommonName: "mx" + escClear + c1CSI + bidi + ".evil.test", Issuer: "CA" + osc52 + c1CSI})
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	replies := map[string]string{
		"EHLO":     "250-mx.evil.test greets " + evil + "\n250-STARTTLS\n250-AUTH PLAIN " + evil + "\n250-X" + escClear + "\n250 8BITMIME" + badUTF8,
		"MAIL":     "250 2.1.0 Ok " + evil,
		"RCPT":     "554 5.7.1 Relay access denied " + evil,
		"RSET":     "250 2.0.0 Ok",
		"STARTTLS": "220 2.0.0 go " + evil,
	}
	banner := "220 mx" + escClear + ".evil.test ESMTP " + evil
	dialer := smtptest.NewDialer()
	dialer.Map("192.0.2.70:25", smtptest.StartFake(t, smtptest.StartTLSThen(banner, replies, cfg, replies)))
	dialer.Map("192.0.2.71:587", smtptest.StartFake(t, smtptest.StartTLSThen(banner, replies, cfg, replies)))
	dialer.Map("192.0.2.71:465", smtptest.StartFake(t, func(c net.Conn, done <-chan struct{}) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if tc.Handshake() == nil {
			smtptest.Script(banner, replies)(tc, done)
		}
	}))
	srv := dnstest.StartZones(t, dnstest.Zone(t, "evil.test.", hostileZone))
	n, _ := resolve.ParseName("evil.test")
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(5*time.Second)))
	env.Dialer, env.RootCAs = dialer, ca.Pool
	env.Options.ProbeTimeout = 10 * time.Second
	var trace lockedBuf
	env.Trace = &trace
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var all []checks.Finding
	for _, c := range []checks.Check{checks.SMTP{}, checks.TLS{}} {
		res := c.Run(ctx, env) // not checks.Run: no last guard
		sharedtest.Dump(t, res)
		all = append(all, res.Findings...)
		if err := clean(reflect.ValueOf(res), c.Meta().Name); err != nil {
			t.Error(err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if err := cleanJSON(b); err != nil {
			t.Errorf("%s JSON: %v", c.Meta().Name, err)
		}
	}
	if err := cleanText(trace.String(), true); err != nil {
		t.Errorf("--trace output: %v", err)
	}
	// The sessions got far enough for every hostile string to be read:
	// the banner, EHLO, the relay test, STARTTLS and the certificate.
	for _, id := range []string{"smtp.ok", "smtp.relay-closed", "smtp.starttls", "smtp.submission-ok"} {
		if len(dnsblFindings(all, id)) == 0 {
			t.Errorf("no %s finding: the hostile session did not get that far\n%s", id, dnsblDump(all))
		}
	}
	if !someField(all, func(f checks.Finding) string { return strings.Join(f.Records, "\n") }, `mx\x1b[2J`) {
		t.Errorf("the escaped banner is not in the evidence:\n%s", dnsblDump(all))
	}
}

// clean walks the exported fields of v and reports the first string that
// is not clean (control bytes, invalid UTF-8).
func clean(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.String:
		return cleanText(v.String(), false, path)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if _, isErr := v.Interface().(error); isErr {
			return nil // errors reach output through exported text fields
		}
		return clean(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := clean(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if err := clean(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return nil
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				if err := clean(v.Field(i), path+"."+f.Name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// cleanText reports a control byte or invalid UTF-8 in s; multiline
// allows line feeds (a transcript of several lines).
func cleanText(s string, multiline bool, where ...string) error {
	if multiline {
		s = strings.ReplaceAll(s, "\n", "")
	}
	if !sanitize.IsClean(s) || !utf8.ValidString(s) {
		return fmt.Errorf("%s: not clean: %q", strings.Join(where, ""), sanitize.Truncate(s, 300))
	}
	return nil
}

// cleanJSON decodes a JSON document and reports a string in it with a
// control character (which the encoder would have escaped as \u001b) or
// U+FFFD (which the encoder puts for invalid UTF-8, hiding that it arrived
// unsanitised).
func cleanJSON(b []byte) error {
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	return cleanDoc(doc, "$")
}

func cleanDoc(v any, path string) error {
	switch v := v.(type) {
	case string:
		if strings.ContainsRune(v, utf8.RuneError) {
			return fmt.Errorf("%s: U+FFFD in %q", path, v)
		}
		return cleanText(v, false, path)
	case []any:
		for i, e := range v {
			if err := cleanDoc(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if err := cleanDoc(e, path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// An expired certificate is one finding, tls.cert-expired, also when its
// chain's intermediate has expired with it: never a second
// tls.cert-untrusted quoting a "current time" that is not the audit's.
func TestTLSExpiredChain(t *testing.T) {
	now := time.Now()
	root := smtptest.NewCA(t, "chain root")
	// Expired in the leaf's lifetime: there is a moment when the whole
	// chain was valid.
	lapsed := root.Intermediate(t, "lapsed intermediate", now.AddDate(-2, 0, 0), now.AddDate(0, 0, -20))
	// Expired before the leaf was issued: no moment when the chain was
	// valid; the trust failure is only about dates.
	stale := root.Intermediate(t, "stale intermediate", now.AddDate(-4, 0, 0), now.AddDate(-3, 0, 0))
	zone := `$ORIGIN chain.test.
@ IN SOA ns h 1 2 3 4 5
@ IN MX 10 a
@ IN MX 20 b
a IN A 192.0.2.80
b IN A 192.0.2.81
`
	dialer := smtptest.NewDialer()
	for addr, ca := range map[string]*smtptest.CA{"192.0.2.80:25": lapsed, "192.0.2.81:25": stale} {
		host := map[string]string{"192.0.2.80:25": "a.chain.test", "192.0.2.81:25": "b.chain.test"}[addr]
		cert := ca.Issue(t, smtptest.CertOptions{Names: []string{host}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(0, 0, -10)})
		dialer.Map(addr, smtptest.Start(t, smtptest.Options{Hostname: host, Local: "chain.test", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}).Addr)
	}
	srv := dnstest.StartZones(t, dnstest.Zone(t, "chain.test.", zone))
	n, _ := resolve.ParseName("chain.test")
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(5*time.Second)))
	env.Dialer, env.RootCAs = dialer, root.Pool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := checks.Run(ctx, env, []checks.Check{checks.TLS{}})
	sharedtest.Dump(t, res)
	if got := strings.Join(sevIDs(res[0].Findings), "; "); got != "fail tls.cert-expired x2" {
		t.Errorf("tls findings %s, want fail tls.cert-expired x2:\n%s", got, dnsblDump(res[0].Findings))
	}
	if someField(res[0].Findings, func(f checks.Finding) string { return f.Message }, "current time") {
		t.Errorf("a finding quotes a verification time:\n%s", dnsblDump(res[0].Findings))
	}
	if !someField(res[0].Findings, func(f checks.Finding) string { return f.Message }, "the certificate CN=stale intermediate,O=mailcheck tests in the chain is valid only from") {
		t.Errorf("the stale intermediate is not named:\n%s", dnsblDump(res[0].Findings))
	}
}
