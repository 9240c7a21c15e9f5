package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/tlsinspect"
)

// tlsCatalog declares the finding IDs of the tls check, each once (findings.Catalog).
var tlsCatalog findings.Catalog

// Finding IDs of the tls check.
var (
	SpecTLSOK              = tlsCatalog.Add(Spec{ID: "tls.ok", Severity: Pass, RFC: "RFC 8996, RFC 6125", Summary: "TLS version, cipher and certificate (issuer, names, key, expiry) are sound"})
	SpecTLSVersionOld      = tlsCatalog.Add(Spec{ID: "tls.version-old", Severity: Fail, RFC: "RFC 8996", Summary: "the server negotiated TLS 1.1 or older"})
	SpecTLSCipherWeak      = tlsCatalog.Add(Spec{ID: "tls.cipher-weak", Severity: Warn, RFC: "RFC 9325 §4.1", Summary: "the negotiated cipher suite is insecure (RC4, 3DES, CBC with SHA-1 or RSA key exchange)"})
	SpecTLSCertUntrusted   = tlsCatalog.Add(Spec{ID: "tls.cert-untrusted", Severity: Warn, RFC: "RFC 5280 §6", Summary: "the certificate chain does not verify against the trusted roots (fail on 587/465; warn on 25, where TLS is opportunistic)"})
	SpecTLSCertName        = tlsCatalog.Add(Spec{ID: "tls.cert-name-mismatch", Severity: Warn, RFC: "RFC 6125 §6, RFC 7672", Summary: "the certificate is not valid for the host name (fail on 587/465; warn on 25)"})
	SpecTLSCertExpired     = tlsCatalog.Add(Spec{ID: "tls.cert-expired", Severity: Fail, RFC: "RFC 5280 §4.1.2.5", Summary: "the certificate has expired (or is not valid yet)"})
	SpecTLSCertExpiring    = tlsCatalog.Add(Spec{ID: "tls.cert-expiring", Severity: Warn, RFC: "RFC 5280 §4.1.2.5", Summary: "the certificate expires in less than 14 days"})
	SpecTLSKeyWeak         = tlsCatalog.Add(Spec{ID: "tls.key-weak", Severity: Warn, RFC: "RFC 9325 §4.3", Summary: "the certificate's key is too small (RSA under 2048 bits, ECDSA under 256)"})
	SpecTLSHandshakeFailed = tlsCatalog.Add(Spec{ID: "tls.handshake-failed", Severity: Fail, RFC: "RFC 3207 §4", Summary: "STARTTLS was offered (or 465 reached) but no TLS session could be set up"})
	SpecTLSSkipped         = tlsCatalog.Add(Spec{ID: "tls.skipped", Severity: Info, Summary: "a server offers no TLS to inspect (see smtp.no-starttls), beside sessions that were inspected; when none was, this is tls.not-evaluated"})
	SpecTLSNone            = tlsCatalog.Add(Spec{ID: "tls.none", Severity: Info, Summary: "the domain's own records name no server to connect to (a null MX and no submission service): there is no TLS to inspect, and nothing is missing"})
	SpecTLSNotEvaluated    = tlsCatalog.Add(Spec{ID: "tls.not-evaluated", Severity: Error, Summary: "a TLS session could not be inspected (unreachable, timed out, ended by the deadline or an interruption, --offline), or none at all (no server to probe, no STARTTLS): says why"})
)

// ExpiringDays is how close to expiry a certificate is reported.
const ExpiringDays = 14

// TLS judges the TLS sessions of the smtp check's probes: version,
// cipher, certificate chain, name, expiry and key.
type TLS struct{}

var _ Check = TLS{}

// Meta implements Check.
func (TLS) Meta() Meta {
	return Meta{Name: "tls", Title: "TLS of the mail servers", Weight: 3, Findings: tlsCatalog.Specs()}
}

// tlsItem is the check's structured result per session.
type tlsItem struct {
	Target string           `json:"target"`
	TLS    *tlsinspect.Info `json:"tls,omitempty"`
	Error  string           `json:"error,omitempty"`
}

