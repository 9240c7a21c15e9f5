// Package dkim audits DKIM public-key records (RFC 6376 §3.6.1, RFC 8301,
// RFC 8463): it parses key records (go-msgauth's parser is not exported),
// measures the key in p=, probes a domain's selectors through a
// resolve.Resolver with wildcard detection, and adapts a resolve.Resolver
// to go-msgauth's signature verification so that verification never does
// a DNS lookup of its own.
package dkim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is wrapped by every *SyntaxError.
var ErrSyntax = errors.New("dkim: key record syntax")

// SyntaxError says which tag of a key record is wrong and how.
type SyntaxError struct {
	Tag string // the tag at fault; empty when the tag list itself is broken
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Tag == "" {
		return e.Msg
	}
	return e.Tag + "=: " + e.Msg
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func syntaxErr(tag, format string, args ...any) error {
	return &SyntaxError{Tag: tag, Msg: fmt.Sprintf(format, args...)}
}

// Tag is one tag=value pair of a tag list (RFC 6376 §3.2), as written
// (surrounding whitespace removed).
type Tag struct {
	Name  string
	Value string
}

// MaxRecordLen caps the record text the parser looks at; real keys
// (RSA-4096 in SubjectPublicKeyInfo form) take under 800 octets.
const MaxRecordLen = 16 << 10

// ParseTags splits a tag list (RFC 6376 §3.2). Tag names are checked
// against the grammar (ALPHA *(ALPHA / DIGIT / "_")), values may hold only
// VALCHARs and whitespace, and a duplicate tag invalidates the whole list.
// An empty element (";;") is tolerated and reported in warnings.
func ParseTags(s string) (tags []Tag, warnings []string, err error) {
	if len(s) > MaxRecordLen {
		return nil, nil, syntaxErr("", "the record is %d octets long; a key record is under %d", len(s), MaxRecordLen)
	}
	seen := map[string]bool{}
	parts := strings.Split(s, ";")
	for i, part := range parts {
		if trimWS(part) == "" {
			if i != len(parts)-1 { // a trailing ";" is allowed
				warnings = append(warnings, fmt.Sprintf("empty element at position %d (\";;\" or a leading \";\"); some verifiers reject the record", i+1))
			}
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, warnings, syntaxErr("", "%q is not a tag=value pair", shorten(trimWS(part)))
		}
		name, value = trimWS(name), trimWS(value)
		if err := checkTagName(name); err != nil {
			return nil, warnings, err
		}
		for j := 0; j < len(value); j++ {
			c := value[j]
			if !(c >= 0x21 && c <= 0x7e) && !isWS(c) {
				what := fmt.Sprintf("character %q", c)
				if c >= 0x80 {
					// A byte of a UTF-8 sequence: %q would print it as
					// the Latin-1 letter it is not.
					what = fmt.Sprintf("non-ASCII octet 0x%02X", c)
				}
				return nil, warnings, syntaxErr(name, "%s at offset %d is not allowed in a tag value (printable ASCII only; encode text in n= as quoted-printable)", what, j)
			}
		}
		if seen[name] {
			return nil, warnings, syntaxErr(name, "the tag appears more than once, which invalidates the whole record (RFC 6376 §3.2)")
		}
		seen[name] = true
		tags = append(tags, Tag{Name: name, Value: value})
	}
	return tags, warnings, nil
}

func checkTagName(name string) error {
	if name == "" {
		return syntaxErr("", "a tag has an empty name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !alpha || !alpha && !(c >= '0' && c <= '9') && c != '_' {
			return syntaxErr("", "%q is not a valid tag name", shorten(name))
		}
	}
	return nil
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimWS(s string) string { return strings.Trim(s, " \t\r\n") }

// stripWS removes all whitespace (FWS is allowed inside base64 and lists).
func stripWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isWS(byte(r)) {
			return -1
		}
		return r
	}, s)
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// Record is a parsed DKIM key record (RFC 6376 §3.6.1).
type Record struct {
	Tags []Tag // every tag, in order, unknown ones included

	Version string // v=, "" when absent (DKIM1 is implied)
	// KeyType is k=: "rsa" (the default) or "ed25519".
	KeyType string
	// HashAlgs lists h= as written; nil when absent (all algorithms).
	HashAlgs []string
	// PublicKey is p= with whitespace removed, still base64; empty for a
	// revoked key.
	PublicKey string
	// Services lists s=; nil when absent ("*": any service).
	Services []string
	// Flags lists t= ("y" testing, "s" strict identity); nil when absent.
	Flags []string
	Notes string // n=

	// Warnings are problems that do not make the record unusable.
	Warnings []string
}

