package checks

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dane"
	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// TLSASet is the TLSA RRset of one MX host with the DNSSEC states a DANE
// sender requires (RFC 7672 §2.2): the fact the dane check and the TLS
// policy (Env.tlsPolicy) start from.
type TLSASet struct {
	Host string `json:"host"` // the MX host name
	// Base is the TLSA base domain: the end of the MX host's CNAME chain
	// when the chain is secure and has TLSA records there, else Host (RFC
	// 7672 §2.2.3).
	Base    string        `json:"base"`
	Name    string        `json:"name"` // _<port>._tcp.<base>. (port 25 for an MX host)
	Records []dane.Record `json:"records"`
	Text    []string      `json:"text"`   // the records as the zone has them
	Server  string        `json:"server"` // who answered the TLSA question

	State dnssec.State `json:"-"` // of the TLSA RRset (or its denial)
	// Verdict is the validator's whole verdict on the TLSA RRset (State
	// with its reason, zone and notes): the dnssec check states it.
	Verdict    dnssec.Result `json:"-"`
	AddrState  dnssec.State  `json:"-"` // of the host's address records and CNAME chain
	DNSSEC     string        `json:"dnssec,omitempty"`
	AddrDNSSEC string        `json:"address_dnssec,omitempty"`
	Reason     string        `json:"reason,omitempty"` // why a state is not secure: the validator's words
	// Err: the TLSA question failed (not a denial).
	Err error `json:"-"`
	// NotEvaluated says why nothing was looked up (offline, a resolver
	// that cannot ask DNSSEC questions); "" when the lookup ran.
	NotEvaluated string `json:"not_evaluated,omitempty"`

	port uint16 // the service's port: 25 for an MX host
}

// tlsaEntry memoizes one host's TLSASet (Env.tlsa).
type tlsaEntry struct {
	once sync.Once
	set  *TLSASet
}

// Usable reports whether DANE senders use the set: records exist, and
// both they and the host's address records are secure (RFC 7672 §2.2).
func (s *TLSASet) Usable() bool {
	return s != nil && s.Err == nil && len(s.Records) > 0 && s.State == dnssec.Secure && s.AddrState == dnssec.Secure
}

// lookupTLSA looks up the TLSA set of the MX host at _25._tcp of its
// TLSA base domain (lookupTLSAPort).
func lookupTLSA(ctx context.Context, env *Env, host string) *TLSASet {
	host = strings.TrimSuffix(resolve.Canonical(host), ".")
	if env.Options.Offline || env.dnssecValidator() == nil {
		return lookupTLSAPort(ctx, env, host, 25, nil, host)
	}
	owners, canon := cnameChain(ctx, env, host)
	return lookupTLSAPort(ctx, env, host, 25, owners, canon)
}

// lookupTLSAPort looks up the TLSA set of host at _<port>._tcp of its
// TLSA base domain (canon, the end of its CNAME chain, whose owners are
// owners) and validates it and the host's addresses from the trust
// anchor. Only a set with records is validated: without one, DANE is off.
func lookupTLSAPort(ctx context.Context, env *Env, host string, port uint16, owners []string, canon string) *TLSASet {
	host = strings.TrimSuffix(resolve.Canonical(host), ".")
	s := &TLSASet{Host: host, Base: host, Records: []dane.Record{}, Text: []string{}, port: port}
	v := env.dnssecValidator()
	if env.Options.Offline || v == nil {
		s.NotEvaluated = notEvaluatedWhy(env.Options.Offline)
		return s
	}
	var chainOK bool
	if canon != host {
		st, _ := validateAll(ctx, v, owners, dns.TypeA)
		chainOK = st == dnssec.Secure
	}
	if chainOK {
		s.ask(ctx, v.Resolver, canon)
	}
	if !chainOK || s.Err == nil && len(s.Records) == 0 {
		s.ask(ctx, v.Resolver, host)
	}
	if errors.Is(s.Err, resolve.ErrOffline) || errors.Is(s.Err, resolve.ErrNoDNSSEC) {
		s.NotEvaluated, s.Err = s.Err.Error(), nil
		return s
	}
	if s.Err == nil && len(s.Records) == 0 {
		return s
	}
	s.AddrState, s.Reason = validateAll(ctx, v, append(owners, canon), dns.TypeA)
	if s.Err == nil {
		r := v.Validate(ctx, s.Name, dns.TypeTLSA)
		s.State, s.Verdict = r.State, r
		if r.State != dnssec.Secure && s.Reason == "" {
			s.Reason = r.Reason
		}
	}
	s.DNSSEC, s.AddrDNSSEC = s.State.String(), s.AddrState.String()
	return s
}

// ask asks for the TLSA records at _<port>._tcp.<base> (with CD=1:
// records a validator finds bogus still come back, and are judged by
// Validate).
func (s *TLSASet) ask(ctx context.Context, dr resolve.DNSSECResolver, base string) {
	s.Base, s.Name = base, "_"+strconv.Itoa(int(s.port))+"._tcp."+base+"."
	s.Records, s.Text, s.Err = []dane.Record{}, []string{}, nil
	ans, err := dr.QueryDNSSEC(ctx, s.Name, dns.TypeTLSA, true)
	if err != nil {
		s.Err = err
		return
	}
	s.Server = ans.Server
	for _, rr := range ans.Records {
		if t, ok := rr.(*dns.TLSA); ok && resolve.Canonical(t.Hdr.Name) == s.Name {
			s.Records = append(s.Records, dane.FromRR(t))
			s.Text = append(s.Text, t.String())
		}
	}
}

// cnameChain returns the names of host's CNAME chain that own a CNAME
// (host first) and the name at its end, from the MX set's address lookup.
func cnameChain(ctx context.Context, env *Env, host string) (owners []string, canon string) {
	canon = host
	if set := env.MX(ctx); set != nil {
		for _, h := range set.Hosts {
			if strings.EqualFold(h.Name, host) {
				for _, target := range h.Lookup.Chain() {
					owners = append(owners, canon)
					canon = strings.TrimSuffix(resolve.Canonical(target), ".")
				}
				break
			}
		}
	}
	return owners, canon
}

// validateAll validates qtype at each name and returns the weakest state
// (Bogus, then Indeterminate, Insecure, Secure) with the reason of the
// first name not secure.
func validateAll(ctx context.Context, v *dnssec.Validator, names []string, qtype uint16) (dnssec.State, string) {
	rank := map[dnssec.State]int{dnssec.Secure: 0, dnssec.Insecure: 1, dnssec.Indeterminate: 2, dnssec.Bogus: 3}
	worst, reason := dnssec.Secure, ""
	for _, n := range names {
		r := v.Validate(ctx, n, qtype)
		if rank[r.State] > rank[worst] {
			worst, reason = r.State, r.Reason
		}
	}
	return worst, reason
}
