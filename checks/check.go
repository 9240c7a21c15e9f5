// Package checks holds mailcheck's audits: one file per check, each an
// implementation of Check listed once in the ordered Registry, run
// concurrently by Run under the audit's deadline.
//
// To add a check: write checks/<name>.go with a type implementing Check
// (its Meta lists every finding ID it can emit), add it to Registry in
// registry.go, and add tests serving zone files from testdata/.
package checks

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/dnsbl"
	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Meta describes a check.
type Meta struct {
	Name     string // short name used by --checks: "mx"
	Title    string // "MX records"
	Weight   int    // share of the score
	Findings []Spec // every finding ID the check can emit
}

// Check is one audit of a domain.
type Check interface {
	Meta() Meta
	// Run audits env.Domain and returns its findings. It must honour ctx's
	// deadline, must not panic on hostile input, and reports what it could
	// not evaluate as Error findings.
	Run(ctx context.Context, env *Env) Result
}

// Result is what a check returns: its findings and, optionally,
// structured data for the JSON report (the SPF include tree, DNSBL answers).
type Result struct {
	Findings []Finding
	Data     any
}

// Dialer opens network connections; tests inject one that maps host:port
// to a loopback listener.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options are the user's settings that checks read. Fields belong to the
// checks named in their comments.
type Options struct {
	// Audit-wide settings, read by several checks through the facts
	// (facts.go).
	Offline      bool          // no network at all: network probes report errors
	AllowPrivate bool          // the address policy (Env.addrPolicy): private/loopback addresses are judged, probed and looked up like public ones
	IPs          []netip.Addr  // spf, dnsbl: the addresses the domain sends from (--ip)
	ProbeTimeout time.Duration // every session (smtp, tls): per-connection timeout; 0 means smtpprobe.DefaultTimeout

	// One sub-struct per check that has settings of its own.
	DKIM   DKIMOptions
	DNSBL  DNSBLOptions
	SMTP   SMTPOptions
	DNSSEC DNSSECOptions
	IMAP   IMAPOptions
	POP3   POP3Options
}

// IMAPOptions are the imap check's settings.
type IMAPOptions struct {
	Hosts []string // hosts to probe on 143 and 993, or HOST:PORT (--imap-host)
}

// POP3Options are the pop3 check's settings.
type POP3Options struct {
	Hosts []string // hosts to probe on 110 and 995, or HOST:PORT (--pop3-host)
}

// DKIMOptions are the dkim check's settings.
type DKIMOptions struct {
	Selectors []string // selectors to probe besides the built-in list (--dkim-selector)
	// Cut asks for _domainkey.<domain> first and, when it does not exist
	// (NXDOMAIN), skips the built-in selectors (dkim.ProbeCut); the CLI
	// sets it. The selectors of Selectors are always asked.
	Cut bool
}

// DNSBLOptions are the dnsbl check's settings.
type DNSBLOptions struct {
	Zones []string // replaces the default list set (--dnsbl)
	File  string   // zones and code tables from a file (--dnsbl-file)
	// Lists, when set, are the lists decided once for the run
	// (DNSBLLists): Zones and File are then not read again for each
	// audit. The check only reads them.
	Lists []*dnsbl.List
}

// SMTPOptions are the smtp check's settings (its plan is the tls check's
// too).
type SMTPOptions struct {
	SubmissionHosts []string // hosts to probe on 587/465 (--submission-host)
	RelayTestRcpt   string   // recipient outside the domain for the relay test (--relay-test-rcpt)
	AllowSRVPorts   bool     // probe submission SRV targets on ports other than 587/465 (--allow-srv-ports)
}

// DNSSECOptions are the dnssec check's settings.
type DNSSECOptions struct {
	AnchorFile string   // where Anchors came from (--trust-anchor); "" for the built-in root anchors
	Anchors    []dns.RR // DS or DNSKEY trust anchors; nil: the IANA root anchors (dnssec.RootAnchors)
}

// Env is everything a check may use. Checks reach DNS only through
// Resolver and the network only through Dialer.
type Env struct {
	Domain   resolve.Name
	Resolver resolve.Resolver
	Dialer   Dialer
	RootCAs  *x509.CertPool // nil: the system roots
	Options  Options
	Now      func() time.Time
	Log      *slog.Logger
	// Trace, when non-nil, receives protocol transcripts (SMTP lines) for
	// --trace. It is safe for concurrent use.
	Trace io.Writer
	// Sessions, when set, bounds the SMTP (and later IMAP/POP3) sessions
	// open at once across every audit that shares it: a run of many
	// domains holds one (NewSessionBound). Nil: a bound of
	// DefaultSessions for this audit alone.
	Sessions SessionBound
	// SharedSessions, when set, shares SMTP sessions among the audits of
	// a run (SessionCache): each is opened once per address, port, mode
	// and host, and the open-relay test runs only on a domain's own MX
	// hosts. Nil: sessions are shared by the checks of one audit only.
	SharedSessions *SessionCache
	// SharedLists, when set, shares the blocklists' health verdicts among
	// the audits of a run (dnsbl.Memo). Nil: each audit probes the lists.
	SharedLists *dnsbl.Memo

	facts auditFacts // the MX set, service plan and sessions, once per audit (facts.go)
}

// SessionBound is a counting semaphore of network sessions.
type SessionBound chan struct{}

// DefaultSessions is how many sessions an audit, or a run with
// NewSessionBound(0), opens at once.
const DefaultSessions = 8

// NewSessionBound returns a bound of n sessions (DefaultSessions when
// n <= 0) to share between the audits of a run.
func NewSessionBound(n int) SessionBound {
	if n <= 0 {
		n = DefaultSessions
	}
	return make(SessionBound, n)
}

// NewEnv returns an Env with defaults for the optional fields.
func NewEnv(domain resolve.Name, r resolve.Resolver) *Env {
	return &Env{Domain: domain, Resolver: r, Dialer: &net.Dialer{}, Now: time.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}
