package schedule

import (
	"bufio"
	"io"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// maxLine is the longest input line Lines accepts (a domain is at most
// 253 octets in A-labels; the rest is room for comments and U-labels).
const maxLine = 64 << 10

// Lines is a Source over a list of domains, one a line, read as the run
// needs them: "#" starts a comment, blank lines are skipped, each name is
// normalised with resolve.ParseDomain and a name seen before (in any case,
// with a trailing dot, as an A- or U-label) is skipped. Only the set of
// normalised names kept so far is held in memory, not the list: a map
// entry per kept domain, its A-label string plus about 64 bytes of map
// and string overhead (88 bytes a domain measured over a million names
// of 24 characters; docs/scale.md).
type Lines struct {
	sc   *bufio.Scanner
	line int
	seen map[string]struct{}
	// Keep, when set, decides which names the run audits (a shard, or not
	// already reported); a name it drops is not remembered.
	Keep func(resolve.Name) bool
	// Bad is called with each malformed line (number from 1) and why.
	Bad func(line int, text string, err error)
	// Malformed, Duplicates and Dropped count the lines skipped so far.
	Malformed, Duplicates, Dropped int
	// Err is the read error that ended the list, if any.
	Err error
}

// NewLines returns a Source reading r.
func NewLines(r io.Reader) *Lines {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	return &Lines{sc: sc, seen: map[string]struct{}{}}
}

// Next implements Source.
func (l *Lines) Next() (resolve.Name, bool) {
	for l.sc.Scan() {
		l.line++
		text, _, _ := strings.Cut(l.sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		n, err := resolve.ParseDomain(text)
		switch {
		case err != nil:
			l.Malformed++
			if l.Bad != nil {
				l.Bad(l.line, text, err)
			}
		case l.Keep != nil && !l.Keep(n):
			l.Dropped++
		default:
			if _, dup := l.seen[n.ASCII]; dup {
				l.Duplicates++
				continue
			}
			l.seen[n.ASCII] = struct{}{}
			return n, true
		}
	}
	l.Err = l.sc.Err()
	return resolve.Name{}, false
}
