package checks

import (
	"encoding/json"
	"fmt"
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
	// Data carries structured details for machines (per-finding).
	Data any `json:"data,omitempty"`
}

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

// WithRecords returns f with evidence appended.
func (f Finding) WithRecords(recs ...string) Finding {
	f.Records = append(append([]string{}, f.Records...), recs...)
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
