package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// TestWriteJSONStreamsTheSameDocument: the streamed document is exactly
// what encoding/json makes of the whole report, on one line.
func TestWriteJSONStreamsTheSameDocument(t *testing.T) {
	spec := checks.Spec{ID: "x.ok", Severity: checks.Pass}
	res := []checks.CheckResult{
		{Name: "mx", Title: "MX <records>", Findings: []checks.Finding{spec.New("a & b")}, Evaluated: true, Weight: 3},
		{Name: "spf", Title: "SPF", Findings: []checks.Finding{spec.New("ok")}, Evaluated: true, Weight: 3},
	}
	for _, n := range []int{0, 1, 2} {
		r := New("example.org", "example.org", time.Unix(0, 0), nil, res[:n])
		var got bytes.Buffer
		if err := WriteJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(r)
		if got.String() != want.String() {
			t.Errorf("%d checks:\n got %s\nwant %s", n, got.String(), want.String())
		}
	}
}
