package dnsbl

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// ErrConfig is wrapped by every error about list definitions (a bad
// --dnsbl argument or --dnsbl-file).
var ErrConfig = errors.New("dnsbl: bad list definition")

//go:embed defaults.yaml
var defaultsYAML []byte

// Catalogue is the built-in list definitions, default set or not.
var catalogue = mustParse(defaultsYAML)

func mustParse(b []byte) *File {
	f, err := Parse(bytes.NewReader(b), "defaults.yaml")
	if err != nil {
		panic(err)
	}
	return f
}

// Defaults returns the built-in default set (fresh copies).
func Defaults() []*List {
	var out []*List
	for _, l := range catalogue.Lists {
		if catalogue.isDefault[l.Zone] {
			out = append(out, l.clone())
		}
	}
	return out
}

// Catalogue returns every built-in definition (fresh copies).
func Catalogue() []*List {
	var out []*List
	for _, l := range catalogue.Lists {
		out = append(out, l.clone())
	}
	return out
}

func (l *List) clone() *List {
	c := *l
	c.Codes = append([]Code(nil), l.Codes...)
	return &c
}

// File is a parsed --dnsbl-file.
type File struct {
	// IncludeDefaults: the file adds its lists to the default set
	// instead of replacing it.
	IncludeDefaults bool
	Lists           []*List

	isDefault map[string]bool
}

type fileYAML struct {
	IncludeDefaults bool       `yaml:"include_defaults"`
	Lists           []listYAML `yaml:"lists"`
}

type listYAML struct {
	Zone       string     `yaml:"zone"`
	Name       string     `yaml:"name"`
	Kind       string     `yaml:"kind"`
	Default    *bool      `yaml:"default"`
	Delist     string     `yaml:"delist"`
	Access     string     `yaml:"access"`
	Bitmask    bool       `yaml:"bitmask"`
	TestListed string     `yaml:"test_listed"`
	TestClean  string     `yaml:"test_clean"`
	Codes      []codeYAML `yaml:"codes"`
}

type codeYAML struct {
	Code    string `yaml:"code"`
	Bit     int    `yaml:"bit"`
	Class   string `yaml:"class"`
	Meaning string `yaml:"meaning"`
}

// LoadFile reads list definitions from a YAML file (format: see Parse).
func LoadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	defer fh.Close()
	return Parse(fh, path)
}

// maxFileSize caps a --dnsbl-file.
const maxFileSize = 1 << 20

// Parse reads list definitions in YAML:
//
//	include_defaults: false      # true: add these lists to the default set
//	lists:
//	  - zone: bl.example.net     # required
//	    name: Example BL
//	    kind: ip4                # ip4 (default), ip6, ip (both), domain
//	    delist: https://bl.example.net/remove
//	    access: how to query when refused (registration, keys)
//	    bitmask: false           # true: 127.0.0.x last octet is a bit set
//	    test_listed: 127.0.0.2   # RFC 5782 §5 defaults by kind
//	    test_clean: 127.0.0.1
//	    codes:
//	      - {code: 127.0.0.2, class: listed, meaning: "spam source"}
//	      - {code: 127.0.0.10, class: policy, meaning: "dynamic space"}
//	      - {code: 127.255.255.0/24, class: error, meaning: "error code"}
//	      - {bit: 4, class: policy, meaning: "grey"}   # bitmask lists
//
// Classes: listed, policy, refused (the list refused the resolver), error.
// Unknown keys are errors, so typos do not pass silently.
func Parse(r io.Reader, file string) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, file, err)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: %s: not UTF-8 text (a YAML file is expected)", ErrConfig, file)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrConfig, file, maxFileSize)
	}
	var raw fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrConfig, yamlError(file, err))
	}
	if len(raw.Lists) == 0 {
		return nil, fmt.Errorf("%w: %s: no lists (expected a top-level \"lists:\" sequence)", ErrConfig, file)
	}
	lines := listLines(b)
	at := func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf("%s:%d", file, lines[i])
		}
		return file
	}
	f := &File{IncludeDefaults: raw.IncludeDefaults, isDefault: map[string]bool{}}
	seen := map[string]bool{}
	for i, ly := range raw.Lists {
		l, err := ly.list()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: list %d (%s): %v", ErrConfig, at(i), i+1, sanitize.Line(ly.Zone, 80), err)
		}
		if seen[l.Zone] {
			return nil, fmt.Errorf("%w: %s: list %d: zone %s defined twice", ErrConfig, at(i), i+1, l.Zone)
		}
		seen[l.Zone] = true
		f.isDefault[l.Zone] = ly.Default == nil || *ly.Default
		f.Lists = append(f.Lists, l)
	}
	return f, nil
}

