package report

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// layout breaks text into lines at spaces: the first line holds at most
// first columns, the others at most rest. Each "\n" starts a new line and
// the paragraph keeps its leading spaces (an SPF include tree). A unit is
// never cut: a word (a DNS name, a URL), a quoted string (a record's
// text) or one of the extra units, appended to the last paragraph (an
// RFC reference), goes whole to the next line, and a unit longer than a
// line overflows it.
func layout(text string, first, rest int, extra ...string) []string {
	var b bytes.Buffer
	wrapTo(&b, text, first, rest, "", ink{}, extra...)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// wrapTo appends text laid out as layout says to b, each line painted
// with k and ended by a newline, the lines after the first started with
// indent (rest counts the columns after it).
func wrapTo(b *bytes.Buffer, text string, first, rest int, indent string, k ink, extra ...string) {
	w := wrapper{b: b, room: first, rest: rest, indent: indent, k: k}
	b.WriteString(k.on)
	for i := 0; ; i++ {
		para, next, more := strings.Cut(text, "\n")
		if i > 0 {
			w.newLine()
		}
		w.para(para)
		if !more {
			break
		}
		text = next
	}
	for _, u := range extra {
		w.add(u)
	}
	b.WriteString(k.off)
	b.WriteByte('\n')
}

// wrapper fills lines of a buffer unit by unit.
type wrapper struct {
	b                   *bytes.Buffer
	room, rest, n, lead int
	indent              string
	k                   ink
}

func (w *wrapper) newLine() {
	w.b.WriteString(w.k.off)
	w.b.WriteByte('\n')
	w.b.WriteString(w.indent)
	w.b.WriteString(w.k.on)
	w.room, w.n, w.lead = w.rest, 0, 0
}

// para writes a paragraph: its leading spaces, then its units.
func (w *wrapper) para(para string) {
	lead := len(para) - len(strings.TrimLeft(para, " "))
	w.b.WriteString(para[:lead])
	w.n += lead
	w.lead = w.n
	for i := lead; i < len(para); {
		s, e := nextUnit(para, i)
		if s < e {
			w.add(para[s:e])
		}
		i = e
	}
}

// add writes a unit after a space, or on the next line when it does not
// fit and the line has one already.
func (w *wrapper) add(u string) {
	width := utf8.RuneCountInString(u)
	switch {
	case w.n > w.lead && w.n+1+width > w.room:
		w.newLine()
	case w.n > w.lead:
		w.b.WriteByte(' ')
		w.n++
	}
	w.b.WriteString(u)
	w.n += width
}

// nextUnit returns the bounds of the first unit of para at or after i:
// units are separated by spaces, except inside a double-quoted string
// (with backslash escapes), which stays one unit with its spaces. s == e
// when only spaces are left.
func nextUnit(para string, i int) (s, e int) {
	for i < len(para) && para[i] == ' ' {
		i++
	}
	s, quoted := i, false
	for ; i < len(para); i++ {
		switch c := para[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ' ' && !quoted:
			return s, i
		}
	}
	return s, min(i, len(para))
}

// units splits a paragraph into its units (see nextUnit).
func units(para string) []string {
	var out []string
	for i := 0; i < len(para); {
		s, e := nextUnit(para, i)
		if s < e {
			out = append(out, para[s:e])
		}
		i = e
	}
	return out
}

// firstLine is the first line of layout(text, room, room) and whether
// more text follows it, without laying out the rest.
func firstLine(text string, room int) (string, bool) {
	para, _, more := strings.Cut(text, "\n")
	n := 0
	for i := 0; i < len(para); {
		s, e := nextUnit(para, i)
		w := utf8.RuneCountInString(para[s:e])
		if n > 0 && n+1+w > room {
			return strings.TrimRight(para[:s], " "), true
		}
		n, i = n+w+min(n, 1), e
	}
	return para, more
}

// abbreviateKeys shortens the base64 p= values of DKIM key records (which
// a record may split into several quoted strings) to their first and last
// characters around an ellipsis: evidence to recognise a key, not to copy
// it (the JSON report has it whole).
func abbreviateKeys(rec string) string {
	const keep, tail, minLen = 20, 8, 48
	i := strings.Index(rec, "p=")
	if i < 0 {
		return rec
	}
	var b strings.Builder
	for i >= 0 {
		if i > 0 && !strings.ContainsRune(` ";`, rune(rec[i-1])) {
			b.WriteString(rec[:i+2])
			rec = rec[i+2:]
			i = strings.Index(rec, "p=")
			continue
		}
		key, end := base64Run(rec[i+2:])
		b.WriteString(rec[:i+2])
		if len(key) >= minLen {
			b.WriteString(key[:keep] + "…" + key[len(key)-tail:])
		} else {
			b.WriteString(rec[i+2 : i+2+end])
		}
		rec = rec[i+2+end:]
		i = strings.Index(rec, "p=")
	}
	b.WriteString(rec)
	return b.String()
}

// base64Run returns the base64 characters at the start of s, joined across
// `" "` string boundaries, and how many bytes of s they span.
func base64Run(s string) (string, int) {
	var key strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
			key.WriteByte(c)
			i++
			continue
		}
		// A key split into strings: `..." "...` continues it.
		rest := strings.TrimLeft(s[i+1:], " ")
		if c == '"' && len(rest) < len(s[i+1:]) && strings.HasPrefix(rest, `"`) {
			i = len(s) - len(rest) + 1
			continue
		}
		break
	}
	return key.String(), i
}
