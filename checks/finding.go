package checks

import "github.com/mailcheck/mailcheck/findings"

// The finding types live in package findings; these aliases keep the
// checks' code short.
type (
	Severity = findings.Severity
	Finding  = findings.Finding
	Spec     = findings.Spec
)

// The severities (see package findings).
const (
	Pass  = findings.Pass
	Info  = findings.Info
	Warn  = findings.Warn
	Fail  = findings.Fail
	Error = findings.Error
)

// The bounds on a finding and a check's evidence (see package findings).
const (
	MaxRecords      = findings.MaxRecords
	MaxRecordBytes  = findings.MaxRecordBytes
	MaxMessageBytes = findings.MaxMessageBytes
	MaxFixBytes     = findings.MaxFixBytes
	MaxPerID        = findings.MaxPerID
	MaxCheckRecords = findings.MaxCheckRecords
)