// yamlError renders a YAML error as "file:line: message" lines joined on
// one line ("yaml: line 3: ..." and "yaml: unmarshal errors:\n  line 5:
// ..." are what yaml.v3 says).
func yamlError(file string, err error) string {
	var parts []string
	for _, l := range strings.Split(strings.TrimPrefix(err.Error(), "yaml: "), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "unmarshal errors:" {
			continue
		}
		if rest, ok := strings.CutPrefix(l, "line "); ok {
			if n, msg, ok := strings.Cut(rest, ": "); ok {
				l = fmt.Sprintf("%s:%s: %s", file, n, msg)
			}
		} else {
			l = file + ": " + l
		}
		parts = append(parts, sanitize.Line(l, 300))
	}
	return strings.Join(parts, "; ")
}

// listLines returns the line of each item of the top-level lists
// sequence (nil when the document has no such sequence).
func listLines(b []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "lists" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		var out []int
		for _, item := range root.Content[i+1].Content {
			out = append(out, item.Line)
		}
		return out
	}
	return nil
}

func (ly listYAML) list() (*List, error) {
	zone, err := parseZone(ly.Zone)
	if err != nil {
		return nil, err
	}
	l := &List{Zone: zone, Name: strings.TrimSpace(ly.Name), Kind: Kind(strings.ToLower(ly.Kind)),
		Delist: strings.TrimSpace(ly.Delist), Access: strings.TrimSpace(ly.Access), Bitmask: ly.Bitmask}
	if l.Kind == "" {
		l.Kind = KindIP4
	}
	if !l.Kind.Valid() {
		return nil, fmt.Errorf("kind %q: want ip4, ip6, ip or domain", ly.Kind)
	}
	l.TestListed, l.TestClean = defaultTests(l.Kind)
	if ly.TestListed != "" {
		l.TestListed = strings.ToLower(strings.TrimSpace(ly.TestListed))
	}
	if ly.TestClean != "" {
		l.TestClean = strings.ToLower(strings.TrimSpace(ly.TestClean))
	}
	for _, t := range []string{l.TestListed, l.TestClean} {
		if _, err := testTarget(l.Kind, t); err != nil {
			return nil, err
		}
	}
	if len(ly.Codes) == 0 {
		return nil, errors.New("no codes: give at least the listing code (e.g. {code: 127.0.0.2, class: listed, meaning: ...})")
	}
	for j, cy := range ly.Codes {
		c, err := cy.code(l.Bitmask)
		if err != nil {
			return nil, fmt.Errorf("code %d: %v", j+1, err)
		}
		l.Codes = append(l.Codes, c)
	}
	return l, nil
}

func (cy codeYAML) code(bitmask bool) (Code, error) {
	c := Code{Class: Class(strings.ToLower(cy.Class)), Meaning: strings.TrimSpace(cy.Meaning)}
	if !c.Class.Valid() {
		return c, fmt.Errorf("class %q: want listed, policy, refused or error", cy.Class)
	}
	if c.Meaning == "" {
		return c, errors.New("no meaning")
	}
	switch {
	case cy.Code != "" && cy.Bit != 0:
		return c, errors.New("give either code or bit, not both")
	case cy.Bit != 0:
		if !bitmask {
			return c, errors.New("bit codes need bitmask: true")
		}
		if cy.Bit < 1 || cy.Bit > 128 || cy.Bit&(cy.Bit-1) != 0 {
			return c, fmt.Errorf("bit %d: want 1, 2, 4, ... 128", cy.Bit)
		}
		c.Bit = uint8(cy.Bit)
	case cy.Code != "":
		var p netip.Prefix
		var err error
		if strings.Contains(cy.Code, "/") {
			p, err = netip.ParsePrefix(cy.Code)
			if err == nil && p != p.Masked() {
				err = fmt.Errorf("prefix %s has host bits set", cy.Code)
			}
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(cy.Code)
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return c, fmt.Errorf("code %q: %v", cy.Code, err)
		}
		if !p.Addr().Is4() || !loopback8.Contains(p.Addr()) || p.Bits() < 8 {
			return c, fmt.Errorf("code %q: return codes are IPv4 addresses in 127.0.0.0/8", cy.Code)
		}
		c.Match = p
	default:
		return c, errors.New("no code or bit")
	}
	return c, nil
}

func parseZone(s string) (string, error) {
	n, err := resolve.ParseName(s)
	if err != nil {
		return "", err
	}
	if !strings.Contains(n.ASCII, ".") {
		return "", fmt.Errorf("zone %q is a top-level name, not a blocklist zone", s)
	}
	return n.ASCII, nil
}

