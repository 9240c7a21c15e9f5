package checks_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dkim"
	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sharedtest"
)

var dkimZones = []string{
	"../testdata/zones/dkim/good.example.zone",
	"../testdata/zones/dkim/provider.example.zone",
	"../testdata/zones/dkim/problems.example.zone",
	"../testdata/zones/dkim/wild.example.zone",
	"../testdata/zones/dkim/none.example.zone",
	"../testdata/zones/dkim/custom.example.zone",
	"../testdata/zones/dkim/nomail.example.zone",
}

// failRandom makes the wildcard probe (the random selector) fail.
type failRandom struct{ next resolve.Resolver }

func (f failRandom) Query(ctx context.Context, name string, qtype uint16) (*resolve.Answer, error) {
	if strings.HasPrefix(name, "mailcheck-") {
		return nil, &resolve.QueryError{Name: name, Qtype: qtype, Server: "test", Kind: resolve.ErrServFail}
	}
	return f.next.Query(ctx, name, qtype)
}

func dkimIDs(fs []checks.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+":"+string(f.Severity))
	}
	sort.Strings(out)
	return out
}

func dkimFind(fs []checks.Finding, id, text string) *checks.Finding {
	for i := range fs {
		if fs[i].ID == id && strings.Contains(fs[i].Message, text) {
			return &fs[i]
		}
	}
	return nil
}

