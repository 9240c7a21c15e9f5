//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/mailcheck/mailcheck/internal/benchworld"
	"github.com/mailcheck/mailcheck/internal/dnstest"
)

// serveMain serves the world of -n domains with -delay added to every
// answer, prints its address, and when stdin closes prints the questions
// it received: total, distinct, and those asked more than once.
func serveMain(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	n := fs.Int("n", 1000, "domains")
	delay := fs.Duration("delay", 0, "added to every answer")
	seed := fs.Uint64("seed", 16, "the world's seed")
	fs.Parse(args)
	if path := os.Getenv("BENCH_SRVPROFILE"); path != "" { // the server's own CPU profile, one file per server process
		f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	s, err := dnstest.Serve()
	check(err)
	s.SetResponder(benchworld.New(*n, *seed))
	s.SetAnswerDelay(*delay)
	check(forceReadBuffer(s.UDPConn(), 8<<20))
	fmt.Println(s.Addr)
	io.Copy(io.Discard, os.Stdin)
	time.Sleep(50 * time.Millisecond) // late datagrams
	fmt.Println(s.Total(), s.Distinct(), len(s.Duplicates()), cpu())
	if os.Getenv("BENCH_DUPS") != "" {
		for _, d := range s.Duplicates() {
			fmt.Fprintln(os.Stderr, "dup:", d)
		}
	}
	s.Close()
}

// forceReadBuffer sets a UDP receive buffer of n octets past
// net.core.rmem_max (as root), so that a burst of questions is not
// dropped before the server reads it, as on a resolver tuned for load.
func forceReadBuffer(c *net.UDPConn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n); serr != nil {
			serr = c.SetReadBuffer(n)
		}
	})
	return errors.Join(err, serr)
}
