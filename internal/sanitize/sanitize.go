// Package sanitize makes text that a peer controls (DNS data, SMTP and
// IMAP replies, certificate names) safe to keep in findings and to print:
// no control byte (C0, DEL, C1, ESC sequences) and no invalid UTF-8 ever
// leaves it, and its length is bounded.
//
// Use it where peer text enters mailcheck. The report renderers apply
// Text once more as a last guard.
package sanitize

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Ellipsis marks text cut by a length bound.
const Ellipsis = "…"

// Text returns s with every control character (C0 except tab, DEL, the C1
// range) and every invalid UTF-8 byte written as \xNN. Printable Unicode
// is kept. It never grows a string that needs no change.
func Text(s string) string { return text(s, false) }

// Multiline is Text that keeps line feeds, for messages that are
// deliberately laid out on several lines (an include tree); max bounds
// the result as in Line.
func Multiline(s string, max int) string { return Truncate(text(s, true), max) }

func text(s string, keepLF bool) string {
	if clean(s, keepLF) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case isControl(r) && !(keepLF && r == '\n'):
			writeEscaped(&b, s[i:i+size])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Line is Text with a bound: at most max bytes of the (escaped) result are
// kept, cut on a rune boundary and marked with an ellipsis. max <= 0 means
// no bound.
func Line(s string, max int) string {
	return Truncate(Text(s), max)
}

// Truncate cuts s to at most max bytes on a rune boundary, adding an
// ellipsis when it cut. max <= 0 means no bound.
func Truncate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	cut := max - len(Ellipsis)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}

// IsClean reports whether s would be returned unchanged by Text.
func IsClean(s string) bool { return clean(s, false) }

func clean(s string, keepLF bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isControl(rune(c)) && !(keepLF && c == '\n') {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || isControl(r) {
			return false
		}
		i += size
	}
	return true
}

// isControl: C0 except tab, DEL, C1, and the bidirectional overrides
// that can make a terminal line read differently from its bytes.
func isControl(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func writeEscaped(b *strings.Builder, s string) {
	if len(s) == 1 {
		fmt.Fprintf(b, "\\x%02x", s[0])
		return
	}
	fmt.Fprintf(b, "\\u%04x", []rune(s)[0])
}
