// Package future runs a computation now and hands its result over later:
// for a lookup that does not depend on another one to start beside it
// instead of after it.
package future

// Go runs f in a goroutine now; the function it returns waits for f's
// result and returns it, as often as it is called.
func Go[T any](f func() T) func() T {
	done := make(chan struct{})
	var v T
	go func() {
		defer close(done)
		v = f()
	}()
	return func() T {
		<-done
		return v
	}
}
