package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/retry"
)

var testSecret = []byte("s3cret-hmac-key")

// reply is one scripted answer of the fake receiver.
type reply struct {
	status int
	header map[string]string
	body   string
	hang   bool // block until the request's context ends (the client gave up) instead of answering
}

// received is what the fake receiver got.
type received struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// receiver is a misbehaving webhook: it answers attempt i with script[i], the last entry repeated.
type receiver struct {
	srv    *httptest.Server
	script []reply
	mu     sync.Mutex
	got    []received
	// unblocked gets one value per hanging handler that returned: "ctx" when the client's giving up reached it.
	unblocked chan string
	release   chan struct{}
	arrived   chan struct{} // one value per request, once recorded
}

func newReceiver(tb testing.TB, script ...reply) *receiver {
	tb.Helper()
	r := &receiver{script: script, unblocked: make(chan string, 64), release: make(chan struct{}),
		arrived: make(chan struct{}, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	// Cleanups run last-in first-out: a handler still blocked (a client that never closed its connection) is
	// let go before Close waits for it, so the test fails instead of hanging.
	tb.Cleanup(func() { close(r.release) })
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.got)
	r.got = append(r.got, received{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
	r.mu.Unlock()
	r.arrived <- struct{}{}
	rep := r.script[min(n, len(r.script)-1)]
	if rep.hang {
		select {
		case <-req.Context().Done():
			r.unblocked <- "ctx"
		case <-r.release:
			r.unblocked <- "release"
		}
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// sleeps records the waits Deliver asks for and returns at once.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	hook  func(n int) error // called with the 1-based wait number; its error is returned
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n := len(s.waits)
	s.mu.Unlock()
	if s.hook != nil {
		if err := s.hook(n); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func signature(body []byte) string {
	mac := hmac.New(sha256.New, testSecret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// now is the fake clock of Retry-After dates.
var now = time.Date(2023, 11, 14, 22, 31, 0, 0, time.UTC)

func TestDeliver(t *testing.T) {
	chunk := fixtureChunk(t) // window 1700000400, revision 2, index 3, last
	const key = "kinflow-1700000400-r2-c3"
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name        string
		script      []reply
		cfg         func(*Config)
		wantReqs    int
		wantWaits   []time.Duration // exact waits; nil: none
		backoffs    int             // or this many jittered backoff waits, checked against their bounds
		wantErr     error           // ErrRejected or ErrExhausted; nil: delivered
		wantStatus  int
		wantBody    string
		wantReason  string
		wantOutcome map[string]float64 // attempts_total by outcome
	}{
		{name: "200 first time", script: []reply{{status: 200}}, wantReqs: 1,
			wantOutcome: map[string]float64{"2xx": 1}},
		{name: "204 is delivered too", script: []reply{{status: 204}}, wantReqs: 1,
			wantOutcome: map[string]float64{"2xx": 1}},
		{name: "500 then 200", script: []reply{{status: 500, body: "oops"}, {status: 200}}, wantReqs: 2, backoffs: 1,
			wantOutcome: map[string]float64{"5xx": 1, "2xx": 1}},
		{name: "429 with Retry-After seconds", script: []reply{{status: 429, header: map[string]string{"Retry-After": "2"}},
			{status: 200}}, wantReqs: 2, wantWaits: []time.Duration{2 * time.Second},
			wantOutcome: map[string]float64{"4xx": 1, "2xx": 1}},
		{name: "503 with Retry-After date", script: []reply{
			{status: 503, header: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}},
			{status: 200}}, wantReqs: 2, wantWaits: []time.Duration{90 * time.Second},
			wantOutcome: map[string]float64{"5xx": 1, "2xx": 1}},
		{name: "Retry-After date in the past", script: []reply{
			{status: 429, header: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}},
			{status: 200}}, wantReqs: 2, wantWaits: []time.Duration{0},
			wantOutcome: map[string]float64{"4xx": 1, "2xx": 1}},
		{name: "Retry-After capped", script: []reply{
			{status: 429, header: map[string]string{"Retry-After": "86400"}},
			{status: 503, header: map[string]string{"Retry-After": now.Add(24 * time.Hour).Format(http.TimeFormat)}},
			{status: 200}}, wantReqs: 3, wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute},
			wantOutcome: map[string]float64{"4xx": 1, "5xx": 1, "2xx": 1}},
		{name: "unreadable Retry-After falls back to backoff", script: []reply{
			{status: 503, header: map[string]string{"Retry-After": "soon"}}, {status: 200}}, wantReqs: 2, backoffs: 1,
			wantOutcome: map[string]float64{"5xx": 1, "2xx": 1}},
		{name: "hangs past the timeout", script: []reply{{hang: true}},
			cfg:      func(c *Config) { c.Timeout, c.MaxAttempts = 200*time.Millisecond, 3 },
			wantReqs: 3, backoffs: 2, wantErr: ErrExhausted, wantReason: "webhook_exhausted_timeout",
			wantOutcome: map[string]float64{"timeout": 3}},
		{name: "400 forever", script: []reply{{status: 400, body: `{"error":"bad payload"}`}}, wantReqs: 1,
			wantErr: ErrRejected, wantStatus: 400, wantBody: `{"error":"bad payload"}`, wantReason: "webhook_rejected_400",
			wantOutcome: map[string]float64{"4xx": 1}},
		{name: "413 with a long body", script: []reply{{status: 413, body: long}}, wantReqs: 1,
			wantErr: ErrRejected, wantStatus: 413, wantBody: long[:1024], wantReason: "webhook_rejected_413",
			wantOutcome: map[string]float64{"4xx": 1}},
		{name: "redirect is not followed", script: []reply{{status: 302, header: map[string]string{"Location": "/elsewhere"}}},
			wantReqs: 1, wantErr: ErrRejected, wantStatus: 302, wantReason: "webhook_rejected_302",
			wantOutcome: map[string]float64{"3xx": 1}},
		{name: "500 forever", script: []reply{{status: 500, body: "down"}}, cfg: func(c *Config) { c.MaxAttempts = 4 },
			wantReqs: 4, backoffs: 3, wantErr: ErrExhausted, wantStatus: 500, wantBody: "down",
			wantReason: "webhook_exhausted_500", wantOutcome: map[string]float64{"5xx": 4}},
		{name: "one attempt, no retry", script: []reply{{status: 502}}, cfg: func(c *Config) { c.MaxAttempts = 1 },
			wantReqs: 1, wantErr: ErrExhausted, wantStatus: 502, wantReason: "webhook_exhausted_502",
			wantOutcome: map[string]float64{"5xx": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.script...)
			cfg := DefaultConfig()
			cfg.URL, cfg.Secret = rcv.srv.URL+"/connection_sets/{bucket_time}", testSecret
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			reg := prometheus.NewRegistry()
			var logs bytes.Buffer
			sl := &sleeps{}
			c := newTestClient(t, cfg, Options{Registerer: reg, Sleep: sl.sleep,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			c.now = func() time.Time { return now }

			err := c.Deliver(t.Context(), chunk)

			reqs := rcv.requests()
			if len(reqs) != tt.wantReqs {
				t.Fatalf("%d requests, want %d (err %v)", len(reqs), tt.wantReqs, err)
			}
			_, wantBody, _, _ := c.Request(chunk)
			wantHeader := http.Header{
				"Accept-Encoding":        {"gzip"},
				"Content-Length":         {strconv.Itoa(len(wantBody))},
				"Content-Type":           {"application/json"},
				"Idempotency-Key":        {key},
				"User-Agent":             {"kinflow"},
				"Webhook-Id":             {key},
				"Webhook-Signature":      {wantStandard(testSecret, key, strconv.FormatInt(now.Unix(), 10), wantBody)},
				"Webhook-Timestamp":      {strconv.FormatInt(now.Unix(), 10)},
				"X-Kinflow-Chunk":        {"3; last"},
				"X-Kinflow-Revision":     {"2"},
				"X-Kinflow-Signature":    {signature(wantBody)},
				"X-Kinflow-Window-Start": {"1700000400"},
			}
			for i, r := range reqs {
				if r.method != http.MethodPost || r.path != "/connection_sets/1700000400" || r.query != "" {
					t.Errorf("request %d: %s %s?%s", i, r.method, r.path, r.query)
				}
				if !bytes.Equal(r.body, wantBody) {
					t.Errorf("request %d body %s, want %s", i, r.body, wantBody)
				}
				if diff := cmp.Diff(wantHeader, r.header); diff != "" {
					t.Errorf("request %d headers (-want +got):\n%s", i, diff)
				}
				// What a receiver does: recompute the MAC over the bytes received.
				mac := hmac.New(sha256.New, testSecret)
				mac.Write(r.body)
				sig, _ := strings.CutPrefix(r.header.Get("X-Kinflow-Signature"), "sha256=")
				if got, _ := hex.DecodeString(sig); !hmac.Equal(got, mac.Sum(nil)) {
					t.Errorf("request %d: signature %q does not verify", i, sig)
				}
			}

			if tt.backoffs > 0 {
				if len(sl.waits) != tt.backoffs {
					t.Fatalf("waits %v, want %d backoffs", sl.waits, tt.backoffs)
				}
				for i, w := range sl.waits {
					d := min(cfg.RetryInitial<<i, cfg.RetryMax)
					if w < d/2 || w > d {
						t.Errorf("wait %d = %v, want within [%v, %v]", i+1, w, d/2, d)
					}
				}
			} else if !cmp.Equal(sl.waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", sl.waits, tt.wantWaits)
			}

			for outcome, want := range tt.wantOutcome {
				if got := metricValue(t, reg, "kinflow_webhook_attempts_total", "outcome", outcome); got != want {
					t.Errorf("attempts{outcome=%q} = %v, want %v", outcome, got, want)
				}
				if got := metricValue(t, reg, "kinflow_webhook_request_duration_seconds", "outcome", outcome); got != want {
					t.Errorf("request_duration_seconds{outcome=%q} count = %v, want %v", outcome, got, want)
				}
			}
			result := "delivered"
			switch tt.wantErr {
			case ErrRejected:
				result = "rejected"
			case ErrExhausted:
				result = "exhausted"
			}
			if got := metricValue(t, reg, "kinflow_webhook_deliveries_total", "result", result); got != 1 {
				t.Errorf("deliveries{result=%q} = %v, want 1", result, got)
			}
			if strings.Contains(logs.String(), string(testSecret)) {
				t.Errorf("logs show the secret:\n%s", logs.String())
			}
			if want := tt.wantReqs - 1 + btoi(tt.wantErr != nil); strings.Count(logs.String(), `"level":"WARN"`) != want {
				t.Errorf("want %d warnings, logged:\n%s", want, logs.String())
			}

			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Deliver: %v", err)
				}
				return
			}
			var de *DeliveryError
			if !errors.As(err, &de) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Deliver = %v, want a *DeliveryError wrapping %v", err, tt.wantErr)
			}
			want := DeliveryError{Key: key, URL: rcv.srv.URL + "/connection_sets/1700000400", Attempts: tt.wantReqs,
				Status: tt.wantStatus, Body: tt.wantBody, Permanent: tt.wantErr == ErrRejected}
			got := *de
			got.Err = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("DeliveryError (-want +got):\n%s", diff)
			}
			if de.Reason() != tt.wantReason {
				t.Errorf("Reason() = %q, want %q", de.Reason(), tt.wantReason)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("Deliver = %v: a DeliveryError must not look like the caller's context ending", err)
			}
		})
	}
}

// A hanging receiver is let go when the client gives up each attempt: the client closed its connections.
func TestDeliverTimeoutReleasesReceiver(t *testing.T) {
	rcv := newReceiver(t, reply{hang: true})
	cfg := DefaultConfig()
	cfg.URL, cfg.Timeout, cfg.MaxAttempts = rcv.srv.URL, 200*time.Millisecond, 3
	sl := &sleeps{}
	c := newTestClient(t, cfg, Options{Sleep: sl.sleep})
	err := c.Deliver(t.Context(), fixtureChunk(t))
	if !errors.Is(err, ErrExhausted) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Deliver = %v, want ErrExhausted and ErrTimeout", err)
	}
	for i := range cfg.MaxAttempts {
		select {
		case how := <-rcv.unblocked:
			if how != "ctx" {
				t.Errorf("handler %d returned by %s, want by its request's context", i, how)
			}
		case <-time.After(30 * time.Second): // a guard against hanging, not a measurement
			t.Fatalf("handler %d still blocked: the client did not close its connection", i)
		}
	}
}

func TestDeliverConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := DefaultConfig()
	cfg.URL, cfg.MaxAttempts = "http://user:hunter2@"+addr+"/connection_sets/{bucket_time}?token=abc", 3
	sl := &sleeps{}
	reg := prometheus.NewRegistry()
	c := newTestClient(t, cfg, Options{Sleep: sl.sleep, Registerer: reg})

	err = c.Deliver(t.Context(), fixtureChunk(t))

	var de *DeliveryError
	if !errors.As(err, &de) || !errors.Is(err, ErrExhausted) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Deliver = %v, want a DeliveryError wrapping ErrExhausted and ECONNREFUSED", err)
	}
	if de.Attempts != 3 || de.Status != 0 || de.Permanent || de.Reason() != "webhook_exhausted_network" || len(sl.waits) != 2 {
		t.Errorf("%+v, reason %q, waits %v; want 3 attempts, status 0, exhausted network, 2 waits", de, de.Reason(), sl.waits)
	}
	if want := "http://user:xxxxx@" + addr + "/connection_sets/1700000400?token=xxxxx"; de.URL != want {
		t.Errorf("URL %q, want %q", de.URL, want)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abc") {
		t.Errorf("error shows a secret: %v", err)
	}
	if got := metricValue(t, reg, "kinflow_webhook_attempts_total", "outcome", "network"); got != 3 {
		t.Errorf("attempts{network} = %v, want 3", got)
	}
}

