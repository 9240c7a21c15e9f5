package smtptest_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/mailcheck/mailcheck/internal/smtptest"
)

// A test that ends right after Start shuts its server down before the
// serve goroutine may have run (always, on one CPU: nothing yields in
// between). The cleanup must not then wait for a Serve that accepts for
// ever. Before the fix this hung at the first subtest under -cpu=1.
func TestStartCloseBeforeServe(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			smtptest.Start(t, smtptest.Options{})
		})
	}
}
