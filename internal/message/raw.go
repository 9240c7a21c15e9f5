package message

import "bytes"

// rawScan is what one pass over the octets of a message found.
type rawScan struct {
	longLine  int // 1-based number of the first line over 998 octets; 0: none
	longLen   int
	bareLine  int // the first line with a bare LF or CR
	eightLine int // the first body line with an octet over 0x7F
}

// scanRaw looks at every line of raw once: lengths (RFC 5322 §2.1.1),
// bare LF and CR, and 8-bit octets in the body.
func scanRaw(raw []byte) rawScan {
	var r rawScan
	body := false
	for line := 1; len(raw) > 0; line++ {
		i := bytes.IndexByte(raw, '\n')
		seg := raw
		if i >= 0 {
			seg, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		crlf := len(seg) > 0 && seg[len(seg)-1] == '\r'
		if crlf {
			seg = seg[:len(seg)-1]
		}
		if (i >= 0 && !crlf || bytes.IndexByte(seg, '\r') >= 0) && r.bareLine == 0 {
			r.bareLine = line
		}
		if len(seg) > 998 && r.longLine == 0 {
			r.longLine, r.longLen = line, len(seg)
		}
		if body && r.eightLine == 0 && hasHigh(seg) {
			r.eightLine = line
		}
		body = body || len(seg) == 0
	}
	return r
}

// hasHigh reports an octet over 0x7F.
func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// rawLines reports what scanRaw found.
func (s *state) rawLines() {
	r := scanRaw(s.raw)
	if r.longLine > 0 {
		s.add(SpecLineTooLong.New("Line %d is %d octets long; the limit is 998 (RFC 5322 §2.1.1).", r.longLine, r.longLen).
			WithFix("Encode long lines (quoted-printable or base64) or fold long header fields."))
	}
	if r.bareLine > 0 {
		s.add(SpecBareLF.New("Line %d ends in a bare LF or holds a bare CR: lines must end in CRLF.", r.bareLine).
			WithFix("Make the sending software write CRLF line ends; receivers reject bare LF since SMTP smuggling (Postfix smtpd_forbid_bare_newline)."))
	}
	if r.eightLine > 0 && !s.env.EightBit {
		s.add(SpecEightBit.New("Body line %d has 8-bit octets but MAIL FROM did not say BODY=8BITMIME.", r.eightLine).
			WithFix("Send BODY=8BITMIME when the receiver offers it, or encode the body as quoted-printable or base64."))
	}
}
