package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"

	"github.com/mailcheck/mailcheck/checks"
)

// SARIF 2.1.0 (OASIS): one log, one run per invocation. The mapping of
// severities (docs/formats.md):
//
//	fail  → result, level "error"
//	warn  → result, level "warning"
//	info  → result, level "note"
//	pass  → result, kind "pass" (level "none", as §3.27.9 requires for a kind other than "fail")
//	error → no result: a toolExecutionNotifications entry of level "error"
//	        (the finding could not be evaluated; nothing is claimed about the domain)
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string            `json:"id"`
	ShortDescription sarifText         `json:"shortDescription"`
	Help             sarifText         `json:"help"`
	HelpURI          string            `json:"helpUri"`
	Default          sarifRuleDefault  `json:"defaultConfiguration"`
	Properties       map[string]string `json:"properties,omitempty"`
}

type sarifRuleDefault struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications"`
}

type sarifNotification struct {
	Level      string           `json:"level"`
	Message    sarifText        `json:"message"`
	Descriptor *sarifDescriptor `json:"associatedRule,omitempty"`
	Locations  []sarifLocation  `json:"locations,omitempty"`
	Properties map[string]any   `json:"properties,omitempty"`
}

type sarifDescriptor struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
}

type sarifResult struct {
	RuleID        string            `json:"ruleId"`
	RuleIndex     int               `json:"ruleIndex"`
	Kind          string            `json:"kind"`
	Level         string            `json:"level"`
	Message       sarifText         `json:"message"`
	Locations     []sarifLocation   `json:"locations"`
	Fingerprints  map[string]string `json:"partialFingerprints"`
	BaselineState string            `json:"baselineState,omitempty"`
	Properties    map[string]any    `json:"properties"`
}

