// Package mtasts implements SMTP MTA Strict Transport Security (RFC
// 8461): the TXT record at _mta-sts.<domain> that announces a policy,
// the policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt,
// the matching of MX hosts against its patterns, and the fetch of the
// policy with the rules RFC 8461 §3.3 sets for senders (no redirects, a
// certificate valid for the policy host, HTTP 200 only, text/plain, a
// size cap). Every deviation is a typed Problem.
package mtasts

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// Version is the version field every MTA-STS TXT record starts with
// (RFC 8461 §3.1: %s"v=STSv1", case-sensitive).
const Version = "v=STSv1"

// wsp is the ABNF's WSP: space and horizontal tab.
const wsp = " \t"

// Kind classifies a Problem of a record or a policy.
type Kind string

// The kinds of problem the parsers report.
const (
	KindVersion   Kind = "version"         // the version field is missing or wrong
	KindID        Kind = "id"              // the record's id is missing or not 1-32 alphanumerics
	KindDuplicate Kind = "duplicate"       // a field that may appear once appears again
	KindField     Kind = "malformed-field" // a field or line that is not name=value / key: value
	KindMode      Kind = "mode"            // the policy's mode is missing or not enforce, testing or none
	KindMaxAge    Kind = "max-age"         // the policy's max_age is missing, not a number, or too large
	KindMX        Kind = "mx"              // no mx pattern, or one that is not a host name pattern
	KindMXAddress Kind = "mx-address"      // an mx pattern is an IP address: senders match names only
)

// Problem is one deviation from RFC 8461.
type Problem struct {
	Kind    Kind   `json:"kind"`
	Field   string `json:"field,omitempty"` // the tag or key at fault
	Message string `json:"message"`
}

// Extension is a record tag RFC 8461 does not define (sts-extension).
type Extension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Record is a parsed MTA-STS TXT record.
type Record struct {
	Text       string      `json:"text"`
	ID         string      `json:"id"`
	Extensions []Extension `json:"extensions"`
	Problems   []Problem   `json:"problems"`
}

// Valid reports whether senders use the record (RFC 8461 §3.1: an
// invalid record means no policy).
func (r *Record) Valid() bool { return len(r.Problems) == 0 }

// Selected reports whether a TXT record counts as an MTA-STS record: it
// starts with v=STSv1 (RFC 8461 §3.1 has senders discard the others).
func Selected(txt string) bool {
	rest, ok := strings.CutPrefix(txt, Version)
	return ok && (rest == "" || strings.IndexByte(";"+wsp, rest[0]) >= 0)
}

// ParseRecord parses one TXT record's text as an MTA-STS record (RFC
// 8461 §3.1 ABNF): v=STSv1 first, a required id of 1 to 32 letters and
// digits, extension tags tolerated, fields separated by ";".
func ParseRecord(txt string) *Record {
	r := &Record{Text: txt, Extensions: []Extension{}, Problems: []Problem{}}
	fields := strings.Split(txt, ";")
	if strings.TrimRight(fields[0], wsp) != Version {
		r.problem(KindVersion, "v", "the record must start with %s, in that case and with nothing before it; it starts with %q", Version, shorten(fields[0], 24))
	}
	seenID := false
	for i, f := range fields[1:] {
		body := strings.Trim(f, wsp)
		if body == "" {
			if i != len(fields)-2 {
				r.problem(KindField, "", "an empty field (\";;\"): fields are separated by a single \";\"")
			}
			continue
		}
		name, value, ok := strings.Cut(body, "=")
		switch {
		case !ok:
			r.problem(KindField, "", "%q is not a name=value field", shorten(body, 40))
		case name == "id" && seenID:
			r.problem(KindDuplicate, "id", "id appears more than once")
		case name == "id":
			seenID = true
			r.ID = value
			if !validID(value) {
				r.problem(KindID, "id", "id=%q must be 1 to 32 letters and digits (RFC 8461 §3.1)", shorten(value, 40))
			}
		case name == "v":
			r.problem(KindDuplicate, "v", "v= may appear only once, as the first field")
		default:
			r.extension(name, value)
		}
	}
	if !seenID {
		r.problem(KindID, "id", "the record has no id field: senders need it to know when the policy changes")
	}
	return r
}

// extension records a tag RFC 8461 does not define, checking its
// grammar: a name of 1-32 letters, digits, "_", "-", "." starting with a
// letter or digit, and a value of printable characters other than "="
// and ";".
func (r *Record) extension(name, value string) {
	r.Extensions = append(r.Extensions, Extension{Name: name, Value: value})
	if !validExtName(name) {
		r.problem(KindField, name, "%q is not a valid tag name (letters, digits, \"_\", \"-\", \".\"; at most 32)", shorten(name, 40))
		return
	}
	for _, c := range []byte(value) {
		if c <= ' ' || c >= 0x7f || c == '=' {
			r.problem(KindField, name, "the value of %s contains %q, which the grammar does not allow", name, string(rune(c)))
			return
		}
	}
	if value == "" {
		r.problem(KindField, name, "the tag %s has an empty value", name)
	}
}

func (r *Record) problem(k Kind, field, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: k, Field: field, Message: fmt.Sprintf(format, args...)})
}

// validID reports whether id is 1 to 32 ASCII letters and digits.
func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range []byte(id) {
		if !isAlnum(c) {
			return false
		}
	}
	return true
}

func validExtName(n string) bool {
	if n == "" || len(n) > 32 || !isAlnum(n[0]) {
		return false
	}
	for _, c := range []byte(n) {
		if !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// shorten cuts s to n bytes for a message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RecordName returns the name a domain's MTA-STS record is published at.
func RecordName(domain string) string { return "_mta-sts." + strings.TrimSuffix(domain, ".") }

// Lookup is what discovery found at a domain's _mta-sts name.
type Lookup struct {
	Name     string   `json:"name"`     // _mta-sts.<domain>
	Texts    []string `json:"texts"`    // every TXT record at the name (after any CNAME)
	Selected []string `json:"selected"` // the ones that count (Selected)
	// Record is the selected record, parsed, when there is exactly one.
	Record *Record `json:"record,omitempty"`
	// Answer is the DNS answer, for evidence; nil when the lookup failed.
	Answer *resolve.Answer `json:"-"`
}

// LookupRecord fetches and selects the MTA-STS record of domain (an
// A-label name); the resolver follows a CNAME at the name. A failed
// lookup is an error, never an absent record.
func LookupRecord(ctx context.Context, r resolve.Resolver, domain string) (*Lookup, error) {
	txt, err := resolve.LookupTXTRecords(ctx, r, RecordName(domain), Selected)
	res := &Lookup{Name: txt.Name, Texts: txt.Texts, Selected: txt.Selected, Answer: txt.Answer}
	if err == nil && len(res.Selected) == 1 {
		res.Record = ParseRecord(res.Selected[0])
	}
	return res, err
}

// Evidence renders the answer's records (the CNAME chain, then the TXT
// records) in presentation format, or what the answer said when it holds
// none.
func (l *Lookup) Evidence() []string { return resolve.TXTEvidence(l.Name, l.Answer) }

// TXTRecord renders a record with id as a zone-file line for domain.
func TXTRecord(domain, id string) string {
	return fmt.Sprintf("%s. IN TXT \"%s; id=%s\"", RecordName(domain), Version, id)
}
