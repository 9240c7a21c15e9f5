package resolve

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/miekg/dns"
)

// badReply is a reply that arrived but does not answer the question.
type badReply struct{ why string }

func (b *badReply) Error() string { return b.why }

// ignoredReplies counts the UDP datagrams set aside during one attempt.
type ignoredReplies struct {
	n    int
	last string
}

// roundTrip sends m to srv over proto and reads until a reply to m
// arrives, the deadline passes or ctx ends.
func (c *Client) roundTrip(ctx context.Context, m *dns.Msg, srv, proto string, deadline time.Time) (*dns.Msg, ignoredReplies, error) {
	if proto == "udp" {
		return c.udp.exchange(ctx, srv, m, int(c.udpSize()), deadline)
	}
	m.Id = dns.Id() // a fresh ID per connection (the UDP mux picks its own)
	wire, err := m.Pack()
	if err != nil {
		return nil, ignoredReplies{}, err
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, proto, srv)
	if err != nil {
		return nil, ignoredReplies{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, ignoredReplies{}, err
	}
	// A cancelled ctx (SIGINT) has no deadline: unblock the read at once.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	resp, err := exchangeTCP(conn, m, wire)
	return resp, ignoredReplies{}, err
}

// truncatedHeader reports a reply to m whose header has TC set, whether or
// not the rest of it parses.
func truncatedHeader(m *dns.Msg, b []byte) bool {
	if len(b) < 12 || binary.BigEndian.Uint16(b) != m.Id {
		return false
	}
	const qr, tc = 1 << 15, 1 << 9
	flags := binary.BigEndian.Uint16(b[2:])
	return flags&qr != 0 && flags&tc != 0
}

// exchangeTCP writes the query with its length prefix and reads one reply
// (at most 65,535 octets, the protocol's maximum).
func exchangeTCP(conn net.Conn, m *dns.Msg, wire []byte) (*dns.Msg, error) {
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	var hdr [2]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n < 12 {
		return nil, &badReply{fmt.Sprintf("a %d-octet reply is shorter than a DNS header", n)}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(buf); err != nil {
		return nil, &badReply{"unparseable reply: " + err.Error()}
	}
	if why := mismatch(m, resp); why != "" {
		return nil, &badReply{why}
	}
	return resp, nil
}

// mismatch says why resp is not an answer to m ("" when it is): RFC 1035
// §7.3 and RFC 5452 §9.1 (ID, question), and a reply must be a reply.
func mismatch(m, resp *dns.Msg) string {
	q := m.Question[0]
	switch {
	case resp.Id != m.Id:
		return fmt.Sprintf("reply ID %d, the query's is %d", resp.Id, m.Id)
	case !resp.Response:
		return "an echo of the query (QR=0), not a reply"
	case resp.Opcode != dns.OpcodeQuery:
		return fmt.Sprintf("opcode %s, not QUERY", opcodeString(resp.Opcode))
	case len(resp.Question) == 0 && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError:
		return "" // an error reply need not repeat the question (RFC 1035 §4.1.2 is silent; many servers omit it)
	case len(resp.Question) != 1:
		return fmt.Sprintf("%d questions in the reply, not 1", len(resp.Question))
	}
	rq := resp.Question[0]
	switch {
	case rq.Qclass != dns.ClassINET:
		return fmt.Sprintf("question class %s, not IN", dns.Class(rq.Qclass).String())
	case rq.Qtype != q.Qtype || Canonical(rq.Name) != Canonical(q.Name):
		return fmt.Sprintf("the reply is for another question (%s %s)", dns.Type(rq.Qtype).String(), shorten(rq.Name))
	}
	return ""
}

func opcodeString(op int) string {
	if s, ok := dns.OpcodeToString[op]; ok {
		return s
	}
	return fmt.Sprint(op)
}