// Run implements Check.
func (TLS) Run(ctx context.Context, env *Env) Result {
	if env.Options.Offline {
		return Result{Findings: []Finding{SpecTLSNotEvaluated.New("--offline: no server was contacted, so no TLS session was inspected")}}
	}
	p := env.servicePlan(ctx)
	targets := append(append([]smtpTarget{}, p.MX...), p.Submission...)
	if len(targets) == 0 && p.byDesign() {
		return Result{Findings: []Finding{SpecTLSNone.New("%s names no server to connect to, so there is no TLS to inspect: %s", env.Domain.ASCII, planWhy(p))}}
	}
	if len(targets) == 0 {
		return Result{Findings: []Finding{SpecTLSNotEvaluated.New("no server to probe for %s, so no TLS session was inspected: %s", env.Domain.ASCII, planWhy(p))}}
	}
	results := probeAll(ctx, env, targets)
	sessions := make([]tlsSession, len(targets))
	for i, t := range targets {
		sessions[i] = env.smtpTLSSession(ctx, t, results[i])
	}
	fs, items := judgeSessions(sessions)
	return Result{Findings: fs, Data: items}
}

// planWhy says why the plan has no target, from its findings.
// byDesign reports whether an empty plan is what the domain publishes
// (a null MX and no submission service), not the outcome of a failed
// lookup or of addresses that cannot be probed.
func (p *smtpPlan) byDesign() bool {
	for _, f := range p.Findings {
		if f.Severity == Error {
			return false
		}
	}
	return p.NullMX
}

func planWhy(p *smtpPlan) string {
	var why []string
	for _, f := range p.Findings {
		if f.ID != SpecSMTPSubmissionNone.ID {
			why = append(why, f.Message)
		}
	}
	if len(why) == 0 {
		return "see the smtp check"
	}
	return strings.Join(why, "; ")
}

// inspectedAny reports whether some session gives a verdict on a
// server's TLS: an inspected session, or a handshake that failed on the
// server's account.
func inspectedAny(sessions []tlsSession) bool {
	for _, s := range sessions {
		if s.Info != nil || s.TLSError != "" && !s.Cut && !s.Inconclusive {
			return true
		}
	}
	return false
}

// judgeSessions turns the sessions into findings: the inspected TLS
// sessions judged, failed handshakes, servers without STARTTLS
// (tls.skipped) and the sessions that never reached TLS. When no
// session was inspected, the check says why in error findings only
// (tls.not-evaluated), so that it counts as not evaluated.
func judgeSessions(sessions []tlsSession) ([]Finding, []tlsItem) {
	plain := SpecTLSSkipped
	if !inspectedAny(sessions) {
		plain = SpecTLSNotEvaluated
	}
	var fs []Finding
	var items []tlsItem
	var why []string
	for _, s := range sessions {
		items = append(items, tlsItem{Target: s.Label, TLS: s.Info, Error: s.TLSError})
		switch {
		case s.Info != nil:
			fs = append(fs, judgeTLS(s)...)
		case s.TLSError != "":
			fs = append(fs, handshakeFailure(s))
		case s.Plain != "":
			fs = append(fs, plain.New("%s offers no STARTTLS: no certificate to inspect (see %s)", s.Label, s.Plain))
		default:
			why = append(why, fmt.Sprintf("%s: %s", s.Label, s.Stopped))
		}
	}
	if len(why) > 0 {
		fs = append(fs, SpecTLSNotEvaluated.New("%d of %d server(s) could not be inspected (see the smtp check): %s", len(why), len(sessions), strings.Join(why, "; ")))
	}
	return fs, items
}

func handshakeFailure(s tlsSession) Finding {
	switch {
	case s.Cut:
		return SpecTLSNotEvaluated.New("%s: %v; the TLS session was not inspected", s.Label, s.Err).WithRecords(s.Transcript...)
	case s.Inconclusive:
		return SpecTLSNotEvaluated.New("%s: %s", s.Label, s.TLSError).WithRecords(s.Transcript...)
	}
	return SpecTLSHandshakeFailed.New("%s: %s; %s", s.Label, s.TLSError, s.Policy.handshakeConsequence()).
		WithRecords(s.Transcript...).
		WithFix("check the server's TLS setup (certificate and key files readable, protocols TLS 1.2 and 1.3 enabled); test with: openssl s_client -connect %s %s", s.Address, opensslArgs(s))
}

func opensslArgs(s tlsSession) string {
	if s.StartTLS == "" {
		return "-servername " + s.Host
	}
	return "-starttls " + s.StartTLS + " -servername " + s.Host
}

