package report

import (
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
	paras := strings.Split(text, "\n")
	out := make([]string, 0, len(paras))
	for i, para := range paras {
		lead := para[:len(para)-len(strings.TrimLeft(para, " "))]
		us := units(para)
		if i == len(paras)-1 {
			us = append(us, extra...)
		}
		var line strings.Builder
		line.WriteString(lead)
		n, room := len(lead), first
		if len(out) > 0 {
			room = rest
		}
		for j, u := range us {
			w := utf8.RuneCountInString(u)
			if j > 0 && n+1+w > room {
				out = append(out, line.String())
				line.Reset()
				n, room = 0, rest
			} else if j > 0 {
				line.WriteByte(' ')
				n++
			}
			line.WriteString(u)
			n += w
		}
		out = append(out, line.String())
	}
	return out
}

// units splits a paragraph at runs of spaces, except inside a double-quoted
// string (with backslash escapes), which stays one unit with its spaces.
func units(para string) []string {
	var out []string
	start, quoted := -1, false
	for i := 0; i < len(para); i++ {
		c := para[i]
		switch {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ' ' && !quoted:
			if start >= 0 {
				out = append(out, para[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, para[start:])
	}
	return out
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
