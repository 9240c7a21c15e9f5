package schedule

import (
	"os"
	"runtime/debug"
)

// Garbage collector settings for a bulk run (TuneMemory).
const (
	BulkGCPercent  = 400
	BulkMemorySoft = 150 << 20 // octets
)

// TuneMemory sets the garbage collector for a run of many domains,
// unless the user chose with GOGC or GOMEMLIMIT: collect when the heap
// has grown by 400 % (not 100 %), and whenever it reaches 150 MiB. A
// bulk run's live heap is small and short-lived (answers, reports on
// their way out) beside the bounded cache, so with the default the
// collector ran every few milliseconds: about 15 % of the CPU of 1,000
// domains; with these settings it costs about 0.3 s less and the peak
// stays bounded by the soft limit (docs/scale.md).
func TuneMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(BulkGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(BulkMemorySoft)
	}
}