// testTarget turns a list's test entry into a target.
func testTarget(k Kind, s string) (Target, error) {
	if k == KindDomain {
		n, err := resolve.ParseName(s)
		if err != nil {
			return Target{}, fmt.Errorf("test entry: %v", err)
		}
		return DomainTarget(n.ASCII), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Target{}, fmt.Errorf("test entry %q is not an IP address", s)
	}
	if k == KindIP4 && !a.Is4() || k == KindIP6 && a.Is4() {
		return Target{}, fmt.Errorf("test entry %s does not match kind %s", s, k)
	}
	return IPTarget(a), nil
}

// Known returns the definition of zone from extra (a --dnsbl-file) or the
// built-in catalogue, or nil. A Spamhaus Data Query Service zone
// (KEY.zen.dq.spamhaus.net, KEY.dbl.dq.spamhaus.net) gets the table of the
// public zone.
func Known(zone string, extra []*List) *List {
	zone = strings.TrimSuffix(strings.ToLower(zone), ".")
	for _, l := range extra {
		if l.Zone == zone {
			return l.clone()
		}
	}
	for _, l := range catalogue.Lists {
		if l.Zone == zone {
			return l.clone()
		}
	}
	for suffix, public := range dqsZones {
		if key, ok := strings.CutSuffix(zone, "."+suffix); ok && key != "" && !strings.Contains(key, ".") {
			if l := Known(public, nil); l != nil {
				l.Zone = zone
				l.Name += " (DQS)"
				l.Access = "check that the Data Query Service key in the zone name is valid and active at https://portal.spamhaus.com/"
				return l
			}
		}
	}
	return nil
}

var dqsZones = map[string]string{
	"zen.dq.spamhaus.net": "zen.spamhaus.org",
	"dbl.dq.spamhaus.net": "dbl.spamhaus.org",
}

// ParseSpec turns a --dnsbl argument into a List: "ZONE" or "KIND:ZONE"
// (KIND one of ip4, ip6, ip, domain). A zone in extra or the catalogue
// keeps its code table (a KIND prefix then must agree or is ignored when
// absent); any other zone is Generic: every 127.0.0.0/8 answer counts as
// listed, anything else as an error. Without a KIND, an unknown zone is an
// IPv4 list.
func ParseSpec(spec string, extra []*List) (*List, error) {
	s := strings.TrimSpace(spec)
	kind := Kind("")
	if k, rest, ok := strings.Cut(s, ":"); ok {
		kind = Kind(strings.ToLower(k))
		if !kind.Valid() {
			return nil, fmt.Errorf("%w: --dnsbl %q: kind %q: want ip4, ip6, ip or domain (KIND:ZONE)", ErrConfig, spec, k)
		}
		s = rest
	}
	zone, err := parseZone(s)
	if err != nil {
		return nil, fmt.Errorf("%w: --dnsbl %q: %v", ErrConfig, spec, err)
	}
	if l := Known(zone, extra); l != nil {
		if kind != "" && kind != l.Kind {
			return nil, fmt.Errorf("%w: --dnsbl %q: %s is a %s list", ErrConfig, spec, zone, l.Kind)
		}
		return l, nil
	}
	if kind == "" {
		kind = KindIP4
	}
	l := &List{Zone: zone, Kind: kind, Generic: true}
	l.TestListed, l.TestClean = defaultTests(kind)
	return l, nil
}

// Select decides the lists of a run: with zones (--dnsbl), exactly those
// zones; else with a file, the file's lists (plus the defaults when it says
// include_defaults); else the default set. Definitions from the file win
// over built-in ones of the same zone.
func Select(zones []string, file *File) ([]*List, error) {
	var extra []*List
	if file != nil {
		extra = file.Lists
	}
	var out []*List
	seen := map[string]bool{}
	add := func(l *List) {
		if !seen[l.Zone] {
			seen[l.Zone] = true
			out = append(out, l)
		}
	}
	switch {
	case len(zones) > 0:
		for _, z := range zones {
			l, err := ParseSpec(z, extra)
			if err != nil {
				return nil, err
			}
			add(l)
		}
	case file != nil:
		for _, l := range file.Lists {
			if file.isDefault[l.Zone] {
				add(l.clone())
			}
		}
		if file.IncludeDefaults {
			for _, l := range Defaults() {
				add(l)
			}
		}
	default:
		out = Defaults()
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no list to query", ErrConfig)
	}
	return out, nil
}
