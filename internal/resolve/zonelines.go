package resolve

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// LineIndex maps records of zone files to the file and line each is
// written on, so that a report can point at the line of a record it
// judges (SARIF with --zone). The zones themselves (Zone) keep no lines.
type LineIndex struct {
	entries map[lineKey][]lineEntry
}

type lineKey struct {
	name   string
	rrtype uint16
}

type lineEntry struct {
	rr   dns.RR
	file string
	line int
}

// AddZoneFile indexes the records of a zone file (origin as for
// LoadZoneFile). A file whose records cannot be matched to lines one to
// one ($GENERATE makes several records of one line) is an error, and
// nothing of it is indexed.
func (ix *LineIndex) AddZoneFile(path, origin string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(text) > MaxZoneFileSize {
		return fmt.Errorf("%s: larger than %d MiB", path, MaxZoneFileSize>>20)
	}
	if origin != "" {
		origin = Canonical(origin)
	}
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, path)
	zp.SetIncludeAllowed(false)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return err
	}
	starts := recordLines(text)
	if len(starts) != len(rrs) {
		return fmt.Errorf("%s: %d records on %d record lines: lines cannot be matched", path, len(rrs), len(starts))
	}
	if ix.entries == nil {
		ix.entries = map[lineKey][]lineEntry{}
	}
	for i, rr := range rrs {
		k := lineKey{name: Canonical(rr.Header().Name), rrtype: rr.Header().Rrtype}
		ix.entries[k] = append(ix.entries[k], lineEntry{rr: rr, file: path, line: starts[i]})
	}
	return nil
}

// Locate finds the line of a record given in presentation format: the
// indexed record equal to it (TTL aside), else the first of the same
// owner and type. ok is false for text that is not a record or a record
// no indexed file holds.
func (ix *LineIndex) Locate(record string) (file string, line int, ok bool) {
	rr, err := dns.NewRR(record)
	if err != nil || rr == nil || ix == nil {
		return "", 0, false
	}
	cands := ix.entries[lineKey{name: Canonical(rr.Header().Name), rrtype: rr.Header().Rrtype}]
	for _, e := range cands {
		if dns.IsDuplicate(rr, e.rr) {
			return e.file, e.line, true
		}
	}
	if len(cands) > 0 {
		return cands[0].file, cands[0].line, true
	}
	return "", 0, false
}

// recordLines returns the (1-based) lines on which the records of a
// master file (RFC 1035 §5.1) begin: lines that start outside
// parentheses, hold a token outside comments and are not a $ directive.
func recordLines(text []byte) []int {
	var starts []int
	depth, inQuote := 0, false
	for n, line := range strings.Split(string(text), "\n") {
		atStart, hasToken := depth == 0, false
		first := true
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '\\':
				i++
			case inQuote:
				inQuote = c != '"'
				continue
			case c == ';':
				i = len(line)
				continue
			case c == '"':
				inQuote = true
			case c == '(':
				depth++
			case c == ')':
				depth = max(depth-1, 0)
			}
			if c != ' ' && c != '\t' && c != '\r' && c != ';' {
				if first && atStart && c == '$' {
					atStart = false
				}
				first, hasToken = false, true
			}
		}
		if atStart && hasToken {
			starts = append(starts, n+1)
		}
	}
	return starts
}
