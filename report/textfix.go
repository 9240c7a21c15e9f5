package report

import (
	"strings"
)

// fixPart is a piece of a fix: prose to wrap, or a DNS record to publish,
// printed on a line of its own exactly as it is (never wrapped, never
// indented: a zone file reads a leading space as "same owner as above").
type fixPart struct {
	text   string
	record bool
}

// rdataFields is how many fields the data of a record type has, for the
// types fixes publish; TXT (quoted strings) is counted apart.
var rdataFields = map[string]int{
	"A": 1, "AAAA": 1, "CNAME": 1, "PTR": 1, "NS": 1, "MX": 2, "SRV": 4, "TLSA": 4, "CAA": 3, "DS": 4,
}

// fixParts splits a fix into prose and the zone-file records it contains
// ("NAME. [TTL] IN TYPE DATA"), in order. Parentheses around a record and
// the punctuation after it go with the prose.
func fixParts(fix string) []fixPart {
	var parts []fixPart
	us := units(fix)
	prose := 0 // index of the first unit not yet emitted
	for i := 0; i < len(us); i++ {
		start, end, ok := recordAt(us, i)
		if !ok {
			continue
		}
		rec := strings.Join(us[start:end], " ")
		open := rec[:len(rec)-len(strings.TrimLeft(rec, "("))]
		rec, trail := splitTrail(rec[len(open):], us[i+1])
		parts = appendProse(parts, strings.Join(us[prose:start], " ")+" "+open)
		parts = append(parts, fixPart{text: rec, record: true})
		if end < len(us) {
			us[end] = trail + " " + us[end]
		} else {
			us = append(us, trail)
		}
		prose, i = end, end-1
	}
	return appendProse(parts, strings.Join(us[prose:], " "))
}

// recordAt finds a record whose "IN" is unit i: it returns the units
// [start, end) the record spans.
func recordAt(us []string, i int) (start, end int, ok bool) {
	if us[i] != "IN" || i == 0 || i+1 >= len(us) {
		return 0, 0, false
	}
	start = i - 1
	if isTTL(us[start]) && start > 0 {
		start--
	}
	owner := strings.TrimLeft(us[start], "(")
	if !strings.HasSuffix(owner, ".") || len(owner) < 2 {
		return 0, 0, false
	}
	typ := us[i+1]
	if typ == "TXT" {
		end = i + 2
		for end < len(us) && strings.HasPrefix(us[end], `"`) {
			end++
		}
		return start, end, end > i+2
	}
	n, known := rdataFields[typ]
	end = i + 2
	for k := 0; k < n && end < len(us); k++ {
		end = fieldEnd(us, end)
	}
	return start, end, known && end-(i+2) >= n
}

// fieldEnd returns the index after the field starting at unit j: a
// placeholder "<...>" may span several units.
func fieldEnd(us []string, j int) int {
	if !strings.HasPrefix(us[j], "<") {
		return j + 1
	}
	for k := j; k < len(us); k++ {
		if strings.Contains(us[k], ">") {
			return k + 1
		}
	}
	return j + 1
}

func isTTL(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// splitTrail separates the punctuation of the sentence from the end of a
// record: ")", ",", ";", ":" and, after an address or a placeholder, ".".
func splitTrail(rec, typ string) (string, string) {
	cut := len(rec)
	for cut > 0 && strings.ContainsRune("),;:", rune(rec[cut-1])) {
		cut--
	}
	if cut > 0 && rec[cut-1] == '.' && (typ == "A" || typ == "AAAA" || rec[:cut-1] != strings.TrimSuffix(rec[:cut-1], ">")) {
		cut--
	}
	return rec[:cut], rec[cut:]
}

// appendProse adds the prose around records, tidied: a "(" left before a
// record and the ")" after it are dropped ("(e.g. RECORD)" reads ", e.g."
// then the record), and so is the punctuation the record's line ends.
func appendProse(parts []fixPart, s string) []fixPart {
	s = strings.TrimSpace(s)
	if len(parts) > 0 && parts[len(parts)-1].record {
		s = strings.TrimSpace(strings.TrimLeft(s, ",;.) "))
	}
	if t, ok := strings.CutSuffix(s, " (e.g."); ok {
		s = t + ", e.g."
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, "("))
	if s == "" {
		return parts
	}
	return append(parts, fixPart{text: s})
}
