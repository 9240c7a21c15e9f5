package dnstest

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// Behavior is how the server treats a name.
type Behavior int

const (
	Normal   Behavior = iota
	Drop              // never answer (silent)
	ServFail          // answer SERVFAIL
	Refused           // answer REFUSED
	Truncate          // over UDP, answer with TC set and no records
	Slow              // answer after the delay set by SetDelay

	WrongID       // the answer, with another message ID
	WrongQuestion // the answer, for another question name
	Echo          // send the query back unchanged (QR=0), as a UDP echo or a NAT loop does
	StallTCP      // TC over UDP; over TCP, accept the query and never answer
	Trickle       // TC over UDP; over TCP, the answer one octet per SetTrickle pause (500ms)
	Huge          // 240 TXT records of 250 octets (a 65 KB message), sent whole even over UDP
	ManyTXT       // 5,000 TXT records in one 65 KB message (TC over UDP)
	CompressLoop  // an answer record whose owner name is a compression pointer to itself
	CNAMEChain    // a chain of 12 CNAMEs below the name, never ending on a record
	CNAMELoop     // name -> loop.name -> name
	Foreign       // the answer plus out-of-bailiwick and class CH copies of each record
	Referral      // NOERROR, no answer, NS in authority, RA=0: an authoritative-only server
	ControlBytes  // the answer with terminal escapes added to TXT data and MX hosts
	Spoofed       // over UDP, a garbage datagram and a reply with a wrong ID before the answer
	// BogusServFail answers SERVFAIL with Extended DNS Error 6 (DNSSEC
	// Bogus, RFC 8914) unless the query has CD=1, when it answers
	// normally: a validating resolver's answer for a bogus name.
	BogusServFail
	// NXDomain answers NXDOMAIN with no records whatever the zone holds:
	// set on an empty non-terminal, it is a server that breaks RFC 8020.
	NXDomain
)

var behaviorNames = [...]string{"normal", "drop", "servfail", "refused", "truncate", "slow",
	"wrong-id", "wrong-question", "echo", "stall-tcp", "trickle", "huge", "many-txt",
	"compress-loop", "cname-chain", "cname-loop", "foreign", "referral", "control-bytes", "spoofed", "bogus-servfail", "nxdomain"}

