// Package benchworld generates a synthetic world of mail domains for
// bulk benchmarks (issue 16): N customer domains with a fixed seed and a
// realistic mix — Google-like and Microsoft-like provider customers that
// share SPF include trees and MX hosts, self-hosted MX with A, AAAA and
// PTR records, DKIM keys at common selectors, DMARC with external rua
// and its authorization records, and the RFC 5782 test points of the
// default blocklists. It answers questions lazily (World.Exchange), so a
// world of a million domains costs no memory until asked; a dnstest
// server serves it with SetResponder.
package benchworld

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnsbl"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Kinds of customer domains.
const (
	Google     = iota // MX, SPF and DKIM at the Google-like provider
	Microsoft         // per-customer MX host names on shared addresses, DKIM by CNAME
	SelfHosted        // own MX hosts, addresses and reverse DNS
)

// rsaKey is a 2048-bit RSA public key (SubjectPublicKeyInfo, base64).
const rsaKey = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvri4nclYMxj1VymaCmy/T9QYoJW0hg3YoRYlah+AP32Sg+9wtPkX20aHyl3QItxUTsTPulaXtnTlC4qaV7XHolJAk7qBwvmxjphjszFrbNMg1Byt4Lsn3bFJqLJkGLI4sb1Yi8KC+XAI21izHC0YGjmE3tih0/BSwtVGrx5MKk2/bgt4XtiJFF9tCsZEdHqyFf4/T3DWEFmPAO08iIqUDZX8iS362wK6jQVCMnjyyegy8SX2rxYKcOWobDH3fOCWlgC+1CQtV9JBh63zqwAFQepa1039JvXGDSkUfw1erxxhmyw2OJL2mhBo9OkEOgW4WS4mz6THl/zhgfM6bU3gUQIDAQAB"

var tlds = []string{"com", "net", "org", "de", "io"}

// World is N customer domains generated from Seed.
type World struct {
	N    int
	Seed uint64

	shared *resolve.Zone

	mu    sync.Mutex
	zones map[int]*resolve.Zone // recently built customer zones
	order []int                 // their indexes, oldest first
}

// New returns the world of n domains for seed.
func New(n int, seed uint64) *World {
	w := &World{N: n, Seed: seed, zones: map[int]*resolve.Zone{}}
	z, err := resolve.NewZone("benchworld-shared", ".", sharedRecords())
	if err != nil {
		panic(err)
	}
	w.shared = z
	return w
}

// Domain returns the name of customer domain i (no trailing dot).
func (w *World) Domain(i int) string { return fmt.Sprintf("c%d.%s", i, tlds[i%len(tlds)]) }

// Profile is what customer domain i publishes.
type Profile struct {
	Kind        int
	SPF         bool
	Relay       bool     // SPF includes the shared relay service
	Selectors   []string // DKIM selectors with keys
	DMARC       bool
	ExternalRUA bool // rua at the reporting service, with its authorization record
	Policy      string
	MX2         bool // self-hosted: a second MX host
	IPv6        bool // self-hosted: AAAA records
}

// Profile returns the profile of domain i: a pure function of Seed and i.
func (w *World) Profile(i int) Profile {
	r := rand.New(rand.NewPCG(w.Seed, uint64(i)))
	var p Profile
	switch k := r.IntN(100); {
	case k < 40:
		p.Kind = Google
	case k < 65:
		p.Kind = Microsoft
	default:
		p.Kind = SelfHosted
	}
	p.SPF = r.IntN(100) < 92
	p.Relay = r.IntN(100) < 30
	p.DMARC = r.IntN(100) < 70
	p.ExternalRUA = r.IntN(100) < 60
	p.Policy = []string{"none", "quarantine", "reject"}[r.IntN(3)]
	p.MX2 = r.IntN(100) < 30
	p.IPv6 = r.IntN(100) < 60
	dk := r.IntN(100)
	switch p.Kind {
	case Google:
		if dk < 90 {
			p.Selectors = []string{"google"}
		}
	case Microsoft:
		if dk < 80 {
			p.Selectors = []string{"selector1", "selector2"}
		}
	default:
		switch {
		case dk < 30:
			p.Selectors = []string{"default"}
		case dk < 50:
			p.Selectors = []string{"mail"}
		case dk < 60:
			p.Selectors = []string{"dkim"}
		case dk < 70:
			p.Selectors = []string{"s2026"} // not in the built-in list
		}
	}
	return p
}

