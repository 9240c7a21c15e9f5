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
	exitUnevaluated = 3 // could not be evaluated: no grade, or incomplete without --allow-incomplete
	exitOutput      = 4 // the report could not be written (stdout closed, disk full)
	exitSIGINT      = 130
	exitSIGTERM     = 143
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
	stdin          io.Reader // --input -, summarize -
	stdout, stderr io.Writer
	dialer         checks.Dialer
	rootCAs        *x509.CertPool
	now            func() time.Time
	isTerminal     func(io.Writer) bool
	termWidth      func(io.Writer) int // columns of a terminal, 0 if not known
	getenv         func(string) string
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{
		stdin:      os.Stdin,
		stdout:     stdout,
		stderr:     stderr,
		dialer:     &net.Dialer{},
		now:        time.Now,
		isTerminal: isTerminal,
		termWidth:  termWidth,
		getenv:     os.Getenv,
	}
}

func main() {
	ctx, stop := interruptible(context.Background())
	code := newApp(os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// signalCause is the cancellation cause of a run stopped by a signal.
type signalCause struct{ sig os.Signal }

func (s signalCause) Error() string { return "interrupted by " + s.sig.String() }
func (s signalCause) Unwrap() error { return checks.ErrInterrupted }

// interruptible returns a context that the first SIGINT or SIGTERM
// cancels with a signalCause: the audits in progress end, what finished
// is printed, the reports are marked interrupted, and the exit code is
// 130 or 143. A second signal kills the process as usual.
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			cancel(signalCause{s})
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(sigs); close(done); cancel(nil) }
}

// interruptCode maps a run stopped by a signal to its exit code.
func interruptCode(ctx context.Context) (int, bool) {
	var sc signalCause
	if !errors.As(context.Cause(ctx), &sc) {
		return 0, false
	}
	if sc.sig == syscall.SIGTERM {
		return exitSIGTERM, true
	}
	return exitSIGINT, true
}

// run executes the command line and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if code, ok := interruptCode(ctx); ok {
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitUsage {
			return exitUsage
		}
		fmt.Fprintf(a.stderr, "mailcheck: %v: the reports above are incomplete\n", context.Cause(ctx))
		return code
	}
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
			return a.printVersion(cmd.Flag("format").Value.String())
		},
	}
}
