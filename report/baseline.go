package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/checks"
)

// The marks --baseline gives each finding (Finding.Baseline).
const (
	BaselineNew       = "new"
	BaselineUnchanged = "unchanged"
)

// BaselineResult is what comparing a report with the baseline found:
// counts, and the findings of the baseline that are gone ("fixed").
type BaselineResult struct {
	File      string       `json:"file"`
	New       int          `json:"new"`
	Unchanged int          `json:"unchanged"`
	Fixed     []FixedEntry `json:"fixed"`
}

// FixedEntry is a finding of the baseline that the report no longer has.
type FixedEntry struct {
	Check    string          `json:"check"`
	ID       string          `json:"id"`
	Severity checks.Severity `json:"severity"`
	Message  string          `json:"message"`
}

// Baseline is an earlier run: its findings per domain, by match key.
type Baseline struct {
	File    string
	domains map[string][]baseEntry
}

type baseEntry struct {
	key  string
	item FixedEntry
}

// LoadBaseline reads an earlier JSON report: one document, or JSON Lines
// of several domains (the output of --format json).
func LoadBaseline(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ReadBaseline(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b.File = path
	return b, nil
}

// ReadBaseline reads reports from r (see LoadBaseline).
func ReadBaseline(r io.Reader) (*Baseline, error) {
	b := &Baseline{domains: map[string][]baseEntry{}}
	dec := json.NewDecoder(r)
	for n := 0; ; n++ {
		var rep Report
		err := dec.Decode(&rep)
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return nil, errors.New("no report in the baseline")
			}
			return b, nil
		}
		if err != nil {
			return nil, fmt.Errorf("report %d: %w", n+1, err)
		}
		if rep.Domain == "" || rep.SchemaVersion == "" {
			return nil, fmt.Errorf("report %d: not a mailcheck JSON report", n+1)
		}
		eachFinding(&rep, func(c *checks.CheckResult, f *checks.Finding) {
			b.domains[rep.Domain] = append(b.domains[rep.Domain], baseEntry{key: matchKey(c.Name, f),
				item: FixedEntry{Check: c.Name, ID: f.ID, Severity: f.Severity, Message: f.Message}})
		})
	}
}

// Apply marks every finding of r new or unchanged and returns the counts
// and the baseline's findings that r no longer has. Pass findings that
// disappeared are not listed as fixed.
func (b *Baseline) Apply(r *Report) *BaselineResult {
	res := &BaselineResult{File: b.File, Fixed: []FixedEntry{}}
	left := map[string]int{}
	for _, e := range b.domains[r.Domain] {
		left[e.key]++
	}
	eachFinding(r, func(c *checks.CheckResult, f *checks.Finding) {
		k := matchKey(c.Name, f)
		if left[k] > 0 {
			left[k]--
			f.Baseline = BaselineUnchanged
			res.Unchanged++
			return
		}
		f.Baseline = BaselineNew
		res.New++
	})
	for _, e := range b.domains[r.Domain] {
		if left[e.key] > 0 && e.item.Severity != checks.Pass {
			left[e.key]--
			res.Fixed = append(res.Fixed, e.item)
		}
	}
	return res
}

// matchKey is what a finding is matched on across runs: check, ID and a
// normalised key (findingKey).
func matchKey(check string, f *checks.Finding) string {
	return check + "\x00" + f.ID + "\x00" + findingKey(f)
}

var digits = regexp.MustCompile(`[0-9]+`)

// findingKey normalises a finding for matching across runs: its records
// (TTLs zeroed, names lower-cased, sorted) when it has any, else its
// message with whitespace folded and numbers masked (durations, counts
// and days left change from run to run).
func findingKey(f *checks.Finding) string {
	if len(f.Records) == 0 {
		return digits.ReplaceAllString(strings.ToLower(oneLine(f.Message)), "#")
	}
	recs := make([]string, len(f.Records))
	for i, rec := range f.Records {
		recs[i] = normaliseRecord(rec)
	}
	sort.Strings(recs)
	return strings.Join(recs, "\n")
}

// normaliseRecord returns a DNS record without its TTL, or any other
// evidence line with whitespace folded.
func normaliseRecord(rec string) string {
	rr, err := dns.NewRR(rec)
	if err != nil || rr == nil {
		return oneLine(rec)
	}
	rr.Header().Ttl = 0
	rr.Header().Name = strings.ToLower(rr.Header().Name)
	return rr.String()
}

// GateNew judges r for `--fail-on new`: like Gate, except that only fail
// findings marked new fail it (NXDOMAIN still does).
func (r *Report) GateNew(failUnder int, allowIncomplete bool) Outcome {
	newFail := false
	eachFinding(r, func(_ *checks.CheckResult, f *checks.Finding) {
		newFail = newFail || f.Severity == checks.Fail && f.Baseline == BaselineNew
	})
	switch {
	case r.NXDomain || newFail:
		return Failed
	case !r.Graded || !r.Complete && !allowIncomplete:
		return Unevaluated
	case r.Score < failUnder:
		return Failed
	}
	return Passed
}

// baselineText marks the text report: the text format's own renderer is
// given a copy whose messages start with "[new]" or "[unchanged]", and a
// line after it lists the counts and what was fixed.
type baselineText struct {
	Reporter
	w io.Writer
}

// Report implements Reporter.
func (b baselineText) Report(r *Report) error {
	if r.Baseline == nil {
		return b.Reporter.Report(r)
	}
	cp := *r
	cp.Checks = make([]checks.CheckResult, len(r.Checks))
	for i, c := range r.Checks {
		c.Findings = append([]checks.Finding(nil), c.Findings...)
		for j := range c.Findings {
			if m := c.Findings[j].Baseline; m != "" {
				c.Findings[j].Message = "[" + m + "] " + c.Findings[j].Message
			}
		}
		cp.Checks[i] = c
	}
	if err := b.Reporter.Report(&cp); err != nil {
		return err
	}
	return writeBaselineLine(b.w, r.Baseline)
}

// writeBaselineLine writes the summary line of a baseline comparison.
func writeBaselineLine(w io.Writer, br *BaselineResult) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "baseline %s: %d new, %d unchanged, %d fixed\n", cmp.Or(br.File, "-"), br.New, br.Unchanged, len(br.Fixed))
	for _, f := range br.Fixed {
		fmt.Fprintf(&sb, "  fixed: %s [%s] %s\n", f.ID, f.Severity, oneLine(f.Message))
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func newBaselineTextReporter(w io.Writer, opt Options) Reporter {
	return baselineText{Reporter: newTextReporter(w, opt), w: w}
}
