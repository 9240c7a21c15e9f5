package message

import (
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sizedMessage is the base message with its plain-text part grown to
// about size octets, in 76-octet lines.
func sizedMessage(size int) []byte {
	line := strings.Repeat("abcdefghij", 7) + "klmnop\n"
	body := strings.Repeat(line, size/len(line))
	return crlf(strings.Replace(baseMessage, "Hello Bob.\n", body, 1))
}

// BenchmarkJudgeSigned50K judges a DKIM-signed 50 KiB message with the
// DNS answers cached (the first judgement warms the cache).
func BenchmarkJudgeSigned50K(b *testing.B) {
	_, r := world(b)
	m := sign(b, sizedMessage(50<<10), "sender.example", "s2048", signedHeaders, time.Time{})
	env := goodEnvelope()
	if v := judge(b, r, env, m); !v.Passed {
		b.Fatalf("not passed: %+v", v.Findings)
	}
	b.SetBytes(int64(len(m)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		judge(b, r, env, m)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkJudge10MiB judges a signed 10 MiB message and reports the
// peak of live heap above the baseline while it is judged (sampled
// every 200µs) beside the allocations per judgement.
func BenchmarkJudge10MiB(b *testing.B) {
	_, r := world(b)
	m := sign(b, sizedMessage(10<<20), "sender.example", "s2048", signedHeaders, time.Time{})
	env := goodEnvelope()
	judge(b, r, env, m)
	b.ReportAllocs()
	var peak atomic.Uint64
	for b.Loop() {
		runtime.GC()
		base := heapLive()
		stop := make(chan struct{})
		done := make(chan struct{})
		go sampleHeap(base, &peak, stop, done)
		judge(b, r, env, m)
		close(stop)
		<-done
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-MiB")
	b.ReportMetric(float64(len(m))/(1<<20), "msg-MiB")
}

// sampleHeap records the largest live heap above base until stop.
func sampleHeap(base uint64, peak *atomic.Uint64, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(200 * time.Microsecond)
	defer t.Stop()
	for {
		if h := heapLive(); h > base && h-base > peak.Load() {
			peak.Store(h - base)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// heapLive reads the bytes of heap objects (live and not yet swept).
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
