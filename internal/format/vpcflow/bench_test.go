package vpcflow_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/json"
	"io"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

// corpus: 2000 deliveries of 50 to 500 events (flowgen defaults: 15% REJECT, 5% IPv6, 1% NODATA, 0.2% SKIPDATA),
// gzip'd as CloudWatch Logs does, with 56-digit string event ids.
type corpus struct {
	records      [][]byte
	events       int
	decompressed int
}

var (
	corpusOnce sync.Once
	theCorpus  corpus
)

func loadCorpus(tb testing.TB) *corpus {
	tb.Helper()
	corpusOnce.Do(func() {
		g := flowgen.New(flowgen.DefaultConfig(flowgen.FixedStart))
		for _, b := range g.Batches(2000, 50, 500) {
			rec := g.Envelope("/vpc/flowlogs/bench", "kinflow", b)
			zr, err := stdgzip.NewReader(bytes.NewReader(rec))
			if err != nil {
				tb.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				tb.Fatal(err)
			}
			theCorpus.records = append(theCorpus.records, rec)
			theCorpus.events += len(b.Events)
			theCorpus.decompressed += len(raw)
		}
	})
	return &theCorpus
}

// run calls do for every record of the corpus, b.N times over, and reports per event.
func run(b *testing.B, do func(rec []byte) (events, bytes int)) {
	c := loadCorpus(b)
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	events, size := 0, 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		e, n := do(c.records[i%len(c.records)])
		events += e
		size += n
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	if events == 0 {
		b.Fatal("no events")
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
}

// BenchmarkPipeline measures kinflow's hot path and, in the same run, a plain reference: stdlib gzip,
// encoding/json, strings.Fields, a map document marshalled by encoding/json.
func BenchmarkPipeline(b *testing.B) {
	c := loadCorpus(b)
	eventsOf := func(rec []byte) int { return 0 }
	_ = eventsOf
	perRecord := make(map[*byte]int, len(c.records))
	sizes := make(map[*byte]int, len(c.records))
	for _, r := range c.records {
		out, err := cwlogs.Gunzip(nil, r, 1<<24)
		if err != nil {
			b.Fatal(err)
		}
		var env cwlogs.Envelope
		d, _ := cwlogs.NewDecoder(cwlogs.DefaultConfig())
		d.Decode(&env, r)
		perRecord[&r[0]] = len(env.LogEvents)
		sizes[&r[0]] = len(out)
	}
	count := func(rec []byte) (int, int) { return perRecord[&rec[0]], sizes[&rec[0]] }
	parser, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		b.Fatal(err)
	}

	b.Run("kinflow/gunzip", func(b *testing.B) {
		buf := make([]byte, 0, 1<<20)
		run(b, func(rec []byte) (int, int) {
			out, err := cwlogs.Gunzip(buf[:0], rec, 1<<24)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
			return count(rec)
		})
	})
	b.Run("kinflow/decode+parse", func(b *testing.B) {
		dec, _ := cwlogs.NewDecoder(cwlogs.DefaultConfig())
		var env cwlogs.Envelope
		var f vpcflow.Flow
		run(b, func(rec []byte) (int, int) {
			if err := dec.Decode(&env, rec); err != nil {
				b.Fatal(err)
			}
			for i := range env.LogEvents {
				ev := &env.LogEvents[i]
				src := vpcflow.Source{LogGroup: env.LogGroup, LogStream: env.LogStream, EventID: ev.ID, Timestamp: ev.Timestamp,
					ShardID: benchShard, SequenceNumber: benchSequence}
				if err := parser.Parse(&f, &src, ev.Message); err != nil {
					b.Fatal(err)
				}
			}
			return count(rec)
		})
	})
	b.Run("kinflow/decode+parse+encode", func(b *testing.B) {
		dec, _ := cwlogs.NewDecoder(cwlogs.DefaultConfig())
		var env cwlogs.Envelope
		var f vpcflow.Flow
		var enc vpcflow.Encoder
		buf := make([]byte, 0, 1<<20)
		run(b, func(rec []byte) (int, int) {
			if err := dec.Decode(&env, rec); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
			for i := range env.LogEvents {
				ev := &env.LogEvents[i]
				src := vpcflow.Source{LogGroup: env.LogGroup, LogStream: env.LogStream, EventID: ev.ID, Timestamp: ev.Timestamp,
					ShardID: benchShard, SequenceNumber: benchSequence}
				if err := parser.Parse(&f, &src, ev.Message); err != nil {
					b.Fatal(err)
				}
				buf = enc.AppendDocument(buf, &f, &src)
				buf = append(buf, '\n')
			}
			return count(rec)
		})
	})
	// The klauspost reader against the stdlib one, both reused with Reset, to show what the choice buys.
	b.Run("stdlib/gunzip-reset", func(b *testing.B) {
		var zr *stdgzip.Reader
		var out bytes.Buffer
		run(b, func(rec []byte) (int, int) {
			if zr == nil {
				zr, _ = stdgzip.NewReader(bytes.NewReader(rec))
			} else {
				zr.Reset(bytes.NewReader(rec))
			}
			out.Reset()
			out.ReadFrom(zr)
			return count(rec)
		})
	})
	b.Run("klauspost/gunzip-reset", func(b *testing.B) {
		var zr *kgzip.Reader
		var out bytes.Buffer
		run(b, func(rec []byte) (int, int) {
			if zr == nil {
				zr, _ = kgzip.NewReader(bytes.NewReader(rec))
			} else {
				zr.Reset(bytes.NewReader(rec))
			}
			out.Reset()
			out.ReadFrom(zr)
			return count(rec)
		})
	})
	b.Run("plain/gunzip", func(b *testing.B) {
		run(b, func(rec []byte) (int, int) {
			plainGunzip(b, rec)
			return count(rec)
		})
	})
	b.Run("plain/decode+parse", func(b *testing.B) {
		run(b, func(rec []byte) (int, int) {
			env := plainDecode(b, rec)
			for _, ev := range env.LogEvents {
				plainParse(b, ev.Message)
			}
			return count(rec)
		})
	})
	b.Run("plain/decode+parse+encode", func(b *testing.B) {
		var out bytes.Buffer
		run(b, func(rec []byte) (int, int) {
			env := plainDecode(b, rec)
			out.Reset()
			for _, ev := range env.LogEvents {
				doc := plainDocument(plainParse(b, ev.Message), env.LogGroup, env.LogStream, string(ev.ID))
				j, err := json.Marshal(doc)
				if err != nil {
					b.Fatal(err)
				}
				out.Write(j)
				out.WriteByte('\n')
			}
			return count(rec)
		})
	})
}

