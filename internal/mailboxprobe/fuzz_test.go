package mailboxprobe

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/mailcheck/mailcheck/internal/dialogue"
)

// fuzzConn returns a text connection reading data, with small limits.
func fuzzConn(data []byte) *textConn {
	tc := newTextConn(nil, Limits{MaxLineLen: 256, MaxReplyLines: 20}, dialogue.NewTranscript(nil, ""))
	tc.r = bufio.NewReaderSize(bytes.NewReader(data), 64)
	return tc
}

// checkText fails on peer text that escaped sanitizing or the bounds.
func checkText(t *testing.T, texts ...string) {
	for _, s := range texts {
		if len(s) > maxText+8 || strings.ContainsAny(s, "\r\n\x00\x1b") {
			t.Fatalf("unsafe text %q", s)
		}
	}
}

// FuzzIMAPResponse: the IMAP greeting and response reader never panics,
// keeps within its caps and lets no control byte into what it returns.
func FuzzIMAPResponse(f *testing.F) {
	f.Add([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\n* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n"))
	f.Add([]byte("* BYE busy\r\n"))
	f.Add([]byte("* PREAUTH hi\r\n+ go on\r\n"))
	f.Add([]byte("* OK\r\n* CAPABILITY " + strings.Repeat("X ", 200) + "\r\na1 NO\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tc := fuzzConn(data)
		g, err := tc.readIMAPGreeting()
		checkText(t, g)
		if err != nil {
			return
		}
		resp, err := tc.readIMAPResponse("a1")
		if len(resp.Untagged) > 20 {
			t.Fatalf("%d lines", len(resp.Untagged))
		}
		caps := imapCapabilities(resp)
		if len(caps) > maxCaps {
			t.Fatalf("%d caps", len(caps))
		}
		checkText(t, append(caps, resp.Text)...)
		if err == nil && resp.Status != "OK" && resp.Status != "NO" && resp.Status != "BAD" {
			t.Fatalf("status %q", resp.Status)
		}
	})
}

// FuzzPOP3Response: the POP3 status and multi-line readers never panic,
// keep within their caps and sanitize what they return.
func FuzzPOP3Response(f *testing.F) {
	f.Add([]byte("+OK ready\r\n+OK\r\nTOP\r\nUSER\r\nSASL PLAIN\r\n..x\r\n.\r\n"))
	f.Add([]byte("-ERR no\r\n"))
	f.Add([]byte("+OK\r\n" + strings.Repeat("A\r\n", 30)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tc := fuzzConn(data)
		s, err := tc.readPOP3Status()
		checkText(t, s)
		if err != nil {
			return
		}
		lines, _ := tc.readPOP3Lines()
		if len(lines) > 21 {
			t.Fatalf("%d lines", len(lines))
		}
		checkText(t, pop3Capabilities(lines)...)
		r := &Result{Protocol: "pop3", Capabilities: pop3Capabilities(lines)}
		r.CleartextAuth()
	})
}
