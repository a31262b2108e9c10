package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCluster is a Client that answers each bulk item by its index/_id and attempt, and counts per index/_id the
// items it was sent and those it acknowledged (2xx, or 409 on a create: what the engine takes as written).
type fakeCluster struct {
	// answers lists, per index/_id, the status of each attempt; the last one repeats. An item not listed gets 201.
	answers map[string][]int
	// request, if set, may answer a whole request instead (status != 0), or fail it in transport (err != nil).
	request func(n int, keys []string) (status int, err error)

	mu       sync.Mutex
	requests int
	sent     map[string]int
	acked    map[string]int
}

func (c *fakeCluster) Bulk(_ context.Context, body []byte, _ int64) (int, []byte, error) {
	var keys, ops []string
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	for i := 0; i < len(lines); i += 2 {
		var a map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(lines[i], &a); err != nil || len(a) != 1 {
			return 400, []byte(`{"error":{"type":"illegal_argument_exception","reason":"bad action line"},"status":400}`), nil
		}
		for op, m := range a {
			keys, ops = append(keys, m.Index+"/"+m.ID), append(ops, op)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if c.request != nil {
		if status, err := c.request(c.requests, keys); err != nil || status != 0 {
			return status, []byte(fmt.Sprintf(`{"error":{"type":"fake","reason":"request answered %d"},"status":%d}`, status, status)), err
		}
	}
	if c.sent == nil {
		c.sent, c.acked = map[string]int{}, map[string]int{}
	}
	resp := items(ops, func(i int) string {
		k := keys[i]
		c.sent[k]++
		status := 201
		if a := c.answers[k]; len(a) > 0 {
			status = a[min(c.sent[k], len(a))-1]
		}
		if status/100 == 2 || status == 409 && ops[i] == "create" {
			c.acked[k]++
		}
		if status/100 == 2 {
			return fmt.Sprintf(`{"status":%d}`, status)
		}
		return fmt.Sprintf(`{"status":%d,"error":{"type":%q,"reason":"answered by the fake"}}`, status, errorType(status, k))
	})
	return 200, resp, nil
}

func (c *fakeCluster) Do(context.Context, string, string, []byte, int64) (int, []byte, error) {
	return 200, []byte(`{}`), nil
}

// errorType is the error type a real cluster gives an item answered with status.
func errorType(status int, key string) string {
	switch {
	case status == 429:
		return "es_rejected_execution_exception"
	case status == 409:
		return "version_conflict_engine_exception"
	case status == 403:
		return "cluster_block_exception"
	case status >= 500:
		return "unavailable_shards_exception"
	case strings.HasPrefix(key, "kinflow-deadletter/"):
		return "strict_dynamic_mapping_exception"
	}
	return "document_parsing_exception"
}

func key(d Doc) string { return d.Index + "/" + d.ID }

// dlKey is the index/_id of the dead letter the engine writes when the cluster refuses d.
func dlKey(d Doc) string {
	return "kinflow-deadletter/" + newDeadLetter("kinflow-deadletter", d.Origin, StageIndex, "", nil, time.Time{}, d.Index, d.ID).ID
}

// deadLetterDoc is a document a writer sends to the dead-letter index itself (a record that did not decode).
func deadLetterDoc(id string) Doc {
	d := doc(id)
	d.Index = "kinflow-deadletter"
	d.Source = []byte(`{"stage":"decode","reason":"not_gzip"}`)
	return d
}

func indexDoc(id string) Doc {
	d := doc(id)
	d.Index, d.Op = "kinflow-conns-2026.11.23", OpIndex
	return d
}

// auditSettled closes s, so that no worker holds any of the Write's documents any more, and checks that each of
// them settled the Write's ticket exactly once.
func auditSettled(tb testing.TB, s *BulkSink, t *ticket) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	switch n := t.remaining.Load(); {
	case n > 0:
		tb.Fatalf("%d documents of the write never settled", n)
	case n < 0:
		tb.Fatalf("documents of the write settled %d times too many", -n)
	}
	select {
	case <-t.done:
	default:
		tb.Fatal("every document settled, but the ticket is not done")
	}
}

// TestMixedOutcomesSettleOnce writes documents the cluster answers differently in one Write: every document must
// settle exactly once, and the Write must return its outcome without waiting for its context to end.
func TestMixedOutcomesSettleOnce(t *testing.T) {
	ok, ok2, busy, bad := doc("ok"), doc("ok2"), doc("busy"), doc("bad")
	dl, dl2 := deadLetterDoc("dl"), deadLetterDoc("dl2")
	broken := doc("broken")
	broken.Source = []byte("{\"a\":\n")
	flaky, dup, rollup := doc("flaky"), doc("dup"), indexDoc("rollup")
	var many []Doc
	for i := range 6 {
		many = append(many, doc(fmt.Sprint("m", i)))
	}

	tests := []struct {
		name      string
		docs      []Doc
		flushDocs int // 0: the default
		answers   map[string][]int
		request   func(n int, keys []string) (int, error)
		wantErr   error
		// wantAcked is, per index/_id, how many times the cluster acknowledged it; every key sent is listed.
		wantAcked map[string]int
	}{{
		// Issue 13: the throttled sibling was dropped without settling, and Write waited for its context.
		name:    "dead letter refused while a sibling is throttled",
		docs:    []Doc{ok, busy, dl},
		answers: map[string][]int{key(busy): {429, 201}, key(dl): {400}},
		wantErr: ErrDeadLetterRejected,
		// busy is dropped unsent: its Write had failed by the time it could be resent.
		wantAcked: map[string]int{key(ok): 1, key(busy): 0, key(dl): 0},
	}, {
		name:      "dead letter of a mapping error refused while a sibling is throttled",
		docs:      []Doc{ok, busy, bad},
		answers:   map[string][]int{key(busy): {429, 429, 201}, key(bad): {400}, dlKey(bad): {400}},
		wantErr:   ErrDeadLetterRejected,
		wantAcked: map[string]int{key(ok): 1, key(busy): 0, key(bad): 0, dlKey(bad): 0},
	}, {
		name:      "dead letter of a mapping error hits a write block while a sibling is throttled",
		docs:      []Doc{busy, bad},
		answers:   map[string][]int{key(busy): {429, 429, 201}, key(bad): {400}, dlKey(bad): {403}},
		wantErr:   ErrDeadLetterRejected,
		wantAcked: map[string]int{key(busy): 0, key(bad): 0, dlKey(bad): 0},
	}, {
		// One document per batch: the siblings are in other workers, retrying, when the dead letter is refused.
		name:      "dead letter refused while siblings in other batches are throttled",
		docs:      []Doc{dl, many[0], many[1], many[2]},
		flushDocs: 1,
		answers:   map[string][]int{key(dl): {400}, key(many[0]): {429}, key(many[1]): {503}, key(many[2]): {429}},
		wantErr:   ErrDeadLetterRejected,
		wantAcked: map[string]int{key(dl): 0, key(many[0]): 0, key(many[1]): 0, key(many[2]): 0},
	}, {
		name:      "two dead letters refused while a sibling is throttled",
		docs:      []Doc{dl, busy, dl2},
		answers:   map[string][]int{key(dl): {400}, key(dl2): {400}, key(busy): {429, 201}},
		wantErr:   ErrDeadLetterRejected,
		wantAcked: map[string]int{key(dl): 0, key(dl2): 0, key(busy): 0},
	}, {
		name:      "dead letter of a source that is not JSON refused while a sibling is throttled",
		docs:      []Doc{busy, broken},
		answers:   map[string][]int{key(busy): {429, 201}, dlKey(broken): {400}},
		wantErr:   ErrDeadLetterRejected,
		wantAcked: map[string]int{key(busy): 0, dlKey(broken): 0},
	}, {
		// Split in halves down to the dead letter alone, which is refused; the halves without it are written first.
		name: "request refused as a whole split down to a refused dead letter",
		docs: []Doc{ok, ok2, dl},
		request: func(_ int, keys []string) (int, error) {
			if slices.Contains(keys, key(dl)) {
				return 400, nil
			}
			return 0, nil
		},
		wantErr:   ErrDeadLetterRejected,
		wantAcked: map[string]int{key(ok): 1, key(ok2): 1, key(dl): 0},
	}, {
		name:      "version conflict on create is a success, sibling throttled",
		docs:      []Doc{dup, busy},
		answers:   map[string][]int{key(dup): {409}, key(busy): {429, 201}},
		wantAcked: map[string]int{key(dup): 1, key(busy): 1},
	}, {
		name:      "version conflict on index is retried, sibling throttled",
		docs:      []Doc{rollup, busy},
		answers:   map[string][]int{key(rollup): {409, 200}, key(busy): {429, 201}},
		wantAcked: map[string]int{key(rollup): 1, key(busy): 1},
	}, {
		name:      "server error and mapping error",
		docs:      []Doc{flaky, bad},
		answers:   map[string][]int{key(flaky): {503, 201}, key(bad): {400}},
		wantAcked: map[string]int{key(flaky): 1, key(bad): 0, dlKey(bad): 1},
	}, {
		name: "mapping errors, throttling and server errors across batches",
		docs: many, flushDocs: 2,
		answers: map[string][]int{
			key(many[1]): {429, 201}, key(many[2]): {400}, dlKey(many[2]): {429, 201}, key(many[4]): {503, 503, 201},
			key(many[5]): {400}, dlKey(many[5]): {409},
		},
		wantAcked: map[string]int{
			key(many[0]): 1, key(many[1]): 1, key(many[2]): 0, dlKey(many[2]): 1, key(many[3]): 1, key(many[4]): 1,
			key(many[5]): 0, dlKey(many[5]): 1,
		},
	}, {
		name: "transport error, then a mapping error and throttling",
		docs: []Doc{ok, busy, bad},
		request: func(n int, _ []string) (int, error) {
			if n == 1 {
				return 0, errors.New("connection reset by peer")
			}
			return 0, nil
		},
		answers:   map[string][]int{key(busy): {429, 201}, key(bad): {400}},
		wantAcked: map[string]int{key(ok): 1, key(busy): 1, key(bad): 0, dlKey(bad): 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeCluster{answers: tt.answers, request: tt.request}
			cfg := testConfig()
			if tt.flushDocs > 0 {
				cfg.FlushDocs = tt.flushDocs
			}
			s := newTestSink(t, c, cfg)
			// Generous: a Write that waits for it to end has lost a document.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			tk, err := s.write(ctx, tt.docs)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Write waited for its context to end: %v", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write = %v, want %v", err, tt.wantErr)
			}
			auditSettled(t, s, tk)
			c.mu.Lock()
			defer c.mu.Unlock()
			for k, n := range c.sent {
				if _, ok := tt.wantAcked[k]; !ok {
					t.Errorf("%s sent %d times; the test does not expect it", k, n)
				}
			}
			for k, want := range tt.wantAcked {
				if got := c.acked[k]; got != want {
					t.Errorf("%s acknowledged %d times, want %d (sent %d times)", k, got, want, c.sent[k])
				}
			}
		})
	}
}

