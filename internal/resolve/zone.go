package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// Zone is a zone loaded from a BIND-format file, answered the way an
// authoritative server answers: NXDOMAIN for names that do not exist,
// NODATA for names (or empty non-terminals) without the type, wildcards
// (RFC 4592) and CNAMEs chased inside the zone.
type Zone struct {
	Origin string // apex, fully qualified, lower case
	File   string
	names  map[string][]dns.RR // owner (lower case) -> records
	exists map[string]bool     // owners and empty non-terminals
}

// ErrZoneFile wraps every problem found while loading a zone file.
var ErrZoneFile = errors.New("zone file")

// MaxZoneFileSize is the largest zone file LoadZoneFile reads (64 MiB); a
// larger file is an error, never cut.
const MaxZoneFileSize = 64 << 20

// MaxZoneRecords is the most records a zone may hold ($GENERATE lines
// multiply a short file); more is an error, never a cut.
const MaxZoneRecords = 1 << 18

// maxExcerpt bounds how much of an offending line an error quotes.
const maxExcerpt = 80

// LoadZoneFile reads a zone file. origin may be empty when the file sets
// $ORIGIN or uses fully qualified names; the apex is then the owner of the
// SOA record (or, without SOA, the shortest owner name that all others are
// under).
func LoadZoneFile(path, origin string) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrZoneFile, path, errors.Unwrap(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxZoneFileSize {
		return nil, fmt.Errorf("%w %s: %d octets, larger than the %d MiB limit", ErrZoneFile, path, st.Size(), MaxZoneFileSize>>20)
	}
	return ParseZone(f, path, origin)
}

// ParseZone reads a zone from r (at most MaxZoneFileSize octets of text);
// file names it in messages.
func ParseZone(r io.Reader, file, origin string) (*Zone, error) {
	if origin != "" {
		origin = Canonical(origin)
	}
	guard := &textGuard{r: r, limit: MaxZoneFileSize}
	zp := dns.NewZoneParser(guard, origin, file)
	zp.SetIncludeAllowed(false)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if len(rrs) == MaxZoneRecords {
			return nil, fmt.Errorf("%w %s: more than %d records, the limit", ErrZoneFile, file, MaxZoneRecords)
		}
		rrs = append(rrs, rr)
	}
	if guard.err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrZoneFile, file, guard.err)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("%w %s: %s", ErrZoneFile, file, parseErrorText(err.Error(), file))
	}
	return NewZone(file, origin, rrs)
}

// NewZone builds a zone from records (a test driver's, or a parsed file's);
// origin may be empty, as for LoadZoneFile. Owner names are kept in
// canonical form (Canonical).
func NewZone(file, origin string, rrs []dns.RR) (*Zone, error) {
	z := &Zone{File: file, names: make(map[string][]dns.RR), exists: make(map[string]bool)}
	var soa string
	for _, rr := range rrs {
		h := rr.Header()
		h.Name = Canonical(h.Name)
		if h.Rrtype == dns.TypeSOA && soa == "" {
			soa = h.Name
		}
		z.names[h.Name] = append(z.names[h.Name], rr)
	}
	if len(z.names) == 0 {
		return nil, fmt.Errorf("%w %s: no records", ErrZoneFile, file)
	}
	switch {
	case origin != "":
		z.Origin = Canonical(origin)
	case soa != "":
		z.Origin = soa
	default:
		z.Origin = commonApex(z.names)
		if z.Origin == "" {
			return nil, fmt.Errorf("%w %s: no SOA record and no common origin; add $ORIGIN or give the origin as ORIGIN=FILE", ErrZoneFile, file)
		}
	}
	for name := range z.names {
		if !dns.IsSubDomain(z.Origin, name) {
			return nil, fmt.Errorf("%w %s: %s is outside the zone %s", ErrZoneFile, file, sanitize.Line(name, maxExcerpt), z.Origin)
		}
		// Mark the name and every ancestor up to the apex as existing
		// (empty non-terminals exist too, RFC 4592 §2.2.2).
		for n := name; ; {
			z.exists[n] = true
			if n == z.Origin {
				break
			}
			n = parent(n)
		}
	}
	return z, nil
}

// textGuard passes a zone file through, failing at the first NUL octet
// (not a text file: /dev/zero, a binary) or beyond limit octets, so the
// parser never builds a token out of either.
type textGuard struct {
	r     io.Reader
	limit int64
	read  int64
	lines int // line feeds passed so far
	err   error
}

func (g *textGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if i := bytes.IndexByte(p[:n], 0); i >= 0 {
		g.err = fmt.Errorf("NUL octet at line: %d (offset %d): not a text zone file", g.lines+1+bytes.Count(p[:i], []byte{'\n'}), g.read+int64(i))
		return 0, g.err
	}
	g.read += int64(n)
	g.lines += bytes.Count(p[:n], []byte{'\n'})
	if g.read > g.limit {
		g.err = fmt.Errorf("larger than the %d MiB limit", g.limit>>20)
		return 0, g.err
	}
	return n, err
}

