package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/gopool"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// ptrCatalog declares the finding IDs of the ptr check, each once (findings.Catalog).
var ptrCatalog findings.Catalog

// Finding IDs of the ptr check.
var (
	SpecPTROK        = ptrCatalog.Add(Spec{ID: "ptr.ok", Severity: Pass, RFC: "RFC 1912 §2.1", Summary: "the address has a PTR whose name resolves back to it (forward-confirmed)"})
	SpecPTRMissing   = ptrCatalog.Add(Spec{ID: "ptr.missing", Severity: Fail, RFC: "RFC 1912 §2.1", Summary: "an MX address has no PTR record; many receivers reject mail from such hosts"})
	SpecPTRMismatch  = ptrCatalog.Add(Spec{ID: "ptr.mismatch", Severity: Warn, RFC: "RFC 8601 §3 (iprev)", Summary: "forward-confirmed reverse DNS fails: no PTR name resolves back to the address"})
	SpecPTRSkipped   = ptrCatalog.Add(Spec{ID: "ptr.skipped", Severity: Info, Summary: "an address was not checked (private address, or no MX host to check)"})
	SpecPTRTemperror = ptrCatalog.Add(Spec{ID: "ptr.temperror", Severity: Error, Summary: "a reverse or forward lookup failed"})
	SpecPTRNXDomain  = ptrCatalog.Add(Spec{ID: "ptr.nxdomain", Severity: Error, Summary: "the domain does not exist (NXDOMAIN): it has no MX host whose reverse DNS could be checked"})
)

// PTR checks forward-confirmed reverse DNS (FCrDNS) for every address of
// every MX host.
type PTR struct{}

var _ Check = PTR{}

// Meta implements Check.
func (PTR) Meta() Meta {
	return Meta{Name: "ptr", Title: "Reverse DNS", Weight: 2, Findings: ptrCatalog.Specs()}
}

// ptrItem is the check's structured result per address.
type ptrItem struct {
	Host      string   `json:"host"`
	Address   string   `json:"address"`
	PTR       []string `json:"ptr"`
	Confirmed string   `json:"confirmed,omitempty"` // the PTR name that resolves back
}

// Run implements Check.
func (PTR) Run(ctx context.Context, env *Env) Result {
	set := env.MX(ctx)
	if set.Err != nil {
		return Result{Findings: []Finding{SpecPTRTemperror.New("no MX hosts to check: the MX lookup failed: %v", set.Err)}}
	}
	if nx := nxDomainAnswer(ctx, env); nx != "" {
		return Result{Findings: []Finding{SpecPTRNXDomain.New("%s does not exist (%s): there is no MX host whose reverse DNS could be checked", env.Domain.ASCII, nx)}}
	}
	jobs := set.Targets()
	if len(jobs) == 0 {
		return Result{Findings: []Finding{SpecPTRSkipped.New("%s has no MX host address to check", env.Domain.ASCII)}}
	}
	results := make([][]Finding, len(jobs))
	items := make([]ptrItem, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		gopool.Go(ctx, func() {
			defer wg.Done()
			items[i] = ptrItem{Host: j.Host, Address: j.Addr.String(), PTR: []string{}}
			results[i] = checkPTR(ctx, env, j, &items[i])
		})
	}
	wg.Wait()
	var fs []Finding
	for _, r := range results {
		fs = append(fs, r...)
	}
	return Result{Findings: fs, Data: items}
}

// checkPTR checks one address of an MX host; the host's canonical name
// is the name fixes propose for the PTR.
func checkPTR(ctx context.Context, env *Env, t MXAddr, item *ptrItem) []Finding {
	host, canon, addr := t.Host, t.Canon, t.Addr
	if why, skip := env.addrPolicy(addr); skip {
		return []Finding{SpecPTRSkipped.New("%s (%s) is a %s address; its reverse DNS is not visible to other servers", addr, host, why)}
	}
	rev, _ := dns.ReverseAddr(addr.String())
	names, ans, err := resolve.PTR(ctx, env.Resolver, addr)
	if err != nil {
		return []Finding{SpecPTRTemperror.New("could not look up the PTR of %s (%s): %v", addr, host, err)}
	}
	if len(names) == 0 {
		return []Finding{SpecPTRMissing.New("%s (MX host %s) has no PTR record (%s); receivers such as Gmail reject mail from addresses without reverse DNS", addr, host, resolve.Describe(ans, nil)).
			WithFix("ask whoever runs the address block (your hosting provider's panel, usually) to set %s PTR %s.%s", rev, canon, aliasNote(host, canon))}
	}
	for _, n := range names {
		item.PTR = append(item.PTR, strings.TrimSuffix(n, "."))
	}
	recs := ans.Strings(dns.TypePTR)
	var temp []string
	for _, n := range names {
		fwd := resolve.Addrs(ctx, env.Resolver, n)
		for _, a := range fwd.Addrs {
			if a == addr {
				item.Confirmed = strings.TrimSuffix(n, ".")
				return []Finding{SpecPTROK.New("%s has PTR %s, which resolves back to it%s", addr, item.Confirmed, ptrNameNote(item.Confirmed, host, canon)).WithRecords(recs...)}
			}
		}
		if fwd.Err != nil && len(fwd.Addrs) == 0 {
			temp = append(temp, fwd.Err.Error())
		}
	}
	if len(temp) > 0 {
		return []Finding{SpecPTRTemperror.New("%s has PTR %s, but its forward lookup failed: %s", addr, strings.Join(item.PTR, ", "), strings.Join(temp, "; ")).WithRecords(recs...)}
	}
	return []Finding{SpecPTRMismatch.New("%s has PTR %s, but no such name resolves back to %s: forward-confirmed reverse DNS fails", addr, strings.Join(item.PTR, ", "), addr).
		WithRecords(recs...).
		WithFix("make the PTR name resolve to the address (e.g. %s. IN %s %s) or set the PTR to %s.%s", item.PTR[0], addrType(addr), addr, canon, aliasNote(host, canon))}
}

// ptrNameNote remarks on a confirmed PTR name that is neither the MX
// host nor its canonical name.
func ptrNameNote(ptr, host, canon string) string {
	if strings.EqualFold(ptr, host) || strings.EqualFold(ptr, canon) {
		return ""
	}
	return fmt.Sprintf(" (the MX name is %s; a differing PTR is fine as long as it is forward-confirmed)", host)
}

func aliasNote(host, canon string) string {
	if host == canon {
		return ""
	}
	return fmt.Sprintf(" (the MX name %s is an alias for %s)", host, canon)
}

func addrType(a netip.Addr) string {
	if a.Is4() {
		return "A"
	}
	return "AAAA"
}