func TestDeliverContextEnds(t *testing.T) {
	tests := []struct {
		name     string
		script   reply
		cancelAt string // "backoff": in the first wait; "request": while the receiver holds the first request
		wantReqs int
	}{
		{"cancelled mid-backoff", reply{status: 503}, "backoff", 1},
		{"cancelled mid-request", reply{hang: true}, "request", 1},
		{"already cancelled", reply{status: 200}, "before", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.script)
			cfg := DefaultConfig()
			cfg.URL = rcv.srv.URL
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			sl := &sleeps{hook: func(int) error { cancel(); return nil }}
			reg := prometheus.NewRegistry()
			c := newTestClient(t, cfg, Options{Sleep: sl.sleep, Registerer: reg})
			switch tt.cancelAt {
			case "request":
				go func() {
					<-rcv.arrived
					cancel()
				}()
			case "before":
				cancel()
			}

			err := c.Deliver(ctx, fixtureChunk(t))

			var de *DeliveryError
			if !errors.Is(err, context.Canceled) || errors.As(err, &de) {
				t.Fatalf("Deliver = %v, want context.Canceled and no DeliveryError", err)
			}
			if n := len(rcv.requests()); n != tt.wantReqs {
				t.Errorf("%d requests, want %d", n, tt.wantReqs)
			}
			if got := metricValue(t, reg, "kinflow_webhook_deliveries_total", "result", "cancelled"); got != 1 {
				t.Errorf("deliveries{cancelled} = %v, want 1", got)
			}
		})
	}
}