func (b Behavior) String() string {
	if int(b) < len(behaviorNames) {
		return behaviorNames[b]
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

// ControlData is what ControlBytes adds to TXT data and MX host names: a
// clear-screen and an OSC 52 clipboard write.
const ControlData = "\x1b[2J\x1b]52;c;aGk=\x07"

// answer handles one query arriving over proto; send writes a reply (for
// TCP, pace > 0 writes it one octet at a time).
func (s *Server) answer(pkt []byte, proto string, send func(b []byte, pace time.Duration)) {
	r := new(dns.Msg)
	if err := r.Unpack(pkt); err != nil {
		return
	}
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		sendMsg(send, m, 0)
		return
	}
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	key := name + " " + dns.TypeToString[q.Qtype] + " " + proto
	s.mu.Lock()
	s.counts[key]++
	s.total++
	s.inflight++
	s.peak = max(s.peak, s.inflight)
	b := s.behavior(name, q.Qtype)
	s.failed[key] = b != Normal && b != Slow && b != Truncate
	delay, pace, ad, extra := s.delay, s.trickle, s.ad, s.perAnswer
	s.mu.Unlock()
	// The question stops counting as in flight just before its answer is
	// sent (or when it is dropped), so a client that sends its next
	// question on receipt is never counted twice.
	finished := false
	finish := func() {
		if !finished {
			finished = true
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		}
	}
	defer finish()
	out := func(b []byte, p time.Duration) { finish(); send(b, p) }

	if b == Slow && !s.sleep(delay) || extra > 0 && !s.sleep(extra) {
		return
	}
	if proto == "udp" && (b == Truncate || b == StallTCP || b == Trickle || b == ManyTXT) {
		m := s.reply(r, name)
		m.Truncated = true
		m.Answer = nil
		sendMsg(out, m, 0)
		return
	}
	switch b {
	case Drop:
		return
	case StallTCP:
		<-s.done
		return
	case Echo:
		out(pkt, 0)
		return
	case CompressLoop:
		out(compressionLoop(s.reply(r, name)), 0)
		return
	case Trickle:
		sendMsg(out, s.normal(r, name, q.Qtype, ad, proto), pace)
		return
	case Spoofed:
		if proto == "udp" {
			send([]byte("\x00\x01not a DNS message"), 0)
			sendMsg(send, s.hostile(WrongID, r, name, q.Qtype, ad, proto), 0)
		}
	}
	m := s.hostile(b, r, name, q.Qtype, ad, proto)
	sendMsg(out, m, 0)
}

func sendMsg(send func([]byte, time.Duration), m *dns.Msg, pace time.Duration) {
	b, err := m.Pack()
	if err != nil {
		panic(fmt.Sprintf("dnstest: packing %v: %v", m.Question, err))
	}
	send(b, pace)
}

// reply starts a reply to r as a recursive resolver's (RA=1 unless
// SetRecursion(false)).
func (s *Server) reply(r *dns.Msg, name string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	s.mu.Lock()
	m.RecursionAvailable = !s.noRA
	s.mu.Unlock()
	return m
}

// normal answers from the zones; a name outside them is REFUSED.
func (s *Server) normal(r *dns.Msg, name string, qtype uint16, ad bool, proto string) *dns.Msg {
	m := s.reply(r, name)
	if w := s.signedWorld(); w != nil {
		return s.fromWorld(m, w, r, name, qtype, ad, proto)
	}
	var z Responder
	if z = s.zoneResponder(name); z == nil {
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Rcode, m.Answer = z.Exchange(name, qtype)
	m.AuthenticatedData = ad
	// Records are shared with the zone: copy before the names are
	// rewritten to the question's case by compression.
	for i, rr := range m.Answer {
		m.Answer[i] = dns.Copy(rr)
	}
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(opt.UDPSize(), false)
	}
	if proto == "udp" {
		m.Truncate(size)
	}
	return m
}

// zoneResponder returns what answers name: the responder when set, else
// the zone that holds it (nil when none does).
func (s *Server) zoneResponder(name string) Responder {
	s.mu.Lock()
	r := s.responder
	s.mu.Unlock()
	if r != nil {
		return r
	}
	if z := s.Zones.Find(name); z != nil {
		return z
	}
	return nil
}

// hostile builds the reply of every behaviour that sends one message.
func (s *Server) hostile(b Behavior, r *dns.Msg, name string, qtype uint16, ad bool, proto string) *dns.Msg {
	switch b {
	case BogusServFail:
		if r.CheckingDisabled {
			return s.normal(r, name, qtype, ad, proto)
		}
		m := s.reply(r, name)
		m.Rcode = dns.RcodeServerFailure
		m.SetEdns0(dns.MinMsgSize, true)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeDNSBogus, ExtraText: "signature failed to verify"})
		return m
	case ServFail, Refused, NXDomain:
		m := s.reply(r, name)
		m.Rcode = map[Behavior]int{ServFail: dns.RcodeServerFailure, Refused: dns.RcodeRefused, NXDomain: dns.RcodeNameError}[b]
		return m
	case WrongID:
		m := s.normal(r, name, qtype, ad, proto)
		m.Id++
		return m
	case WrongQuestion:
		m := s.normal(r, name, qtype, ad, proto)
		m.Question[0].Name = "other." + name
		return m
	case Huge, ManyTXT:
		return bulk(s.reply(r, name), name, b)
	case CNAMEChain, CNAMELoop:
		return chain(s.reply(r, name), name, b)
	case Referral:
		m := s.reply(r, name)
		m.RecursionAvailable = false
		m.Ns = []dns.RR{&dns.NS{Hdr: hdr(name, dns.TypeNS), Ns: "ns1.delegated.example."}}
		return m
	case Foreign:
		return foreign(s.normal(r, name, qtype, ad, "tcp"))
	case ControlBytes:
		return control(s.normal(r, name, qtype, ad, "tcp"))
	}
	return s.normal(r, name, qtype, ad, proto)
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 300}
}

