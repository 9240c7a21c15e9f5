package message

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

// readHeader parses the top-level header block with go-message; nil
// (and a finding) when it cannot be read.
func (s *state) readHeader() *gomessage.Entity {
	e, err := gomessage.ReadWithOptions(bytes.NewReader(s.raw), &gomessage.ReadOptions{MaxHeaderBytes: MaxHeaderBytes})
	if e == nil {
		s.add(SpecUnparseable.New("The header block cannot be read: %s.", clean(err.Error())).
			WithFix("Send a header block of name: value fields ended by an empty line (RFC 5322 §2.2), under %d KiB.", MaxHeaderBytes>>10))
		return nil
	}
	s.hdr = e.Header.Header
	if n := s.hdr.Len(); n > MaxHeaderFields {
		s.add(SpecHeaderBound.New("The header has %d fields, more than the %d examined.", n, MaxHeaderFields))
	}
	if n := len(s.hdr.Values("Authentication-Results")); n > 0 {
		s.add(SpecAuthResIgnored.New("The message arrived with %d Authentication-Results field(s) of its own; they were ignored (RFC 8601 §5).", n))
	}
	return e
}

// unfold removes the CRLFs of folded header lines.
func unfold(v string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(v))
}

// headers checks From, Date and Message-ID (RFC 5322 §3.6).
func (s *state) headers() {
	ok := s.from()
	ok = s.date() && ok
	ok = s.messageID() && ok
	if ok {
		s.add(SpecHeaderOK.New("From, Date and Message-ID are present and well formed."))
	}
}

// from checks that there is exactly one From field with exactly one
// address with a domain (RFC 7489 §6.6.1), and records its domain.
func (s *state) from() bool {
	vals := s.hdr.Values("From")
	if len(vals) == 0 {
		s.fromBad = true
		s.add(SpecFromMissing.New("The message has no From field.").WithFix("Add a From field with the author's address."))
		return false
	}
	var addrs []*mail.Address
	for _, v := range vals {
		list, err := gomail.ParseAddressList(unfold(v))
		if err != nil {
			s.fromBad = true
			s.add(SpecFromInvalid.New("The From field %q does not parse: %s.", clean(unfold(v)), clean(err.Error())).
				WithFix("Write From as one address, e.g. From: Name <user@example.org>."))
			return false
		}
		addrs = append(addrs, list...)
	}
	if len(vals) > 1 || len(addrs) != 1 {
		s.fromBad = true
		s.add(SpecFromMultiple.New("The message has %d From field(s) with %d address(es): there is no single author domain, so DMARC cannot pass.", len(vals), len(addrs)).
			WithFix("Send exactly one From field with one address."))
		return false
	}
	return s.fromDomainOf(addrs[0].Address)
}

// fromDomainOf records the domain of the From address.
func (s *state) fromDomainOf(addr string) bool {
	s.data.From = clean(addr)
	at := strings.LastIndexByte(addr, '@')
	dom := strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
	if at < 0 || badHelo(dom) != "" {
		s.fromBad = true
		s.add(SpecFromInvalid.New("The From address %q has no valid domain.", clean(addr)).
			WithFix("Write From as an address at a fully qualified domain."))
		return false
	}
	s.fromDomain = dom
	s.data.FromDomain = clean(dom)
	return true
}

// date checks the Date field.
func (s *state) date() bool {
	vals := s.hdr.Values("Date")
	if len(vals) == 0 {
		s.add(SpecDateMissing.New("The message has no Date field.").
			WithFix("Add a Date field with the time of submission (most submission servers add one if asked: Postfix always_add_missing_headers = yes)."))
		return false
	}
	if len(vals) > 1 {
		s.add(SpecDateInvalid.New("The message has %d Date fields; RFC 5322 §3.6 allows one.", len(vals)).WithFix("Send one Date field."))
		return false
	}
	if _, err := mail.ParseDate(unfold(vals[0])); err != nil {
		s.add(SpecDateInvalid.New("The Date field %q does not parse as an RFC 5322 date.", clean(unfold(vals[0]))).
			WithFix("Write Date as e.g. \"Mon, 2 Jan 2006 15:04:05 -0700\"."))
		return false
	}
	return true
}

// messageID checks the Message-ID field (RFC 5322 §3.6.4: <left@right>).
func (s *state) messageID() bool {
	vals := s.hdr.Values("Message-ID")
	if len(vals) == 0 {
		s.add(SpecMsgIDMissing.New("The message has no Message-ID field.").
			WithFix("Add a Message-ID of the form <unique@sending.host>; many receivers score mail without one as spam."))
		return false
	}
	v := unfold(vals[0])
	if err := checkMsgID(v); len(vals) > 1 || err != nil {
		why := "there are several Message-ID fields"
		if err != nil {
			why = err.Error()
		}
		s.add(SpecMsgIDInvalid.New("The Message-ID %q is not valid: %s.", clean(v), why).
			WithFix("Write one Message-ID of the form <unique@sending.host>."))
		return false
	}
	return true
}

// checkMsgID checks msg-id = "<" id-left "@" id-right ">", both sides
// dot-atom-text (or a no-fold-literal on the right).
func checkMsgID(v string) error {
	if !strings.HasPrefix(v, "<") || !strings.HasSuffix(v, ">") || len(v) < 5 {
		return errors.New("it is not enclosed in angle brackets")
	}
	left, right, ok := strings.Cut(v[1:len(v)-1], "@")
	if !ok {
		return errors.New("it has no @")
	}
	if !dotAtom(left) {
		return errors.New("the part left of @ is not a dot-atom")
	}
	if strings.HasPrefix(right, "[") && strings.HasSuffix(right, "]") && !strings.ContainsAny(right[1:len(right)-1], "[]\\ \t") {
		return nil
	}
	if !dotAtom(right) {
		return errors.New("the part right of @ is not a dot-atom or [literal]")
	}
	return nil
}

// dotAtom reports whether v is dot-atom-text (RFC 5322 §3.2.3).
func dotAtom(v string) bool {
	if v == "" || v[0] == '.' || v[len(v)-1] == '.' || strings.Contains(v, "..") {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
