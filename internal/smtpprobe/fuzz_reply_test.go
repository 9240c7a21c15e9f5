package smtpprobe

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/mailcheck/mailcheck/internal/dialogue"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// FuzzReadReply feeds arbitrary bytes to the reply reader: it must not
// panic, must keep to its limits, and nothing it returns or records may
// hold a control byte or invalid UTF-8.
func FuzzReadReply(f *testing.F) {
	// The seed corpus is in testdata/fuzz/FuzzReadReply.
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := &Transcript{}
		tc := &textConn{r: bufio.NewReaderSize(bytes.NewReader(data), 4096), limits: DefaultLimits, tr: tr}
		for range 4 { // a few replies in a row, as a session reads them
			rep, err := tc.readReply()
			if rep != nil {
				checkReply(t, rep)
			}
			if err == nil && rep == nil {
				t.Fatal("no reply and no error")
			}
			if err != nil {
				// A session keeps errors through dialogue.CleanError.
				if s := dialogue.CleanError(err).Error(); !sanitize.IsClean(s) || len(s) > maxErrText {
					t.Fatalf("error text not clean or too long: %q", s)
				}
				break
			}
		}
		for _, l := range tr.Lines() {
			if !sanitize.IsClean(l) || len(l) > maxTranscriptLine+2 {
				t.Fatalf("transcript line not clean or too long (%d): %q", len(l), l)
			}
		}
	})
}

func checkReply(t *testing.T, rep *Reply) {
	t.Helper()
	if rep.Code != 0 && (rep.Code < 200 || rep.Code > 599) {
		t.Fatalf("code %d out of range", rep.Code)
	}
	if len(rep.Lines) > DefaultLimits.MaxReplyLines {
		t.Fatalf("%d lines", len(rep.Lines))
	}
	for _, l := range rep.Lines {
		if !sanitize.IsClean(l) || len(l) > maxReplyText {
			t.Fatalf("reply line not clean or too long (%d): %q", len(l), l)
		}
	}
	for _, s := range []string{rep.String(), rep.Text(), rep.Enhanced()} {
		if !sanitize.IsClean(s) {
			t.Fatalf("rendered reply not clean: %q", s)
		}
	}
}
