// Package dnsbl queries DNS blocklists (DNSBLs and domain lists, "DNSxLs",
// RFC 5782) and interprets their answers with each list's own table of
// return codes, so that a refusal ("your resolver may not query this list",
// Spamhaus 127.255.255.254, URIBL 127.0.0.1) is never mistaken for a
// listing.
//
// A List describes one zone: what it lists (IPv4, IPv6, domains), what each
// 127.0.0.0/8 answer means, its RFC 5782 §5 test entries and its delisting
// page. Defaults is the built-in set, LoadFile reads more from a YAML file,
// ParseSpec turns a --dnsbl argument into a List. A Checker asks every list
// about every target through a resolve.Resolver with bounded concurrency,
// after probing each list's health.
package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Kind is what a list's keys are.
type Kind string

const (
	KindIP4    Kind = "ip4"    // IPv4 addresses, reversed octets (RFC 5782 §2.1)
	KindIP6    Kind = "ip6"    // IPv6 addresses, reversed nibbles (RFC 5782 §2.4)
	KindIP     Kind = "ip"     // both address families
	KindDomain Kind = "domain" // domain names (RHSBL, RFC 5782 §2.3)
)

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindIP4, KindIP6, KindIP, KindDomain:
		return true
	}
	return false
}

// Covers reports whether a list of this kind can be asked about target.
func (k Kind) Covers(t Target) bool {
	switch {
	case t.IsDomain():
		return k == KindDomain
	case t.Addr.Is4():
		return k == KindIP4 || k == KindIP
	default:
		return k == KindIP6 || k == KindIP
	}
}

// Class is what a return code means to the audited domain.
type Class string

const (
	// ClassListed: a reputation listing (spam source, compromised host...).
	ClassListed Class = "listed"
	// ClassPolicy: a policy or advisory listing, such as Spamhaus PBL
	// (address space not meant to send mail directly) or URIBL grey.
	ClassPolicy Class = "policy"
	// ClassRefused: the list refused to answer the resolver that asked
	// (public resolver, query volume, invalid access key). Says nothing
	// about the target.
	ClassRefused Class = "refused"
	// ClassError: any other error code (a typo in the zone name, an IP
	// query on a domain list), or an answer outside 127.0.0.0/8.
	ClassError Class = "error"
)

// Valid reports whether c is one of the four classes.
func (c Class) Valid() bool {
	switch c {
	case ClassListed, ClassPolicy, ClassRefused, ClassError:
		return true
	}
	return false
}

// Code is one entry of a list's return-code table: an address or prefix
// (Match), or for bitmask lists a bit of the last octet (Bit).
type Code struct {
	Match   netip.Prefix `json:"match,omitzero"`
	Bit     uint8        `json:"bit,omitempty"`
	Class   Class        `json:"class"`
	Meaning string       `json:"meaning"`
}

// List is one blocklist zone and how to read its answers.
type List struct {
	Zone   string `json:"zone"` // lower case, no trailing dot
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Delist string `json:"delist,omitempty"` // the page to look up and request removal
	// Access says how to query the list when it refuses a resolver
	// (keyed access, registration).
	Access string `json:"access,omitempty"`
	// Bitmask lists encode membership of sub-lists as bits of the last
	// octet of 127.0.0.x (SURBL, URIBL).
	Bitmask bool   `json:"bitmask,omitempty"`
	Codes   []Code `json:"-"` // the table is in the catalogue and docs, not repeated per report
	// TestListed and TestClean are the RFC 5782 §5 health probes: an
	// address or domain the list must list, and one it must not.
	TestListed string `json:"test_listed"`
	TestClean  string `json:"test_clean"`
	// Generic is true for zones without a code table (given with --dnsbl
	// and not in the catalogue): any 127.0.0.0/8 answer means listed.
	Generic bool `json:"generic,omitempty"`
}

// Label names the list for messages: "Spamhaus ZEN (zen.spamhaus.org)".
func (l *List) Label() string {
	if l.Name == "" || strings.EqualFold(l.Name, l.Zone) {
		return l.Zone
	}
	return fmt.Sprintf("%s (%s)", l.Name, l.Zone)
}

