package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
	"github.com/mailcheck/mailcheck/internal/dnsbl"
	"github.com/mailcheck/mailcheck/internal/dnssec"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Flag values are checked here, before any network traffic: a bad value
// is a usage error (exit 2) with a message naming the flag, never a
// silently disabled check or a green run.

// parseDomainArg accepts a mail domain given on the command line: a name
// of at least two labels, not an IP address (resolve.ParseDomain).
func parseDomainArg(s string) (resolve.Name, error) { return resolve.ParseDomain(s) }

// validHostPort checks HOST or HOST:PORT (IPv6 in brackets with a port):
// the host an IP address or a valid host name, the port 1-65535.
func validHostPort(s string, needPort bool) error {
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@ ") {
		return fmt.Errorf("%q is not HOST[:PORT] (no URL, path or user)", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if needPort {
			return fmt.Errorf("%q is not HOST:PORT", s)
		}
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostName(host) {
		return fmt.Errorf("%q: %q is neither an IP address nor a host name", s, host)
	}
	return nil
}

// validHostName: LDH labels of 1-63 octets (underscore allowed), 253 in all.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !validLabel(l) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i] | 0x20
		if !(c >= 'a' && c <= 'z' || l[i] >= '0' && l[i] <= '9' || l[i] == '-' || l[i] == '_') {
			return false
		}
	}
	return true
}

// loadTrustAnchor reads --trust-anchor FILE (DS or DNSKEY records); no
// file means the built-in root anchors (nil).
func loadTrustAnchor(path string) ([]dns.RR, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr("--trust-anchor: %v", err)
	}
	defer f.Close()
	rrs, err := dnssec.ParseAnchors(f, path)
	if err != nil {
		return nil, usageErr("--trust-anchor: %v", err)
	}
	return rrs, nil
}

// validateAuditFlags checks the audit's own flag values.
func validateAuditFlags(f *auditFlags) error {
	for _, s := range f.dkimSelectors {
		if !validHostName(s) || len(s) > 200 {
			return usageErr("--dkim-selector %q is not a valid selector (DNS labels of letters, digits, '-' and '_')", s)
		}
	}
	for _, h := range f.submissionHosts {
		if err := validHostPort(h, false); err != nil {
			return usageErr("--submission-host: %v", err)
		}
	}
	for _, hf := range []struct {
		name  string
		hosts []string
	}{{"--imap-host", f.imapHosts}, {"--pop3-host", f.pop3Hosts}} {
		for _, h := range hf.hosts {
			if err := validHostPort(h, false); err != nil {
				return usageErr("%s: %v", hf.name, err)
			}
		}
	}
	if f.relayRcpt != "" && !checks.ValidRelayRcpt(f.relayRcpt) {
		return usageErr("--relay-test-rcpt: %q is not an address of the form local@domain (printable ASCII local part without <>()[]\\,;:\", a valid domain)", f.relayRcpt)
	}
	if f.dnsblFile != "" {
		file, err := dnsbl.LoadFile(f.dnsblFile)
		if err != nil {
			return usageErr("--dnsbl-file: %v", err)
		}
		if _, err := dnsbl.Select(f.dnsbl, file); err != nil {
			return usageErr("--dnsbl-file: %v", err)
		}
	} else if _, err := dnsbl.Select(f.dnsbl, nil); err != nil {
		return usageErr("--dnsbl: %v", err)
	}
	return nil
}
