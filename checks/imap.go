package checks

import (
	"context"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/mailboxprobe"
)

// imapCatalog declares the finding IDs of the imap check, each once (findings.Catalog).
var imapCatalog findings.Catalog

// Finding IDs of the imap check; its TLS findings (imap.tls-*) are
// declared after them (imapTLSSpecs).
var (
	SpecIMAPOK              = imapCatalog.Add(Spec{ID: "imap.ok", Severity: Pass, RFC: "RFC 9051 §7.1, RFC 3501 §7.1", Summary: "the IMAP server greeted and listed its capabilities"})
	SpecIMAPStartTLS        = imapCatalog.Add(Spec{ID: "imap.starttls", Severity: Pass, RFC: "RFC 3501 §6.2.3, RFC 2595 §3.2", Summary: "port 143 offers STARTTLS and no password login before TLS (LOGINDISABLED)"})
	SpecIMAPNoStartTLS      = imapCatalog.Add(Spec{ID: "imap.no-starttls", Severity: Fail, RFC: "RFC 3501 §6.2.1, RFC 8314 §3", Summary: "port 143 does not offer STARTTLS: mail is read in clear text"})
	SpecIMAPCleartextAuth   = imapCatalog.Add(Spec{ID: "imap.cleartext-auth", Severity: Fail, RFC: "RFC 3501 §6.2.3, RFC 2595 §3.2, RFC 8314 §3", Summary: "LOGIN (no LOGINDISABLED) or AUTH=PLAIN/LOGIN is offered before TLS: passwords can travel in clear text"})
	SpecIMAPImplicitTLS     = imapCatalog.Add(Spec{ID: "imap.implicit-tls", Severity: Pass, RFC: "RFC 8314 §3.3", Summary: "port 993 speaks implicit TLS and answers IMAP in it"})
	SpecIMAPStartTLSOnly    = imapCatalog.Add(Spec{ID: "imap.starttls-only", Severity: Info, RFC: "RFC 8314 §3.3", Summary: "a host offers IMAP with STARTTLS only: implicit TLS on 993 is preferred"})
	SpecIMAPNoRevision      = imapCatalog.Add(Spec{ID: "imap.no-revision", Severity: Warn, RFC: "RFC 9051 §7.2.2, RFC 3501 §7.2.1", Summary: "CAPABILITY lists neither IMAP4rev1 nor IMAP4rev2"})
	SpecIMAPNotOffered      = imapCatalog.Add(Spec{ID: "imap.not-offered", Severity: Info, RFC: "RFC 6186 §4", Summary: "an _imap._tcp or _imaps._tcp SRV record has the target \".\": the domain declares it offers no IMAP there"})
	SpecIMAPNone            = imapCatalog.Add(Spec{ID: "imap.none", Severity: Info, RFC: "RFC 6186", Summary: "no IMAP host to probe: none given with --imap-host, no SRV record, no autoconfig document naming one"})
	SpecIMAPUnreachable     = imapCatalog.Add(Spec{ID: "imap.unreachable", Severity: Error, Summary: "no connection to the address and port (refused, timed out, no address, or --offline)"})
	SpecIMAPSession         = imapCatalog.Add(Spec{ID: "imap.session-error", Severity: Error, Summary: "the session broke off or was refused (BYE greeting, timeout, disconnect, garbage, an endless response); the transcript shows where"})
	SpecIMAPSkipped         = imapCatalog.Add(Spec{ID: "imap.skipped", Severity: Info, Summary: "an address from SRV or autoconfig is private or special-purpose: not probed (see --allow-private)"})
	SpecIMAPTemperror       = imapCatalog.Add(Spec{ID: "imap.temperror", Severity: Error, Summary: "a lookup the plan needs (SRV, host address, the autoconfig document) failed, or an --imap-host is unusable"})
	SpecIMAPPortUnusual     = imapCatalog.Add(Spec{ID: "imap.port-unusual", Severity: Info, RFC: "RFC 6186 §3.2, RFC 8314 §7.3", Summary: "an SRV record or the autoconfig document names a port other than 143 or 993: not contacted (use --imap-host HOST:PORT)"})
	SpecIMAPAutoconfig      = imapCatalog.Add(Spec{ID: "imap.autoconfig-unusable", Severity: Info, Summary: "the autoconfig document exists but could not be used (certificate, redirect, size, not XML): its servers were not probed"})
	SpecIMAPAutoconfigPlain = imapCatalog.Add(Spec{ID: "imap.autoconfig-plaintext", Severity: Fail, RFC: "RFC 8314 §3, §5.1", Summary: "the autoconfig document configures mail clients for IMAP without TLS (socketType plain): passwords in clear text"})
	SpecIMAPCutShort        = imapCatalog.Add(Spec{ID: "imap.cut-short", Severity: Error, Summary: "the audit deadline (--deadline) or an interruption ended the probe: nothing is said about that server"})
)

// imapTLSSpecs are the check's own IDs of the shared TLS judge's findings.
var imapTLSSpecs = mailboxTLSSpecs(&imapCatalog, "imap", "mail clients")

// imapDANESpecs are the check's DANE findings (RFC 7673): for a host
// from an SRV record that validates as secure, and a usable TLSA set at
// _<port>._tcp.<host>.
var imapDANESpecs = mailboxDANESpecs(&imapCatalog, "imap")

// IMAP probes the IMAP servers mail clients use: port 143 (greeting,
// CAPABILITY, STARTTLS, no password before TLS, CAPABILITY again) and
// 993 (implicit TLS), with the TLS judged strictly.
type IMAP struct{}

var _ Check = IMAP{}

var imapService = &mailboxService{
	proto: mailboxprobe.IMAP, name: "IMAP", flag: "--imap-host", srv: [2]string{"_imap._tcp", "_imaps._tcp"},
	specs: &mailboxSpecs{OK: SpecIMAPOK, StartTLS: SpecIMAPStartTLS, NoStartTLS: SpecIMAPNoStartTLS, CleartextAuth: SpecIMAPCleartextAuth,
		Implicit: SpecIMAPImplicitTLS, StartTLSOnly: SpecIMAPStartTLSOnly, NoCapability: SpecIMAPNoRevision, NotOffered: SpecIMAPNotOffered,
		None: SpecIMAPNone, Unreachable: SpecIMAPUnreachable, Session: SpecIMAPSession, Skipped: SpecIMAPSkipped, Temperror: SpecIMAPTemperror,
		PortUnusual: SpecIMAPPortUnusual, Autoconfig: SpecIMAPAutoconfig, AutoconfigPlain: SpecIMAPAutoconfigPlain, CutShort: SpecIMAPCutShort},
	tls:     imapTLSSpecs,
	dane:    imapDANESpecs,
	fixHint: "refuse logins before TLS (Dovecot: disable_plaintext_auth = yes, or ssl = required; the server then advertises LOGINDISABLED)",
	hosts:   func(e *Env) []string { return e.Options.IMAP.Hosts },
}

// Meta implements Check.
func (IMAP) Meta() Meta {
	return Meta{Name: "imap", Title: "IMAP servers", Weight: 1, Findings: imapCatalog.Specs()}
}

// Run implements Check.
func (IMAP) Run(ctx context.Context, env *Env) Result { return runMailbox(ctx, env, imapService) }
