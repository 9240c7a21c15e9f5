package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
)

// shard is one part of a split list: the domains whose hash is i modulo n.
type shard struct{ i, n uint64 }

// parseShard reads "I/N" (0 <= I < N); "" is the whole list.
func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{0, 1}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.ParseUint(is, 10, 32)
	n, err2 := strconv.ParseUint(ns, 10, 32)
	if !ok || err1 != nil || err2 != nil || n == 0 || i >= n {
		return shard{}, usageErr("--shard %q: give I/N with 0 <= I < N, such as 0/4", s)
	}
	return shard{i, n}, nil
}

// has says whether the domain belongs to the shard: FNV-1a (64 bits) of
// its A-label form, modulo n. The same name in any spelling lands in the
// same shard, so n runs with 0/n ... n-1/n cover a list exactly once.
func (s shard) has(n resolve.Name) bool {
	if s.n <= 1 {
		return true
	}
	h := fnv.New64a()
	io.WriteString(h, n.ASCII)
	return h.Sum64()%s.n == s.i
}

// resumed is what an earlier output file holds: the domains reported in
// it (interrupted reports excluded), and the length of a last line cut
// short.
type resumed struct {
	path string
	done map[string]struct{}
	cut  int64 // bytes of the last line when it has no newline
}

// readResume reads the JSON Lines output of an earlier run. A line that
// is not a report is reported and ignored; so is a last line without its
// newline (a run killed while writing it): its domain is audited again.
func (a *app) readResume(path string) (*resumed, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return &resumed{path: path, done: map[string]struct{}{}}, nil // the first attempt
	}
	if err != nil {
		return nil, usageErr("--resume: %v", err)
	}
	defer f.Close()
	res := &resumed{path: path, done: map[string]struct{}{}}
	err = eachReportLine(f, func(l reportLine) {
		if !l.complete {
			res.cut = l.size
			fmt.Fprintf(a.stderr, "mailcheck: --resume %s:%d: the last line is cut short; its domain will be audited again\n", path, l.n)
			return
		}
		br, why := l.brief()
		switch {
		case why != "":
			fmt.Fprintf(a.stderr, "mailcheck: --resume %s:%d: not a report (%s), ignored\n", path, l.n, why)
		case !br.Interrupted:
			res.done[br.Domain] = struct{}{}
		}
	})
	if err != nil {
		return nil, usageErr("--resume: %v", err)
	}
	return res, nil
}

// has says whether the domain was reported already.
func (r *resumed) has(n resolve.Name) bool {
	if r == nil {
		return false
	}
	_, ok := r.done[n.ASCII]
	return ok
}

// appendsTo says whether path is the resumed file: then the run appends
// to it instead of starting it anew.
func (r *resumed) appendsTo(path string) bool {
	return r != nil && filepath.Clean(path) == filepath.Clean(r.path)
}

// openAppend opens the resumed file for appending, first cutting off a
// last line cut short so that the next report starts a line of its own.
func (r *resumed) openAppend() (*os.File, error) {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if r.cut == 0 {
		return f, nil
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Truncate(st.Size() - r.cut)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
