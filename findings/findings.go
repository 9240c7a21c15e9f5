// Package findings holds what every part of mailcheck says about a domain:
// the Severity scale, the Finding, the Spec each finding is made from (its
// stable ID, usual severity, RFC and summary), the bounds on what one
// finding carries, and the Catalog a check declares its specs in, once.
// It depends on no check, so the reporters and the embedded MTA use it
// without importing every check.
package findings

import (
	"encoding/json"
	"fmt"

	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// Severity grades one finding.
type Severity string

const (
	// Pass: the thing checked is right.
	Pass Severity = "pass"
	// Info: worth knowing; costs no points.
	Info Severity = "info"
	// Warn: works, but weaker than it should be, or fragile.
	Warn Severity = "warn"
	// Fail: mail will be rejected, spoofable, or exposed.
	Fail Severity = "fail"
	// Error: could not be evaluated (timeout, SERVFAIL, refused connection).
	// Never counted as a fail.
	Error Severity = "error"
)

// Rank orders severities for a check's status: fail > error > warn > info > pass.
func (s Severity) Rank() int {
	switch s {
	case Pass:
		return 0
	case Info:
		return 1
	case Warn:
		return 2
	case Error:
		return 3
	case Fail:
		return 4
	}
	return -1
}

// Valid reports whether s is one of the five severities.
func (s Severity) Valid() bool { return s.Rank() >= 0 }

// Finding is one statement about the domain.
type Finding struct {
	ID       string   `json:"id"`       // stable, dotted, lower case: "mx.cname"
	Severity Severity `json:"severity"` // pass, info, warn, fail, error
	Message  string   `json:"message"`  // what was found, in one or two sentences
	RFC      string   `json:"rfc"`      // what it rests on: "RFC 5321 §5.1"; may be empty
	Fix      string   `json:"fix"`      // the exact change to make; may be empty
	// Records is the evidence: the DNS records (presentation format),
	// SMTP lines or other raw material the finding rests on.
	Records []string `json:"records"`
	// RecordsOmitted counts evidence records left out by the bound on
	// records per finding (MaxRecords).
	RecordsOmitted int `json:"records_omitted,omitempty"`
	// Data carries structured details for machines (per-finding).
	Data any `json:"data,omitempty"`
	// Baseline is set with --baseline only: "new" when the earlier report
	// had no such finding, "unchanged" when it had.
	Baseline string `json:"baseline,omitempty"`
}

// Bounds on what one finding carries, whatever a peer sends: a report's
// size grows with the number of checks and causes, never with the size of
// an answer. Documented in docs/report.md.
const (
	MaxRecords      = 32      // evidence records per finding
	MaxRecordBytes  = 4096    // one record (a 4096-bit DKIM key record fits)
	MaxMessageBytes = 8192    // a message (an SPF include tree is laid out in one)
	MaxFixBytes     = 8192    // a fix (a complete SPF or DMARC record and its explanation)
	MaxPerID        = 32      // findings of one ID in one check; the rest are counted in check.truncated
	MaxCheckRecords = 1 << 20 // bytes of evidence records in one check; the rest are counted, not kept
)

// Spec describes a finding ID in the catalogue: every finding a check emits
// is made from one of the specs the check lists in its Meta.
type Spec struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"` // the usual severity
	RFC      string   `json:"rfc"`
	Summary  string   `json:"summary"` // one line, for the catalogue
}

// New makes a finding of this spec with the spec's severity.
func (s Spec) New(format string, args ...any) Finding {
	return Finding{ID: s.ID, Severity: s.Severity, RFC: s.RFC, Message: fmt.Sprintf(format, args...), Records: []string{}}
}

// As makes a finding of this spec with another severity (for IDs whose
// weight depends on context, e.g. a missing MX with or without fallback).
func (s Spec) As(sev Severity, format string, args ...any) Finding {
	f := s.New(format, args...)
	f.Severity = sev
	return f
}

// WithFix returns f with its fix set.
func (f Finding) WithFix(format string, args ...any) Finding {
	f.Fix = fmt.Sprintf(format, args...)
	return f
}

// WithRecords returns f with evidence appended, at most MaxRecords of it:
// the rest is counted in RecordsOmitted.
func (f Finding) WithRecords(recs ...string) Finding {
	room := max(MaxRecords-len(f.Records), 0)
	keep := recs[:min(len(recs), room)]
	f.Records = append(append(make([]string, 0, len(f.Records)+len(keep)), f.Records...), keep...)
	f.RecordsOmitted += len(recs) - len(keep)
	return f
}

// Bounded returns f with its text made safe to print (no control bytes,
// valid UTF-8) and within the size bounds above. The runner applies it to
// every finding, as a last guard behind the sanitising done where peer
// text enters.
func (f Finding) Bounded() Finding {
	f.Message = sanitize.Multiline(f.Message, MaxMessageBytes)
	f.Fix = sanitize.Multiline(f.Fix, MaxFixBytes)
	f.RFC = sanitize.Line(f.RFC, 200)
	if len(f.Records) > MaxRecords {
		f.RecordsOmitted += len(f.Records) - MaxRecords
		f.Records = f.Records[:MaxRecords]
	}
	recs := make([]string, len(f.Records))
	for i, r := range f.Records {
		recs[i] = sanitize.Line(r, MaxRecordBytes)
	}
	f.Records = recs
	return f
}

// WithData returns f with structured details.
func (f Finding) WithData(d any) Finding {
	f.Data = d
	return f
}

// MarshalJSON keeps records an array (never null) in the stable schema.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	if f.Records == nil {
		f.Records = []string{}
	}
	return json.Marshal(plain(f))
}

// Catalog collects the specs of one check (or of the runner) in the
// order they are declared, so that each ID is written once: a check
// declares `SpecX = catalog.Add(Spec{...})` and its Meta lists
// catalog.Specs().
type Catalog struct{ specs []Spec }

// Add records s and returns it.
func (c *Catalog) Add(s Spec) Spec {
	c.specs = append(c.specs, s)
	return s
}

// Specs returns the specs added, in order.
func (c *Catalog) Specs() []Spec { return append([]Spec(nil), c.specs...) }