func TestDKIMCheck(t *testing.T) {
	type expect struct {
		id, text string // a finding with this ID whose message contains text
		fix      string // and whose fix contains this (optional)
		record   string // and whose evidence has a record containing this (optional)
	}
	tests := []struct {
		name      string
		domain    string
		selectors []string
		setup     func(*dnstest.Server)
		wrap      func(resolve.Resolver) resolve.Resolver
		want      []string // sorted id:severity
		expect    []expect
		absent    []string // IDs that must not appear
		never     []expect // findings that must not appear (id and message text)
	}{
		{
			name:   "healthy domain, key behind a provider CNAME, Ed25519 and t=s",
			domain: "good.example",
			want:   []string{"dkim.ok:pass", "dkim.ok:pass", "dkim.ok:pass"},
			expect: []expect{
				{id: "dkim.ok", text: "selector selector1: RSA 2048-bit key (SubjectPublicKeyInfo form) (via CNAME to selector1-good-example._domainkey.provider.example)",
					record: "selector1._domainkey.good.example.\t3600\tIN\tCNAME\tselector1-good-example._domainkey.provider.example."},
				{id: "dkim.ok", text: "selector google: Ed25519 key (raw 32-octet form)"},
				{id: "dkim.ok", text: "selector fm1: RSA 2048-bit key (SubjectPublicKeyInfo form); t=s"},
			},
		},
		{
			name:   "one problem per selector",
			domain: "problems.example",
			want: []string{
				"dkim.cname-dangling:warn", "dkim.key-invalid:fail", "dkim.key-invalid:fail", "dkim.key-large:warn", "dkim.key-short:warn", "dkim.key-weak:fail",
				"dkim.multiple:fail", "dkim.not-email:warn",
				"dkim.ok:pass", "dkim.ok:pass", "dkim.ok:pass", "dkim.ok:pass",
				"dkim.revoked:info", "dkim.sha1-only:fail", "dkim.syntax:fail", "dkim.syntax:warn", "dkim.testing:warn", "dkim.tlsrpt-key:info",
			},
			expect: []expect{
				{id: "dkim.ok", text: "selector default: RSA 1024-bit key (RSAPublicKey form)"},
				{id: "dkim.key-short", text: "selector default has an RSA key of 1024 bits", fix: "openssl genrsa -out s202611.key 2048"},
				{id: "dkim.key-weak", text: "selector mail has an RSA key of 512 bits", fix: "s202611._domainkey.problems.example. IN TXT"},
				{id: "dkim.testing", text: "selector k1 is in testing mode", fix: `k1._domainkey.problems.example. IN TXT "v=DKIM1; k=rsa; p=MIIB`},
				{id: "dkim.revoked", text: "selector k2 has a revoked key"},
				{id: "dkim.sha1-only", text: "selector s1 allows only sha1 (h=sha1)", fix: `"v=DKIM1; k=rsa; h=sha256; p=MIIB`},
				{id: "dkim.syntax", text: `selector s2 is unusable, verifiers discard it: v=: "DKIM2" is not a DKIM key record version`, fix: `s2._domainkey.problems.example. IN TXT "v=DKIM1; k=rsa; p=MIIB`},
				{id: "dkim.key-invalid", text: "the p= of selector dkim holds no usable rsa key: invalid public key: p= is not valid base64"},
				{id: "dkim.key-invalid", text: "the p= of selector mx holds no usable ed25519 key: invalid public key: p= holds an Ed25519 key wrapped in SubjectPublicKeyInfo", fix: "tail -c 32"},
				{id: "dkim.not-email", text: "selector key1 is restricted to service type(s) web", fix: "s=email"},
				{id: "dkim.tlsrpt-key", text: "selector k3 is a key for signing TLS reports (s=tlsrpt): it verifies TLS-RPT report signatures, not mail"},
				{id: "dkim.syntax", text: "selector dk has defects verifiers tolerate: v=DKIM1 must be the first tag", fix: `dk._domainkey.problems.example. IN TXT "v=DKIM1; k=rsa; p=`},
				{id: "dkim.key-large", text: "selector key2 has an RSA key of 8192 bits"},
				{id: "dkim.ok", text: "selector key2: RSA 8192-bit key"},
				// Two records: no pass for the selector, the keys are named
				// in the multiple finding.
				{id: "dkim.multiple", text: "selector smtp has 2 TXT records at smtp._domainkey.problems.example; RFC 6376 §3.6.2.2 leaves the result undefined", fix: "keep exactly one key record at smtp._domainkey.problems.example."},
				{id: "dkim.multiple", text: "usable keys: record 1: RSA 2048-bit, record 2: RSA 2048-bit"},
				{id: "dkim.cname-dangling", text: "selector selector2 is an alias for selector2-problems-example._domainkey.provider.example, which has no key record (NXDOMAIN",
					record: "selector2._domainkey.problems.example.\t3600\tIN\tCNAME"},
			},
			absent: []string{"dkim.none-found", "dkim.wildcard", "dkim.temperror"},
			never:  []expect{{id: "dkim.ok", text: "selector smtp"}, {id: "dkim.ok", text: "record 1 of selector smtp"}},
		},
		{
			name:   "wildcard under _domainkey: only the selector with its own key is reported",
			domain: "wild.example",
			want:   []string{"dkim.ok:pass", "dkim.wildcard:warn"},
			expect: []expect{
				{id: "dkim.wildcard", text: "28 probed selector(s) got the same answer", fix: "*._domainkey.wild.example"},
				{id: "dkim.ok", text: "selector s2048: RSA 2048-bit key"},
			},
		},
		{
			name:   "no key anywhere",
			domain: "none.example",
			want:   []string{"dkim.none-found:warn"},
			expect: []expect{{id: "dkim.none-found", text: "under any of the 29 selectors probed", fix: "mailcheck --dkim-selector SELECTOR none.example"}},
		},
		{
			name:   "a domain that says it sends no mail is not nagged",
			domain: "nomail.example",
			want:   []string{"dkim.not-needed:info"},
			expect: []expect{{id: "dkim.not-needed", text: "nomail.example publishes a null MX (RFC 7505), the SPF record \"v=spf1 -all\" and a DMARC policy of reject", record: `"v=DMARC1; p=reject; sp=none"`}},
		},
		{
			name:   "null MX and SPF -all without DMARC reject: the usual warning",
			domain: "nodmarc.nomail.example",
			want:   []string{"dkim.none-found:warn"},
		},
		{
			name:   "a domain that does not exist: one finding, no probe",
			domain: "gone.none.example",
			want:   []string{"dkim.nxdomain:error"},
			expect: []expect{{id: "dkim.nxdomain", text: "gone.none.example does not exist (NXDOMAIN for MX gone.none.example from "}},
		},
		{
			name:      "a custom selector finds the key the built-in list misses",
			domain:    "custom.example",
			selectors: []string{"2026-11.MAIL", "2026-11.mail", "bad selector!"},
			want:      []string{"dkim.ok:pass", "dkim.selector-invalid:error"},
			expect: []expect{
				{id: "dkim.ok", text: "selector 2026-11.mail: RSA 2048-bit key"},
				{id: "dkim.selector-invalid", text: `selector "bad selector!": character ' ' is not allowed`},
			},
		},
		{
			name:      "a key without its base64 padding: the fix restores it",
			domain:    "custom.example",
			selectors: []string{"nopad"},
			want:      []string{"dkim.key-invalid:fail"},
			expect: []expect{
				{id: "dkim.key-invalid", text: "the p= of selector nopad holds no usable rsa key: invalid public key: p= lacks the \"=\" padding at the end of its base64, so verifiers reject it (with the padding it is a valid RSA 1024-bit key)",
					fix: `publish nopad._domainkey.custom.example. IN TXT "v=DKIM1; k=rsa; p=MIGJAoGBANa8B3SxWzeUJi0vA4mnRHuWpJf7o5raLTHk9lxag+QaxbzyRlnCC8ziI2nDI2hO0zIbFdn0qVzSZTHSaEM9QYbu9y3LR+JSnoIvOUwnxlfpLwooDa/JPFGRYiOKKTgExzj6+/LUdeQJKBHGfabg+rvPlD1/4ypofBM7L7ZCT4+7AgMBAAE="`},
			},
			never: []expect{{id: "dkim.ok", text: "selector nopad"}},
		},
		{
			name:   "without the custom selector nothing is found",
			domain: "custom.example",
			want:   []string{"dkim.none-found:warn"},
		},
		{
			name:   "SERVFAIL and timeouts are temperror, never none-found",
			domain: "none.example",
			setup: func(s *dnstest.Server) {
				s.Set("default._domainkey.none.example", dnstest.ServFail)
				s.Set("selector1._domainkey.none.example", dnstest.Drop)
			},
			want: []string{"dkim.temperror:error"},
			expect: []expect{{id: "dkim.temperror", text: "no DKIM key found among the 27 selectors of none.example that answered, but 2 lookup(s) failed"},
				{id: "dkim.temperror", text: "default (SERVFAIL from"}, {id: "dkim.temperror", text: "selector1 (timeout"}},
			absent: []string{"dkim.none-found"},
		},
		{
			name:   "a failed selector beside found keys",
			domain: "good.example",
			setup:  func(s *dnstest.Server) { s.Set("google._domainkey.good.example", dnstest.Refused) },
			want:   []string{"dkim.ok:pass", "dkim.ok:pass", "dkim.temperror:error"},
			expect: []expect{{id: "dkim.temperror", text: "1 of 29 selector lookups for good.example failed; keys there could not be checked: google (REFUSED"}},
		},
		{
			name:   "the wildcard test itself fails",
			domain: "good.example",
			wrap:   func(r resolve.Resolver) resolve.Resolver { return failRandom{r} },
			want:   []string{"dkim.ok:pass", "dkim.ok:pass", "dkim.ok:pass", "dkim.temperror:error"},
			expect: []expect{{id: "dkim.temperror", text: "the wildcard test (selector mailcheck-"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := dnstest.Start(t, dkimZones...)
			if tc.setup != nil {
				tc.setup(srv)
			}
			// 3 s per attempt: an answer delayed past the attempt
			// timeout on a loaded machine would be asked again (the
			// cache retries a timeout once) and fail the
			// no-question-twice assertion; the Drop case costs two
			// attempts, within the 10 s audit deadline.
			var r resolve.Resolver = srv.Resolver(3 * time.Second)
			if tc.wrap != nil {
				r = tc.wrap(r)
			}
			n, err := resolve.ParseName(tc.domain)
			if err != nil {
				t.Fatal(err)
			}
			env := checks.NewEnv(n, resolve.NewCache(r))
			env.Now = func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
			env.Options.DKIM.Selectors = tc.selectors
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res := checks.Run(ctx, env, []checks.Check{checks.DKIM{}})[0]
			sharedtest.Dump(t, res)
			fs := res.Findings
			if got := dkimIDs(fs); !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n got %q\nwant %q", got, tc.want)
				for _, f := range fs {
					t.Logf("%s %s: %s", f.ID, f.Severity, f.Message)
				}
			}
			known := map[string]bool{}
			for _, s := range (checks.DKIM{}).Meta().Findings {
				known[s.ID] = true
			}
			for _, f := range fs {
				if !known[f.ID] {
					t.Errorf("%s is not in the catalogue", f.ID)
				}
				if f.Severity != checks.Pass && f.Severity != checks.Error && f.Severity != checks.Info && f.Fix == "" {
					t.Errorf("%s (%s) has no fix: %s", f.ID, f.Severity, f.Message)
				}
			}
			for _, e := range tc.expect {
				f := dkimFind(fs, e.id, e.text)
				if f == nil {
					t.Errorf("no %s finding containing %q", e.id, e.text)
					continue
				}
				if e.fix != "" && !strings.Contains(f.Fix, e.fix) {
					t.Errorf("%s fix %q does not contain %q", e.id, f.Fix, e.fix)
				}
				if e.record != "" && !slices.ContainsFunc(f.Records, func(r string) bool { return strings.Contains(r, e.record) }) {
					t.Errorf("%s records %q do not contain %q", e.id, f.Records, e.record)
				}
			}
			for _, e := range tc.never {
				if f := dkimFind(fs, e.id, e.text); f != nil {
					t.Errorf("unexpected %s: %s", e.id, f.Message)
				}
			}
			for _, id := range tc.absent {
				if dkimFind(fs, id, "") != nil {
					t.Errorf("unexpected %s", id)
				}
			}
			if d := srv.Duplicates(); len(d) > 0 {
				t.Errorf("questions sent twice: %v", d)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result does not marshal: %v", err)
			}
		})
	}
}