// TestAbandonedWriteSettles: a writer whose context ends while its documents are being retried gets its context's
// error; the documents are dropped unsent, each settling once, and never count as written.
func TestAbandonedWriteSettles(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &fakeCluster{request: func(n int, _ []string) (int, error) {
		if n == 2 {
			cancel() // the writer gives up while its documents wait to be resent
		}
		return 503, nil
	}}
	s := newTestSink(t, c, testConfig())
	tk, err := s.write(ctx, []Doc{doc("a"), doc("b")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want the context's error", err)
	}
	auditSettled(t, s, tk)
	if !errors.Is(tk.err, context.Canceled) {
		t.Fatalf("ticket finished with %v, want the context's error", tk.err)
	}
}

// TestForcedCloseSettles: Close whose context has ended fails the documents being retried with ErrClosed.
func TestForcedCloseSettles(t *testing.T) {
	retrying := make(chan struct{})
	var once sync.Once
	c := &fakeCluster{request: func(int, []string) (int, error) {
		once.Do(func() { close(retrying) })
		return 429, nil
	}}
	s := newTestSink(t, c, testConfig())
	type result struct {
		t   *ticket
		err error
	}
	res := make(chan result, 1)
	go func() {
		tk, err := s.write(t.Context(), []Doc{doc("a"), doc("b")})
		res <- result{tk, err}
	}()
	<-retrying
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want the context's error", err)
	}
	r := <-res
	if !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Write = %v, want ErrClosed", r.err)
	}
	auditSettled(t, s, r.t)
}

// TestWriteAfterCloseSettles: documents never handed over settle too.
func TestWriteAfterCloseSettles(t *testing.T) {
	s := newTestSink(t, &fakeCluster{}, testConfig())
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	tk, err := s.write(t.Context(), []Doc{doc("a"), doc("b")})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Write = %v, want ErrClosed", err)
	}
	auditSettled(t, s, tk)
}
