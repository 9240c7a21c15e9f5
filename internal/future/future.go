// Package future runs a computation now and hands its result over later:
// for a lookup that does not depend on another one to start beside it
// instead of after it.
package future

import (
	"context"

	"github.com/mailcheck/mailcheck/internal/gopool"
)

// Go runs f in a goroutine now (of the run's pool ctx carries, if any:
// gopool); the function it returns waits for f's result and returns it,
// as often as it is called.
func Go[T any](ctx context.Context, f func() T) func() T {
	done := make(chan struct{})
	var v T
	gopool.Go(ctx, func() {
		defer close(done)
		v = f()
	})
	return func() T {
		<-done
		return v
	}
}
