package spf

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestParseSharedMemo(t *testing.T) {
	cases := []string{
		"v=spf1 include:_spf.example.com ip4:192.0.2.0/24 -all",
		"v=spf1 a mx/24 exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.net",
		"v=spf1 ip4:300.1.1.1 -all", // a syntax error is kept too
	}
	for _, txt := range cases {
		want, wantErr := Parse(txt)
		got1, err1 := parseShared(txt)
		got2, err2 := parseShared(txt)
		if !reflect.DeepEqual(got1, want) || fmt.Sprint(err1) != fmt.Sprint(wantErr) {
			t.Errorf("parseShared(%q) = %+v, %v; Parse gives %+v, %v", txt, got1, err1, want, wantErr)
		}
		if got1 != got2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Errorf("parseShared(%q) parsed again instead of sharing the first parse", txt)
		}
	}
}

func TestParseSharedBounded(t *testing.T) {
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range maxMemo {
				txt := fmt.Sprintf("v=spf1 ip4:10.%d.%d.%d -all", w, i/256, i%256)
				if rec, err := parseShared(txt); err != nil || rec.Text != txt {
					t.Errorf("parseShared(%q) = %v, %v", txt, rec, err)
					return
				}
			}
		})
	}
	wg.Wait()
	memo.Lock()
	n := len(memo.m)
	memo.Unlock()
	if n == 0 || n > maxMemo {
		t.Errorf("memo holds %d records after %d distinct ones; want 1..%d", n, 4*maxMemo, maxMemo)
	}
}
