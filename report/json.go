package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mailcheck/mailcheck/checks"
)

// WriteJSON writes r as one JSON document on one line, so that several
// reports (one per domain) form a JSON Lines stream. The document is
// written as it is encoded, one check at a time, never built whole in
// memory.
func WriteJSON(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	head := *r
	head.Checks = []checks.CheckResult{}
	b, err := marshal(&head)
	if err != nil {
		return err
	}
	// "checks" is the last field: the head ends with `"checks":[]}`.
	tail := []byte(`[]}`)
	if !bytes.HasSuffix(b, tail) {
		return fmt.Errorf("report: unexpected JSON layout")
	}
	bw.Write(b[:len(b)-len(tail)+1])
	for i := range r.Checks {
		if i > 0 {
			bw.WriteByte(',')
		}
		cb, err := marshal(&r.Checks[i])
		if err != nil {
			return err
		}
		bw.Write(cb)
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// marshal encodes v without HTML escaping and without a trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonReporter writes each report as one line of JSON Lines.
type jsonReporter struct{ w io.Writer }

var _ Reporter = (*jsonReporter)(nil)

func newJSONReporter(w io.Writer, _ Options) Reporter { return &jsonReporter{w: w} }

func (j *jsonReporter) Begin(Run) error        { return nil }
func (j *jsonReporter) Report(r *Report) error { return WriteJSON(j.w, r) }
func (j *jsonReporter) End(RunSummary) error   { return nil }