// TestDeliveryClassification: what the finalizer asks of Deliver's errors through the one classification. A
// DeliveryError, refused or exhausted, is permanent (dead-letter the chunk); a context end is retryable (the pass
// stops and the window is delivered again later).
func TestDeliveryClassification(t *testing.T) {
	tests := []struct {
		name      string
		script    reply
		cancel    bool
		permanent bool
	}{
		{"refused", reply{status: 422}, false, true},
		{"exhausted", reply{status: 503}, false, true},
		{"cancelled", reply{status: 503}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.script)
			cfg := configFor(rcv.srv.URL, FormatCompat)
			cfg.MaxAttempts = 2
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			sl := &sleeps{hook: func(int) error {
				if tt.cancel {
					cancel()
				}
				return nil
			}}
			err := newTestClient(t, cfg, Options{Sleep: sl.sleep}).Deliver(ctx, fixtureChunk(t))
			if err == nil || retry.IsPermanent(err) != tt.permanent || retry.IsRetryable(err) == tt.permanent {
				t.Errorf("Deliver = %v: permanent %v, want %v", err, retry.IsPermanent(err), tt.permanent)
			}
		})
	}
}

func TestDeliverWithoutSecretOrPlaceholder(t *testing.T) {
	rcv := newReceiver(t, reply{status: 200})
	cfg := configFor(rcv.srv.URL+"/hook?tenant=a", FormatRich)
	c := newTestClient(t, cfg, Options{})
	ch := fixtureChunk(t)
	ch.Index, ch.Last = 0, false
	if err := c.Deliver(t.Context(), ch); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	r := rcv.requests()[0]
	if r.path != "/hook" || r.query != "tenant=a" || r.header.Get("X-Kinflow-Chunk") != "0" ||
		r.header.Get("Idempotency-Key") != "kinflow-1700000400-r2-c0" {
		t.Errorf("request %s?%s, chunk %q, key %q", r.path, r.query, r.header.Get("X-Kinflow-Chunk"), r.header.Get("Idempotency-Key"))
	}
	if _, ok := r.header["X-Kinflow-Signature"]; ok {
		t.Errorf("signature header without a secret: %v", r.header)
	}
	if !bytes.HasPrefix(r.body, []byte(`{"window":{"start":"2023-11-14T22:20:00Z"`)) {
		t.Errorf("not the rich body: %s", r.body)
	}
}

