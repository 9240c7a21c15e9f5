package mta

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/mailcheck/mailcheck/findings"
	"github.com/mailcheck/mailcheck/internal/message"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// Result is the report of one received message: who sent it and how,
// and the judge's verdict. Its JSON form is one line of `mailcheck mta
// --format json`; its findings have the audit's shape.
type Result struct {
	ID         string             `json:"id"` // the queue id, also in the Received field
	ReceivedAt time.Time          `json:"received_at"`
	Client     string             `json:"client"` // the connecting address
	Helo       string             `json:"helo"`
	MailFrom   string             `json:"mail_from"` // "" for the null sender
	Rcpts      []string           `json:"rcpts"`
	TLS        string             `json:"tls,omitempty"` // "TLS 1.3 TLS_AES_128_GCM_SHA256"; "" in plain text
	EightBit   bool               `json:"body_8bitmime"`
	Size       int                `json:"size"`                 // octets as received
	From       string             `json:"from,omitempty"`       // the From field, as sent
	MessageID  string             `json:"message_id,omitempty"` // the Message-ID field, as sent
	Subject    string             `json:"subject,omitempty"`
	Passed     bool               `json:"passed"`
	Findings   []findings.Finding `json:"findings"`
	Data       any                `json:"data,omitempty"`   // the judge's summary
	Stored     string             `json:"stored,omitempty"` // the Maildir file; "" when not stored
}

// newResult describes a judged message; header fields are taken as
// sent, made safe to print.
func newResult(id string, env message.Envelope, raw []byte, v *message.Verdict) *Result {
	r := &Result{ID: id, ReceivedAt: env.ReceivedAt, Client: env.ClientIP.String(),
		Helo: sanitize.Line(env.Helo, 255), MailFrom: sanitize.Line(env.MailFrom, 512),
		EightBit: env.EightBit, Size: len(raw), Passed: v.Passed, Data: v.Data,
		Findings: make([]findings.Finding, 0, len(v.Findings))}
	for _, rc := range env.Rcpts {
		r.Rcpts = append(r.Rcpts, sanitize.Line(rc, 512))
	}
	if env.TLS != nil {
		r.TLS = tls.VersionName(env.TLS.Version) + " " + tls.CipherSuiteName(env.TLS.CipherSuite)
	}
	if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		r.From = sanitize.Line(m.Header.Get("From"), 512)
		r.MessageID = sanitize.Line(m.Header.Get("Message-ID"), 512)
		r.Subject = sanitize.Line(m.Header.Get("Subject"), 512)
	}
	for _, f := range v.Findings {
		r.Findings = append(r.Findings, f.Bounded())
	}
	// Worst first, stable within a severity.
	slices.SortStableFunc(r.Findings, func(a, b findings.Finding) int { return b.Severity.Rank() - a.Severity.Rank() })
	return r
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes r as a compact block: the message and its sender,
// the verdict, then the findings worst first, one per line with the fix
// under it.
func (r *Result) WriteText(w io.Writer) error {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "message %s  %s  received %s\n", r.ID, verdict, r.ReceivedAt.UTC().Format("2006-01-02 15:04:05Z"))
	fmt.Fprintf(&b, "  client:    %s (HELO %s)%s\n", r.Client, r.Helo, tlsNote(r.TLS))
	fmt.Fprintf(&b, "  mail from: <%s>  to: %s\n", r.MailFrom, strings.Join(r.Rcpts, ", "))
	fmt.Fprintf(&b, "  from:      %s\n", orNone(r.From))
	fmt.Fprintf(&b, "  subject:   %s  (message-id %s, %d octets)\n", orNone(r.Subject), orNone(r.MessageID), r.Size)
	if r.Stored != "" {
		fmt.Fprintf(&b, "  stored:    %s\n", r.Stored)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %-5s %s  %s\n", f.Severity, f.ID, strings.ReplaceAll(f.Message, "\n", "\n        "))
		if f.Fix != "" {
			fmt.Fprintf(&b, "        fix: %s\n", strings.ReplaceAll(f.Fix, "\n", "\n        "))
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func tlsNote(s string) string {
	if s == "" {
		return ", no TLS"
	}
	return ", " + s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
