package spf

import "sync"

// maxMemo bounds the parsed records kept by parseShared.
const maxMemo = 1024

// memo keeps parsed records by their text. Parse depends on nothing but
// the text, and no Record is changed after it is made, so one parse can
// serve every evaluation and tree walk that meets the same record: the
// records of providers' include trees, shared by thousands of domains in
// a bulk run, and a domain's own record, read by both its tree walk and
// its evaluations. When full it is emptied, so it stays bounded however
// many records a run meets.
var memo = struct {
	sync.Mutex
	m map[string]parsedRecord
}{m: map[string]parsedRecord{}}

type parsedRecord struct {
	rec *Record
	err error
}

// parseShared is Parse through the memo. The Record it returns is shared:
// callers only read it.
func parseShared(txt string) (*Record, error) {
	memo.Lock()
	p, ok := memo.m[txt]
	memo.Unlock()
	if ok {
		return p.rec, p.err
	}
	rec, err := Parse(txt)
	memo.Lock()
	if len(memo.m) >= maxMemo {
		clear(memo.m)
	}
	memo.m[txt] = parsedRecord{rec, err}
	memo.Unlock()
	return rec, err
}
