package sinktest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// BenchDocs is how many documents one benchmark iteration writes.
var BenchDocs = 20000

// Bench compares the sink's encode+bulk path with a bare _bulk loader of the same pre-encoded documents, in the
// same run, alternating iteration by iteration: "bare" POSTs ready-made bodies (the same batch size, concurrency and filter_path) over net/http and
// checks each answer's errors flag; "sink" hands the documents (source JSON already encoded, as the ECS encoder
// produces it) to Write, which encodes the action lines, batches, sends, reads every item's status and waits for
// all of them. Each iteration writes into a fresh index, so both paths really index documents.
func Bench(b *testing.B, be Backend) {
	c := be.NewClient(b, be.URL, 4)
	prefix := Setup(b, c)
	flows := Corpus(prefix, BenchDocs, 0, 23)
	docs := Docs(flows)
	sc := testSinkConfig(be, prefix)
	sc.FlushDocs = 1000
	sc.MaxInFlight = 4

	// The bare loader's bodies: the same lines the sink writes, built once, targeting /<index>/_bulk.
	bodies := BulkBodies(docs, sc.FlushDocs)
	hc := BareClient(b, sc.MaxInFlight)
	iteration := 0
	next := func(kind string) string {
		iteration++
		return fmt.Sprintf("%s-flows-bench-%s-%d", prefix, kind, iteration)
	}

	// Interleaved, iteration by iteration: the clusters are shared, and their speed drifts within a run.
	s := newSink(b, c, sc, nil)
	ctx := testenv.Context(b, 10*time.Minute)
	var bare, viaSink time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		BareLoad(b, hc, be.URL, next("bare"), bodies, sc.MaxInFlight)
		mid := time.Now()
		index := next("sink")
		for i := range docs {
			docs[i].Index = index
		}
		if err := s.Write(ctx, docs); err != nil {
			b.Fatal(err)
		}
		bare, viaSink = bare+mid.Sub(start), viaSink+time.Since(mid)
	}
	n := float64(b.N * len(docs))
	b.ReportMetric(n/bare.Seconds(), "bare-docs/s")
	b.ReportMetric(n/viaSink.Seconds(), "sink-docs/s")
	b.ReportMetric(bare.Seconds()/viaSink.Seconds(), "sink/bare")
	b.ReportMetric(0, "ns/op") // an iteration is both paths; the rates above are the result
	refresh(b, c, prefix)
	if n := count(b, c, prefix+"-flows-bench-*", nil); n != iteration*len(docs) {
		{
			b.Fatalf("%d docs indexed, want %d", n, iteration*len(docs))
		}
	}
}

// BulkBodies builds the bare loader's _bulk bodies of docs (create actions with their ids, the sources as they are),
// perBody documents each.
func BulkBodies(docs []sink.Doc, perBody int) [][]byte {
	var bodies [][]byte
	for start := 0; start < len(docs); start += perBody {
		var buf bytes.Buffer
		for _, d := range docs[start:min(start+perBody, len(docs))] {
			fmt.Fprintf(&buf, `{"create":{"_id":%q}}`+"\n", d.ID)
			buf.Write(d.Source)
			buf.WriteByte('\n')
		}
		bodies = append(bodies, buf.Bytes())
	}
	return bodies
}

// BareClient is the bare loader's HTTP client: the sink's transport settings for workers connections.
func BareClient(tb testing.TB, workers int) *http.Client {
	tr, err := sink.HTTPTransport(sink.TLSConfig{}, workers)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Transport: tr}
}

// BareLoad is the reference the sink and the end-to-end load test are measured against: ready-made _bulk bodies
// POSTed to /<index>/_bulk by workers goroutines over net/http, each answer's errors flag checked.
func BareLoad(tb testing.TB, hc *http.Client, base, index string, bodies [][]byte, workers int) {
	u := base + "/" + index + "/_bulk?filter_path=" + url.QueryEscape(sink.BulkFilterPath)
	work := make(chan []byte)
	var wg sync.WaitGroup
	var failed sync.Once
	for range workers {
		wg.Go(func() {
			for body := range work {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-ndjson")
				res, err := hc.Do(req)
				if err != nil {
					failed.Do(func() { tb.Error(err) })
					continue
				}
				resp, err := sink.ReadLimited(res.Body, 64<<20)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || !strings.HasPrefix(string(resp[:min(len(resp), 20)]), `{"errors":false`) {
					failed.Do(func() { tb.Errorf("bare bulk: %d %v %.300s", res.StatusCode, err, resp) })
				}
			}
		})
	}
	for _, body := range bodies {
		work <- body
	}
	close(work)
	wg.Wait()
}