// parseErrorText shortens miekg/dns's `dns: <what>: "<token>" at line: N:C`
// so that it quotes at most maxExcerpt octets of the token, sanitized.
func parseErrorText(msg, file string) string {
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, file+": "), "dns: ")
	where := ""
	if i := strings.LastIndex(msg, " at line: "); i >= 0 {
		msg, where = msg[:i], msg[i:]
	}
	if i := strings.Index(msg, `: "`); i >= 0 {
		msg = msg[:i+2] + sanitize.Line(msg[i+2:], maxExcerpt)
	} else {
		msg = sanitize.Line(msg, 2*maxExcerpt)
	}
	return msg + sanitize.Line(where, 40)
}

func commonApex(names map[string][]dns.RR) string {
	var all []string
	for n := range names {
		all = append(all, n)
	}
	sort.Slice(all, func(i, j int) bool { return dns.CountLabel(all[i]) < dns.CountLabel(all[j]) })
	cand := all[0]
	for _, n := range all {
		if !dns.IsSubDomain(cand, n) {
			return ""
		}
	}
	return cand
}

// Contains reports whether name is at or below the zone's apex.
func (z *Zone) Contains(name string) bool { return dns.IsSubDomain(z.Origin, Canonical(name)) }

// Exchange answers one question as the zone's authoritative server would,
// chasing CNAMEs that stay inside the zone.
func (z *Zone) Exchange(name string, qtype uint16) (rcode int, records []dns.RR) {
	name = Canonical(name)
	seen := map[string]bool{}
	for {
		if seen[name] || !z.Contains(name) {
			return dns.RcodeSuccess, records
		}
		seen[name] = true
		rrs, found := z.lookup(name)
		if !found {
			if len(records) > 0 {
				// The chain ends on a missing name: the rcode describes the
				// last name (RFC 6604).
				return dns.RcodeNameError, records
			}
			return dns.RcodeNameError, nil
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
				records = append(records, rr)
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if cname == nil || qtype == dns.TypeCNAME {
			return dns.RcodeSuccess, records
		}
		records = append(records, cname)
		name = Canonical(cname.Target)
	}
}

// lookup returns the records owned by name, synthesized from a wildcard
// when name does not exist. found is false for a name that does not exist.
func (z *Zone) lookup(name string) ([]dns.RR, bool) {
	if rrs, ok := z.names[name]; ok {
		return rrs, true
	}
	if z.exists[name] {
		return nil, true
	}
	// RFC 4592 §3.3.1: find the closest encloser, then its wildcard child.
	for n := name; n != z.Origin && n != "."; {
		n = parent(n)
		if !z.exists[n] {
			continue
		}
		wild, ok := z.names["*."+n]
		if !ok {
			return nil, false
		}
		out := make([]dns.RR, 0, len(wild))
		for _, rr := range wild {
			c := dns.Copy(rr)
			c.Header().Name = name
			out = append(out, c)
		}
		return out, true
	}
	return nil, false
}

// parent returns the name one label up: "b.example." → "example.",
// "example." → ".", "." → ".".
func parent(n string) string {
	i, end := dns.NextLabel(n, 0)
	if end || i >= len(n) {
		return "."
	}
	return n[i:]
}

// Zones routes each question to the loaded zone with the longest matching
// apex, and every other question to Upstream; with no Upstream (offline),
// names outside the zones are ErrOffline errors.
type Zones struct {
	List     []*Zone
	Upstream Resolver
	Trace    func(TraceEvent)

	once   sync.Once
	sorted []*Zone
}

var _ Resolver = (*Zones)(nil)

// Query implements Resolver.
func (zs *Zones) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	return followChain(ctx, Canonical(name), qtype, zs.exchange)
}

// Find returns the zone that holds name, or nil.
func (zs *Zones) Find(name string) *Zone {
	zs.once.Do(func() {
		zs.sorted = append([]*Zone(nil), zs.List...)
		sort.SliceStable(zs.sorted, func(i, j int) bool {
			return dns.CountLabel(zs.sorted[i].Origin) > dns.CountLabel(zs.sorted[j].Origin)
		})
	})
	for _, z := range zs.sorted {
		if z.Contains(name) {
			return z
		}
	}
	return nil
}

func (zs *Zones) exchange(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	z := zs.Find(name)
	if z == nil {
		if zs.Upstream == nil {
			err := &QueryError{Name: name, Qtype: qtype, Kind: ErrOffline, Detail: "outside the zones given with --zone"}
			if zs.Trace != nil {
				zs.Trace(TraceEvent{Name: name, Qtype: qtype, Server: "offline", Proto: "zone", Rcode: -1, Err: err})
			}
			return nil, err
		}
		// Upstream follows its own chains; a single step is enough here.
		return zs.Upstream.Query(ctx, name, qtype)
	}
	start := time.Now()
	rcode, rrs := z.Exchange(name, qtype)
	server := "zone:" + z.File
	if zs.Trace != nil {
		zs.Trace(TraceEvent{Name: name, Qtype: qtype, Server: server, Proto: "zone", Rcode: rcode, RTT: time.Since(start)})
	}
	return &Answer{Name: name, Qtype: qtype, Rcode: rcode, Records: rrs, Server: server}, nil
}
