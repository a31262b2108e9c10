package sinktest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/attackgen"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// The storage corpus: what the pipeline writes for an hour of a VPC's flow logs read from a Kinesis stream, made
// with the repository's generators from fixed seeds and a fixed day (no clock is read, so every run writes the same
// bytes). Its documents name their indices under corpusPrefix; measure moves them under a run's own prefix.

const corpusPrefix = "corpus"

// storageShards is how many Kinesis shards the corpus's records are dealt over, round robin.
const storageShards = 4

// storageCutEvery is how many of a shard's records a partial covers: the pipeline cuts its partials at each
// checkpoint, every 10 seconds; at the corpus's rate (an hour of records over 4 shards) that is 1 to 2 records, and
// 4 records (about 30 seconds) keep the partials' count under the flows'.
const storageCutEvery = 4

// StorageCorpus is the flow documents of n flows as the pipeline writes them (flowgen's defaults, seed 1, an hour
// from flowgen.FixedStart, delivered in event-time order as CloudWatch Logs delivers them, 50 to 150 events a
// Kinesis record, the records dealt over 4 shards with 56-digit sequence numbers), and the partial and final
// connection sets of those flows (each shard cut every 4 records, the partials merged by aggregate.Finalize).
func StorageCorpus(tb testing.TB, n int) (flows, partials, finals []sink.Doc) {
	tb.Helper()
	g := flowgen.New(flowgen.DefaultConfig(flowgen.FixedStart))
	// About 100 events a record; 10% more records than that, the surplus cut off at n flows.
	records := g.Timeline(n/100+n/1000+1, 50, 150, 5*time.Minute)
	parser, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		tb.Fatal(err)
	}
	ix := sink.Indices{Prefix: corpusPrefix}
	const group = "/aws/vpc/flowlogs/prod"
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := aggregate.DefaultConfig()
	var (
		accs    [storageShards]*aggregate.Accumulator
		seqHigh [storageShards]uint64 // the sequence numbers' varying part: increasing per shard
		counted [storageShards]int    // records of the shard since its last cut
		first   [storageShards]string // the first sequence number since the last cut
		last    [storageShards]string
	)
	for s := range accs {
		if accs[s], err = aggregate.NewAccumulator(cfg); err != nil {
			tb.Fatal(err)
		}
		seqHigh[s] = 3_000_000_000 * uint64(s+1)
	}
	var cut []aggregate.Block
	cutShard := func(s int) {
		if counted[s] > 0 {
			cut = append(cut, aggregate.Blocks(accs[s].Cut(shardName(s), first[s], last[s]), aggregate.BlockBytes)...)
			counted[s] = 0
		}
	}
	var fl vpcflow.Flow
	var enc vpcflow.Encoder
	for r, rec := range records {
		s := r % storageShards
		// Kinesis sequence numbers: 56 digits, a shard's successive records sharing the leading ones.
		seqHigh[s] += 1 + rng.Uint64N(4)
		seq := fmt.Sprintf("4965683476520738452961%012d%022d", seqHigh[s], rng.Uint64N(1e18)*10_000+uint64(s))
		src := vpcflow.Source{LogGroup: group, LogStream: rec.LogStream, ShardID: shardName(s), SequenceNumber: seq}
		for _, e := range rec.Events {
			if len(flows) == n {
				break
			}
			src.EventID, src.Timestamp = e.ID, e.Timestamp
			if err := parser.Parse(&fl, &src, e.Message); err != nil {
				tb.Fatalf("flowgen line %q: %v", e.Message, err)
			}
			when := fl.EventTime(e.Timestamp)
			flows = append(flows, sink.Doc{
				Index:  ix.Flows(time.Unix(when, 0)),
				ID:     docid.Flow(group, rec.LogStream, e.ID, e.Timestamp, []byte(e.Message)),
				Op:     sink.OpCreate,
				Source: enc.AppendDocument(nil, &fl, &src),
				Origin: sink.Origin{ShardID: src.ShardID, SequenceNumber: seq, LogGroup: group, LogStream: rec.LogStream,
					EventID: e.ID, EventTimestamp: e.Timestamp},
			})
			if fl.NoTraffic() || !fl.SrcAddr.IsValid() || !fl.DstAddr.IsValid() {
				continue
			}
			if _, err := accs[s].Add(aggregate.Flow{Start: when, End: fl.End, Src: fl.SrcAddr, Dst: fl.DstAddr,
				SrcPort: fl.SrcPort, DstPort: fl.DstPort, Protocol: fl.Protocol, Bytes: fl.Bytes, Packets: fl.Packets,
				Rejected: fl.Action == vpcflow.ActionReject}); err != nil {
				tb.Fatal(err)
			}
		}
		if counted[s] == 0 {
			first[s] = seq
		}
		last[s] = seq
		if counted[s]++; counted[s] == storageCutEvery {
			cutShard(s)
		}
		if len(flows) == n {
			break
		}
	}
	for s := range accs {
		cutShard(s)
	}
	for i := range cut {
		b := &cut[i]
		partials = append(partials, sink.Doc{Index: ix.ConnsPartial(time.Unix(b.WindowStart, 0)), ID: b.ID(), Op: sink.OpIndex,
			Source: b.AppendJSON(nil)})
	}
	merged, err := aggregate.FinalizeBlocks(cut, cfg.MaxExactPeers, 1)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range merged {
		f := &merged[i]
		src, err := f.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		finals = append(finals, sink.Doc{Index: ix.Conns(time.Unix(f.WindowStart, 0)), ID: f.ID(), Op: sink.OpIndex, Source: src})
	}
	return flows, partials, finals
}

