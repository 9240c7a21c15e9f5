package message

import (
	"crypto/tls"
	"net/netip"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// connection judges what the session showed before the message: the
// HELO name, the TLS the sender used, and iprev of the client.
func (s *state) connection() {
	s.helo()
	s.tls()
	s.iprev()
}

// helo judges the HELO name (RFC 5321 §4.1.1.1: a FQDN, or an address
// literal in brackets).
func (s *state) helo() {
	h := strings.TrimSuffix(s.env.Helo, ".")
	q := clean(s.env.Helo)
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		lit := strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
		lit = strings.TrimPrefix(strings.TrimPrefix(lit, "IPv6:"), "ipv6:")
		a, err := netip.ParseAddr(lit)
		switch {
		case err != nil:
			s.add(SpecHeloBad.New("The HELO argument %q is a bracketed literal that is not an IP address.", q).
				WithFix("Send the server's fully qualified host name in HELO/EHLO."))
		case a.Unmap() == s.env.ClientIP.Unmap():
			s.add(SpecHeloLiteral.New("The HELO argument %q is an address literal, the client's own address.", q).
				WithFix("Send the server's fully qualified host name in HELO/EHLO: SPF for HELO and many receivers' checks need a name."))
		default:
			s.add(SpecHeloLiteral.As(findings.Warn, "The HELO argument %q is an address literal that is not the client's address %s.", q, s.env.ClientIP).
				WithFix("Send the server's fully qualified host name in HELO/EHLO."))
		}
		return
	}
	if why := badHelo(h); why != "" {
		s.add(SpecHeloBad.New("The HELO name %q %s.", q, why).
			WithFix("Send the server's fully qualified host name in HELO/EHLO (e.g. Postfix smtp_helo_name, Exim helo_data)."))
		return
	}
	s.add(SpecHeloOK.New("The HELO name %s is a fully qualified domain name.", q))
}

// badHelo says what is wrong with a HELO name that is not a literal, or
// "" when it is a valid FQDN.
func badHelo(h string) string {
	switch {
	case h == "":
		return "is empty"
	case strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost"):
		return "is localhost"
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "is an IP address without brackets (an address literal must be written [192.0.2.1])"
	}
	if _, err := resolve.ParseDomain(h); err != nil {
		return "is not a fully qualified domain name"
	}
	return ""
}

// tls judges the TLS the sender used.
func (s *state) tls() {
	cs := s.env.TLS
	if cs == nil {
		s.data.TLS = "none"
		s.add(SpecTLSNone.New("The session was not encrypted: the sender did not use STARTTLS.").
			WithFix("Make the sending server use STARTTLS when the receiver offers it (Postfix: smtp_tls_security_level = may)."))
		return
	}
	desc := tls.VersionName(cs.Version) + " " + tls.CipherSuiteName(cs.CipherSuite)
	s.data.TLS = desc
	if cs.Version < tls.VersionTLS12 {
		s.add(SpecTLSOld.New("The sender used %s.", desc).
			WithFix("Enable TLS 1.2 and 1.3 on the sending server and disable older versions (RFC 8996)."))
		return
	}
	s.add(SpecTLSOK.New("The sender used %s.", desc))
}

// iprev checks that the client address has a PTR name that resolves
// back to it (RFC 8601 §3).
func (s *state) iprev() {
	ip := s.env.ClientIP.Unmap()
	if !ip.IsValid() {
		return
	}
	res := &authres.IPRevResult{IP: ip.String()}
	s.results = append(s.results, res)
	names, ans, err := resolve.PTR(s.ctx, s.j.Resolver, ip)
	if err != nil {
		res.Value = authres.ResultTempError
		s.data.Iprev = string(res.Value)
		s.add(SpecIprevTempError.New("The PTR lookup for %s failed: %s.", ip, clean(resolve.Describe(ans, err))))
		return
	}
	confirmed, tempErr := s.forwardConfirm(ip, names)
	for _, n := range confirmed {
		s.data.PTR = append(s.data.PTR, clean(n))
	}
	switch {
	case len(confirmed) > 0:
		res.Value = authres.ResultPass
		s.add(SpecIprevPass.New("%s has the PTR name %s, which resolves back to it.", ip, clean(confirmed[0])))
	case tempErr != nil:
		res.Value = authres.ResultTempError
		s.add(SpecIprevTempError.New("An address lookup for the PTR names of %s failed: %s.", ip, clean(tempErr.Error())))
	case len(names) == 0:
		res.Value = authres.ResultFail
		s.add(SpecIprevFail.New("%s has no PTR record (%s).", ip, clean(resolve.Describe(ans, nil))).
			WithFix("Ask whoever runs the address (the hosting provider) for a PTR record naming the server, a name whose A/AAAA record is this address."))
	default:
		res.Value = authres.ResultFail
		s.add(SpecIprevFail.New("No PTR name of %s (%s) resolves back to it.", ip, clean(strings.Join(trimDots(names), ", "))).
			WithFix("Give the PTR name an A/AAAA record with %s, or change the PTR record to a name that has one.", ip))
	}
	s.data.Iprev = string(res.Value)
}

// forwardConfirm returns the PTR names (at most MaxPTRNames) whose
// addresses include ip, and the first lookup failure.
func (s *state) forwardConfirm(ip netip.Addr, names []string) ([]string, error) {
	var ok []string
	var firstErr error
	for i, n := range names {
		if i == MaxPTRNames {
			break
		}
		ar := resolve.Addrs(s.ctx, s.j.Resolver, n)
		for _, a := range ar.Addrs {
			if a.Unmap() == ip {
				ok = append(ok, strings.TrimSuffix(n, "."))
				break
			}
		}
		if ar.Err != nil && firstErr == nil {
			firstErr = ar.Err
		}
	}
	return ok, firstErr
}

// trimDots drops the trailing dots of names.
func trimDots(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".")
	}
	return out
}