// judgeTLS turns one inspected TLS session into findings.
func judgeTLS(s tlsSession) []Finding {
	var fs []Finding
	info, t := s.Info, s.Label
	leaf := info.Leaf()
	evidence := certEvidence(info)
	if info.VersionID < tls.VersionTLS12 {
		fs = append(fs, SpecTLSVersionOld.New("%s negotiated %s, although mailcheck offered up to TLS 1.3: TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused by current clients", t, info.Version).
			WithRecords(evidence...).
			WithFix("enable TLS 1.2 and 1.3 and disable older versions (Postfix: smtpd_tls_protocols = >=TLSv1.2, smtpd_tls_mandatory_protocols = >=TLSv1.2)"))
	}
	if info.CipherInsecure {
		fs = append(fs, SpecTLSCipherWeak.New("%s negotiated the insecure cipher suite %s", t, info.Cipher).
			WithRecords(evidence...).
			WithFix("prefer AEAD cipher suites with forward secrecy (Postfix: smtpd_tls_mandatory_ciphers = high, tls_preempt_cipherlist = yes)"))
	}
	if leaf == nil {
		return append(fs, SpecTLSCertUntrusted.As(s.Policy.severity(), "%s presented no certificate", t))
	}
	datesOnly := info.TrustDatesOnly && (info.Expired || info.NotYet)
	if !info.Trusted && !datesOnly {
		fs = append(fs, SpecTLSCertUntrusted.As(s.Policy.severity(), "%s presents a certificate that does not verify: %s; %s", t, info.TrustError, s.Policy.untrustedConsequence()).
			WithRecords(evidence...).
			WithFix("install a certificate for %s from a public CA (e.g. Let's Encrypt: certbot certonly -d %s) with its full chain (Postfix: smtpd_tls_chain_files)", s.Host, s.Host))
	}
	if !info.NameOK {
		fs = append(fs, SpecTLSCertName.As(s.Policy.severity(), "%s: %s", t, info.NameError).
			WithRecords(evidence...).
			WithFix("use a certificate whose subjectAltName includes %s", s.Host))
	}
	switch {
	case info.Expired:
		also := ""
		if datesOnly {
			also = "; " + info.TrustError + ", so renew the whole chain"
		}
		fs = append(fs, SpecTLSCertExpired.New("%s presents a certificate that expired on %s (%d days ago)%s", t, leaf.NotAfter.Format(time.DateOnly), -info.DaysLeft, also).
			WithRecords(evidence...).
			WithFix("renew the certificate for %s and reload the server; automate renewal (certbot renew with a deploy hook)", s.Host))
	case info.NotYet:
		fs = append(fs, SpecTLSCertExpired.New("%s presents a certificate that is not valid before %s (check the server's clock)", t, leaf.NotBefore.Format(time.RFC3339)).
			WithRecords(evidence...))
	case info.DaysLeft < ExpiringDays:
		fs = append(fs, SpecTLSCertExpiring.New("%s presents a certificate that expires on %s, in %d day(s)", t, leaf.NotAfter.Format(time.DateOnly), info.DaysLeft).
			WithRecords(evidence...).
			WithFix("renew the certificate for %s now and automate renewal", s.Host))
	}
	if (leaf.KeyType == "RSA" && leaf.KeyBits < 2048) || (leaf.KeyType == "ECDSA" && leaf.KeyBits < 256) {
		fs = append(fs, SpecTLSKeyWeak.New("%s presents a %s key, too small to be safe", t, leaf.Key()).
			WithRecords(evidence...).
			WithFix("issue the certificate with an RSA 2048+ or ECDSA P-256 key"))
	}
	if len(fs) == 0 {
		fs = append(fs, SpecTLSOK.New("%s: %s, %s; certificate for %s issued by %s, %s, valid until %s (%d days)", t, info.Version, info.Cipher,
			strings.Join(leafNames(leaf), ", "), leaf.Issuer, leaf.Key(), leaf.NotAfter.Format(time.DateOnly), info.DaysLeft).
			WithRecords(evidence...).WithData(info))
	}
	return fs
}

func leafNames(c *tlsinspect.Cert) []string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames
	}
	return []string{c.Subject}
}

// certEvidence renders the session and the chain, one line each.
func certEvidence(info *tlsinspect.Info) []string {
	out := []string{fmt.Sprintf("%s %s (server name %s)", info.Version, info.Cipher, info.ServerName)}
	for i, c := range info.Chain {
		out = append(out, fmt.Sprintf("%d: subject=%s issuer=%s names=%s key=%s not_before=%s not_after=%s sha256=%s", i,
			c.Subject, c.Issuer, strings.Join(c.DNSNames, ","), c.Key(), c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), c.SHA256))
	}
	return out
}
