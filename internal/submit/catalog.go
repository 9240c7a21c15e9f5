package submit

import "github.com/mailcheck/mailcheck/findings"

// Catalog declares the finding IDs of `mailcheck send-test`, each once;
// docs/sendtest.md documents them, one row per ID.
var Catalog findings.Catalog

// The finding specs of the submission dialogue and of the DKIM key test.
var (
	SpecConnect       = add("submit.connect-failed", findings.Error, "RFC 6409 §3.1", "the submission server could not be reached, or its greeting was not 220: nothing was sent")
	SpecTLSOK         = add("submit.tls-ok", findings.Pass, "RFC 8314 §3, RFC 8996", "the submission used TLS 1.2 or later (version and cipher)")
	SpecTLSOld        = add("submit.tls-old", findings.Warn, "RFC 8996", "the submission server negotiated TLS older than 1.2")
	SpecTLSMissing    = add("submit.starttls-missing", findings.Fail, "RFC 3207 §4, RFC 8314 §3.3", "the server offers no STARTTLS: nothing was sent, no password in plain text")
	SpecTLSFailed     = add("submit.tls-failed", findings.Fail, "RFC 8314 §3", "the TLS handshake failed: nothing was sent")
	SpecCertOK        = add("submit.cert-ok", findings.Pass, "RFC 8314 §4.1, RFC 6125", "the server's certificate verified against the roots (system or --ca-file) for the --via host name")
	SpecCertBad       = add("submit.cert-invalid", findings.Fail, "RFC 8314 §4.1, RFC 6125", "the server's certificate did not verify (untrusted, expired, wrong name): the password is not sent to it")
	SpecAuthAfterTLS  = add("submit.auth-after-tls", findings.Pass, "RFC 8314 §3, RFC 4954 §4", "AUTH is offered only after TLS")
	SpecAuthPlaintext = add("submit.auth-before-tls", findings.Warn, "RFC 8314 §3, RFC 4954 §4", "AUTH is offered before STARTTLS: a client that does not insist on TLS sends the password in clear")
	SpecAuthMissing   = add("submit.auth-not-offered", findings.Fail, "RFC 4954 §3, RFC 6409 §4.3", "--auth-user was given but the server offers no AUTH PLAIN after TLS")
	SpecAuthOK        = add("submit.auth-ok", findings.Pass, "RFC 4954 §4, RFC 4616", "AUTH PLAIN succeeded (the password is never printed)")
	SpecAuthFailed    = add("submit.auth-failed", findings.Fail, "RFC 4954 §6", "AUTH PLAIN was refused (the server's reply is quoted)")
	SpecAccepted      = add("submit.accepted", findings.Pass, "RFC 5321 §4.1.1.4", "the server accepted the message: its final reply to DATA (usually with a queue id)")
	SpecRejected      = add("submit.rejected", findings.Fail, "RFC 5321 §4.2", "MAIL, RCPT or DATA was refused, or the dialogue broke off: the command and the server's reply")
	SpecKeyMatch      = add("submit.dkim-key-match", findings.Pass, "RFC 6376 §3.6.1", "the public key published at the selector matches the --dkim-key private key")
	SpecKeyMismatch   = add("submit.dkim-key-mismatch", findings.Fail, "RFC 6376 §3.6.1", "the key published at the selector is another key (or another type): receivers will fail this signature")
	SpecKeyMissing    = add("submit.dkim-key-missing", findings.Fail, "RFC 6376 §6.1.2", "no usable key record at the selector (none, revoked, or unparseable)")
	SpecKeyTempError  = add("submit.dkim-key-temperror", findings.Error, "RFC 6376 §6.1.2", "the selector's key record could not be looked up: not evaluated")
)

// add declares one spec in Catalog.
func add(id string, sev findings.Severity, rfc, summary string) findings.Spec {
	return Catalog.Add(findings.Spec{ID: id, Severity: sev, RFC: rfc, Summary: summary})
}
