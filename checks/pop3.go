package checks

import (
	"context"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/mailboxprobe"
)

// pop3Catalog declares the finding IDs of the pop3 check, each once (findings.Catalog).
var pop3Catalog findings.Catalog

// Finding IDs of the pop3 check; its TLS findings (pop3.tls-*) are
// declared after them (pop3TLSSpecs).
var (
	SpecPOP3OK              = pop3Catalog.Add(Spec{ID: "pop3.ok", Severity: Pass, RFC: "RFC 1939 §4, RFC 2449 §5", Summary: "the POP3 server greeted +OK and listed its capabilities (CAPA)"})
	SpecPOP3STLS            = pop3Catalog.Add(Spec{ID: "pop3.stls", Severity: Pass, RFC: "RFC 2595 §4", Summary: "port 110 offers STLS and no password login (USER, SASL PLAIN/LOGIN) before TLS"})
	SpecPOP3NoSTLS          = pop3Catalog.Add(Spec{ID: "pop3.no-stls", Severity: Fail, RFC: "RFC 2595 §4, RFC 8314 §3", Summary: "port 110 does not offer STLS: mail is read in clear text"})
	SpecPOP3CleartextAuth   = pop3Catalog.Add(Spec{ID: "pop3.cleartext-auth", Severity: Fail, RFC: "RFC 2449 §6.8, RFC 2595 §4, RFC 8314 §3", Summary: "USER or SASL PLAIN/LOGIN is offered before TLS: passwords can travel in clear text"})
	SpecPOP3ImplicitTLS     = pop3Catalog.Add(Spec{ID: "pop3.implicit-tls", Severity: Pass, RFC: "RFC 8314 §3.3", Summary: "port 995 speaks implicit TLS and answers POP3 in it"})
	SpecPOP3STLSOnly        = pop3Catalog.Add(Spec{ID: "pop3.stls-only", Severity: Info, RFC: "RFC 8314 §3.3", Summary: "a host offers POP3 with STLS only: implicit TLS on 995 is preferred"})
	SpecPOP3NoCapa          = pop3Catalog.Add(Spec{ID: "pop3.no-capa", Severity: Info, RFC: "RFC 2449 §5", Summary: "the server refused CAPA: whether it offers STLS and which logins it allows before TLS is unknown"})
	SpecPOP3NotOffered      = pop3Catalog.Add(Spec{ID: "pop3.not-offered", Severity: Info, RFC: "RFC 6186 §4", Summary: "a _pop3._tcp or _pop3s._tcp SRV record has the target \".\": the domain declares it offers no POP3 there"})
	SpecPOP3None            = pop3Catalog.Add(Spec{ID: "pop3.none", Severity: Info, RFC: "RFC 6186", Summary: "no POP3 host to probe: none given with --pop3-host, no SRV record, no autoconfig document naming one"})
	SpecPOP3Unreachable     = pop3Catalog.Add(Spec{ID: "pop3.unreachable", Severity: Error, Summary: "no connection to the address and port (refused, timed out, no address, or --offline)"})
	SpecPOP3Session         = pop3Catalog.Add(Spec{ID: "pop3.session-error", Severity: Error, Summary: "the session broke off or was refused (-ERR greeting, timeout, disconnect, garbage, an endless response); the transcript shows where"})
	SpecPOP3Skipped         = pop3Catalog.Add(Spec{ID: "pop3.skipped", Severity: Info, Summary: "an address from SRV or autoconfig is private or special-purpose: not probed (see --allow-private)"})
	SpecPOP3Temperror       = pop3Catalog.Add(Spec{ID: "pop3.temperror", Severity: Error, Summary: "a lookup the plan needs (SRV, host address, the autoconfig document) failed, or a --pop3-host is unusable"})
	SpecPOP3PortUnusual     = pop3Catalog.Add(Spec{ID: "pop3.port-unusual", Severity: Info, RFC: "RFC 6186 §3.2, RFC 8314 §7.3", Summary: "an SRV record or the autoconfig document names a port other than 110 or 995: not contacted (use --pop3-host HOST:PORT)"})
	SpecPOP3Autoconfig      = pop3Catalog.Add(Spec{ID: "pop3.autoconfig-unusable", Severity: Info, Summary: "the autoconfig document exists but could not be used (certificate, redirect, size, not XML): its servers were not probed"})
	SpecPOP3AutoconfigPlain = pop3Catalog.Add(Spec{ID: "pop3.autoconfig-plaintext", Severity: Fail, RFC: "RFC 8314 §3, §5.1", Summary: "the autoconfig document configures mail clients for POP3 without TLS (socketType plain): passwords in clear text"})
	SpecPOP3CutShort        = pop3Catalog.Add(Spec{ID: "pop3.cut-short", Severity: Error, Summary: "the audit deadline (--deadline) or an interruption ended the probe: nothing is said about that server"})
)

// pop3TLSSpecs are the check's own IDs of the shared TLS judge's findings.
var pop3TLSSpecs = mailboxTLSSpecs(&pop3Catalog, "pop3", "mail clients")

// pop3DANESpecs are the check's DANE findings (RFC 7673): for a host
// from an SRV record that validates as secure, and a usable TLSA set at
// _<port>._tcp.<host>.
var pop3DANESpecs = mailboxDANESpecs(&pop3Catalog, "pop3")

// POP3 probes the POP3 servers mail clients use: port 110 (greeting,
// CAPA, STLS, no password before TLS, CAPA again) and 995 (implicit
// TLS), with the TLS judged strictly.
type POP3 struct{}

var _ Check = POP3{}

var pop3Service = &mailboxService{
	proto: mailboxprobe.POP3, name: "POP3", flag: "--pop3-host", srv: [2]string{"_pop3._tcp", "_pop3s._tcp"},
	specs: &mailboxSpecs{OK: SpecPOP3OK, StartTLS: SpecPOP3STLS, NoStartTLS: SpecPOP3NoSTLS, CleartextAuth: SpecPOP3CleartextAuth,
		Implicit: SpecPOP3ImplicitTLS, StartTLSOnly: SpecPOP3STLSOnly, NoCapability: SpecPOP3NoCapa, NotOffered: SpecPOP3NotOffered,
		None: SpecPOP3None, Unreachable: SpecPOP3Unreachable, Session: SpecPOP3Session, Skipped: SpecPOP3Skipped, Temperror: SpecPOP3Temperror,
		PortUnusual: SpecPOP3PortUnusual, Autoconfig: SpecPOP3Autoconfig, AutoconfigPlain: SpecPOP3AutoconfigPlain, CutShort: SpecPOP3CutShort},
	tls:     pop3TLSSpecs,
	dane:    pop3DANESpecs,
	fixHint: "refuse USER and PLAIN before TLS (Dovecot: disable_plaintext_auth = yes, or ssl = required)",
	hosts:   func(e *Env) []string { return e.Options.POP3.Hosts },
}

// Meta implements Check.
func (POP3) Meta() Meta {
	return Meta{Name: "pop3", Title: "POP3 servers", Weight: 1, Findings: pop3Catalog.Specs()}
}

// Run implements Check.
func (POP3) Run(ctx context.Context, env *Env) Result { return runMailbox(ctx, env, pop3Service) }
