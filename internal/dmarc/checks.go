package dmarc

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// MaxReportURIs is how many destinations of a rua or ruf tag receivers
// must support (RFC 7489 §6.2): they may ignore the others.
const MaxReportURIs = 2

// pieces returns the record's tag=value pieces, trimmed, empty ones left
// out.
func pieces(txt string) []string {
	var out []string
	for _, p := range strings.Split(txt, ";") {
		if p = strings.Trim(p, wsp); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func pieceName(p string) string {
	name, _, _ := strings.Cut(p, "=")
	return strings.ToLower(strings.Trim(name, wsp))
}

// PolicyOutOfPlace reports whether the record has a p tag that is not the
// tag right after v=DMARC1, the order the grammar of RFC 7489 §6.4 fixes.
func (r *Record) PolicyOutOfPlace() bool {
	ps := pieces(r.Text)
	for i, p := range ps {
		if pieceName(p) == "p" {
			return i != 1
		}
	}
	return false
}

// PolicySecond returns the record's text with its p tag moved right after
// v=DMARC1, every other tag kept as written and in its order.
func (r *Record) PolicySecond() string {
	ps := pieces(r.Text)
	if len(ps) == 0 {
		return r.Text
	}
	out := []string{ps[0]}
	var rest []string
	for _, p := range ps[1:] {
		if pieceName(p) == "p" && len(out) == 1 {
			out = append(out, p)
			continue
		}
		rest = append(rest, p)
	}
	return strings.Join(append(out, rest...), "; ")
}

// Testing returns the value of a valid DMARCbis t tag ("y" or "n"), or ""
// when there is none.
func (r *Record) Testing() string {
	for _, t := range r.Tags {
		if t.Name == "t" && t.Valid {
			return strings.ToLower(t.Value)
		}
	}
	return ""
}

// Demoted returns the policy a receiver applies in DMARCbis testing mode
// (t=y): one level lower, reject as quarantine and quarantine as none.
func Demoted(policy string) string {
	switch strings.ToLower(policy) {
	case "reject":
		return "quarantine"
	}
	return "none"
}

// IsAuthorization reports whether a TXT record at a report authorization
// name authorizes reports (RFC 7489 §7.1): it must parse as a list of
// tag=value pairs, the same overall format as a policy record, with
// v=DMARC1 first. Records that do not are discarded.
func IsAuthorization(txt string) bool {
	if !IsDMARC(txt) {
		return false
	}
	for _, p := range pieces(txt) {
		name, _, ok := strings.Cut(p, "=")
		if !ok || !validTagName(strings.ToLower(strings.Trim(name, wsp))) {
			return false
		}
	}
	return true
}

// Destination is whether a report destination's domain can receive mail.
type Destination struct {
	Host string `json:"host"`
	// OK: the domain has an MX record other than a null MX, or no MX but
	// an address to fall back on (RFC 5321 §5.1).
	OK bool `json:"ok"`
	// Why says why it cannot ("publishes a null MX", "does not exist").
	Why     string   `json:"why,omitempty"`
	Records []string `json:"records"`
	Err     error    `json:"-"`
	Error   string   `json:"error,omitempty"`
}

// Destinations checks the domains of the first MaxReportURIs valid mailto
// URIs of each tag (the only ones receivers must use) for a way to
// receive mail: an MX record that is not a null MX, or an address; the
// domains (at most 2·MaxReportURIs) are asked about at once.
func Destinations(ctx context.Context, r resolve.Resolver, uris []ReportURI) []Destination {
	var hosts []string
	seen := map[string]bool{}
	perTag := map[string]int{}
	for _, u := range uris {
		if !u.Valid() || u.Host == "" || perTag[u.Tag] >= MaxReportURIs {
			continue
		}
		perTag[u.Tag]++
		if seen[u.Host] {
			continue
		}
		seen[u.Host] = true
		hosts = append(hosts, u.Host)
	}
	var out []Destination
	if len(hosts) > 0 {
		out = make([]Destination, len(hosts))
	}
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { out[i] = destination(ctx, r, h) })
	}
	wg.Wait()
	return out
}

func destination(ctx context.Context, r resolve.Resolver, host string) Destination {
	d := Destination{Host: host, Records: []string{}}
	fail := func(err error) Destination {
		d.Err, d.Error = err, err.Error()
		return d
	}
	mxs, ans, err := resolve.MX(ctx, r, dns.Fqdn(host))
	if err != nil {
		return fail(err)
	}
	d.Records = ans.Strings(dns.TypeMX)
	null := len(mxs) > 0
	for _, mx := range mxs {
		null = null && mx.Mx == "."
	}
	switch {
	case ans.NXDomain():
		d.Why = fmt.Sprintf("%s does not exist (%s)", host, resolve.Describe(ans, nil))
	case null:
		d.Why = fmt.Sprintf("%s publishes a null MX (RFC 7505): it accepts no mail", host)
	case len(mxs) > 0:
		d.OK = true
	default:
		addrs := resolve.Addrs(ctx, r, dns.Fqdn(host))
		if addrs.Err != nil && len(addrs.Addrs) == 0 {
			return fail(addrs.Err)
		}
		d.OK = len(addrs.Addrs) > 0
		if !d.OK {
			d.Why = fmt.Sprintf("%s has no MX record and no A or AAAA record to fall back on", host)
		}
	}
	return d
}
