package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/findings"
)

// mxCatalog declares the finding IDs of the mx check, each once (findings.Catalog).
var mxCatalog findings.Catalog

// Finding IDs of the mx check.
var (
	SpecNXDomain       = mxCatalog.Add(Spec{ID: "domain.nxdomain", Severity: Fail, RFC: "RFC 1035 §4.1.1", Summary: "the domain does not exist (NXDOMAIN)"})
	SpecMXOK           = mxCatalog.Add(Spec{ID: "mx.ok", Severity: Pass, RFC: "RFC 5321 §5.1", Summary: "the MX hosts and their addresses"})
	SpecMXMissing      = mxCatalog.Add(Spec{ID: "mx.missing", Severity: Warn, RFC: "RFC 5321 §5.1", Summary: "no MX record (fail when no A/AAAA fallback exists either)"})
	SpecMXImplicit     = mxCatalog.Add(Spec{ID: "mx.implicit", Severity: Info, RFC: "RFC 5321 §5.1", Summary: "without MX, mail goes to the domain's own A/AAAA addresses"})
	SpecMXNull         = mxCatalog.Add(Spec{ID: "mx.null", Severity: Info, RFC: "RFC 7505", Summary: "null MX: the domain accepts no mail"})
	SpecMXNullMixed    = mxCatalog.Add(Spec{ID: "mx.null-mixed", Severity: Fail, RFC: "RFC 7505 §3", Summary: "a null MX published beside other MX records"})
	SpecMXCNAME        = mxCatalog.Add(Spec{ID: "mx.cname", Severity: Warn, RFC: "RFC 2181 §10.3", Summary: "an MX target is an alias (CNAME)"})
	SpecMXIPLiteral    = mxCatalog.Add(Spec{ID: "mx.ip-literal", Severity: Fail, RFC: "RFC 5321 §5.1", Summary: "an MX target is an IP address, not a host name"})
	SpecMXNoAddress    = mxCatalog.Add(Spec{ID: "mx.no-address", Severity: Fail, RFC: "RFC 5321 §5.1", Summary: "an MX target has no A/AAAA record"})
	SpecMXPrivate      = mxCatalog.Add(Spec{ID: "mx.private-address", Severity: Fail, RFC: "RFC 6890", Summary: "an MX target resolves to a private, loopback or otherwise unroutable address"})
	SpecMXNoIPv6       = mxCatalog.Add(Spec{ID: "mx.no-ipv6", Severity: Info, RFC: "RFC 3596", Summary: "no MX host has an IPv6 address"})
	SpecMXDuplicate    = mxCatalog.Add(Spec{ID: "mx.duplicate", Severity: Info, RFC: "RFC 5321 §5.1", Summary: "the same host is listed more than once"})
	SpecMXTemperror    = mxCatalog.Add(Spec{ID: "mx.temperror", Severity: Error, Summary: "the MX set or an MX host's addresses could not be looked up"})
	SpecMXUnresolvable = mxCatalog.Add(Spec{ID: "mx.unreachable-all", Severity: Fail, RFC: "RFC 5321 §5.1", Summary: "no MX host has a usable address: mail cannot be delivered"})
)

// MX audits the domain's MX set (RFC 5321 §5.1, RFC 7505).
type MX struct{}

var _ Check = MX{}

// Meta implements Check.
func (MX) Meta() Meta {
	return Meta{Name: "mx", Title: "MX records", Weight: 3, Findings: mxCatalog.Specs()}
}

