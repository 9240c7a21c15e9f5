package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/schedule"
)

// bulkFlags are the flags of runs over many domains (docs/scale.md).
type bulkFlags struct {
	input      string
	order      string
	shardSpec  string
	resumePath string
	summary    bool
	summarySet bool
	reportOnly bool

	shard shard // parsed shardSpec
}

func (b *bulkFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&b.input, "input", "", `read the domains from FILE, one a line ("-": standard input; # starts a comment)`)
	fs.StringVar(&b.order, "order", "input", "when reports are written: input (the list's order, within a bounded window) or completion (as each audit ends)")
	fs.StringVar(&b.shardSpec, "shard", "", "audit only shard I of N (I/N, from 0/N): a hash of each domain decides, so N runs cover a list exactly once")
	fs.StringVar(&b.resumePath, "resume", "", "skip the domains already reported in FILE (JSON Lines of an earlier run); with --output json=FILE, append to it")
	fs.BoolVar(&b.summary, "summary", false, "print a summary on standard error at the end: grades, errors, the most frequent findings (default with --input)")
	fs.BoolVar(&b.reportOnly, "report-only", false, "exit 0 whatever the findings and malformed input lines (only usage, output and interruption errors give another code)")
}

// validate checks the flags.
func (b *bulkFlags) validate() error {
	if b.order != "input" && b.order != "completion" {
		return usageErr("--order must be input or completion, not %q", b.order)
	}
	s, err := parseShard(b.shardSpec)
	b.shard = s
	return err
}

// scheduleOrder is --order for the scheduler.
func (b *bulkFlags) scheduleOrder() schedule.Order {
	if b.order == "completion" {
		return schedule.AsCompleted
	}
	return schedule.InSourceOrder
}

// wantSummary says whether the run ends with a summary on stderr.
func (b *bulkFlags) wantSummary() bool {
	if b.summarySet {
		return b.summary
	}
	return b.input != ""
}

// runInput is where a run's domains come from.
type runInput struct {
	src     schedule.Source
	total   int             // domains to audit; -1 when not known (a list read as it goes)
	lines   *schedule.Lines // nil for domains given as arguments
	badArgs int             // malformed arguments
	close   func() error
	resume  *resumed // nil without --resume
}

// malformed is the number of domains (arguments or lines) refused.
func (in *runInput) malformed() int {
	if in.lines != nil {
		return in.lines.Malformed
	}
	return in.badArgs
}

// openInput builds the run's source from the arguments or --input, with
// --shard and --resume applied.
func (a *app) openInput(f *auditFlags, args []string) (*runInput, error) {
	b := &f.bulk
	if b.input != "" && len(args) > 0 {
		return nil, usageErr("give the domains as arguments or with --input, not both")
	}
	var res *resumed
	if b.resumePath != "" {
		var err error
		if res, err = a.readResume(b.resumePath); err != nil {
			return nil, err
		}
	}
	keep := func(n resolve.Name) bool { return b.shard.has(n) && !res.has(n) }
	if b.input == "" {
		in, err := a.argsInput(args, keep)
		if in != nil {
			in.resume = res
		}
		return in, err
	}
	in, err := a.linesInput(b.input, keep, a.showProgress(f))
	if in != nil {
		in.resume = res
	}
	return in, err
}

// argsInput validates the domains given as arguments; a malformed one is
// reported without hiding the audits of the others.
func (a *app) argsInput(args []string, keep func(resolve.Name) bool) (*runInput, error) {
	var names schedule.List
	bad := 0
	for _, arg := range args {
		n, err := parseDomainArg(arg)
		if err != nil {
			fmt.Fprintf(a.stderr, "mailcheck: %v\n", err)
			bad++
			continue
		}
		if keep(n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 && bad > 0 {
		return nil, &exitError{code: exitUsage}
	}
	return &runInput{src: &names, total: len(names), badArgs: bad, close: func() error { return nil }}, nil
}

// linesInput streams the list of --input ("-": standard input). With
// count set (a progress bar wants the total) a file is read once more
// first to count its domains.
func (a *app) linesInput(path string, keep func(resolve.Name) bool, count bool) (*runInput, error) {
	r, closeFn, err := a.openList(path)
	if err != nil {
		return nil, err
	}
	in := &runInput{total: -1, close: closeFn}
	if count && path != "-" {
		in.total = countList(path, keep)
	}
	in.lines = schedule.NewLines(r)
	in.lines.Keep = keep
	in.lines.Bad = func(line int, text string, err error) {
		fmt.Fprintf(a.stderr, "mailcheck: %s:%d: %v\n", listName(path), line, err)
	}
	in.src = in.lines
	return in, nil
}

// openList opens --input.
func (a *app) openList(path string) (io.Reader, func() error, error) {
	if path == "-" {
		return a.stdin, func() error { return nil }, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, usageErr("--input: %v", err)
	}
	return f, f.Close, nil
}

// countList counts the domains a list will give (-1 if it cannot be read).
func countList(path string, keep func(resolve.Name) bool) int {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	l := schedule.NewLines(f)
	l.Keep = keep
	n := 0
	for _, ok := l.Next(); ok; _, ok = l.Next() {
		n++
	}
	return n
}

func listName(path string) string {
	if path == "-" {
		return "<stdin>"
	}
	return path
}

// showProgress says whether a progress bar goes to stderr: a list read
// with --input, stderr a terminal, and the reports going elsewhere.
func (a *app) showProgress(f *auditFlags) bool {
	return f.bulk.input != "" && a.isTerminal(a.stderr) && !a.isTerminal(a.stdout)
}