func shardName(s int) string { return fmt.Sprintf("shardId-%012d", s) }

// StorageAlerts is the alert documents of attackgen's labelled corpus (seeds 1 to runs, each six hours of a day
// from flowgen.FixedStart's midnight, one after the other): every window's final connection sets through the
// default rules, the operator's allow-list and baselines of the previous 36 windows, as the finalizer runs them;
// a signal per firing, and an alert (episode) per rule and IP whose signals are at most 3 windows apart.
func StorageAlerts(tb testing.TB, runs int) []sink.Doc {
	tb.Helper()
	ix := sink.Indices{Prefix: corpusPrefix}
	day := flowgen.FixedStart.Truncate(24 * time.Hour)
	var docs []sink.Doc
	for run := range runs {
		corpus, err := attackgen.Generate(attackgen.Config{Seed: uint64(run + 1), Start: day.Add(time.Duration(run) * 6 * time.Hour),
			Windows: attackgen.MinWindows})
		if err != nil {
			tb.Fatal(err)
		}
		cfg := detect.DefaultConfig()
		cfg.Horizontal.Allow, cfg.Vertical.Allow = corpus.Allowed, corpus.Allowed
		cfg.RejectStorm.Allow, cfg.Egress.Allow = corpus.Allowed, corpus.Allowed
		d, err := detect.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		const baselineWindows, episodeGap = 36, 3
		type episode struct {
			id           string
			start, lastW int64
			signals      []alerts.Signal
		}
		// An IP's sets of the previous windows in which it raised nothing, and the windows in which it did: a
		// baseline covers the windows of the span but those (an incident is not the norm).
		type windowSet struct {
			w int
			s detect.Set
		}
		history := map[netip.Addr][]windowSet{}
		alertedIn := map[netip.Addr][]int{}
		current := map[string]*episode{} // the latest episode of each rule and IP
		var episodes []*episode
		width := int64(attackgen.WindowWidth / time.Second)
		for w, win := range corpus.Windows {
			finals, err := attackgen.Aggregate(win.Flows, 2, 4000)
			if err != nil {
				tb.Fatal(err)
			}
			sets := make([]detect.Set, len(finals))
			baselines := map[netip.Addr]detect.Baseline{}
			for i := range finals {
				sets[i] = detect.SetOf(&finals[i].ConnSet, cfg.SampleSize)
				ip := sets[i].IP
				from := max(0, w-baselineWindows)
				var prev []detect.Set
				for _, x := range history[ip] {
					if x.w >= from {
						prev = append(prev, x.s)
					}
				}
				excluded := 0
				for _, a := range alertedIn[ip] {
					if a >= from {
						excluded++
					}
				}
				if len(prev) > 0 {
					baselines[ip] = detect.BaselineOf(prev, w-from-excluded)
				}
			}
			window := detect.Window{Start: win.Start, End: win.Start + width}
			raised := d.Evaluate(window, sets, baselines)
			alerted := map[netip.Addr]bool{}
			for _, a := range raised {
				if !alerted[a.IP] {
					alerted[a.IP] = true
					alertedIn[a.IP] = append(alertedIn[a.IP], w)
				}
				key := a.Rule.String() + " " + a.IP.String()
				ep := current[key]
				if ep == nil || (win.Start-ep.lastW)/width > episodeGap {
					ep = &episode{id: detect.EpisodeID(a.Rule, a.IP, win.Start), start: win.Start}
					current[key] = ep
					episodes = append(episodes, ep)
				}
				ep.lastW = win.Start
				s := alerts.Signal{Alert: a, Status: alerts.Active, Revision: 1, Episode: ep.id, EpisodeStart: ep.start}
				ep.signals = append(ep.signals, s)
				src, err := alerts.SignalJSON(&s)
				if err != nil {
					tb.Fatal(err)
				}
				docs = append(docs, sink.Doc{Index: ix.Alerts(time.Unix(win.Start, 0)), ID: a.ID(), Op: sink.OpIndex, Source: src})
			}
			for _, s := range sets {
				if alerted[s.IP] {
					continue
				}
				s.PeerSample, s.PortSample = nil, nil
				h := append(history[s.IP], windowSet{w, s})
				history[s.IP] = h[max(0, len(h)-baselineWindows):]
			}
		}
		// Each episode once, as its last window left it.
		for _, ep := range episodes {
			sum, err := alerts.Summarize(ep.signals)
			if err != nil {
				tb.Fatal(err)
			}
			src, err := alerts.EpisodeJSON(&sum)
			if err != nil {
				tb.Fatal(err)
			}
			docs = append(docs, sink.Doc{Index: ix.Alerts(time.Unix(ep.start, 0)), ID: ep.id, Op: sink.OpIndex, Source: src})
		}
	}
	return docs
}

// moved returns docs with their indices under prefix instead of corpusPrefix.
func moved(docs []sink.Doc, prefix string) []sink.Doc {
	out := slices.Clone(docs)
	for i := range out {
		out[i].Index = prefix + strings.TrimPrefix(out[i].Index, corpusPrefix)
	}
	return out
}