// Run implements Check.
func (MX) Run(ctx context.Context, env *Env) Result {
	set := env.MX(ctx)
	d := env.Domain.ASCII
	var fs []Finding
	if set.Err != nil {
		return Result{Findings: []Finding{SpecMXTemperror.New("could not look up the MX records of %s: %v", d, set.Err)}}
	}
	if set.NXDomain {
		return Result{Findings: []Finding{SpecNXDomain.New("%s does not exist (NXDOMAIN from %s): no mail can be sent to or accepted for it", d, set.Answer.Server).
			WithFix("register the domain or check its spelling; if it is new, check that the parent zone delegates it")}}
	}
	mxRecords := set.Answer.Strings(dns.TypeMX)

	if set.Null {
		if len(set.Hosts) > 0 {
			return Result{Findings: []Finding{SpecMXNullMixed.New("%s publishes a null MX (\"0 .\") beside %d other MX record(s); senders may treat the domain as accepting no mail", d, len(set.Hosts)).
				WithRecords(mxRecords...).
				WithFix("keep either the null MX (the domain receives no mail) or the real MX hosts, not both")}}
		}
		return Result{Findings: []Finding{nullMXFinding(ctx, env, mxRecords)}}
	}

	if set.Implicit {
		h := set.Hosts[0]
		if h.Lookup.Err != nil && len(h.Addrs) == 0 {
			return Result{Findings: []Finding{
				SpecMXTemperror.New("%s has no MX record, and its A/AAAA fallback could not be looked up: %v", d, h.Lookup.Err)}}
		}
		if len(h.Addrs) == 0 {
			return Result{Findings: []Finding{SpecMXMissing.As(Fail, "%s has no MX record and no A/AAAA record to fall back on: mail for it cannot be delivered", d).
				WithFix("publish an MX record, e.g. %s. IN MX 10 mail.%s.", d, d)}}
		}
		fs = append(fs, SpecMXMissing.New("%s has no MX record; senders fall back to its A/AAAA addresses", d).
			WithFix("publish an explicit MX record, e.g. %s. IN MX 10 mail.%s. (and an A record for mail.%s), or a null MX \"0 .\" if it should receive no mail", d, d, d))
		fs = append(fs, SpecMXImplicit.New("mail for %s goes to %s (implicit MX)", d, joinAddrs(h.Addrs)).WithRecords(addrRecords(h)...))
		fs = append(fs, hostFindings(env, d, set)...)
		return Result{Findings: fs}
	}

	seen := map[string]bool{}
	for _, h := range set.Hosts {
		if seen[h.Name] {
			fs = append(fs, SpecMXDuplicate.New("%s is listed more than once in the MX set", h.Name).WithRecords(mxRecords...))
		}
		seen[h.Name] = true
	}
	fs = append(fs, hostFindings(env, d, set)...)
	return Result{Findings: fs}
}

// nullMXFinding reports a null MX; its fix names only the companions
// (SPF -all, DMARC p=reject) the domain does not publish yet.
func nullMXFinding(ctx context.Context, env *Env, mxRecords []string) Finding {
	d := env.Domain.ASCII
	const msg = "%s publishes a null MX: it accepts no mail, and senders will not try to deliver to it"
	nm := noMailOf(ctx, env)
	var missing []string
	if !nm.spfFail {
		missing = append(missing, fmt.Sprintf("%s. IN TXT \"v=spf1 -all\"", d))
	}
	if !nm.dmarcReject {
		missing = append(missing, fmt.Sprintf("_dmarc.%s. IN TXT \"v=DMARC1; p=reject\"", d))
	}
	if len(missing) == 0 {
		return SpecMXNull.New(msg+"; with SPF -all and DMARC p=reject it also says it sends none", d).WithRecords(mxRecords...)
	}
	f := SpecMXNull.New(msg, d).WithRecords(mxRecords...)
	fix := fmt.Sprintf("if the domain also sends no mail, publish %s", strings.Join(missing, " and "))
	if len(nm.failed) > 0 {
		fix += fmt.Sprintf(" (unless already published: %s failed)", strings.Join(nm.failed, " and "))
	}
	return f.WithFix("%s", fix)
}

