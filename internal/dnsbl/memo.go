package dnsbl

import (
	"net/netip"
	"slices"
	"sync"
)

// Memo shares what the lists said among the audits of a run
// (Checker.Memo): each list's health verdict, and its answers about IP
// addresses. A list's RFC 5782 §5 probes do not depend on the domain
// audited, and the MX addresses of a mail provider are shared by
// thousands of its customers, so a bulk run need not repeat them, nor
// even their cached answers, for each domain. Only what was drawn from
// answers is kept (a health verdict of healthy, unhealthy or refused; a
// lookup that was not Failed): after a timeout or an error the next
// audit asks again, as it would without a memo. A Memo lives as long as
// one run; it holds at most one verdict per list and maxMemoResults
// answers (emptied when full).
type Memo struct {
	mu      sync.Mutex
	health  map[string]memoHealth // by zone
	results map[memoKey]Result
}

// maxMemoResults bounds the answers a Memo keeps.
const maxMemoResults = 4096

type memoKey struct {
	zone string
	addr netip.Addr
}

type memoHealth struct {
	def *List // the definition probed: a zone given two ways is two lists
	h   Health
}

// NewMemo returns an empty memo for one run.
func NewMemo() *Memo {
	return &Memo{health: map[string]memoHealth{}, results: map[memoKey]Result{}}
}

// healthOf returns the kept verdict for l, if any.
func (m *Memo) healthOf(l *List) (Health, bool) {
	if m == nil {
		return Health{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.health[l.Zone]
	if !ok || !sameList(e.def, l) {
		return Health{}, false
	}
	return e.h, true
}

// keep stores h for l when it was drawn from answers.
func (m *Memo) keep(l *List, h Health) {
	if m == nil {
		return
	}
	switch h.Status {
	case Healthy, Unhealthy, Blocked:
	default:
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.health[l.Zone]; ok && !sameList(e.def, l) {
		for k := range m.results {
			if k.zone == l.Zone {
				delete(m.results, k) // answers read under another definition
			}
		}
	}
	m.health[l.Zone] = memoHealth{def: l.clone(), h: h}
}

// resultOf returns the kept answer of l about t, if any. Domain targets
// are not kept: each audit asks about its own domain.
func (m *Memo) resultOf(l *List, t Target) (Result, bool) {
	if m == nil || t.IsDomain() {
		return Result{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.health[l.Zone]
	if !ok || !sameList(e.def, l) {
		return Result{}, false // answers are kept only beside their list's verdict
	}
	r, ok := m.results[memoKey{l.Zone, t.Addr}]
	return r, ok
}

// keepResult stores l's answer r about t unless it failed.
func (m *Memo) keepResult(l *List, t Target, r Result) {
	if m == nil || t.IsDomain() || r.Verdict == Failed {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.health[l.Zone]; !ok || !sameList(e.def, l) {
		return
	}
	if len(m.results) >= maxMemoResults {
		clear(m.results)
	}
	m.results[memoKey{l.Zone, t.Addr}] = r
}

// sameList reports whether a and b define the same list: the same zone
// asked the same way and its answers read the same way.
func sameList(a, b *List) bool {
	return a.Zone == b.Zone && a.Kind == b.Kind && a.Bitmask == b.Bitmask && a.Generic == b.Generic &&
		a.TestListed == b.TestListed && a.TestClean == b.TestClean && a.Name == b.Name &&
		a.Delist == b.Delist && a.Access == b.Access && slices.Equal(a.Codes, b.Codes)
}