func TestDKIMCheckData(t *testing.T) {
	srv := dnstest.Start(t, dkimZones...)
	n, _ := resolve.ParseName("wild.example")
	env := checks.NewEnv(n, resolve.NewCache(srv.Resolver(time.Second)))
	res := checks.DKIM{}.Run(context.Background(), env)
	sharedtest.Dump(t, res)
	b, err := json.Marshal(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Probed   []string
		Wildcard *struct {
			Selector string
			Status   string
			Records  []string
		}
		Selectors []struct {
			Selector, Name, Status string
			Key                    *dkim.Key
		}
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Probed) != len(dkim.Builtin) {
		t.Errorf("probed %d selectors, want %d", len(data.Probed), len(dkim.Builtin))
	}
	if data.Wildcard == nil || data.Wildcard.Status != "wildcard" || !strings.HasPrefix(data.Wildcard.Selector, "mailcheck-") || len(data.Wildcard.Records) != 1 {
		t.Errorf("wildcard data = %+v", data.Wildcard)
	}
	if len(data.Selectors) != 1 || data.Selectors[0].Selector != "s2048" || data.Selectors[0].Status != "key" ||
		data.Selectors[0].Key == nil || data.Selectors[0].Key.Bits != 2048 || data.Selectors[0].Key.Form != dkim.FormSPKI {
		t.Errorf("selectors data = %s", b)
	}
	// Every selector was asked exactly once, plus one random selector.
	for _, s := range dkim.Builtin {
		if c := srv.Count(s.Name+"._domainkey.wild.example", dns.TypeTXT); c != 1 {
			t.Errorf("%s asked %d times", s.Name, c)
		}
	}
	// Besides: the domain's MX set (does the domain exist?) and the
	// addresses of its MX host, shared with the other checks of a run.
	if want := len(dkim.Builtin) + 1 + 3; srv.Total() != want {
		t.Errorf("%d queries, want %d", srv.Total(), want)
	}
}