// Exchange answers a question as the world's authoritative servers
// would (dnstest.Responder).
func (w *World) Exchange(name string, qtype uint16) (int, []dns.RR) {
	name = resolve.Canonical(name)
	if rrs, ok := w.reverse(name, qtype); ok {
		if rrs == nil {
			return dns.RcodeNameError, nil
		}
		return dns.RcodeSuccess, rrs
	}
	if i, ok := w.customer(name); ok {
		return w.customerZone(i).Exchange(name, qtype)
	}
	if rrs, ok := w.lazyShared(name, qtype); ok {
		return dns.RcodeSuccess, rrs
	}
	return w.shared.Exchange(name, qtype)
}

// index parses "c<i>" as a customer index below N.
func (w *World) index(label string) (int, bool) {
	if len(label) < 2 || label[0] != 'c' {
		return 0, false
	}
	i, err := strconv.Atoi(label[1:])
	if err != nil || i < 0 || i >= w.N || label[1:] != strconv.Itoa(i) {
		return 0, false
	}
	return i, true
}

// customer returns the index of the customer domain name is at or under.
func (w *World) customer(name string) (int, bool) {
	labels := dns.SplitDomainName(name)
	if len(labels) < 2 {
		return 0, false
	}
	i, ok := w.index(labels[len(labels)-2])
	if !ok || labels[len(labels)-1] != tlds[i%len(tlds)] {
		return 0, false
	}
	return i, true
}