func plainGunzip(tb testing.TB, rec []byte) []byte {
	zr, err := stdgzip.NewReader(bytes.NewReader(rec))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

type plainEnvelope = flowgen.PlainEnvelope

func plainDecode(tb testing.TB, rec []byte) *plainEnvelope {
	var env plainEnvelope
	if err := json.Unmarshal(plainGunzip(tb, rec), &env); err != nil {
		tb.Fatal(err)
	}
	return &env
}

// benchShard and benchSequence name the Kinesis record of every event, as the pipeline does in production.
const (
	benchShard    = "shardId-000000000000"
	benchSequence = "49590338271490256608559692538361571095921575989136588898"
)

var plainNames = strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status")

// plainParse is the straightforward parser: strings.Fields, then a typed value per field into a map.
func plainParse(tb testing.TB, line string) map[string]any {
	f := strings.Fields(line)
	if len(f) != len(plainNames) {
		tb.Fatalf("line %q", line)
	}
	m := make(map[string]any, len(f))
	for i, name := range plainNames {
		v := f[i]
		if v == "-" {
			continue
		}
		switch name {
		case "srcaddr", "dstaddr":
			a, err := netip.ParseAddr(v)
			if err != nil {
				tb.Fatal(err)
			}
			m[name] = a
		case "version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			m[name] = n
		default:
			m[name] = v
		}
	}
	return m
}

func plainDocument(f map[string]any, group, stream, id string) map[string]any {
	event := map[string]any{"kind": "event", "category": []string{"network"}, "id": id}
	doc := map[string]any{"event": event, "cloud": map[string]any{"provider": "aws", "account": map[string]any{"id": f["account-id"]}}}
	if s, ok := f["start"].(int64); ok {
		t := time.Unix(s, 0).UTC()
		doc["@timestamp"], event["start"] = t, t
	}
	if e, ok := f["end"].(int64); ok {
		event["end"] = time.Unix(e, 0).UTC()
	}
	if a, ok := f["action"].(string); ok {
		event["action"] = strings.ToLower(a)
		if a == "ACCEPT" {
			event["outcome"], event["type"] = "success", []string{"connection", "allowed"}
		} else {
			event["outcome"], event["type"] = "failure", []string{"connection", "denied"}
		}
	}
	var related []string
	if a, ok := f["srcaddr"].(netip.Addr); ok {
		doc["source"] = map[string]any{"ip": a.String(), "port": f["srcport"]}
		related = append(related, a.String())
	}
	if a, ok := f["dstaddr"].(netip.Addr); ok {
		doc["destination"] = map[string]any{"ip": a.String(), "port": f["dstport"]}
		related = append(related, a.String())
	}
	if len(related) > 0 {
		doc["related"] = map[string]any{"ip": related}
	}
	if p, ok := f["protocol"].(int64); ok {
		tr := map[int64]string{6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp"}[p]
		doc["network"] = map[string]any{"iana_number": strconv.FormatInt(p, 10), "transport": tr, "bytes": f["bytes"], "packets": f["packets"]}
	}
	doc["aws"] = map[string]any{
		"vpcflow":    map[string]any{"version": f["version"], "interface_id": f["interface-id"], "log_status": f["log-status"]},
		"cloudwatch": map[string]any{"log_group": group, "log_stream": stream},
		"kinesis":    map[string]any{"shard_id": benchShard, "sequence_number": benchSequence},
	}
	return doc
}

// A contender is one way of processing a record, timed on its own.
type contender struct {
	name string
	do   func(rec []byte)
}

// BenchmarkSideBySide measures the target ratios within the same iterations: each iteration takes the next record
// and runs every contender on it, one after the other in an order that rotates per iteration, timing each alone.
// Whatever else the machine does then falls on all contenders alike, so the ratios hold where sequential
// sub-benchmarks (one contender for a second, then the next) are not comparable on a busy machine.
//
// Per contender it reports ns/event, MB/s (decompressed JSON) and allocs/event (from an untimed pass after the
// loop); per sub-benchmark, the ratios its targets are about:
//   - decode+parse/gunzip: kinflow decode+parse over kinflow gunzip alone (target: at most 1.6);
//   - decode+parse+encode/gunzip: the same with the ECS encoder (target, #19: at most 2.2);
//   - plain/kinflow: the plain decode+parse+encode over kinflow's (target: at least 8; #19: at least 12).
func BenchmarkSideBySide(b *testing.B) {
	c := loadCorpus(b)
	events, sizes := make([]int, len(c.records)), make([]int, len(c.records))
	dec, _ := cwlogs.NewDecoder(cwlogs.DefaultConfig())
	for i, r := range c.records {
		var env cwlogs.Envelope
		if err := dec.Decode(&env, r); err != nil {
			b.Fatal(err)
		}
		out, _ := cwlogs.Gunzip(nil, r, 1<<24)
		events[i], sizes[i] = len(env.LogEvents), len(out)
	}
	parser, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		b.Fatal(err)
	}
	gunzip := func() contender {
		buf := make([]byte, 0, 1<<20)
		return contender{"gunzip", func(rec []byte) {
			out, err := cwlogs.Gunzip(buf[:0], rec, 1<<24)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}}
	}
	decodeParse := func(encode bool) contender {
		dec, _ := cwlogs.NewDecoder(cwlogs.DefaultConfig())
		var env cwlogs.Envelope
		var f vpcflow.Flow
		var enc vpcflow.Encoder
		buf := make([]byte, 0, 1<<20)
		name := "decode+parse"
		if encode {
			name += "+encode"
		}
		return contender{name, func(rec []byte) {
			if err := dec.Decode(&env, rec); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
			for i := range env.LogEvents {
				ev := &env.LogEvents[i]
				src := vpcflow.Source{LogGroup: env.LogGroup, LogStream: env.LogStream, EventID: ev.ID, Timestamp: ev.Timestamp,
					ShardID: benchShard, SequenceNumber: benchSequence}
				if err := parser.Parse(&f, &src, ev.Message); err != nil {
					b.Fatal(err)
				}
				if encode {
					buf = enc.AppendDocument(buf, &f, &src)
					buf = append(buf, '\n')
				}
			}
		}}
	}
	decode := func() contender {
		dec, _ := cwlogs.NewDecoder(cwlogs.DefaultConfig())
		var env cwlogs.Envelope
		return contender{"decode", func(rec []byte) {
			if err := dec.Decode(&env, rec); err != nil {
				b.Fatal(err)
			}
		}}
	}
	plainGz := contender{"plain-gunzip", func(rec []byte) { plainGunzip(b, rec) }}
	plainDP := contender{"plain-decode+parse", func(rec []byte) {
		env := plainDecode(b, rec)
		for _, ev := range env.LogEvents {
			plainParse(b, ev.Message)
		}
	}}
	var out bytes.Buffer
	plainDPE := contender{"plain-decode+parse+encode", func(rec []byte) {
		env := plainDecode(b, rec)
		out.Reset()
		for _, ev := range env.LogEvents {
			j, err := json.Marshal(plainDocument(plainParse(b, ev.Message), env.LogGroup, env.LogStream, string(ev.ID)))
			if err != nil {
				b.Fatal(err)
			}
			out.Write(j)
			out.WriteByte('\n')
		}
	}}

	b.Run("decode+parse-vs-gunzip", func(b *testing.B) {
		ns := sideBySide(b, c.records, events, sizes, gunzip(), decodeParse(false), decodeParse(true), decode())
		b.ReportMetric(ns[1]/ns[0], "decode+parse/gunzip")
		b.ReportMetric(ns[2]/ns[0], "decode+parse+encode/gunzip")
		b.ReportMetric(ns[3]/ns[0], "decode/gunzip")
	})
	b.Run("kinflow-vs-plain", func(b *testing.B) {
		ns := sideBySide(b, c.records, events, sizes, decodeParse(true), plainGz, plainDP, plainDPE)
		b.ReportMetric(ns[3]/ns[0], "plain/kinflow")
	})
}

// sideBySide runs the contenders on each record in turn (see BenchmarkSideBySide) and returns their ns/event.
func sideBySide(b *testing.B, records [][]byte, events, sizes []int, cs ...contender) []float64 {
	b.ReportAllocs()
	for i := range min(len(records), 20) { // warm every contender's buffers and pools, untimed
		for _, c := range cs {
			c.do(records[i])
		}
	}
	elapsed := make([]time.Duration, len(cs))
	nEvents, nBytes := 0, 0
	for i := 0; b.Loop(); i++ {
		r := i % len(records)
		for k := range cs {
			c := cs[(i+k)%len(cs)]
			start := time.Now()
			c.do(records[r])
			elapsed[(i+k)%len(cs)] += time.Since(start)
		}
		nEvents += events[r]
		nBytes += sizes[r]
	}
	if nEvents == 0 {
		b.Fatal("no events")
	}
	ns := make([]float64, len(cs))
	for k, c := range cs {
		ns[k] = float64(elapsed[k].Nanoseconds()) / float64(nEvents)
		b.ReportMetric(ns[k], c.name+"-ns/event")
		b.ReportMetric(float64(nBytes)/elapsed[k].Seconds()/1e6, c.name+"-MB/s")
	}
	// Allocations per contender, untimed: one pass each over the same records, after the timed loop.
	n := min(len(records), 200)
	var ms0, ms1 runtime.MemStats
	for _, c := range cs {
		ev := 0
		runtime.ReadMemStats(&ms0)
		for i := range n {
			c.do(records[i])
			ev += events[i]
		}
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(ev), c.name+"-allocs/event")
	}
	return ns
}
