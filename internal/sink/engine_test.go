package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeClient answers bulk requests with answer, given the (op, id) of each item; it records every request.
type fakeClient struct {
	mu       sync.Mutex
	requests [][]string // ids per request
	answer   func(ids []string, ops []string) (int, []byte)
}

func (f *fakeClient) Bulk(_ context.Context, body []byte, _ int64) (int, []byte, error) {
	var ids, ops []string
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	for i := 0; i < len(lines); i += 2 {
		var a map[string]struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(lines[i], &a); err != nil {
			return 0, nil, err
		}
		for op, m := range a {
			ops, ids = append(ops, op), append(ids, m.ID)
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, ids)
	f.mu.Unlock()
	status, resp := f.answer(ids, ops)
	return status, resp, nil
}

func (f *fakeClient) Do(context.Context, string, string, []byte, int64) (int, []byte, error) {
	return 200, []byte(`{}`), nil
}

func items(ops []string, status func(i int) string) []byte {
	var b strings.Builder
	b.WriteString(`{"errors":true,"items":[`)
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{%q:%s}`, op, status(i))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func testConfig() Config {
	c := DefaultConfig()
	c.RetryInitial = time.Millisecond
	c.RetryMax = 5 * time.Millisecond
	return c
}

func newTestSink(t *testing.T, c Client, cfg Config) *BulkSink {
	t.Helper()
	s, err := New(c, cfg, Options{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) }) //nolint:errcheck
	return s
}

func doc(id string) Doc {
	return Doc{Index: "kinflow-flows-2026.11.23", ID: id, Op: OpCreate, Source: []byte(`{"n":"` + id + `"}`),
		Origin: Origin{ShardID: "shardId-1", SequenceNumber: "7", EventID: "e-" + id, Raw: []byte("line " + id)}}
}

func TestItemOutcomes(t *testing.T) {
	f := &fakeClient{}
	f.answer = func(ids, ops []string) (int, []byte) {
		return 200, items(ops, func(i int) string {
			switch {
			case ops[i] == "create" && strings.HasPrefix(ids[i], "busy") && len(f.requests) == 1:
				return `{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}`
			case ids[i] == "dup":
				return `{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}`
			case ids[i] == "bad":
				return `{"status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [source.ip]","caused_by":{"type":"illegal_argument_exception","reason":"'x' is not an IP string literal."}}}`
			}
			return `{"status":201}`
		})
	}
	s := newTestSink(t, f, testConfig())
	if err := s.Write(context.Background(), []Doc{doc("ok"), doc("busy"), doc("dup"), doc("bad")}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(f.requests) != 2 {
		t.Fatalf("requests %v, want 2", f.requests)
	}
	// The second request resends only the throttled item and carries the dead letter of the refused one.
	wantDL := newDeadLetter("kinflow-deadletter", doc("bad").Origin, StageIndex, "", nil, time.Time{}, "kinflow-flows-2026.11.23", "bad").ID
	if got, want := f.requests[1], []string{"busy", wantDL}; !slices.Equal(got, want) {
		t.Fatalf("second request %v, want %v", got, want)
	}
}

func TestDeadLetterContent(t *testing.T) {
	var body []byte
	var mu sync.Mutex
	s := newTestSink(t, clientFunc(func(b []byte) (int, []byte) {
		mu.Lock()
		defer mu.Unlock()
		if bytes.Contains(b, []byte(`"_index":"kinflow-deadletter"`)) {
			body = slices.Clone(b)
			return 200, []byte(`{"errors":false,"items":[{"create":{"status":201}}]}`)
		}
		return 200, []byte(`{"errors":true,"items":[{"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"bad ip"}}}]}`)
	}), testConfig())
	d := doc("bad")
	if err := s.Write(context.Background(), []Doc{d}); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	var got DeadLetterSource
	if err := json.Unmarshal(lines[1], &got); err != nil {
		t.Fatal(err)
	}
	got.Timestamp = ""
	want := DeadLetterSource{Stage: StageIndex, Reason: "document_parsing_exception", Error: "document_parsing_exception: bad ip",
		ShardID: "shardId-1", SequenceNumber: "7", EventID: "e-bad", TargetIndex: d.Index, TargetID: "bad",
		Original: "line bad", OriginalEncoding: encodingUTF8}
	if got != want {
		t.Fatalf("dead letter\n got %+v\nwant %+v", got, want)
	}
}

type clientFunc func(body []byte) (int, []byte)

func (f clientFunc) Bulk(_ context.Context, body []byte, _ int64) (int, []byte, error) {
	s, b := f(body)
	return s, b, nil
}

func (f clientFunc) Do(context.Context, string, string, []byte, int64) (int, []byte, error) {
	return 200, nil, nil
}