func TestDeliverInvalidChunk(t *testing.T) {
	rcv := newReceiver(t, reply{status: 200})
	c := newTestClient(t, configFor(rcv.srv.URL, FormatCompat), Options{})
	ch := fixtureChunk(t)
	ch.Revision = 0
	var de *DeliveryError
	if err := c.Deliver(t.Context(), ch); !errors.Is(err, ErrInvalidChunk) || errors.As(err, &de) {
		t.Errorf("Deliver = %v, want ErrInvalidChunk and no DeliveryError", err)
	}
	if n := len(rcv.requests()); n != 0 {
		t.Errorf("%d requests sent for an invalid chunk", n)
	}
}

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := configFor("http://h/x", FormatCompat)
	newTestClient(t, cfg, Options{Registerer: reg})
	if _, err := New(cfg, Options{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "registering webhook metrics") {
		t.Errorf("second New on one registry = %v, want a registration error", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	limit := 5 * time.Minute
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{" 0 ", 0, true},
		{"300", 5 * time.Minute, true},
		{"301", 5 * time.Minute, true},
		{"99999999999999999999", 0, false}, // overflows uint64: not a number we can read
		{"18446744073709551615", 5 * time.Minute, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{now.Add(42 * time.Second).Format(http.TimeFormat), 42 * time.Second, true},
		{"Tuesday, 14-Nov-23 22:31:10 GMT", 10 * time.Second, true}, // RFC 850, still accepted
		{now.Add(-time.Second).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), 5 * time.Minute, true},
	}
	for _, tt := range tests {
		d, ok := parseRetryAfter(tt.in, now, limit)
		if d != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, d, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	cfg := DefaultConfig()
	c := newTestClient(t, configFor("http://h/x", FormatCompat), Options{})
	// d: 500ms, 1s, 2s, ... 16s, then 30s from the 7th wait on, never overflowing.
	for range 20 {
		b := c.policy.NewBackOff() // the schedule of waits Deliver's retry loop draws from
		for n := 1; n <= 100; n++ {
			d := cfg.RetryMax
			if n <= 6 {
				d = cfg.RetryInitial << (n - 1)
			}
			if w := b.NextBackOff(); w < d/2 || w > d {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, w, d/2, d)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
