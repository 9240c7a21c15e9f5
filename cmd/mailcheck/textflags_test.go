package main

import (
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestColorFlag: --color auto follows the terminal, NO_COLOR and
// TERM=dumb; always and never override them; --no-color is never.
func TestColorFlag(t *testing.T) {
	srv := startMX(t)
	args := []string{"--resolver", srv.Addr, "--checks", "mx", "ok.mx.test"}
	env := func(kv map[string]string, tty bool) func(*app) {
		return func(a *app) {
			a.isTerminal = func(io.Writer) bool { return tty }
			a.getenv = func(k string) string { return kv[k] }
		}
	}
	tests := []struct {
		name  string
		setup func(*app)
		flags []string
		color bool
	}{
		{"auto terminal", env(nil, true), nil, true},
		{"auto TERM=dumb", env(map[string]string{"TERM": "dumb"}, true), nil, false},
		{"auto NO_COLOR", env(map[string]string{"NO_COLOR": "1"}, true), []string{"--color", "auto"}, false},
		{"auto pipe", env(nil, false), nil, false},
		{"always pipe", env(nil, false), []string{"--color", "always"}, true},
		{"always NO_COLOR", env(map[string]string{"NO_COLOR": "1", "TERM": "dumb"}, false), []string{"--color=ALWAYS"}, true},
		{"never terminal", env(nil, true), []string{"--color", "never"}, false},
		{"no-color terminal", env(nil, true), []string{"--no-color"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cliWith(t, tc.setup, append(tc.flags, args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := strings.Contains(stdout, "\x1b["); got != tc.color {
				t.Errorf("ANSI colour = %v, want %v:\n%s", got, tc.color, stdout)
			}
		})
	}
	for _, bad := range [][]string{{"--color", "sometimes"}, {"--no-color", "--color", "always"}, {"--width", "-3"}} {
		if code, _, stderr := cli(t, append(bad, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", bad, code, exitUsage, stderr)
		}
	}
}

// TestWidthAndVerbose: the width comes from --width, else $COLUMNS, else
// the terminal; evidence only with --verbose.
func TestWidthAndVerbose(t *testing.T) {
	args := append(append([]string{"--offline", "--checks", "mx,ptr,dnsbl"}, zoneArgs()...), "example.org")
	widest := func(out string) int {
		n := 0
		for _, l := range strings.Split(out, "\n") {
			// A unit longer than the line (a zone file's path) overflows it.
			if !strings.HasPrefix(l, "started:") && strings.Contains(strings.TrimSpace(l), " ") {
				n = max(n, utf8.RuneCountInString(l))
			}
		}
		return n
	}
	term := func(cols int, env map[string]string) func(*app) {
		return func(a *app) {
			a.termWidth = func(io.Writer) int { return cols }
			a.getenv = func(k string) string { return env[k] }
		}
	}
	tests := []struct {
		name  string
		setup func(*app)
		flags []string
		max   int
	}{
		{"terminal", term(60, nil), nil, 60},
		{"COLUMNS over the terminal", term(60, map[string]string{"COLUMNS": "72"}), nil, 72},
		{"--width over COLUMNS", term(60, map[string]string{"COLUMNS": "72"}), []string{"--width", "50"}, 50},
		{"unknown: 100", term(0, nil), nil, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stdout, _ := cliWith(t, tc.setup, append(tc.flags, args...)...)
			if got := widest(stdout); got > tc.max || got < tc.max-15 {
				t.Errorf("widest line %d columns, want at most %d (and near it):\n%s", got, tc.max, stdout)
			}
		})
	}
	evidence := "example.org. 3600 IN MX 10 mail.example.org."
	_, plain, _ := cli(t, args...)
	_, verbose, _ := cli(t, append([]string{"--verbose"}, args...)...)
	if strings.Contains(plain, evidence) || !strings.Contains(verbose, evidence) {
		t.Errorf("evidence %q should be only in the --verbose report:\n%s\n---\n%s", evidence, plain, verbose)
	}
}