func TestDeadLetterRefusedFailsWrite(t *testing.T) {
	s := newTestSink(t, clientFunc(func(b []byte) (int, []byte) {
		return 200, []byte(`{"errors":true,"items":[{"create":{"status":400,"error":{"type":"strict_dynamic_mapping_exception","reason":"no"}}}]}`)
	}), testConfig())
	err := s.Write(context.Background(), []Doc{doc("x")})
	if !errors.Is(err, ErrDeadLetterRejected) {
		t.Fatalf("Write = %v, want ErrDeadLetterRejected", err)
	}
}

func TestBackpressureUntilContextEnds(t *testing.T) {
	s := newTestSink(t, clientFunc(func([]byte) (int, []byte) { return 503, []byte(`{"error":"down"}`) }), testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, []Doc{doc("a"), doc("b")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Write returned after %v", d)
	}
}

func TestSplitOnRequestTooLarge(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	s := newTestSink(t, clientFunc(func(b []byte) (int, []byte) {
		n := bytes.Count(b, []byte("\n")) / 2
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
		if n > 2 {
			return 413, nil
		}
		return 200, []byte(`{"errors":false}`)
	}), testConfig())
	docs := []Doc{doc("1"), doc("2"), doc("3"), doc("4"), doc("5")}
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range sizes {
		if n <= 2 {
			total += n
		}
	}
	if total != len(docs) {
		t.Fatalf("request sizes %v: %d docs accepted, want %d", sizes, total, len(docs))
	}
}

func TestSourceWithNewlines(t *testing.T) {
	var bodies [][]byte
	var mu sync.Mutex
	s := newTestSink(t, clientFunc(func(b []byte) (int, []byte) {
		mu.Lock()
		bodies = append(bodies, slices.Clone(b))
		mu.Unlock()
		return 200, []byte(`{"errors":false}`)
	}), testConfig())
	pretty := doc("pretty")
	pretty.Source = []byte("{\n  \"a\": 1\n}")
	broken := doc("broken")
	broken.Source = []byte("{\"a\":\n")
	if err := s.Write(context.Background(), []Doc{pretty, broken}); err != nil {
		t.Fatal(err)
	}
	all := string(bytes.Join(bodies, nil))
	if !strings.Contains(all, "{\"a\":1}\n") || !strings.Contains(all, `"reason":"invalid_json"`) || strings.Contains(all, `"_id":"broken"`) {
		t.Fatalf("bodies:\n%s", all)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{Prefix: "Bad Prefix", FlushBytes: 1, MaxInFlight: 0}
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v", err)
	}
	for _, want := range []string{"name is empty", "allowed characters", "flush bytes", "flush docs", "in-flight", "request timeout", "retry backoff", "response bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := DefaultTemplateConfig().Validate(); err != nil {
		t.Fatalf("template defaults: %v", err)
	}
}

func TestInvalidDocs(t *testing.T) {
	s := newTestSink(t, clientFunc(func([]byte) (int, []byte) { return 200, []byte(`{"errors":false}`) }), testConfig())
	err := s.Write(context.Background(), []Doc{{Index: "i", Op: OpCreate}, {Index: "i", ID: "x", Op: 9}, {ID: "x", Op: OpIndex}})
	if !errors.Is(err, ErrInvalidDoc) || !strings.Contains(err.Error(), "empty index") || !strings.Contains(err.Error(), "allowed: create, index") {
		t.Fatalf("Write = %v", err)
	}
}

func TestIndexNames(t *testing.T) {
	at := time.Date(2026, 11, 23, 23, 59, 59, 0, time.FixedZone("UTC-5", -5*3600)) // 04:59:59 on the 24th in UTC
	ix := Indices{Prefix: "kf"}
	tests := []struct{ name, got, want string }{
		{"flows", ix.Flows(at), "kf-flows-2026.11.24"},
		{"partial", ix.ConnsPartial(at), "kf-conns-partial-2026.11.24"},
		{"final", ix.Conns(at), "kf-conns-2026.11.24"},
		{"deadletter", ix.DeadLetter(), "kf-deadletter"},
		{"default prefix", Indices{}.Flows(at), "kinflow-flows-2026.11.24"},
		{"family daily", family("kf-conns-partial-2026.11.24"), "kf-conns-partial"},
		{"family plain", family("kf-deadletter"), "kf-deadletter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestCloseFlushes(t *testing.T) {
	var n int
	var mu sync.Mutex
	cfg := testConfig()
	s, err := New(clientFunc(func(b []byte) (int, []byte) {
		mu.Lock()
		n += bytes.Count(b, []byte("\n")) / 2
		mu.Unlock()
		return 200, []byte(`{"errors":false}`)
	}), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), []Doc{doc("a")}) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || n != 1 {
		t.Fatalf("Write = %v, %d docs sent", err, n)
	}
	if err := s.Write(context.Background(), []Doc{doc("b")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}