// hostFindings judges each host of the set and sums up.
func hostFindings(env *Env, d string, set *MXSet) []Finding {
	var fs []Finding
	usable, v6 := 0, false
	var summary []string
	for _, h := range set.Hosts {
		if h.IPLiteral {
			fs = append(fs, SpecMXIPLiteral.New("MX target %q is an IP address: an MX must name a host, so most senders will not use it", h.Name).
				WithRecords(set.Answer.Strings(dns.TypeMX)...).
				WithFix("publish an A record such as mail.%s. IN A %s and point the MX at mail.%s.", d, strings.Trim(h.Name, "[]"), d))
			continue
		}
		if chain := h.Lookup.Chain(); len(chain) > 0 && !set.Implicit {
			fs = append(fs, SpecMXCNAME.New("MX target %s is an alias for %s; an MX must point at the host's canonical name", h.Name, strings.TrimSuffix(chain[len(chain)-1], ".")).
				WithRecords(h.Lookup.A.Strings(dns.TypeCNAME)...).
				WithFix("point the MX directly at %s", strings.TrimSuffix(chain[len(chain)-1], ".")))
		}
		if len(h.Addrs) == 0 {
			if h.Lookup.Err != nil {
				fs = append(fs, SpecMXTemperror.New("could not look up the addresses of MX host %s: %v", h.Name, h.Lookup.Err))
				continue
			}
			why := "it has no A or AAAA record"
			if h.Lookup.NXDomain() {
				why = "the name does not exist (NXDOMAIN)"
			}
			fs = append(fs, SpecMXNoAddress.New("MX host %s cannot receive mail: %s", h.Name, why).
				WithFix("publish %s. IN A <the server's IPv4 address> (and AAAA for IPv6)", h.Name))
			continue
		}
		if h.Lookup.Err != nil {
			fs = append(fs, SpecMXTemperror.New("one address family of MX host %s could not be looked up: %v", h.Name, h.Lookup.Err))
		}
		good := 0
		for _, a := range h.Addrs {
			if a.Is6() {
				v6 = true
			}
			if why, skip := env.addrPolicy(a); skip {
				fs = append(fs, SpecMXPrivate.New("MX host %s resolves to %s, a %s address that other servers cannot reach", h.Name, a, why).
					WithRecords(addrRecords(h)...).
					WithFix("publish the server's public address for %s (use --allow-private for lab setups)", h.Name))
				continue
			}
			good++
		}
		if good > 0 {
			usable++
		}
		summary = append(summary, fmt.Sprintf("%d %s (%s)", h.Preference, h.Name, joinAddrs(h.Addrs)))
	}
	if usable == 0 && len(set.Hosts) > 0 && !anyTemp(fs) {
		fs = append(fs, SpecMXUnresolvable.New("none of the %d MX host(s) of %s has a usable address: mail for the domain cannot be delivered", len(set.Hosts), d))
	}
	if usable > 0 && !v6 {
		fs = append(fs, SpecMXNoIPv6.New("no MX host of %s has an IPv6 address; IPv6-only senders cannot reach it", d).
			WithFix("if the server has IPv6, publish an AAAA record for its MX host"))
	}
	if len(summary) > 0 && !set.Implicit {
		var recs []string
		if set.Answer != nil {
			recs = set.Answer.Strings(dns.TypeMX)
		}
		for _, h := range set.Hosts {
			recs = append(recs, addrRecords(h)...)
		}
		fs = append([]Finding{SpecMXOK.New("%d MX host(s): %s", len(set.Hosts), strings.Join(summary, "; ")).
			WithRecords(recs...).WithData(set.Hosts)}, fs...)
	}
	return fs
}

func anyTemp(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

func addrRecords(h MXHost) []string {
	var out []string
	out = append(out, h.Lookup.A.Strings(dns.TypeCNAME)...)
	out = append(out, h.Lookup.A.Strings(dns.TypeA)...)
	out = append(out, h.Lookup.AAAA.Strings(dns.TypeAAAA)...)
	return out
}

func joinAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	if len(s) == 0 {
		return "no address"
	}
	return strings.Join(s, ", ")
}

// unroutable names the kind of a special-purpose address (RFC 6890) that
// other mail servers cannot reach, or returns "". The documentation ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are left
// out on purpose: examples and test zones use them as stand-ins for public
// addresses.
func unroutable(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	}
	for _, p := range specialPrefixes {
		if p.pfx.Contains(a) {
			return p.kind
		}
	}
	return ""
}

var specialPrefixes = []struct {
	pfx  netip.Prefix
	kind string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use translation"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
}
