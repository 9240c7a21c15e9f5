package dialogue_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailcheck/mailcheck/internal/dialogue"
)

var (
	errClosed  = errors.New("test: closed")
	errTimeout = errors.New("test: timeout")
	errLong    = errors.New("test: line too long")
	errBad     = errors.New("test: bad command")
	proto      = dialogue.Protocol{ErrClosed: errClosed, ErrTimeout: errTimeout, ErrLineTooLong: errLong, ErrBadCommand: errBad}
)

func TestReadLine(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"250 ok\r\n", "250 ok", nil},
		{"250 ok\n", "250 ok", nil},
		{strings.Repeat("x", 5000) + "\r\n", "", errLong},
		{"250 half", "", errClosed},
		{"", "", errClosed},
	}
	for _, tc := range tests {
		tr := dialogue.NewTranscript(nil, "")
		got, err := proto.ReadLine(bufio.NewReaderSize(strings.NewReader(tc.in), 16), 2048, tr)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("ReadLine(%.20q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
		for _, l := range tr.Lines() {
			if len(l) > dialogue.MaxTranscriptLine+2 {
				t.Errorf("transcript line of %d bytes", len(l))
			}
		}
	}
}

func TestWriteLineAndTranscript(t *testing.T) {
	var trace, sent strings.Builder
	tr := dialogue.NewTranscript(&trace, "smtp x ")
	if err := proto.WriteLine(&sent, tr, "EHLO a\r\nRSET"); !errors.Is(err, errBad) || sent.Len() != 0 {
		t.Fatalf("smuggled command: %v, sent %q", err, sent.String())
	}
	if err := proto.WriteLine(&sent, tr, "EHLO \x1b[31m"); err != nil || sent.String() != "EHLO \x1b[31m\r\n" {
		t.Fatalf("sent %q, %v", sent.String(), err)
	}
	tr.Note("done %d", 1)
	want := []string{`> EHLO \x1b[31m`, "* done 1"}
	if got := tr.Lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("transcript %q, want %q", got, want)
	}
	if trace.String() != "smtp x > EHLO \\x1b[31m\nsmtp x * done 1\n" {
		t.Errorf("trace %q", trace.String())
	}
}

func TestClassify(t *testing.T) {
	other := errors.New("other")
	for in, want := range map[error]error{
		io.EOF: errClosed, net.ErrClosed: errClosed, os.ErrDeadlineExceeded: errTimeout,
		errors.New("read: connection reset by peer"): errClosed, other: other,
	} {
		if got := proto.Classify(in); !errors.Is(got, want) {
			t.Errorf("Classify(%v) = %v, want %v", in, got, want)
		}
	}
}

type pipeDialer struct{ server func(net.Conn) }

func (d pipeDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	c, s := net.Pipe()
	go d.server(s)
	return c, nil
}

// The caller's deadline interrupts a read at once, and Cut reports it
// unless the error rests on what the peer sent.
func TestSessionCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		s := dialogue.Open(parent, "192.0.2.1:25", time.Minute, proto, dialogue.NewTranscript(nil, ""))
		defer s.Close()
		conn, err := s.Dial(pipeDialer{func(c net.Conn) { io.Copy(io.Discard, c) }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = proto.ReadLine(bufio.NewReader(conn), 100, s.Tr)
		if !errors.Is(err, errTimeout) || time.Since(s.Start) != 200*time.Millisecond {
			t.Fatalf("read ended with %v after %s", err, time.Since(s.Start))
		}
		cut := s.Cut("banner", false)
		if !dialogue.CutShort(cut) || cut.Error() != "the audit deadline ended the probe of 192.0.2.1:25 at the banner stage" {
			t.Errorf("Cut = %v", cut)
		}
		if s.Cut("banner", true) != nil {
			t.Error("an error from the peer was blamed on the deadline")
		}
	})
}