// bulk fills m with TXT records for name: Huge, 240 of 250 octets;
// ManyTXT, 5,000 empty ones (13 octets each, compressed).
func bulk(m *dns.Msg, name string, b Behavior) *dns.Msg {
	n, data := 5000, ""
	if b == Huge {
		n = 240
		data = fmt.Sprintf("%0250d", 0)
	}
	m.Answer = make([]dns.RR, 0, n)
	for i := 0; i < n; i++ {
		d := data
		if b == Huge {
			d = fmt.Sprintf("%03d", i) + data[3:]
		}
		m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: []string{d}})
	}
	m.Compress = true
	return m
}

// chain answers with CNAMEs only: 12 links below name, or a loop.
func chain(m *dns.Msg, name string, b Behavior) *dns.Msg {
	if b == CNAMELoop {
		other := "loop." + name
		m.Answer = []dns.RR{
			&dns.CNAME{Hdr: hdr(name, dns.TypeCNAME), Target: other},
			&dns.CNAME{Hdr: hdr(other, dns.TypeCNAME), Target: name},
		}
		return m
	}
	cur := name
	for i := 1; i <= 12; i++ {
		next := fmt.Sprintf("c%d.%s", i, name)
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(cur, dns.TypeCNAME), Target: next})
		cur = next
	}
	return m
}

// foreign appends, for each answer record, a copy owned by a name outside
// the question's bailiwick and a copy in class CH at the same owner, plus
// an SPF and a DMARC record of its own.
func foreign(m *dns.Msg) *dns.Msg {
	var extra []dns.RR
	for _, rr := range m.Answer {
		out := dns.Copy(rr)
		out.Header().Name = "foreign.invalid."
		ch := dns.Copy(rr)
		ch.Header().Class = dns.ClassCHAOS
		extra = append(extra, out, ch)
	}
	extra = append(extra,
		&dns.TXT{Hdr: hdr("foreign.invalid.", dns.TypeTXT), Txt: []string{"v=spf1 +all"}},
		&dns.TXT{Hdr: hdr("foreign.invalid.", dns.TypeTXT), Txt: []string{"v=DMARC1; p=none"}},
		&dns.MX{Hdr: hdr("foreign.invalid.", dns.TypeMX), Preference: 0, Mx: "mx.foreign.invalid."})
	m.Answer = append(m.Answer, extra...)
	return m
}

// control adds ControlData to TXT data and to MX host names.
func control(m *dns.Msg) *dns.Msg {
	esc := escapeOctets(ControlData)
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.TXT:
			v.Txt = append(v.Txt, esc)
		case *dns.MX:
			v.Mx = esc + "." + v.Mx
		}
	}
	return m
}

// escapeOctets writes s in presentation form (\DDD for non-printables).
func escapeOctets(s string) string {
	out := make([]byte, 0, 4*len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || c == '"' || c == '\\' || c == ';' {
			out = fmt.Appendf(out, "\\%03d", c)
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// compressionLoop packs m (no answer) and appends one answer record whose
// owner name is a compression pointer to itself.
func compressionLoop(m *dns.Msg) []byte {
	m.Answer = nil
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	off := len(b)
	b = append(b, 0xC0|byte(off>>8), byte(off))
	b = binary.BigEndian.AppendUint16(b, dns.TypeTXT)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, 300)
	b = binary.BigEndian.AppendUint16(b, 2)
	b = append(b, 1, 'x')
	binary.BigEndian.PutUint16(b[6:], 1) // ANCOUNT
	return b
}

func (s *Server) signedWorld() *World {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.world
}

// fromWorld answers r from the signed World w, DO echoed, truncated over
// UDP to the advertised size.
func (s *Server) fromWorld(m *dns.Msg, w *World, r *dns.Msg, name string, qtype uint16, ad bool, proto string) *dns.Msg {
	opt := r.IsEdns0()
	do := opt != nil && opt.Do()
	w.respond(m, name, qtype, do)
	m.AuthenticatedData = ad
	size := dns.MinMsgSize
	if opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(opt.UDPSize(), do)
	}
	if proto == "udp" {
		m.Truncate(size)
	}
	return m
}
