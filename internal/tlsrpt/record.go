// Package tlsrpt parses and discovers SMTP TLS Reporting policies
// (RFC 8460): the TXT record at _smtp._tls.<domain> that tells sending
// servers where to report failed TLS negotiations (MTA-STS, DANE,
// STARTTLS).
//
// Parse follows the ABNF of RFC 8460 §3 to the letter: v=TLSRPTv1 first
// and case-sensitive, a required rua tag of one or more mailto: or https:
// URIs separated by commas, white space only around ";" and ",", and
// unknown extension tags tolerated. Every deviation is a typed Problem
// naming the tag or URI and what is wrong.
package tlsrpt

import (
	"fmt"
	"strings"
)

// Version is the version field every TLS-RPT record starts with, in this
// exact case (RFC 8460 §3: %s"v=TLSRPTv1").
const Version = "v=TLSRPTv1"

// wsp is the ABNF's WSP: space and horizontal tab.
const wsp = " \t"

// Kind classifies a Problem.
type Kind string

// The kinds of problem Parse reports.
const (
	KindVersion     Kind = "version"             // the record does not start with v=TLSRPTv1
	KindNoRUA       Kind = "no-rua"              // the required rua tag is absent
	KindDuplicate   Kind = "duplicate-tag"       // rua appears more than once
	KindField       Kind = "malformed-field"     // a field is not name=value, or its name or value is not allowed
	KindWhitespace  Kind = "whitespace"          // white space where the grammar allows none
	KindEmptyURI    Kind = "empty-uri"           // an empty entry in the rua list
	KindBareAddress Kind = "bare-address"        // an e-mail address without mailto:
	KindScheme      Kind = "unsupported-scheme"  // a URI that is neither mailto: nor https:
	KindUnencoded   Kind = "unencoded-character" // "!" inside a URI (",", ";" split it)
	KindURI         Kind = "invalid-uri"         // not a URI (RFC 3986)
	KindMailto      Kind = "invalid-mailto"      // a mailto: URI without a usable address
	KindHTTPS       Kind = "invalid-https"       // an https: URI that is not a valid URL
)

// Problem is one deviation from RFC 8460 §3.
type Problem struct {
	Kind Kind   `json:"kind"`
	Tag  string `json:"tag,omitempty"` // the tag at fault, as written ("" for the record)
	URI  string `json:"uri,omitempty"` // the rua entry at fault, as written
	// Message says what is wrong, naming the tag or URI.
	Message string `json:"message"`
	// Repaired is, when the fix is obvious, the URI to write instead.
	Repaired string `json:"repaired,omitempty"`
}

// Extension is a tag RFC 8460 does not define (tlsrpt-extension):
// senders ignore it.
type Extension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Record is a parsed TLS-RPT record.
type Record struct {
	Text       string      `json:"text"`
	RUA        []URI       `json:"rua"` // every rua entry, usable or not
	Extensions []Extension `json:"extensions"`
	Problems   []Problem   `json:"problems"`

	seenRUA bool // a rua tag was read, even an empty one
}

// Valid reports whether senders use the record: RFC 8460 §3 has them
// ignore a record that is syntactically invalid.
func (r *Record) Valid() bool { return len(r.Problems) == 0 }

// Parse parses one TXT record's text as a TLS-RPT record.
func Parse(txt string) *Record {
	r := &Record{Text: txt, RUA: []URI{}, Extensions: []Extension{}, Problems: []Problem{}}
	fields := strings.Split(txt, ";")
	if strings.HasPrefix(txt, Version) && strings.TrimRight(fields[0], wsp) == Version {
		if len(fields) == 1 && fields[0] != Version {
			r.problem(Problem{Kind: KindWhitespace, Tag: "v", Message: "white space after v=TLSRPTv1 is allowed only before the \";\" that follows it"})
		}
	} else {
		r.problem(Problem{Kind: KindVersion, Tag: "v", Message: fmt.Sprintf("the record must start with %s, in that case and with nothing before it; it starts with %q", Version, shorten(fields[0], 24))})
		if tagName(fields[0]) != "v" && strings.Contains(fields[0], "=") {
			// Another tag first: read it, so that its own problems show.
			r.field(fields[0], len(fields) == 1)
		}
	}
	rest := fields[1:]
	for i, f := range rest {
		last := i == len(rest)-1
		r.field(f, last)
	}
	if !r.seenRUA {
		r.noRUA()
	}
	return r
}

