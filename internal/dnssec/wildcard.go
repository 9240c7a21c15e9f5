package dnssec

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// expandedFrom reports whether the RRset at owner that sig verifies was
// synthesized from a wildcard: the RRSIG's Labels field counts fewer
// labels than owner, a leading "*" not counted (RFC 4034 §3.1.3, RFC
// 4035 §5.3.4). Then ce is the closest encloser (the rightmost Labels
// labels of owner, where the wildcard *.ce is) and next the next closer
// name (one label more). sig.Verify already reconstructs the signed data
// with the wildcard owner (RFC 4035 §5.3.2).
func expandedFrom(owner string, sig *dns.RRSIG) (ce, next string, ok bool) {
	labels := dns.SplitDomainName(owner)
	n := len(labels)
	if n > 0 && labels[0] == "*" {
		n--
	}
	if int(sig.Labels) >= n {
		return "", "", false
	}
	return rightmost(labels, int(sig.Labels)), rightmost(labels, int(sig.Labels)+1), true
}

// rightmost returns the name made of the last n labels.
func rightmost(labels []string, n int) string {
	if n == 0 {
		return "."
	}
	return dns.Fqdn(strings.Join(labels[len(labels)-n:], "."))
}

// wildcardProof checks that a wildcard answer at owner, expanded from the
// wildcard at its closest encloser ce, comes with the proof that owner
// itself does not exist. With NSEC (RFC 4035 §5.3.4): an NSEC record
// covering owner whose names show ce as the closest encloser (no closer
// match). With NSEC3 (RFC 5155 §8.8): an NSEC3 record covering the next
// closer name.
func wildcardProof(auth []dns.RR, zone, owner, ce, next string) error {
	n3, err := nsec3Usable(auth, zone)
	if err != nil {
		return err
	}
	if len(n3) > 0 {
		if nsec3Cover(n3, next) == nil {
			return fmt.Errorf("no NSEC3 record covers the next closer name %s (RFC 5155 §8.8)", next)
		}
		return nil
	}
	n := nsecCovering(nsecIn(auth, zone), owner)
	if n == nil {
		return fmt.Errorf("no NSEC record proves that %s does not exist (RFC 4035 §5.3.4)", owner)
	}
	if e := nsecEncloser(n, owner); !strings.EqualFold(e, ce) {
		return fmt.Errorf("the NSEC record at %s shows that %s exists, a closer match for %s than the wildcard at %s (RFC 4035 §5.3.4)", n.Hdr.Name, e, owner, ce)
	}
	return nil
}