// KeyTypes are the k= values verifiers know (RFC 6376, RFC 8463).
var KeyTypes = []string{"rsa", "ed25519"}

// Parse parses a key record, the TXT record's strings already joined.
// A *SyntaxError (errors.Is(err, ErrSyntax)) means verifiers discard the
// record: a broken tag list, a v= other than DKIM1, a missing p=, an
// unknown k=, an h= naming no known algorithm. The key inside p= is not
// decoded here: see Record.Key.
func Parse(txt string) (*Record, error) {
	r, err := parse(txt)
	var se *SyntaxError
	if errors.As(err, &se) && strings.Contains(txt, `\;`) {
		se.Msg += `; the record contains backslash-escaped semicolons ("\;"): the zone tooling escaped them twice, so the backslashes are part of the published values`
	}
	return r, err
}

// parse is Parse without the hint on escaped semicolons: it splits the
// tag list, then hands each tag to its handler in keyTagHandlers, then
// checks that p= is there.
func parse(txt string) (*Record, error) {
	tags, warnings, err := ParseTags(txt)
	if err != nil {
		return nil, err
	}
	r := &Record{Tags: tags, KeyType: "rsa", Warnings: warnings}
	if strings.Contains(txt, `\;`) {
		r.Warnings = append(r.Warnings, `the record contains backslash-escaped semicolons ("\;"): the zone tooling escaped them twice, so the backslashes are part of the published values`)
	}
	hasP := false
	for i, t := range tags {
		hasP = hasP || t.Name == "p"
		if handle := keyTagHandlers[t.Name]; handle != nil {
			if err := handle(r, i, t.Value); err != nil {
				return nil, err
			}
		}
	}
	if !hasP {
		return nil, syntaxErr("p", "the record has no p= tag: the public key is required (an empty p= revokes a key)")
	}
	return r, nil
}

// keyTagHandler reads the value of the i-th tag into r, or says why
// verifiers discard the record. Tags appear once (ParseTags).
type keyTagHandler func(r *Record, i int, value string) error

// keyTagHandlers holds the handler of each tag of a key record
// (RFC 6376 §3.6.1) plus g=, which RFC 4871 had; other tags are ignored.
var keyTagHandlers = map[string]keyTagHandler{
	"v": parseVersion,
	"k": parseKeyType,
	"h": parseHashAlgs,
	"p": func(r *Record, _ int, v string) error { r.PublicKey = stripWS(v); return nil },
	"s": func(r *Record, _ int, v string) error { r.Services = splitList(v); return nil },
	"t": parseFlags,
	"n": func(r *Record, _ int, v string) error { r.Notes = v; return nil },
	"g": parseGranularity,
}

// parseVersion handles v=, which must be DKIM1 and should come first.
func parseVersion(r *Record, i int, v string) error {
	if v != "DKIM1" {
		return syntaxErr("v", "%q is not a DKIM key record version: it must be exactly \"DKIM1\"", v)
	}
	if i != 0 {
		r.Warnings = append(r.Warnings, "v=DKIM1 must be the first tag of the record (RFC 6376 §3.6.1)")
	}
	r.Version = v
	return nil
}

// parseKeyType handles k=.
func parseKeyType(r *Record, _ int, v string) error {
	switch v {
	case "rsa", "ed25519":
		r.KeyType = v
		return nil
	case "":
		return syntaxErr("k", "the key type is empty (rsa or ed25519)")
	}
	hint := ""
	if strings.HasPrefix(v, "rsa") {
		hint = `; the hash belongs in h=, e.g. "k=rsa; h=sha256"`
	} else if strings.HasPrefix(v, "ed25519") {
		hint = `; write "k=ed25519"`
	}
	return syntaxErr("k", "%q is not a key type verifiers know (rsa or ed25519)%s", v, hint)
}

// parseHashAlgs handles h=, which must name a hash verifiers know.
func parseHashAlgs(r *Record, _ int, v string) error {
	r.HashAlgs = splitList(v)
	for _, h := range r.HashAlgs {
		if h == "sha1" || h == "sha256" {
			return nil
		}
	}
	return syntaxErr("h", "%q names no hash algorithm verifiers know (sha256, sha1): no signature can use this key", v)
}

// parseFlags handles t=; unknown flags are a warning.
func parseFlags(r *Record, _ int, v string) error {
	r.Flags = splitList(v)
	for _, f := range r.Flags {
		if f != "y" && f != "s" {
			r.Warnings = append(r.Warnings, fmt.Sprintf("t=: unknown flag %q is ignored by verifiers (known: y, s)", f))
		}
	}
	return nil
}