// defaultTests returns the RFC 5782 §5 test entries for kind.
func defaultTests(k Kind) (listed, clean string) {
	switch k {
	case KindDomain:
		return "test", "invalid"
	case KindIP6:
		return "::ffff:7f00:2", "::ffff:7f00:1"
	}
	return "127.0.0.2", "127.0.0.1"
}

// Target is what a list is asked about: an address or a domain.
type Target struct {
	Addr   netip.Addr // valid for IP targets
	Domain string     // for domain targets: A-label form, no trailing dot
}

// IPTarget and DomainTarget build targets.
func IPTarget(a netip.Addr) Target { return Target{Addr: a} }
func DomainTarget(d string) Target {
	return Target{Domain: strings.TrimSuffix(strings.ToLower(d), ".")}
}
func (t Target) IsDomain() bool { return !t.Addr.IsValid() }
func (t Target) String() string {
	if t.IsDomain() {
		return t.Domain
	}
	return t.Addr.String()
}

// ErrNameTooLong is returned by QueryName when the target and zone make a
// name longer than DNS allows.
var ErrNameTooLong = errors.New("dnsbl: query name longer than 253 octets")

// QueryName returns the name to look up for target in zone, fully
// qualified: IPv4 addresses as reversed octets (RFC 5782 §2.1), IPv6
// addresses as 32 reversed nibbles (§2.4; an IPv4-mapped address is an
// IPv6 address here, as the §5 IPv6 test entry needs), domains as they are
// (§2.3).
func QueryName(t Target, zone string) (string, error) {
	zone = strings.TrimSuffix(strings.ToLower(zone), ".")
	var b strings.Builder
	switch {
	case t.IsDomain():
		b.WriteString(t.Domain)
	case t.Addr.Is4():
		o := t.Addr.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d", o[3], o[2], o[1], o[0])
	default:
		const hex = "0123456789abcdef"
		o := t.Addr.As16()
		for i := 15; i >= 0; i-- {
			if i != 15 {
				b.WriteByte('.')
			}
			b.WriteByte(hex[o[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[o[i]>>4])
		}
	}
	b.WriteByte('.')
	b.WriteString(zone)
	b.WriteByte('.')
	name := b.String()
	if len(name) > 254 {
		return "", fmt.Errorf("%w: %s", ErrNameTooLong, name)
	}
	return name, nil
}

// Hit is one interpreted return code.
type Hit struct {
	Code    string `json:"code"` // the A record's address
	Class   Class  `json:"class"`
	Meaning string `json:"meaning"`
}

var (
	loopback8    = netip.MustParsePrefix("127.0.0.0/8")
	loopback24   = netip.MustParsePrefix("127.0.0.0/24")
	ipv4Loopback = netip.MustParseAddr("127.0.0.1")
)

// Interpret reads one A record of the list's answer.
func (l *List) Interpret(a netip.Addr) []Hit {
	a = a.Unmap()
	code := a.String()
	if !a.Is4() || !loopback8.Contains(a) {
		return []Hit{{code, ClassError, "answer outside 127.0.0.0/8: not a blocklist answer (a wildcard in the zone, or a resolver that rewrites NXDOMAIN)"}}
	}
	if l.Generic {
		return []Hit{{code, ClassListed, "listed (no code table for this zone: every 127.0.0.0/8 answer counts as listed)"}}
	}
	// The most specific exact or prefix entry wins.
	best := -1
	for i, c := range l.Codes {
		if c.Bit == 0 && c.Match.Contains(a) && (best < 0 || c.Match.Bits() > l.Codes[best].Match.Bits()) {
			best = i
		}
	}
	if best >= 0 {
		c := l.Codes[best]
		return []Hit{{code, c.Class, c.Meaning}}
	}
	if l.Bitmask && loopback24.Contains(a) && a != ipv4Loopback {
		last := a.As4()[3]
		var hits []Hit
		for bit := 1; bit < 256; bit <<= 1 {
			if last&uint8(bit) == 0 {
				continue
			}
			h := Hit{code, ClassListed, fmt.Sprintf("bit %d (not in this list's documented table)", bit)}
			for _, c := range l.Codes {
				if c.Bit == uint8(bit) {
					h.Class, h.Meaning = c.Class, c.Meaning
				}
			}
			hits = append(hits, h)
		}
		return hits
	}
	return []Hit{{code, ClassListed, "return code not in this list's documented table; counted as listed"}}
}

// Verdict is what one lookup says about one target.
type Verdict string

const (
	Clean   Verdict = "clean"   // NXDOMAIN or no A record
	Listed  Verdict = "listed"  // at least one listing code
	Policy  Verdict = "policy"  // only policy codes
	Refused Verdict = "refused" // a refusal code: the answer says nothing about the target
	Invalid Verdict = "error"   // an error code or a non-DNSxL answer
	Failed  Verdict = "failed"  // no answer: SERVFAIL, timeout, offline (Result.Err)
)

// Result is one lookup: what was asked, what came back, what it means.
type Result struct {
	Target  string   `json:"target"`
	Query   string   `json:"query"`           // the name asked, without trailing dot
	Rcode   string   `json:"rcode,omitempty"` // NOERROR or NXDOMAIN; empty on error
	Server  string   `json:"server,omitempty"`
	A       []string `json:"a"`
	TXT     []string `json:"txt,omitempty"`
	Hits    []Hit    `json:"codes,omitempty"`
	Verdict Verdict  `json:"verdict"`
	Error   string   `json:"error,omitempty"`

	// Records is the evidence in presentation format (A and TXT).
	Records []string `json:"-"`
	Err     error    `json:"-"`
}

// judge sets r's verdict from its hits.
func (r *Result) judge() {
	has := map[Class]bool{}
	for _, h := range r.Hits {
		has[h.Class] = true
	}
	switch {
	case has[ClassRefused]:
		r.Verdict = Refused
	case has[ClassError]:
		r.Verdict = Invalid
	case has[ClassListed]:
		r.Verdict = Listed
	case has[ClassPolicy]:
		r.Verdict = Policy
	default:
		r.Verdict = Clean
	}
}

// HitsOf returns the hits of the given classes.
func (r *Result) HitsOf(classes ...Class) []Hit {
	var out []Hit
	for _, h := range r.Hits {
		for _, c := range classes {
			if h.Class == c {
				out = append(out, h)
			}
		}
	}
	return out
}

// lookup asks list about target through r: the A query and, when the
// answer is a listing, the TXT query for the list's reason. It never
// returns an error: failures are in Result.Err with Verdict Failed. For a
// health probe (probe) the TXT is asked only after a refusal, where it
// says why: the reason a test entry is listed is no evidence about anything.
func lookup(ctx context.Context, r resolve.Resolver, l *List, t Target, probe bool) Result {
	res := Result{Target: t.String(), A: []string{}}
	name, err := QueryName(t, l.Zone)
	if err != nil {
		res.Query = strings.TrimSuffix(name, ".")
		res.Verdict, res.Err, res.Error = Failed, err, err.Error()
		return res
	}
	res.Query = strings.TrimSuffix(name, ".")
	ans, err := r.Query(ctx, name, dns.TypeA)
	if err != nil {
		res.Verdict, res.Err, res.Error = Failed, err, err.Error()
		return res
	}
	res.Rcode = dns.RcodeToString[ans.Rcode]
	res.Server = ans.Server
	for _, rr := range ans.Of(dns.TypeA) {
		a, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4())
		if !ok {
			continue
		}
		res.A = append(res.A, a.String())
		res.Records = append(res.Records, rr.String())
		res.Hits = append(res.Hits, l.Interpret(a)...)
	}
	sort.Slice(res.A, func(i, j int) bool {
		return netip.MustParseAddr(res.A[i]).Less(netip.MustParseAddr(res.A[j]))
	})
	res.judge()
	if res.Verdict == Refused || !probe && (res.Verdict == Listed || res.Verdict == Policy) {
		// The reason, when the list publishes one; its failure changes
		// nothing about the verdict.
		txts, tans, err := resolve.TXT(ctx, r, name)
		if err == nil {
			res.TXT = txts
			res.Records = append(res.Records, tans.Strings(dns.TypeTXT)...)
		}
	}
	return res
}
