// Command mailcheck audits a domain's mail setup: DNS (MX, addresses,
// reverse DNS), authentication (SPF, DKIM, DMARC), blocklists and the
// servers' SMTP/TLS, and prints a scored report.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck/mailcheck/checks"
)

// Exit codes; documented in README.md.
const (
	exitOK          = 0 // the audit passed
	exitFail        = 1 // a fail finding, or the score is below --fail-under
	exitUsage       = 2 // bad flag, malformed domain, unreadable or corrupt zone file
	exitUnevaluated = 3 // nothing could be evaluated (no resolver answers...)
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error // nil: nothing more to print
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// app holds what a run of the CLI depends on; tests replace the dialer and
// the clock to stay on loopback.
type app struct {
	stdout, stderr io.Writer
	dialer         checks.Dialer
	rootCAs        *x509.CertPool
	now            func() time.Time
	isTerminal     func(io.Writer) bool
	getenv         func(string) string
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{
		stdout:     stdout,
		stderr:     stderr,
		dialer:     &net.Dialer{},
		now:        time.Now,
		isTerminal: isTerminal,
		getenv:     os.Getenv,
	}
}

func main() {
	// Ctrl-C cancels the audits in progress: their checks end with errors
	// and the reports are still printed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(a.stderr, "mailcheck: %v\n", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors: unknown flag, bad flag value, unknown command.
	fmt.Fprintf(a.stderr, "mailcheck: %v\nRun 'mailcheck --help' for usage.\n", err)
	return exitUsage
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of mailcheck",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "mailcheck %s (report schema %s)\n", version, reportSchema)
			return nil
		},
	}
}
