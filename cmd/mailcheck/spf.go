package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/fatih/color"
	"github.com/spf13/cobra"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/spf"
)

// Exit codes of `mailcheck spf eval`, one per check_host() result;
// documented in docs/checks/spf.md.
const (
	spfExitPass      = 0 // pass
	spfExitFail      = 1 // fail or softfail
	spfExitTempError = 3 // temperror (exitUnevaluated)
	spfExitPermError = 4 // permerror
	spfExitNeutral   = 5 // neutral or none: the domain makes no assertion
)

func spfExitCode(r spf.Result) int {
	switch r {
	case spf.Pass:
		return spfExitPass
	case spf.Fail, spf.SoftFail:
		return spfExitFail
	case spf.TempError:
		return spfExitTempError
	case spf.PermError:
		return spfExitPermError
	}
	return spfExitNeutral
}

type spfEvalFlags struct {
	dnsFlags
	ip       string
	sender   string
	helo     string
	receiver string
}

var _ = func() int {
	extraCommands = append(extraCommands, (*app).spfCmd)
	return 0
}()

func (a *app) spfCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "spf",
		Short: "SPF tools (RFC 7208)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("spf needs a subcommand: mailcheck spf eval --ip ADDR --sender ADDR")
		},
	}
	f := &spfEvalFlags{}
	eval := &cobra.Command{
		Use:   "eval --ip ADDR --sender ADDR [--helo NAME]",
		Short: "Evaluate check_host() for one client address and sender, with a trace of every term",
		Long: `spf eval runs RFC 7208 check_host() for a client address and a MAIL FROM
sender (or, with an empty --sender, the HELO identity) and prints the result,
the explanation and, with --trace, every term evaluated with its DNS queries.

Exit codes: 0 pass; 1 fail or softfail; 2 usage error; 3 temperror;
4 permerror; 5 neutral or none.`,
		Example: `  mailcheck spf eval --ip 192.0.2.1 --sender user@example.org --helo mail.example.org
  mailcheck spf eval --trace --offline --zone testdata/zones/example.org.zone --ip 192.0.2.25 --sender user@example.org
  mailcheck spf eval --format json --ip 2001:db8::1 --sender example.org`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.spfEval(cmd.Context(), f)
		},
	}
	fs := eval.Flags()
	f.dnsFlags.register(fs)
	fs.Lookup("trace").Usage = "print every term evaluated with its DNS queries"
	fs.StringVar(&f.ip, "ip", "", "the client IP address (required)")
	fs.StringVar(&f.sender, "sender", "", "the MAIL FROM address, or a bare domain (postmaster@ is assumed); empty: check the HELO identity")
	fs.StringVar(&f.helo, "helo", "", "the HELO/EHLO name (for %{h}, and the identity checked when --sender is empty)")
	fs.StringVar(&f.receiver, "receiver", "", "the receiving host's name, for %{r} in explanations")
	root.AddCommand(eval)
	return root
}

func (a *app) spfEval(ctx context.Context, f *spfEvalFlags) error {
	if err := f.dnsFlags.validate(); err != nil {
		return err
	}
	if err := onlyFormats("spf eval", f.format, "text", "json"); err != nil {
		return err
	}
	if f.ip == "" {
		return usageErr("--ip is required: the address of the client to evaluate")
	}
	ip, err := netip.ParseAddr(f.ip)
	if err != nil || ip.Zone() != "" {
		return usageErr("--ip %q is not an IP address", f.ip)
	}
	if f.sender == "" && f.helo == "" {
		return usageErr("give --sender (the MAIL FROM address) or --helo (to check the HELO identity)")
	}
	sender := f.sender
	if sender != "" && !strings.Contains(sender, "@") {
		sender = "postmaster@" + sender
	}
	// An internationalized domain is looked up by its A-labels.
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		if i == len(sender)-1 {
			return usageErr("--sender %q has no domain after '@'", f.sender)
		}
		d, err := aLabels(sender[i+1:], "--sender")
		if err != nil {
			return err
		}
		sender = sender[:i+1] + d
	}
	helo, err := aLabels(f.helo, "--helo")
	if err != nil {
		return err
	}
	// The SPF trace shows every query; the resolver's own per-packet trace
	// would repeat them on stderr.
	bf := f.dnsFlags
	bf.trace = false
	setup, err := bf.build(a)
	if err != nil {
		return err
	}
	for _, w := range setup.Warnings {
		fmt.Fprintf(a.stderr, "mailcheck: warning: %s\n", w)
	}
	ctx, cancel := context.WithTimeout(ctx, f.deadline)
	defer cancel()
	c := &spf.Checker{Resolver: setup.Cache, Receiver: f.receiver, Now: a.now, Trace: f.trace || f.format == "json"}
	out := c.CheckHost(ctx, spf.Request{IP: ip, Sender: sender, Helo: helo})
	if f.format == "json" {
		if out.Trace == nil {
			out.Trace = []spf.Step{}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		writeSPFText(a.stdout, out, f.dnsFlags.colorOn(a))
	}
	if code := spfExitCode(out.Result); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// aLabels checks a domain given on the command line (a malformed one is a
// usage error, not an SPF "none") and returns its A-label form.
func aLabels(d, flag string) (string, error) {
	if d == "" {
		return "", nil
	}
	n, err := resolve.ParseName(d)
	if err != nil {
		return "", usageErr("%s: %v", flag, err)
	}
	return n.ASCII, nil
}

func writeSPFText(w io.Writer, o *spf.Outcome, colour bool) {
	res := string(o.Result)
	if colour {
		c := color.New(color.FgYellow, color.Bold)
		switch o.Result {
		case spf.Pass:
			c = color.New(color.FgGreen, color.Bold)
		case spf.Fail, spf.SoftFail, spf.PermError:
			c = color.New(color.FgRed, color.Bold)
		}
		c.EnableColor()
		res = c.Sprint(res)
	}
	fmt.Fprintf(w, "result:      %s\n", res)
	if o.Explanation != "" {
		fmt.Fprintf(w, "explanation: %s\n", o.Explanation)
	}
	fmt.Fprintf(w, "reason:      %s\n", o.Reason)
	fmt.Fprintf(w, "identity:    %s (domain %s), client %s\n", o.Sender, o.Domain, o.IP)
	fmt.Fprintf(w, "lookups:     %d of %d DNS-querying terms, %d of %d void\n", o.Lookups, spf.DefaultMaxLookups, o.VoidLookups, spf.DefaultMaxVoidLookups)
	if len(o.Trace) == 0 {
		return
	}
	fmt.Fprintln(w, "trace:")
	for _, s := range o.Trace {
		ind := strings.Repeat("  ", s.Depth+1)
		term := s.Term
		if term == "" {
			term = "(record)"
		}
		fmt.Fprintf(w, "%s%s %s → %s\n", ind, s.Domain, term, s.Result)
		for _, q := range s.Queries {
			fmt.Fprintf(w, "%s    %s\n", ind, q)
		}
	}
}