// customerZone returns the zone of domain i, built on demand and kept
// among the last few thousand built.
func (w *World) customerZone(i int) *resolve.Zone {
	w.mu.Lock()
	z, ok := w.zones[i]
	w.mu.Unlock()
	if ok {
		return z
	}
	z, err := resolve.NewZone("benchworld", w.Domain(i), w.records(i))
	if err != nil {
		panic(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.zones[i]; !ok {
		w.zones[i] = z
		w.order = append(w.order, i)
		if len(w.order) > 4096 {
			delete(w.zones, w.order[0])
			w.order = w.order[1:]
		}
	}
	return z
}

// rr parses one record in presentation form.
func rr(format string, args ...any) dns.RR {
	r, err := dns.NewRR(fmt.Sprintf(format, args...))
	if err != nil {
		panic(fmt.Sprintf("benchworld: %v", err))
	}
	return r
}

// selfAddrs returns the addresses of self-hosted MX host n (1 or 2) of
// domain i: 45.x.y.z and 2a01:4f8:x:y::n.
func selfAddrs(i, n int) (netip.Addr, netip.Addr) {
	v4 := netip.AddrFrom4([4]byte{45, byte(i >> 16), byte(i >> 8), byte(i)})
	var b [16]byte
	copy(b[:], []byte{0x2a, 0x01, 0x04, 0xf8, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	b[15] = byte(n)
	if n == 2 {
		v4 = netip.AddrFrom4([4]byte{46, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	return v4, netip.AddrFrom16(b)
}

// records returns the records of customer domain i.
func (w *World) records(i int) []dns.RR {
	d, p := w.Domain(i)+".", w.Profile(i)
	out := []dns.RR{rr("%s 3600 IN SOA ns1.%s hostmaster.%s 1 7200 3600 1209600 300", d, d, d)}
	out = append(out, w.mxRecords(i, d, p)...)
	if p.SPF {
		out = append(out, rr("%s 3600 IN TXT %q", d, spfOf(p, i)))
	}
	for _, s := range p.Selectors {
		if p.Kind == Microsoft {
			out = append(out, rr("%s._domainkey.%s 3600 IN CNAME %s-%s._domainkey.c%d.onmprov.com.", s, d, s, strings.ReplaceAll(w.Domain(i), ".", "-"), i))
			continue
		}
		out = append(out, keyRR(s+"._domainkey."+d))
	}
	if p.DMARC {
		rua := "mailto:dmarc@" + d[:len(d)-1]
		if p.ExternalRUA {
			rua = "mailto:d@rua.dmarcsvc.net"
		}
		out = append(out, rr("_dmarc.%s 3600 IN TXT %q", d, "v=DMARC1; p="+p.Policy+"; rua="+rua))
	}
	return out
}

// keyRR is a DKIM key record at name, its base64 split in 255-octet strings.
func keyRR(name string) dns.RR {
	t := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 3600}}
	v := "v=DKIM1; k=rsa; p=" + rsaKey
	for len(v) > 255 {
		t.Txt, v = append(t.Txt, v[:255]), v[255:]
	}
	t.Txt = append(t.Txt, v)
	return t
}

// spfOf is the SPF record of domain i.
func spfOf(p Profile, i int) string {
	inc := map[int]string{Google: "include:_spf.gprov.com", Microsoft: "include:spf.protection.mprov.com"}[p.Kind]
	if p.Kind == SelfHosted {
		v4, _ := selfAddrs(i, 1)
		inc = "mx ip4:" + v4.String()
	}
	if p.Relay {
		inc += " include:_spf.relaysvc.net"
	}
	return "v=spf1 " + inc + " ~all"
}

// mxRecords returns the MX records of domain d and, for self-hosted
// domains, its hosts' addresses.
func (w *World) mxRecords(i int, d string, p Profile) []dns.RR {
	switch p.Kind {
	case Google:
		return []dns.RR{rr("%s 3600 IN MX 1 aspmx.l.gprov.com.", d), rr("%s 3600 IN MX 5 alt1.aspmx.l.gprov.com.", d),
			rr("%s 3600 IN MX 5 alt2.aspmx.l.gprov.com.", d), rr("%s 3600 IN MX 10 alt3.aspmx.l.gprov.com.", d),
			rr("%s 3600 IN MX 10 alt4.aspmx.l.gprov.com.", d)}
	case Microsoft:
		return []dns.RR{rr("%s 3600 IN MX 0 %s.mail.protection.mprov.com.", d, strings.ReplaceAll(w.Domain(i), ".", "-"))}
	}
	out := []dns.RR{}
	for n := 1; n <= 1+boolInt(p.MX2); n++ {
		v4, v6 := selfAddrs(i, n)
		out = append(out, rr("%s 3600 IN MX %d mx%d.%s", d, 10*n, n, d), rr("mx%d.%s 3600 IN A %s", n, d, v4))
		if p.IPv6 {
			out = append(out, rr("mx%d.%s 3600 IN AAAA %s", n, d, v6))
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reverse answers the PTR questions of self-hosted addresses; ok is
// false for other names, rrs nil for a name that does not exist.
func (w *World) reverse(name string, qtype uint16) (rrs []dns.RR, ok bool) {
	a, isRev := reverseAddr(name)
	if !isRev {
		return nil, false
	}
	var i, n int
	switch b := a.As16(); {
	case a.Is4() && (b[12] == 45 || b[12] == 46):
		i, n = int(b[13])<<16|int(b[14])<<8|int(b[15]), 1+int(b[12]-45)
	case a.Is6() && b[0] == 0x2a && b[1] == 0x01 && b[2] == 0x04 && b[3] == 0xf8:
		i, n = int(b[6])<<24|int(b[7])<<16|int(b[8])<<8|int(b[9]), int(b[15])
	default:
		return nil, false // provider addresses: the shared zone
	}
	if i >= w.N {
		return nil, true
	}
	p := w.Profile(i)
	if p.Kind != SelfHosted || n == 2 && !p.MX2 || a.Is6() && !p.IPv6 || n < 1 || n > 2 {
		return nil, true
	}
	if qtype != dns.TypePTR {
		return []dns.RR{}, true
	}
	return []dns.RR{rr("%s 3600 IN PTR mx%d.%s.", name, n, w.Domain(i))}, true
}

// reverseAddr parses an in-addr.arpa or ip6.arpa name of a whole address.
func reverseAddr(name string) (netip.Addr, bool) {
	labels := dns.SplitDomainName(name)
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa.") && len(labels) == 6:
		var b [4]byte
		for k := 0; k < 4; k++ {
			v, err := strconv.Atoi(labels[3-k])
			if err != nil || v > 255 || v < 0 {
				return netip.Addr{}, false
			}
			b[k] = byte(v)
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(name, ".ip6.arpa.") && len(labels) == 34:
		var b [16]byte
		for k := 0; k < 32; k++ {
			v, err := strconv.ParseUint(labels[31-k], 16, 8)
			if err != nil || len(labels[31-k]) != 1 {
				return netip.Addr{}, false
			}
			b[k/2] |= byte(v) << (4 * (1 - k%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// lazyShared answers the per-customer names under the providers: the
// Microsoft-like MX hosts and DKIM keys, and the DMARC report
// authorization records.
func (w *World) lazyShared(name string, qtype uint16) ([]dns.RR, bool) {
	labels := dns.SplitDomainName(name)
	switch {
	case strings.HasSuffix(name, ".mail.protection.mprov.com.") && len(labels) == 5:
		i, ok := w.dashed(labels[0])
		if !ok || w.Profile(i).Kind != Microsoft {
			return nil, false
		}
		if qtype != dns.TypeA {
			return []dns.RR{}, true
		}
		return []dns.RR{rr("%s 3600 IN A 52.101.%d.%d", name, i%4, 10+i%2)}, true
	case strings.HasSuffix(name, ".onmprov.com.") && len(labels) == 5 && labels[1] == "_domainkey":
		i, ok := w.index(labels[2])
		if !ok || w.Profile(i).Kind != Microsoft || len(w.Profile(i).Selectors) == 0 || qtype != dns.TypeTXT {
			return nil, false
		}
		return []dns.RR{keyRR(name)}, true
	case strings.HasSuffix(name, "._report._dmarc.rua.dmarcsvc.net.") && len(labels) == 7:
		i, ok := w.customer(labels[0] + "." + labels[1] + ".")
		if !ok || !w.Profile(i).DMARC || !w.Profile(i).ExternalRUA || qtype != dns.TypeTXT {
			return nil, false
		}
		return []dns.RR{rr("%s 3600 IN TXT \"v=DMARC1\"", name)}, true
	}
	return nil, false
}

// dashed parses "c12-com" as customer 12.
func (w *World) dashed(label string) (int, bool) {
	j := strings.IndexByte(label, '-')
	if j < 0 {
		return 0, false
	}
	return w.customer(label[:j] + "." + label[j+1:] + ".")
}

// sharedRecords are the providers' and the blocklists' records.
func sharedRecords() []dns.RR {
	out := []dns.RR{rr(". 3600 IN SOA a.root. h.root. 1 2 3 4 5")}
	out = append(out,
		rr("_spf.gprov.com. 300 IN TXT \"v=spf1 include:_netblocks.gprov.com include:_netblocks2.gprov.com include:_netblocks3.gprov.com ~all\""),
		rr("_netblocks.gprov.com. 300 IN TXT \"v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ip4:66.249.80.0/20 ip4:72.14.192.0/18 ip4:74.125.0.0/16 ip4:108.177.8.0/21 ip4:173.194.0.0/16 ip4:209.85.128.0/17 ~all\""),
		rr("_netblocks2.gprov.com. 300 IN TXT \"v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ip6:2607:f8b0:4000::/36 ip6:2800:3f0:4000::/36 ip6:2a00:1450:4000::/36 ~all\""),
		rr("_netblocks3.gprov.com. 300 IN TXT \"v=spf1 ip4:172.217.0.0/19 ip4:172.253.56.0/21 ip4:173.194.0.0/16 ~all\""),
		rr("spf.protection.mprov.com. 300 IN TXT \"v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/15 ip4:104.47.0.0/17 ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 include:spfd.protection.mprov.com -all\""),
		rr("spfd.protection.mprov.com. 300 IN TXT \"v=spf1 ip4:51.4.72.0/24 ip4:51.5.72.0/24 ip4:51.5.80.0/27 -all\""),
		rr("rua.dmarcsvc.net. 300 IN MX 10 mx.rua.dmarcsvc.net."),
		rr("mx.rua.dmarcsvc.net. 300 IN A 185.70.40.10"),
		rr("_spf.relaysvc.net. 300 IN TXT \"v=spf1 ip4:167.89.0.0/17 ip4:208.117.48.0/20 ~all\""),
	)
	for k, h := range []string{"aspmx.l", "alt1.aspmx.l", "alt2.aspmx.l", "alt3.aspmx.l", "alt4.aspmx.l"} {
		out = append(out, rr("%s.gprov.com. 300 IN A 142.250.%d.27", h, k), rr("%s.gprov.com. 300 IN AAAA 2a00:1450:4000::%x", h, k+0x1b),
			rr("27.%d.250.142.in-addr.arpa. 300 IN PTR %s.gprov.com.", k, h))
		ip6, _ := dns.ReverseAddr(fmt.Sprintf("2a00:1450:4000::%x", k+0x1b))
		out = append(out, rr("%s 300 IN PTR %s.gprov.com.", ip6, h))
	}
	for k := 0; k < 4; k++ {
		for m := 10; m < 12; m++ {
			out = append(out, rr("%d.%d.101.52.in-addr.arpa. 300 IN PTR mail-%d-%d.inbound.protection.mprov.com.", m, k, k, m),
				rr("mail-%d-%d.inbound.protection.mprov.com. 300 IN A 52.101.%d.%d", k, m, k, m))
		}
	}
	return append(out, blocklistTestPoints()...)
}

// blocklistTestPoints lists 127.0.0.2 at the RFC 5782 §5 test entry of
// every default blocklist (the IPv4 and IPv6 ones, and the domain lists').
func blocklistTestPoints() []dns.RR {
	var out []dns.RR
	for _, l := range dnsbl.Defaults() {
		var t dnsbl.Target
		if l.Kind == dnsbl.KindDomain {
			t = dnsbl.DomainTarget(l.TestListed)
		} else {
			t = dnsbl.IPTarget(netip.MustParseAddr(l.TestListed))
		}
		q, err := dnsbl.QueryName(t, l.Zone)
		if err != nil {
			panic(err)
		}
		out = append(out, rr("%s 300 IN A 127.0.0.2", dns.Fqdn(q)), rr("%s 300 IN TXT \"test point\"", dns.Fqdn(q)))
	}
	return out
}
