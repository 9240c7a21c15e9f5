package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck/mailcheck/checks"
)

// TestTextDeliveryBlock: the delivery check's findings appear whole in
// the summary block, after the problems list and before the first check.
func TestTextDeliveryBlock(t *testing.T) {
	msg := "mx.example.org: a sender enforcing DANE will not deliver here, because no TLSA record at _25._tcp.mx.example.org. matches the certificate 192.0.2.1 presents; a sender enforcing MTA-STS will deliver here as to any server, without MTA-STS's protection, because example.org publishes no MTA-STS policy"
	res := []checks.CheckResult{
		{Name: "mx", Title: "MX records", Weight: 3, Findings: []checks.Finding{checks.SpecMXOK.New("ok")}},
		{Name: "delivery", Title: "Delivery verdict", Weight: 1, Findings: []checks.Finding{checks.SpecDeliveryBlocked.New("%s", msg)}},
	}
	r := New("example.org", "example.org", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), nil, res)
	var b bytes.Buffer
	if err := WriteText(&b, r, TextOptions{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	problems, block, first := strings.Index(out, "problems, worst first:"), strings.Index(out, "\ndelivery:\n"), strings.Index(out, "MX records [mx]")
	if problems < 0 || block < problems || first < block {
		t.Fatalf("problems at %d, delivery block at %d, first check at %d:\n%s", problems, block, first, out)
	}
	summary := strings.Join(strings.Fields(out[block:first]), " ")
	if !strings.Contains(summary, "fail delivery.blocked "+msg) {
		t.Errorf("the summary block lacks the whole message:\n%s", out[block:first])
	}
}
