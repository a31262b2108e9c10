package aggregate

import (
	"net/netip"
	"runtime"
	"testing"
)

// The benchmark corpus: flowgen's default traffic, seed 1, 1,000 deliveries of 50 to 150 lines (about 100,000
// flows after NODATA and SKIPDATA; 6 windows of 10 minutes, about 900 IPs).
func benchCorpus(b *testing.B) []Flow {
	b.Helper()
	return ordinaryFlows(b, 1, 1000)
}

// referenceSets is the plain structure the issue names as the yardstick: peer sets only, no counters, no ports,
// no limits.
type referenceSets map[int64]map[netip.Addr]map[netip.Addr]struct{}

func (r referenceSets) add(f Flow, width int64) {
	w := f.Start - f.Start%width
	ips := r[w]
	if ips == nil {
		ips = map[netip.Addr]map[netip.Addr]struct{}{}
		r[w] = ips
	}
	src, dst := f.Src.Unmap(), f.Dst.Unmap()
	for _, e := range [2][2]netip.Addr{{src, dst}, {dst, src}} {
		peers := ips[e[0]]
		if peers == nil {
			peers = map[netip.Addr]struct{}{}
			ips[e[0]] = peers
		}
		peers[e[1]] = struct{}{}
	}
}

// perEvent reports ns/event and allocs/event; it reads the allocation count itself because b's own allocs/op
// is per pass over the corpus.
func perEvent(b *testing.B, events int, pass func()) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		pass()
		n++
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(n * events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/event")
}

// BenchmarkAggregate compares the accumulator with the plain map reference over the same corpus, in one run.
// accumulator is the steady state of a shard: one long-lived accumulator, a Cut (every partial emitted) per pass.
// accumulator-new builds a new accumulator per pass, as the reference builds new maps.
func BenchmarkAggregate(b *testing.B) {
	flows := benchCorpus(b)
	width := int64(DefaultConfig().Window.Seconds())
	b.Run("reference-map", func(b *testing.B) {
		perEvent(b, len(flows), func() {
			r := referenceSets{}
			for _, f := range flows {
				r.add(f, width)
			}
		})
	})
	b.Run("accumulator", func(b *testing.B) {
		a := mustAccumulator(b, DefaultConfig())
		perEvent(b, len(flows), func() {
			for _, f := range flows {
				if _, err := a.Add(f); err != nil {
					b.Fatal(err)
				}
			}
			a.Cut("shardId-000000000000", "1", "9")
		})
	})
	b.Run("accumulator-add-only", func(b *testing.B) {
		a := mustAccumulator(b, DefaultConfig())
		perEvent(b, len(flows), func() {
			for _, f := range flows {
				if _, err := a.Add(f); err != nil {
					b.Fatal(err)
				}
			}
			a.reset() // the cost of Cut left out, to show how the total splits
		})
	})
	b.Run("accumulator-new", func(b *testing.B) {
		perEvent(b, len(flows), func() {
			a := mustAccumulator(b, DefaultConfig())
			for _, f := range flows {
				if _, err := a.Add(f); err != nil {
					b.Fatal(err)
				}
			}
			a.Cut("shardId-000000000000", "1", "9")
		})
	})
}

// heapNow returns the live heap after a collection.
func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemory measures, once per run (not timed), the live heap for the corpus: open-MB is the accumulator at
// its fullest, before the cut, and B/peer the same per tracked (window, ip, peer), everything included (entries,
// ports, addresses); peak-MB is the highest point, at the end of Cut, when the partials it returns coexist with the
// accumulator's emptied tables and Cut's scratch; steady-B/peer is what a long-lived accumulator holds, scratch
// included, when full again after a cut (from Stats.Bytes); reference-MB is the plain nested maps of the same sets.
func BenchmarkMemory(b *testing.B) {
	flows := benchCorpus(b)
	width := int64(DefaultConfig().Window.Seconds())
	fill := func(a *Accumulator) {
		for _, f := range flows {
			if _, err := a.Add(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		base := heapNow()
		a := mustAccumulator(b, DefaultConfig())
		fill(a)
		open := heapNow() - base
		s := a.Stats()
		parts := a.Cut("s", "1", "9")
		peak := heapNow() - base
		runtime.KeepAlive(parts)
		parts = nil
		fill(a)
		steady := a.Stats()
		a = nil

		base = heapNow()
		r := referenceSets{}
		for _, f := range flows {
			r.add(f, width)
		}
		ref := heapNow() - base
		runtime.KeepAlive(r)

		b.ReportMetric(float64(open)/(1<<20), "open-MB")
		b.ReportMetric(float64(open)/float64(s.TrackedPeers), "B/peer")
		b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
		b.ReportMetric(float64(steady.Bytes)/float64(steady.TrackedPeers), "steady-B/peer")
		b.ReportMetric(float64(s.TrackedPeers), "peers")
		b.ReportMetric(float64(s.TrackedIPs), "ips")
		b.ReportMetric(float64(ref)/(1<<20), "reference-MB")
	}
}

// BenchmarkCut adds the corpus to an accumulator and cuts it into documents, two ways in the same run: one
// document per (window, ip) as kinflow wrote partials before blocks (Cut, then each set's JSON: the reference), and
// blocks (CutBlocks, then each block's JSON). It reports the documents and bytes each writes per set.
func BenchmarkCut(b *testing.B) {
	flows := benchCorpus(b)
	for _, way := range []struct {
		name string
		cut  func(a *Accumulator, buf []byte) ([]byte, int)
	}{
		{"per-ip-documents", func(a *Accumulator, buf []byte) ([]byte, int) {
			parts := a.Cut("shardId-000000000000", "1", "9")
			for i := range parts {
				f := Final{ConnSet: parts[i].ConnSet}
				buf, _ = f.AppendJSON(buf)
			}
			return buf, len(parts)
		}},
		{"blocks", func(a *Accumulator, buf []byte) ([]byte, int) {
			blocks := a.CutBlocks("shardId-000000000000", "1", "9", BlockBytes)
			for i := range blocks {
				buf = blocks[i].AppendJSON(buf)
			}
			return buf, len(blocks)
		}},
	} {
		b.Run(way.name, func(b *testing.B) {
			a := mustAccumulator(b, DefaultConfig())
			var buf []byte
			var docs, sets int
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range flows {
					if _, err := a.Add(f); err != nil {
						b.Fatal(err)
					}
				}
				sets = a.Stats().TrackedIPs
				buf, docs = way.cut(a, buf[:0])
			}
			b.ReportMetric(float64(docs)/float64(sets), "docs/set")
			b.ReportMetric(float64(len(buf))/float64(sets), "bytes/set")
		})
	}
}