type sarifLocation struct {
	Physical *sarifPhysical `json:"physicalLocation,omitempty"`
	Logical  []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifReporter gathers results and writes the log at End.
type sarifReporter struct {
	w      io.Writer
	opt    Options
	run    sarifRun
	ruleIx map[string]int
	failed bool
}

var _ Reporter = (*sarifReporter)(nil)

func newSARIFReporter(w io.Writer, opt Options) Reporter {
	return &sarifReporter{w: w, opt: opt, ruleIx: map[string]int{}}
}

// Begin implements Reporter: the rules come from the run's catalogue.
func (s *sarifReporter) Begin(run Run) error {
	name, ver, _ := strings.Cut(run.Tool, " ")
	s.run.Tool.Driver = sarifDriver{Name: name, Version: ver, InformationURI: RepoURL, Rules: []sarifRule{}}
	s.run.Results = []sarifResult{}
	for _, spec := range run.Catalogue {
		s.addRule(spec)
	}
	for _, spec := range checks.RunnerSpecs {
		s.addRule(spec)
	}
	return nil
}

// addRule adds a rule for spec unless its ID has one already.
func (s *sarifReporter) addRule(spec checks.Spec) {
	if _, ok := s.ruleIx[spec.ID]; ok {
		return
	}
	help := spec.Summary
	if spec.RFC != "" {
		help += " (" + spec.RFC + ")"
	}
	rule := sarifRule{ID: spec.ID, ShortDescription: sarifText{spec.Summary}, Help: sarifText{help},
		HelpURI: helpURI(spec.ID), Default: sarifRuleDefault{Level: sarifLevel(spec.Severity)}}
	if spec.RFC != "" {
		rule.Properties = map[string]string{"rfc": spec.RFC}
	}
	s.ruleIx[spec.ID] = len(s.run.Tool.Driver.Rules)
	s.run.Tool.Driver.Rules = append(s.run.Tool.Driver.Rules, rule)
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(sev checks.Severity) string {
	switch sev {
	case checks.Fail, checks.Error:
		return "error"
	case checks.Warn:
		return "warning"
	case checks.Info:
		return "note"
	}
	return "none"
}

// Report implements Reporter.
func (s *sarifReporter) Report(r *Report) error {
	eachFinding(r, func(c *checks.CheckResult, f *checks.Finding) {
		s.addRule(checks.Spec{ID: f.ID, Severity: f.Severity, RFC: f.RFC, Summary: f.ID})
		locs := s.locations(r, f)
		if f.Severity == checks.Error {
			s.run.Invocations = s.invocation()
			inv := &s.run.Invocations[0]
			inv.Notifications = append(inv.Notifications, sarifNotification{Level: "error",
				Message: sarifText{f.Message}, Descriptor: &sarifDescriptor{ID: f.ID, Index: s.ruleIx[f.ID]},
				Locations: locs, Properties: map[string]any{"domain": r.Domain, "check": c.Name}})
			return
		}
		s.run.Results = append(s.run.Results, s.result(r, c, f, locs))
	})
	s.failed = s.failed || r.Interrupted
	return nil
}

// invocation returns the run's one invocation, created on first use.
func (s *sarifReporter) invocation() []sarifInvocation {
	if len(s.run.Invocations) == 0 {
		return []sarifInvocation{{ExecutionSuccessful: true, Notifications: []sarifNotification{}}}
	}
	return s.run.Invocations
}

// result turns one finding into a SARIF result.
func (s *sarifReporter) result(r *Report, c *checks.CheckResult, f *checks.Finding, locs []sarifLocation) sarifResult {
	res := sarifResult{RuleID: f.ID, RuleIndex: s.ruleIx[f.ID], Kind: "fail", Level: sarifLevel(f.Severity),
		Message: sarifText{f.Message}, Locations: locs,
		Fingerprints:  map[string]string{"mailcheck/v1": fingerprint(r.Domain, c.Name, f)},
		BaselineState: baselineState(f.Baseline),
		Properties:    map[string]any{"domain": r.Domain, "check": c.Name, "severity": string(f.Severity)}}
	if f.Severity == checks.Pass {
		res.Kind = "pass"
	}
	if f.Fix != "" {
		res.Properties["fix"] = f.Fix
	}
	if f.RFC != "" {
		res.Properties["rfc"] = f.RFC
	}
	if len(f.Records) > 0 {
		res.Properties["records"] = f.Records
	}
	return res
}

// locations places a finding: at the zone-file line of its first record
// that one of the --zone files holds, and always at the domain.
func (s *sarifReporter) locations(r *Report, f *checks.Finding) []sarifLocation {
	loc := sarifLocation{Logical: []sarifLogical{{Name: r.Domain, FullyQualifiedName: r.Domain, Kind: "domain"}}}
	if s.opt.Locate != nil {
		for _, rec := range f.Records {
			if file, line, ok := s.opt.Locate(rec); ok {
				loc.Physical = &sarifPhysical{Artifact: sarifArtifact{URI: fileURI(file)}, Region: sarifRegion{StartLine: line}}
				break
			}
		}
	}
	return []sarifLocation{loc}
}

// fileURI makes a relative URI reference of a file path.
func fileURI(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "./"), "\\", "/")
}

// baselineState maps a finding's baseline mark to SARIF's.
func baselineState(mark string) string {
	switch mark {
	case BaselineNew:
		return "new"
	case BaselineUnchanged:
		return "unchanged"
	}
	return ""
}

// fingerprint identifies a finding across runs: the domain, check, ID
// and the normalised key that baselines match on.
func fingerprint(domain, check string, f *checks.Finding) string {
	sum := sha256.Sum256([]byte(domain + "\x00" + check + "\x00" + f.ID + "\x00" + findingKey(f)))
	return hex.EncodeToString(sum[:16])
}

// End implements Reporter: the whole log, indented.
func (s *sarifReporter) End(sum RunSummary) error {
	s.run.Invocations = s.invocation()
	s.run.Invocations[0].ExecutionSuccessful = !s.failed && !sum.Interrupted
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{s.run}}
	enc := json.NewEncoder(s.w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
