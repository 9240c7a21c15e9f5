package dmarc

import (
	"strings"
)

// Strength orders policies: none < quarantine < reject. Unknown values
// rank below none.
func Strength(p string) int {
	switch strings.ToLower(p) {
	case "none":
		return 0
	case "quarantine":
		return 1
	case "reject":
		return 2
	}
	return -1
}

// RecommendOptions tune Recommend.
type RecommendOptions struct {
	// NoMail: the domain sends no mail (null MX): recommend p=reject
	// straight away.
	NoMail bool
	// ReportAddress is the aggregate report address to add when the
	// record has no usable rua; default dmarc-reports@<domain>.
	ReportAddress string
	// Drop lists report URIs (as written) the recommendation must not
	// keep: destinations that do not authorize the reports or cannot
	// receive mail.
	Drop []string
}

// Recommend returns the complete DMARC record domain should publish,
// starting from rec (nil: no record yet). It keeps every valid setting of
// rec (report URIs with their size limits, alignment modes, fo, rf, ri,
// sp/np when not weaker than p), repairs report URIs with an obvious
// repair (a missing mailto:), drops invalid and unknown tags, and
// strengthens what is weak: p=none becomes quarantine, a partial pct and
// DMARCbis testing mode (t=y) go, sp/np weaker than p go (they then
// inherit p), and a record without rua gets one (not a domain that sends
// no mail). Report URIs in opt.Drop go, and at most MaxReportURIs of each
// tag are kept.
//
// Without a record, the recommendation is the usual first step: p=none
// with aggregate reports (p=reject for a domain that sends no mail).
func Recommend(domain string, rec *Record, opt RecommendOptions) string {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	report := opt.ReportAddress
	if report == "" {
		report = "dmarc-reports@" + domain
	}
	if rec != nil && rec.Canonical == "" && rec.Repaired != nil {
		rec = rec.Repaired
	}
	if rec == nil {
		if opt.NoMail {
			return "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"
		}
		return "v=DMARC1; p=none; rua=mailto:" + report
	}
	vals := map[string]string{}
	for _, t := range rec.Tags {
		if t.Valid && t.Name != "rua" && t.Name != "ruf" {
			if c, msg := checkValue(t.Name, t.Value); msg == "" {
				vals[t.Name] = c
			}
		}
	}
	p := vals["p"]
	if p == "" {
		// A misspelt p: take what was meant ("rejct" -> reject).
		for _, t := range rec.Tags {
			if t.Name == "p" && !t.Valid {
				p = closestPolicy(strings.ToLower(t.Value))
				break
			}
		}
	}
	switch {
	case opt.NoMail:
		p = "reject"
	case Strength(p) < 1:
		p = "quarantine"
	}
	out := []string{"v=DMARC1", "p=" + p}
	for _, name := range []string{"sp", "np"} {
		if v, ok := vals[name]; ok && Strength(v) >= Strength(p) && v != p {
			out = append(out, name+"="+v)
		}
	}
	rua := uriList(rec.RUA, opt.Drop)
	if len(rua) == 0 && !opt.NoMail {
		rua = []string{"mailto:" + report}
	}
	if len(rua) > 0 {
		out = append(out, "rua="+strings.Join(rua, ","))
	}
	ruf := uriList(rec.RUF, opt.Drop)
	if len(ruf) > 0 {
		out = append(out, "ruf="+strings.Join(ruf, ","))
		if v, ok := vals["fo"]; ok && v != "0" {
			out = append(out, "fo="+v)
		}
	}
	for _, name := range []string{"adkim", "aspf"} {
		if v := vals[name]; v == "s" {
			out = append(out, name+"=s")
		}
	}
	if v, ok := vals["ri"]; ok && v != "86400" {
		out = append(out, "ri="+v)
	}
	if v, ok := vals["psd"]; ok && v != "u" {
		out = append(out, "psd="+v)
	}
	return strings.Join(out, "; ")
}

// uriList returns the usable URIs of a rua/ruf tag and the repairs of the
// broken ones, without duplicates and without those in drop, at most
// MaxReportURIs of them (receivers may ignore the others).
func uriList(uris []ReportURI, drop []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range drop {
		seen[strings.ToLower(d)] = true
	}
	for _, u := range uris {
		s := u.Raw
		if !u.Valid() {
			s = u.Repaired
		}
		if s != "" && !seen[strings.ToLower(s)] && len(out) < MaxReportURIs {
			seen[strings.ToLower(s)] = true
			out = append(out, s)
		}
	}
	return out
}

// TXTRecord renders a record as a zone-file line for name.
func TXTRecord(domain, record string) string {
	return RecordName(domain) + `. IN TXT "` + record + `"`
}

// closestPolicy returns the policy keyword within two edits of v, or "".
func closestPolicy(v string) string {
	for _, k := range []string{"reject", "quarantine", "none"} {
		if distance(v, k) <= 2 {
			return k
		}
	}
	return ""
}
