package dkim

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// LookupTXT adapts r to go-msgauth's VerifyOptions.LookupTXT, so that
// signature verification asks the project's resolver (zone files,
// --offline, the per-run cache and --trace all apply) under ctx instead of
// net.LookupTXT.
//
// go-msgauth tells temporary from permanent DNS failures through
// net.Error's Temporary method, so failures are returned as *net.DNSError:
// SERVFAIL, timeouts and other resolver errors are temporary (the
// signature's result is temperror, RFC 6376 §6.1.2), NXDOMAIN and
// malformed names are not (permerror). A name without TXT records returns
// an empty list.
func LookupTXT(ctx context.Context, r resolve.Resolver) func(name string) ([]string, error) {
	return func(name string) ([]string, error) {
		fqdn := dns.Fqdn(strings.ToLower(name))
		if _, ok := dns.IsDomainName(fqdn); !ok || strings.ContainsAny(fqdn, " \t\r\n\\\"") {
			return nil, &net.DNSError{Err: "invalid key record name", Name: name, IsNotFound: true}
		}
		txts, ans, err := resolve.TXT(ctx, r, fqdn)
		if err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: name, UnwrapErr: err,
				IsTemporary: resolve.IsTemporary(err), IsTimeout: errors.Is(err, resolve.ErrTimeout),
				IsNotFound: !resolve.IsTemporary(err)}
		}
		if ans.NXDomain() {
			return nil, &net.DNSError{Err: "NXDOMAIN", Name: name, IsNotFound: true}
		}
		return txts, nil
	}
}

// Status is the result of verifying one signature (RFC 6376 §6.1, in the
// terms of RFC 8601 §2.7.1).
type Status string

const (
	// StatusPass: the signature verified.
	StatusPass Status = "pass"
	// StatusFail: the signature or the body hash did not verify.
	StatusFail Status = "fail"
	// StatusPermError: the signature cannot be verified: malformed,
	// expired, key missing, revoked, too weak or of the wrong type.
	StatusPermError Status = "permerror"
	// StatusTempError: the key could not be fetched (DNS failure).
	StatusTempError Status = "temperror"
)

// Verdict is one signature's result.
type Verdict struct {
	Domain     string // d=
	Identifier string // i=
	Status     Status
	Err        error // nil on pass
}

// MaxSignatures is how many signatures of one message Verify checks.
const MaxSignatures = 16

// MaxMessageSize caps how much of a message Verify reads.
const MaxMessageSize = 64 << 20

// Verify checks every DKIM signature of a raw message (CRLF line endings)
// with go-msgauth, fetching keys through r under ctx. The error is set only
// when the message header cannot be read at all.
func Verify(ctx context.Context, r resolve.Resolver, msg io.Reader) ([]Verdict, error) {
	vs, err := msgdkim.VerifyWithOptions(io.LimitReader(msg, MaxMessageSize), &msgdkim.VerifyOptions{
		LookupTXT:        LookupTXT(ctx, r),
		MaxVerifications: MaxSignatures,
	})
	if err != nil && !errors.Is(err, msgdkim.ErrTooManySignatures) {
		return nil, err
	}
	out := make([]Verdict, 0, len(vs))
	for _, v := range vs {
		out = append(out, Verdict{Domain: v.Domain, Identifier: v.Identifier, Status: Classify(v.Err), Err: v.Err})
	}
	return out, nil
}

// Classify maps a go-msgauth verification error to a Status.
func Classify(err error) Status {
	switch {
	case err == nil:
		return StatusPass
	case msgdkim.IsTempFail(err):
		return StatusTempError
	case msgdkim.IsPermFail(err):
		return StatusPermError
	}
	return StatusFail
}
