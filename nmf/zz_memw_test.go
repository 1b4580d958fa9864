package nmf

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"unsafe"
	"testing"
	"time"
)

func TestMemwPeak(t *testing.T) {
	if g := os.Getenv("MEMW_GOGC"); g != "" {
		v, _ := strconv.Atoi(g)
		debug.SetGCPercent(v)
	}
	n, m, k := 1150, 18000, 50
	mem, err0 := syscall.Mmap(-1, 0, n*m*8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err0 != nil {
		t.Fatal(err0)
	}
	x := Dense[float64]{Rows: n, Cols: m, Stride: n, ColMajor: true, Data: unsafe.Slice((*float64)(unsafe.Pointer(&mem[0])), n*m)}
	s := uint64(1)
	for i := range x.Data {
		s = s*6364136223846793005 + 1442695040888963407
		x.Data[i] = float64(s>>11) / (1 << 53)
	}
	w := Dense[float64]{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
	h := Dense[float64]{Rows: k, Cols: m, Stride: m, Data: make([]float64, k*m)}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapSys - ms.HeapReleased
	var peak, peakLive atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	runtime.MemProfileRate = 4096
	go func() {
		defer close(done)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var best uint64
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > best {
				best = v
				f, _ := os.Create("/tmp/memw/heap.out")
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if r := ms.HeapSys - ms.HeapReleased; r > peak.Load() {
				peak.Store(r)
			}
			if r := ms.HeapAlloc; r > peakLive.Load() {
				peakLive.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	solver := os.Getenv("MEMW_SOLVER")
	if solver == "" {
		solver = "cd"
	}
	_, err := Fit(x, w, h, Params{Components: k, Solver: solver, BetaLoss: 2, Tol: 1e-4, MaxIter: 5, UpdateH: true}, nil)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak heap resident above base: %.1f MiB; peak HeapAlloc above base %.1f MiB (x %.0f MiB)",
		float64(peak.Load()-base)/(1<<20), float64(peakLive.Load()-ms.HeapAlloc)/(1<<20), float64(n*m*8)/(1<<20))
}