// parseGranularity handles g=, which RFC 6376 removed: anything but "*"
// is a warning.
func parseGranularity(r *Record, _ int, v string) error {
	if v != "*" {
		r.Warnings = append(r.Warnings, fmt.Sprintf("g=%s: the granularity tag was removed by RFC 6376, but RFC 4871 verifiers still apply it and reject signatures whose local part does not match; remove it", v))
	}
	return nil
}

// splitList splits a colon-separated list, dropping whitespace.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ":") {
		out = append(out, stripWS(e))
	}
	return out
}

// Revoked reports an empty p= (RFC 6376 §3.6.1: the key was revoked).
func (r *Record) Revoked() bool { return r.PublicKey == "" }

// Testing reports t=y: verifiers must treat the domain's signed mail as
// unsigned (RFC 6376 §3.6.1).
func (r *Record) Testing() bool { return r.hasFlag("y") }

// Strict reports t=s: the i= domain must equal d=.
func (r *Record) Strict() bool { return r.hasFlag("s") }

func (r *Record) hasFlag(f string) bool {
	for _, x := range r.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// SHA1Only reports an h= that allows sha1 and no sha256: every signature
// would be rsa-sha1, which RFC 8301 §3.1 forbids verifiers to accept.
func (r *Record) SHA1Only() bool {
	if r.HashAlgs == nil {
		return false
	}
	sha1 := false
	for _, h := range r.HashAlgs {
		switch h {
		case "sha256":
			return false
		case "sha1":
			sha1 = true
		}
	}
	return sha1
}

// ForEmail reports whether s= lets the key verify e-mail (absent, "*" or
// "email").
func (r *Record) ForEmail() bool {
	if r.Services == nil {
		return true
	}
	for _, s := range r.Services {
		if s == "*" || s == "email" {
			return true
		}
	}
	return false
}

// Key decodes and measures p=. It returns ErrRevoked for an empty p= and
// an error wrapping ErrKey when p= is not a usable key of type k=.
func (r *Record) Key() (*Key, error) {
	if r.Revoked() {
		return nil, ErrRevoked
	}
	der, err := base64.StdEncoding.DecodeString(r.PublicKey)
	if err != nil {
		if fixed := r.PaddedKey(); fixed != "" {
			k, _ := r.withKey(fixed)
			return nil, fmt.Errorf("%w: p= lacks the \"=\" padding at the end of its base64, so verifiers reject it (with the padding it is a valid %s key)", ErrKey, k)
		}
		return nil, fmt.Errorf("%w: p= is not valid base64: %v", ErrKey, err)
	}
	return ParseKey(r.KeyType, der)
}

// PaddedKey returns p= with its missing base64 "=" padding restored when
// that is all that is wrong with it (the padded value decodes to a valid
// key of type k=), else "". Verifiers decode p= strictly (go-msgauth,
// dkimpy), so an unpadded key fails every signature.
func (r *Record) PaddedKey() string {
	p := r.PublicKey
	if p == "" || len(p)%4 == 0 || strings.HasSuffix(p, "=") {
		return ""
	}
	fixed := p + strings.Repeat("=", 4-len(p)%4)
	if _, err := r.withKey(fixed); err != nil {
		return ""
	}
	return fixed
}

func (r *Record) withKey(p string) (*Key, error) {
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, err
	}
	return ParseKey(r.KeyType, der)
}

// String renders the record as a tag list in its original tag order.
func (r *Record) String() string { return FormatTags(r.Tags) }

// FormatTags renders tags as "a=1; b=2".
func FormatTags(tags []Tag) string {
	var b strings.Builder
	for _, t := range tags {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(t.Name)
		b.WriteByte('=')
		b.WriteString(t.Value)
	}
	return b.String()
}

// With returns the record's tags with tag name set to value (replacing it
// in place, or appended before p= when absent); an empty value with
// remove set drops the tag. It is how fixes are written.
func (r *Record) With(name, value string, remove bool) []Tag {
	var out []Tag
	done := false
	for _, t := range r.Tags {
		if t.Name == name {
			done = true
			if remove {
				continue
			}
			t.Value = value
		}
		out = append(out, t)
	}
	if !done && !remove {
		at := len(out)
		for i, t := range out {
			if t.Name == "p" {
				at = i
			}
		}
		out = append(out[:at], append([]Tag{{Name: name, Value: value}}, out[at:]...)...)
	}
	return out
}