// field parses one field (the text between two ";"); last says whether
// it is the record's last one.
func (r *Record) field(f string, last bool) {
	body := strings.Trim(f, wsp)
	if body == "" {
		if !last {
			r.problem(Problem{Kind: KindField, Message: "an empty field (\";;\"): fields are separated by a single \";\""})
		}
		return
	}
	if last && strings.TrimRight(f, wsp) != f {
		r.problem(Problem{Kind: KindWhitespace, Tag: tagName(body), Message: fmt.Sprintf("white space after the last field %q is not allowed (end the record with the value, or with \";\")", shorten(body, 24))})
	}
	name, value, ok := strings.Cut(body, "=")
	switch {
	case !ok:
		r.problem(Problem{Kind: KindField, Message: fmt.Sprintf("%q is not a tag=value field", shorten(body, 40))})
	case strings.ContainsAny(name, wsp) || strings.HasPrefix(value, " ") || strings.HasPrefix(value, "\t"):
		r.problem(Problem{Kind: KindWhitespace, Tag: strings.Trim(name, wsp), Message: fmt.Sprintf("white space around \"=\" in %q: write %s=%s", shorten(body, 40), strings.Trim(name, wsp), strings.TrimLeft(value, wsp))})
	case name == "v":
		r.problem(Problem{Kind: KindField, Tag: "v", Message: "v= may appear only once, as the first field"})
	case name == "rua":
		r.rua(value)
	default:
		r.extension(name, value)
	}
}

// rua parses the value of a rua tag.
func (r *Record) rua(value string) {
	if r.seenRUA {
		r.problem(Problem{Kind: KindDuplicate, Tag: "rua", Message: "rua appears more than once: list every destination in one rua tag, separated by commas"})
		return
	}
	r.seenRUA = true
	if value == "" {
		r.problem(Problem{Kind: KindEmptyURI, Tag: "rua", Message: "rua is empty: it needs at least one mailto: or https: URI"})
		return
	}
	for _, raw := range strings.Split(value, ",") {
		u, p := parseURI(strings.Trim(raw, wsp))
		r.RUA = append(r.RUA, u)
		if p != nil {
			r.problem(*p)
		}
	}
}

// extension records a tag RFC 8460 does not define, checking its name
// and value against the grammar.
func (r *Record) extension(name, value string) {
	if !validExtName(name) {
		r.problem(Problem{Kind: KindField, Tag: name, Message: fmt.Sprintf("%q is not a valid tag name (a letter or digit, then up to 31 letters, digits, \"_\", \"-\" or \".\"; tags are case-sensitive)", shorten(name, 40))})
		return
	}
	if !validExtValue(value) {
		r.problem(Problem{Kind: KindField, Tag: name, Message: fmt.Sprintf("the value of %s, %q, must be one or more visible characters other than \"=\" and \";\"", name, shorten(value, 40))})
		return
	}
	r.Extensions = append(r.Extensions, Extension{Name: name, Value: value})
}

// noRUA reports the missing rua tag, with a hint when a tag differs from
// rua only in case.
func (r *Record) noRUA() {
	msg := "the required rua tag is missing: senders have nowhere to send reports"
	for _, e := range r.Extensions {
		if strings.EqualFold(e.Name, "rua") {
			msg = fmt.Sprintf("the required rua tag is missing: tag names are case-sensitive, so %s= is an unknown tag; write rua=", e.Name)
		}
	}
	r.problem(Problem{Kind: KindNoRUA, Tag: "rua", Message: msg})
}

func (r *Record) problem(p Problem) { r.Problems = append(r.Problems, p) }

// tagName returns the name of a tag=value field.
func tagName(field string) string {
	name, _, _ := strings.Cut(field, "=")
	return strings.Trim(name, wsp)
}

// validExtName matches tlsrpt-ext-name:
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func validExtName(s string) bool {
	if s == "" || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validExtValue matches tlsrpt-ext-value: 1*(%x21-3A / %x3C / %x3E-7E).
func validExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '=' || c == ';' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// shorten bounds quoted text in messages.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
