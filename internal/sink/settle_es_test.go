package sink_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/testing/faultproxy"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// TestSettleThroughFaultProxy writes, through the fault proxy in front of the local Elasticsearch, one Write whose
// documents end differently: a sibling the proxy throttles, and a dead letter the cluster itself refuses (a field
// its strict mapping lacks, or a write block on the dead-letter index). The Write must return its outcome without
// waiting for its context to end, and the cluster must hold what that outcome says.
func TestSettleThroughFaultProxy(t *testing.T) {
	url := testenv.URL(t, testenv.Elasticsearch)

	// The documents of a Write, by role.
	const (
		ok        = "ok"        // written at once
		throttled = "throttled" // answered 429 by the proxy for its first attempts
		invalid   = "invalid"   // refused by the mapping: dead-lettered
		refusedDL = "refusedDL" // a dead letter the writer sends itself, with a field the strict mapping refuses
	)
	tests := []struct {
		name      string
		roles     []string
		throttles int  // attempts of the throttled document answered 429
		blockDL   bool // the dead-letter index refuses writes (index.blocks.write): 403 per item
		wantErr   error
		// wantForwarded is, per role, how many times the proxy forwarded the document to the cluster.
		wantForwarded map[string]int
		// wantMadeDL is how many dead letters the engine made and sent (each once).
		wantMadeDL                 int
		wantFlows, wantDeadLetters int
	}{{
		// Issue 13: the Write waited for its context to end instead of returning the refusal.
		name:          "dead letter refused by the mapping while a sibling is throttled",
		roles:         []string{ok, throttled, refusedDL},
		throttles:     1,
		wantErr:       sink.ErrDeadLetterRejected,
		wantForwarded: map[string]int{ok: 1, throttled: 0, refusedDL: 1}, // the sibling is dropped: its Write failed
		wantFlows:     1,
	}, {
		name:          "dead letter of a mapping error refused by a write block while a sibling is throttled",
		roles:         []string{ok, throttled, invalid},
		throttles:     2,
		blockDL:       true,
		wantErr:       sink.ErrDeadLetterRejected,
		wantForwarded: map[string]int{ok: 1, throttled: 0, invalid: 1},
		wantMadeDL:    1,
		wantFlows:     1,
	}, {
		name:            "mapping error dead-lettered while a sibling is throttled",
		roles:           []string{ok, throttled, invalid},
		throttles:       1,
		wantForwarded:   map[string]int{ok: 1, throttled: 1, invalid: 1},
		wantMadeDL:      1,
		wantFlows:       2,
		wantDeadLetters: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			direct := esClient(t, url)
			prefix := sinktest.Setup(t, direct)
			if tt.blockDL {
				dl := "/" + prefix + "-deadletter"
				esDo(t, direct, "PUT", dl, nil)
				esDo(t, direct, "PUT", dl+"/_settings", []byte(`{"index.blocks.write":true}`))
			}

			byRole := map[string]sink.Doc{
				ok:        flowDoc(prefix, "ok", "10.0.0.1"),
				throttled: flowDoc(prefix, "throttled", "10.0.0.2"),
				invalid:   flowDoc(prefix, "invalid", "not-an-ip"),
				refusedDL: {Index: prefix + "-deadletter", ID: "refused-dead-letter", Op: sink.OpCreate,
					Source: []byte(`{"stage":"decode","reason":"not_gzip","no_such_field":true}`)},
			}
			var docs []sink.Doc
			for _, r := range tt.roles {
				docs = append(docs, byRole[r])
			}

			p, err := faultproxy.New(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			p.SetFaults(faultproxy.Faults{Item: func(id string, attempt int) int {
				if id == byRole[throttled].ID && attempt <= tt.throttles {
					return 429
				}
				return 0
			}})
			sc := sink.DefaultConfig()
			sc.Name, sc.Prefix = "elasticsearch", prefix
			sc.RetryInitial, sc.RetryMax, sc.RequestTimeout = 20*time.Millisecond, time.Second, 20*time.Second
			s, err := sink.New(esClient(t, p.URL()), sc, sink.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) }) //nolint:errcheck

			// Generous: a Write that waits for it to end has lost a document.
			err = s.Write(testenv.Context(t, 2*time.Minute), docs)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Write waited for its context to end: %v", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write = %v, want %v", err, tt.wantErr)
			}
			// Once closed, the sink holds none of the Write's documents: what was not forwarded never will be.
			if err := s.Close(testenv.Context(t, time.Minute)); err != nil {
				t.Fatalf("Close: %v", err)
			}

			fwd := p.Forwarded()
			for _, r := range tt.roles {
				if got, want := fwd[byRole[r].ID], tt.wantForwarded[r]; got != want {
					t.Errorf("%s document forwarded %d times, want %d", r, got, want)
				}
			}
			made := 0
			for id, n := range fwd {
				if !slices.ContainsFunc(docs, func(d sink.Doc) bool { return d.ID == id }) {
					made++
					if n != 1 {
						t.Errorf("dead letter %s forwarded %d times, want once", id, n)
					}
				}
			}
			if made != tt.wantMadeDL {
				t.Errorf("%d dead letters made and sent, want %d", made, tt.wantMadeDL)
			}
			if n := testenv.Count(t, url, prefix+"-flows-*"); n != tt.wantFlows {
				t.Errorf("flow documents in the cluster = %d, want %d", n, tt.wantFlows)
			}
			if n := testenv.Count(t, url, prefix+"-deadletter"); n != tt.wantDeadLetters {
				t.Errorf("dead letters in the cluster = %d, want %d", n, tt.wantDeadLetters)
			}
		})
	}
}

// flowDoc is a flow document for the strict flow mapping; it breaks the mapping if src is not an IP address.
func flowDoc(prefix, id, src string) sink.Doc {
	return sink.Doc{
		Index: sink.Indices{Prefix: prefix}.Flows(time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)),
		ID:    "flow-" + id,
		Op:    sink.OpCreate,
		Source: []byte(`{"@timestamp":"2026-11-23T23:30:00Z","event":{"id":"e-` + id + `","action":"accept"},` +
			`"source":{"ip":"` + src + `","port":443},"destination":{"ip":"10.0.0.9","port":50000},"network":{"bytes":100}}`),
		Origin: sink.Origin{ShardID: "shardId-000000000001", SequenceNumber: "7", EventID: "e-" + id, Raw: []byte("line " + id)},
	}
}

func esClient(tb testing.TB, url string) sink.Client {
	tb.Helper()
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{url}
	c, err := elastic.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func esDo(tb testing.TB, c sink.Client, method, path string, body []byte) {
	tb.Helper()
	status, resp, err := c.Do(testenv.Context(tb, time.Minute), method, path, body, 1<<20)
	if err != nil || status/100 != 2 {
		tb.Fatalf("%s %s: status %d, %v: %s", method, path, status, err, resp)
	}
}
