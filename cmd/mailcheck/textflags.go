package main

import (
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mailcheck/mailcheck/report"
)

// textFlags are the flags of the text report: colours, width, evidence.
type textFlags struct {
	color   string
	noColor bool
	width   int
	verbose bool
}

func (f *textFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.color, "color", "auto", "colours in text output: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never")
	fs.BoolVar(&f.noColor, "no-color", false, "no colours in text output (the same as --color never)")
	fs.IntVar(&f.width, "width", 0, "columns of the text report (default: $COLUMNS, else the terminal's width, else 100)")
	fs.BoolVar(&f.verbose, "verbose", false, "text report: show each finding's evidence (records, transcripts; long keys abbreviated)")
}

func (f *textFlags) validate() error {
	f.color = strings.ToLower(strings.TrimSpace(f.color))
	switch f.color {
	case "auto", "always", "never":
	default:
		return usageErr("--color must be auto, always or never, not %q", f.color)
	}
	if f.noColor && f.color == "always" {
		return usageErr("--no-color and --color always exclude each other")
	}
	if f.width < 0 {
		return usageErr("--width must be positive, not %d", f.width)
	}
	return nil
}

// colorOn decides whether text output is coloured: --color always or
// never, else (auto) only on a terminal, and not with NO_COLOR set or
// TERM=dumb.
func (f *textFlags) colorOn(a *app) bool {
	switch {
	case f.noColor || f.color == "never":
		return false
	case f.color == "always":
		return true
	case a.getenv("NO_COLOR") != "", a.getenv("TERM") == "dumb":
		return false
	}
	return a.isTerminal(a.stdout)
}

// columns is the width of the text report: --width, else $COLUMNS, else
// the terminal's, else 0 (the report's default).
func (f *textFlags) columns(a *app) int {
	if f.width > 0 {
		return f.width
	}
	if n, err := strconv.Atoi(strings.TrimSpace(a.getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return a.termWidth(a.stdout)
}

// reportOptions are the settings of the chosen format.
func (f *textFlags) reportOptions(a *app) report.Options {
	return report.Options{Color: f.colorOn(a), Width: f.columns(a), Verbose: f.verbose}
}

// termWidth returns the columns of the terminal w writes to, or 0.
func termWidth(w io.Writer) int {
	fd, ok := fdOf(w)
	if !ok {
		return 0
	}
	return terminalColumns(fd)
}

// fdOf returns the file descriptor behind w when w is a terminal.
func fdOf(w io.Writer) (uintptr, bool) {
	if !isTerminal(w) {
		return 0, false
	}
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	return f.Fd(), true
}
