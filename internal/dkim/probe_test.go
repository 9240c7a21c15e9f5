package dkim

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/internal/dnstest"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

func startZones(t *testing.T) *dnstest.Server {
	t.Helper()
	var files []string
	for _, z := range []string{"good", "provider", "problems", "wild", "none", "custom"} {
		files = append(files, "../../testdata/zones/dkim/"+z+".example.zone")
	}
	return dnstest.Start(t, files...)
}

func TestProbe(t *testing.T) {
	srv := startZones(t)
	srv.Set("dkim._domainkey.good.example", dnstest.ServFail)
	r := resolve.NewCache(srv.Resolver(time.Second))
	ctx := context.Background()

	t.Run("CNAME chain and failures", func(t *testing.T) {
		p := Probe(ctx, r, "Good.Example.", []string{"selector1", "google", "dkim", "nokey"}, 2)
		if p.Domain != "good.example" || p.HasWildcard() || p.Random.Err != nil || !strings.HasPrefix(p.Random.Selector, "mailcheck-") {
			t.Fatalf("probe %+v", p)
		}
		var found []string
		for _, l := range p.Found() {
			found = append(found, l.Selector)
		}
		if !slices.Equal(found, []string{"selector1", "google"}) {
			t.Errorf("found %q", found)
		}
		sel1 := p.Lookups[0]
		if !slices.Equal(sel1.Chain(), []string{"selector1-good-example._domainkey.provider.example"}) || len(sel1.Evidence()) != 2 ||
			!strings.Contains(sel1.Evidence()[0], "CNAME") || len(sel1.TXT) != 1 || !strings.HasPrefix(sel1.TXT[0], "v=DKIM1; k=rsa; p=MIIB") {
			t.Errorf("selector1: chain %q evidence %q", sel1.Chain(), sel1.Evidence())
		}
		if f := p.Failed(); len(f) != 1 || f[0].Selector != "dkim" || !errors.Is(f[0].Err, resolve.ErrServFail) {
			t.Errorf("failed %+v", f)
		}
		if l := p.Lookups[3]; l.Exists() || l.Err != nil || !l.Answer.NXDomain() {
			t.Errorf("nokey: %+v", l)
		}
	})
	t.Run("wildcard", func(t *testing.T) {
		p := Probe(ctx, r, "wild.example", []string{"s2048", "google", "default"}, 0)
		if !p.HasWildcard() {
			t.Fatal("wildcard not detected")
		}
		var wild []string
		for _, l := range p.Lookups {
			if l.Wildcard {
				wild = append(wild, l.Selector)
			}
		}
		if !slices.Equal(wild, []string{"google", "default"}) || len(p.Found()) != 1 || p.Found()[0].Selector != "s2048" {
			t.Errorf("wildcard matches %q, found %d", wild, len(p.Found()))
		}
	})
	t.Run("the wildcard selector is the domain's, the same in every run", func(t *testing.T) {
		a, b, c := WildcardSelector("example.org"), WildcardSelector("Example.ORG."), WildcardSelector("example.net")
		if a != b || a == c || len(a) != len("mailcheck-")+20 {
			t.Errorf("%q %q %q", a, b, c)
		}
		if _, err := CheckSelector(a); err != nil {
			t.Error(err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		srv.Set("default._domainkey.none.example", dnstest.Drop)
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		p := Probe(ctx, resolve.NewCache(&resolve.Client{Servers: []string{srv.Addr}, Timeout: 5 * time.Second}), "none.example", []string{"default", "mail"}, 1)
		if time.Since(start) > 2*time.Second {
			t.Errorf("probe took %v past a 200ms deadline", time.Since(start))
		}
		if f := p.Failed(); len(f) == 0 || !errors.Is(f[0].Err, resolve.ErrTimeout) {
			t.Errorf("failed %+v", f)
		}
	})
}

func TestLookupTXT(t *testing.T) {
	srv := startZones(t)
	srv.Set("k1._domainkey.problems.example", dnstest.ServFail)
	srv.Set("k2._domainkey.problems.example", dnstest.Drop)
	look := LookupTXT(context.Background(), resolve.NewCache(srv.Resolver(200*time.Millisecond)))

	txts, err := look("s1._domainkey.problems.example")
	if err != nil || len(txts) != 1 || !strings.HasPrefix(txts[0], "v=DKIM1; k=rsa; h=sha1; p=MIIB") || strings.Contains(txts[0], `"`) || len(txts[0]) < 300 {
		t.Errorf("joined TXT = %q, %v", txts, err)
	}
	if txts, err := look("smtp._domainkey.problems.example"); err != nil || len(txts) != 2 {
		t.Errorf("two records: %q, %v", txts, err)
	}
	if txts, err := look("_domainkey.none.example"); err != nil || len(txts) != 1 {
		t.Errorf("o=- record: %q %v", txts, err)
	}
	if txts, err := look("mail.problems.example"); err != nil || len(txts) != 0 {
		t.Errorf("NODATA: %q, %v", txts, err)
	}
	for name, want := range map[string]struct{ temporary, notFound bool }{
		"nokey._domainkey.problems.example": {false, true},
		"k1._domainkey.problems.example":    {true, false},
		"k2._domainkey.problems.example":    {true, false},
		"bad name._domainkey.example":       {false, true},
		"x..y":                              {false, true},
	} {
		_, err := look(name)
		var de *net.DNSError
		if !errors.As(err, &de) {
			t.Errorf("%s: %v is not a *net.DNSError", name, err)
			continue
		}
		if de.Temporary() != want.temporary || de.IsNotFound != want.notFound {
			t.Errorf("%s: %v: temporary %v notfound %v, want %+v", name, err, de.Temporary(), de.IsNotFound, want)
		}
	}
	_, err = look("k1._domainkey.problems.example")
	if !errors.Is(err, resolve.ErrServFail) {
		t.Errorf("SERVFAIL not unwrappable: %v", err)
	}
}

// TestDocsListBuiltinSelectors keeps docs/checks/dkim.md and Builtin in
// step: every built-in selector appears in the documented table, in order,
// and the table lists no other.
func TestDocsListBuiltinSelectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "checks", "dkim.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| Selector"):
			in = true
		case in && strings.HasPrefix(line, "| `"):
			documented = append(documented, strings.Trim(strings.TrimSpace(strings.Split(line, "|")[1]), "`"))
		case in && !strings.HasPrefix(line, "|"):
			in = false
		}
	}
	if !slices.Equal(documented, BuiltinNames()) {
		t.Errorf("docs/checks/dkim.md lists %q\nBuiltin is %q", documented, BuiltinNames())
	}
	if n := len(Builtin); n < 20 || n > 30 {
		t.Errorf("%d built-in selectors; keep the list between 20 and 30", n)
	}
}

func BenchmarkParse(b *testing.B) {
	txt := "v=DKIM1; k=rsa; h=sha256; t=s; p=" + rsa2048SPKI
	b.ReportAllocs()
	for b.Loop() {
		r, err := Parse(txt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Key(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbe measures probing the built-in selector list (plus the
// wildcard probe) against the in-process DNS server, without a cache
// hit: a fresh cache per iteration.
func BenchmarkProbe(b *testing.B) {
	var files []string
	for _, z := range []string{"good", "provider", "problems", "wild"} {
		files = append(files, "../../testdata/zones/dkim/"+z+".example.zone")
	}
	srv := dnstest.Start(b, files...)
	sels := BuiltinNames()
	b.ReportAllocs()
	for b.Loop() {
		p := Probe(context.Background(), resolve.NewCache(srv.Resolver(time.Second)), "problems.example", sels, DefaultParallel)
		if len(p.Found()) != 12 {
			b.Fatalf("found %d", len(p.Found()))
		}
	}
}
